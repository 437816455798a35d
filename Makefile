# Two commands on a fresh machine (see README.md):
#   make demo   runs the main job
#   make test   runs the whole test suite (lint, import layers, types, unit and integration tests)
# Each installs what it needs into .venv/ first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit molecule install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/agentmaint demo --dir .agentmaint-demo

# lint-imports checks the layer and no-cycle contracts of [tool.importlinter] (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint roles playbooks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest --durations=10 tests/unit

molecule: $(STAMP)
	$(BIN)/python tests/molecule/run_all.py

# Molecule first, so that pytest's summary is the closing line of the run.
test: lint typecheck
	$(BIN)/python tests/molecule/run_all.py
	$(BIN)/pytest --durations=25

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
