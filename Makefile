# werfop developer entry points. `make test` and `make demo` do all the set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
export HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)

.PHONY: all venv system-deps controlplane werf promtool cluster-up cluster-down test test-fast lint format demo manifests clean

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

# The real control plane (etcd, kube-apiserver, kube-controller-manager) and werf, built
# from their Go modules and cached per machine (~/.cache/werfop); a warm run builds nothing.
# Each cache keeps only the build in use (scripts/keep-only.sh removes older ones).
controlplane:
	@scripts/keep-only.sh "$$(scripts/build-controlplane.sh)" >/dev/null

werf:
	@scripts/keep-only.sh "$$(scripts/build-werf.sh)" >/dev/null

# promtool, for the alert rules' tests: extracted from Debian's prometheus package (no
# server installed or started), cached per machine.
promtool:
	@scripts/promtool.sh >/dev/null

# A local control plane in .cluster/ (kubeconfig: .cluster/kubeconfig), and its pod completer.
cluster-up: venv controlplane werf
	@WERFOP_WERF_DIR=$$(scripts/build-werf.sh 2>/dev/null) PYTHONPATH=tests \
		$(PY) -m support.controlplane up --dir .cluster

cluster-down:
	@if [ -x $(PY) ]; then PYTHONPATH=tests $(PY) -m support.controlplane down --dir .cluster; \
	else rm -rf .cluster; fi

test: venv system-deps controlplane werf promtool
	WERFOP_WERF_DIR=$$(scripts/build-werf.sh 2>/dev/null) WERFOP_PROMTOOL=$$(scripts/promtool.sh 2>/dev/null) \
		$(PY) -m pytest -q $(PYTEST_ARGS); \
		rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-fast: venv
	$(PY) -m pytest -q tests/unit tests/property $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)
	$(VENV)/bin/ruff format --check src tests $(wildcard benchmarks)
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format src tests $(wildcard benchmarks)
	$(VENV)/bin/ruff check --fix src tests $(wildcard benchmarks)

# The examples' day, as text on stdout and as an HTML timeline in build/ (gitignored).
demo: venv
	@mkdir -p build
	$(VENV)/bin/werfop simulate examples/ --scenario examples/scenario.yaml --report build/demo-report.html
	@echo "HTML report: file://$(CURDIR)/build/demo-report.html"

clean: cluster-down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# --- deploy: the CRD, the operator's manifests (deploy/) and its image (Dockerfile) ------
IMG ?= werfop:0.1.0
KUBECTL ?= kubectl
DOCKER ?= docker
CRD := deploy/crd/werf.io_werfbundles.yaml

.PHONY: install uninstall deploy undeploy docker-build local-test bench

# Regenerate the CRD from src/werfop/api/schema.py; `make manifests CHECK=1` only compares.
manifests: venv
ifdef CHECK
	@$(VENV)/bin/werfop crd | diff -u $(CRD) - \
		|| { echo "$(CRD) is stale: run make manifests" >&2; exit 1; }
else
	$(VENV)/bin/werfop crd > $(CRD).tmp && mv $(CRD).tmp $(CRD)
endif

# The CRD only.
install:
	$(KUBECTL) apply -f $(CRD)
	$(KUBECTL) wait --for condition=Established crd/werfbundles.werf.io --timeout=60s

# The CRD, once no WerfBundle is left (their finalizers need the operator): FORCE=1 skips the check.
uninstall:
	@left=$$($(KUBECTL) get werfbundles.werf.io -A -o name 2>/dev/null | wc -l); \
	if [ "$$left" -gt 0 ] && [ -z "$(FORCE)" ]; then \
		echo "$$left WerfBundle(s) remain: delete them while werfop runs" \
			"(kubectl delete werfbundles --all -A --wait), or run make uninstall FORCE=1" >&2; \
		exit 1; \
	fi
	$(KUBECTL) delete -f $(CRD) --ignore-not-found

# Everything in deploy/ (CRD, namespace, RBAC, Deployment, admission policy) with image IMG.
deploy:
	set -o pipefail; KUBECTL=$(KUBECTL) deploy/scripts/kustomize.sh "$(IMG)" | $(KUBECTL) apply -f -
	$(KUBECTL) -n werfop-system rollout status deployment/werfop --timeout=180s

# Everything deploy installed but the CRD (make uninstall removes it).
undeploy:
	$(KUBECTL) delete -k deploy/policy --ignore-not-found
	$(KUBECTL) delete -k deploy/manager --ignore-not-found
	$(KUBECTL) delete -k deploy/rbac --ignore-not-found

# The quick benchmark set (a few minutes); docs/benchmarks.md holds the full figures.
bench: venv
	$(PY) benchmarks/run_quick.py

docker-build:
	$(DOCKER) build -t "$(IMG)" .

# A kind cluster (werfop-e2e, kept), the image loaded, deploy/ applied, the e2e tier run.
# Exits 1 naming what is missing when Docker (and its daemon), kind or kubectl are absent.
local-test: venv
	IMG="$(IMG)" PYTHON="$(PY)" KUBECTL="$(KUBECTL)" DOCKER="$(DOCKER)" deploy/scripts/local-test.sh
