# Two commands on a fresh machine (see README.md):
#   make demo   runs the main job
#   make test   runs the whole test suite (lint, import layers, types, unit and integration tests)
# Each installs what it needs into .venv/ first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit molecule install browser clean

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

# The roles' plugins and modules too, each on its own (the fused module and its action
# share a name, as Ansible wants; mypy would call them one module twice).
typecheck: $(STAMP)
	$(BIN)/mypy
	for f in $$(find roles -path '*/molecule' -prune -o -name '*.py' -print); do \
	  $(BIN)/mypy --strict "$$f" || exit 1; done

unit: $(STAMP)
	$(BIN)/pytest --durations=10 tests/unit

molecule: $(STAMP)
	$(BIN)/python tests/molecule/run_all.py

# The report's browser test (tests/integration/test_report.py) loads the page in headless
# Chromium: Debian's package, installed here when missing and run as root (as CI runs).
# Otherwise the test says how to install it and fails: it never skips.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q -y \
	    --no-install-recommends install chromium || \
	  { apt-get -o DPkg::Lock::Timeout=300 -q update && \
	    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q -y \
	      --no-install-recommends install chromium; }

# Molecule first, so that pytest's summary is the closing line of the run.
test: lint typecheck browser
	$(BIN)/python tests/molecule/run_all.py
	$(BIN)/pytest --durations=25

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
