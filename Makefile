# atoll's two commands: `make up` (the main job) and `make test` (lint, types, every test).
# Each does its own set-up on a fresh machine: the virtualenv in .venv, the Python
# dependencies, and the Kubernetes binaries built from pinned Go modules (cached under
# ~/.cache/atoll, shared by every clone).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: up down status test lint unit integration binaries venv clean help

help:
	@echo "make up      start the local super-cluster (sets everything up first)"
	@echo "make test    lint, type checks and every test (sets everything up first)"
	@echo "make down    stop the local super-cluster"
	@echo "make lint    ruff, mypy --strict, import layers"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"atoll needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

binaries:
	@hack/build-kube.sh

# The local super-cluster with its operator, and a first VirtualCluster on an edge pool.
up: venv binaries
	$(BIN)/atoll up
	$(BIN)/atoll create demo --pools edge-a --exist-ok --wait
	@$(BIN)/atoll kubeconfig demo -o "$${ATOLL_STATE_DIR:-$${XDG_STATE_HOME:-$$HOME/.local/state}/atoll}/demo.kubeconfig" >/dev/null
	@echo
	@echo "Super-cluster (admin):   export KUBECONFIG=$${ATOLL_STATE_DIR:-$${XDG_STATE_HOME:-$$HOME/.local/state}/atoll}/super.kubeconfig"
	@echo "Tenant 'demo':           export KUBECONFIG=$${ATOLL_STATE_DIR:-$${XDG_STATE_HOME:-$$HOME/.local/state}/atoll}/demo.kubeconfig"
	@echo "kubectl:                 export PATH=$$(hack/build-kube.sh --print-dir):\$$PATH"
	@echo "Try: kubectl get nodes -L apps.openyurt.io/nodepool   (super)   kubectl get ns   (tenant)"

down: venv
	$(BIN)/atoll down

status: venv
	$(BIN)/atoll status

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p atoll.core -p atoll.local -p atoll.cli -p atoll.operator -p atoll.syncer
	$(BIN)/mypy tests bench
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv binaries
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

test: venv binaries lint
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
