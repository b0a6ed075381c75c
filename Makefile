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

.PHONY: install index run test stats bench bench-scale clean

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

# Benchmarks print figures and write bench/results/*.json (never timed tests). `bench` takes about 15 minutes,
# `bench-scale` about 35 minutes (10k, 100k and 1M passages; about 8 GB under var/). See docs/benchmarks.md, docs/scale.md.
bench: install
	$(PY) -m bench.embed --out bench/results/embed.json
	rm -rf var/bench-5k
	$(PY) -m bench.build --stories 5000 --keep var/bench-5k --out bench/results/build-5000.json
	$(PY) -m bench.search --index var/bench-5k --out bench/results/search-5000.json
	$(PY) -m bench.quotes --out bench/results/quotes.json

SCALES ?= 10k:10000 100k:100000 1m:1000000
bench-scale: install
	@for s in $(SCALES); do label=$${s%%:*}; n=$${s##*:}; \
	  $(PY) -m bench.scale generate --passages $$n --out var/scale-$$label --json bench/results/scale-$$label-build.json || exit 1; \
	  $(PY) -m bench.scale measure --index var/scale-$$label $$( [ $$label = 100k ] && echo --rank-bm25 ) \
	    --out bench/results/scale-$$label.json || exit 1; \
	done
	$(PY) -m bench.scale recall --index var/scale-1m --out bench/results/scale-1m-recall.json
	$(PY) -m bench.scale table
	$(PY) -m bench.scalerss var/scale-1m
	$(PY) -m bench.buildmem --out bench/results/buildmem.json

clean:
	rm -rf var .pytest_cache .hypothesis
