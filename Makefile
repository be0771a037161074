# werfop developer entry points. `make test` and `make demo` do all the set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
export HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)

.PHONY: all venv system-deps test test-fast lint format demo resolve-demo manifests clean

all: lint test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint]'
	@touch $@

venv: $(STAMP)

# The real registry (CNCF distribution) the integration tests start; installed when absent.
system-deps:
	@scripts/ensure-system-deps.sh

test: venv system-deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -q tests/unit tests/property $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

demo: venv
	$(VENV)/bin/werfop simulate examples/ --scenario examples/scenario.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
