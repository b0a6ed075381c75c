# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
INDEX ?= var/index
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install index run test stats clean

install: $(STAMP)

# torch first, pinned: the CPU build on this disk; an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

index: install
	$(VENV)/bin/indexer rebuild --source seeds --index $(INDEX)

# Serve with waitress (python -m web), never the Flask debug server; it prints the URL once the index is loaded.
run: index
	$(VENV)/bin/indexer stats --index $(INDEX)
	@echo "Starting Newsclip on http://$(HOST):$(PORT)/ (loading the index and the model first)"
	$(PY) -m web --index $(INDEX) --host $(HOST) --port $(PORT)

stats: install
	$(VENV)/bin/indexer stats --index $(INDEX)

test: install
	$(PY) -m pytest

clean:
	rm -rf var .pytest_cache .hypothesis
