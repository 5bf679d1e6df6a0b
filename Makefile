# bortkit: two commands. `make run` runs the pipeline notebooks; `make test` runs the tests.
# Both create .venv if missing and install the pinned requirements first (offline-safe: only
# PyPI is used, and the torch pin takes the CPU wheel).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
PYTEST_ARGS ?=

# Offline by default; the package sets the same on import (bortkit.utils.configure_offline).
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_CACHE ?= $(CURDIR)/.cache/datasets
export TOKENIZERS_PARALLELISM ?= false
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1

.PHONY: run test lab install browser-deps clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bortkit pipeline --profile $(PROFILE)

test: $(STAMP) browser-deps
	$(PY) -m ruff check bortkit tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium for the `browser` test tier (Playwright drives it; no browser download).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "browser-deps: /usr/bin/chromium missing and not root; run 'sudo apt-get install -y chromium' (the browser tests skip without it)"; fi

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf .pytest_cache .ruff_cache .mypy_cache build *.egg-info
