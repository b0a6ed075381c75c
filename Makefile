# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
INDEX ?= var/index
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install index run test stats clean

install: $(STAMP)

# torch first, pinned: the CPU build on this disk; an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

index: install
	$(VENV)/bin/indexer rebuild --source seeds --index $(INDEX)

run: index
	$(VENV)/bin/indexer stats --index $(INDEX)

stats: install
	$(VENV)/bin/indexer stats --index $(INDEX)

test: install
	$(PY) -m pytest

clean:
	rm -rf var .pytest_cache .hypothesis
