# Two commands do all set-up on a fresh machine with only python3:
#   make demo   - venv + install + run examples/quickstart.py (offline without VLMRUN_API_KEY)
#   make test   - venv + install with test extras + check the built sdist/wheel + run the test suite
#   make test-fast - the unit tests only (under a minute)
#   make live   - every example against the live service, responses checked; RECORD=1
#                 re-records their cassettes (needs VLMRUN_API_KEY; without it: a note, exit 0)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# an editable install of this flat layout makes setuptools print an "Editable
# installation" notice (a UserWarning pip relays even with --quiet); only that module's
# notices are silenced, setuptools' deprecations still show
EDITABLE := PYTHONWARNINGS="ignore::UserWarning:setuptools.command.editable_wheel" \
	$(BIN)/python -m pip install --quiet -e

.PHONY: demo test test-fast dist lint examples live bench cassettes mutation mutation-changed mutation-outdated clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(EDITABLE) ".[examples]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(EDITABLE) ".[dev]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/python examples/quickstart.py

# the dist check first, so that pytest's summary closes the output
test: $(VENV)/.dev-installed
	PYTHON=$(BIN)/python tools/check_dist.sh
	$(BIN)/python -m pytest -q

# the fast lane: the unit tests (no emulator, Redis, subprocesses or examples), < 1 min
test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q tests/unit_tests

# build the sdist and wheel, twine-check them, install the wheel in a clean venv, import it
dist: $(VENV)/.dev-installed
	PYTHON=$(BIN)/python tools/check_dist.sh

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

examples: $(VENV)/.demo-installed
	for example in examples/[a-z]*.py; do $(BIN)/python $$example || exit 1; done

ifdef VLMRUN_API_KEY
live: $(VENV)/.demo-installed
	VLMRUN_RECORD=$(RECORD) $(BIN)/python tools/live_check.py
else
live:  # says why nothing runs; needs nothing installed
	@$(PYTHON) tools/live_check.py
endif

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(EDITABLE) ".[bench]"
	$(BIN)/python -m pip install --quiet --no-deps "vlmrun>=0.9"
	touch $@ $(VENV)/.dev-installed $(VENV)/.demo-installed

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/run_all.py

$(VENV)/.mutation-installed: pyproject.toml | $(BIN)/python
	$(EDITABLE) ".[mutation]"
	touch $@

# mutation testing per module, scoped to the tests that reach it; prints a score per
# module (see tools/mutation.py and tests/MUTATION.md)
mutation: $(VENV)/.mutation-installed
	$(BIN)/python tools/mutation.py

# the same, for the modules changed since REF only (before submitting a change)
REF ?= main
mutation-changed: $(VENV)/.mutation-installed
	$(BIN)/python tools/mutation.py --since $(REF)

# the modules whose last run did not score their current source (a long run resumed)
mutation-outdated: $(VENV)/.mutation-installed
	$(BIN)/python tools/mutation.py --outdated

cassettes: $(VENV)/.dev-installed
	for module in tests/compose_*_cassettes.py; do \
		$(BIN)/python -m tests.$$(basename $$module .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info build dist .mutation mutants
