# The two entry points of the README, plus the chores around them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/test.txt

.PHONY: run run-local test test-fast update-goldens schema docs templates constraints image-requirements bench clean

## run: install mlspec and compile specs/ into generated/ (the main job)
run: $(VENV)/.runtime-installed
	$(BIN)/mlspec compile specs --out generated

## run-local: install the `local` extra (pinned) and run customer-churn end to end on this machine
run-local: $(VENV)/.local-installed
	$(BIN)/mlspec run specs/customer-churn.yaml --local

## test: install the pinned test environment and run the whole suite, on every core (pytest-xdist;
## tests/conftest.py keeps a module on one worker and starts the slow runs first)
PYTEST_WORKERS ?= auto
test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=30

## test-fast: the unit and CLI layers only (tests/unit, tests/cli; not the slow ones), in under a minute
test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow" tests/unit tests/cli

## update-goldens: rewrite expected test outputs after a reviewed change
update-goldens: $(VENV)/.test-installed
	MLSPEC_UPDATE_GOLDENS=1 $(BIN)/python -m pytest -q tests/cli/test_invalid_corpus.py tests/unit/targets/test_golden.py

## schema: regenerate schema/mlspec.schema.json and docs/spec-reference.md from the spec models
schema: $(VENV)/.runtime-installed
	$(BIN)/mlspec schema
	$(BIN)/mlspec docs

## docs: regenerate docs/spec-reference.md (the spec reference) from the spec models
docs: $(VENV)/.runtime-installed
	$(BIN)/mlspec docs

## templates: precompile templates/ into src/mlspec/targets/precompiled (after editing a template)
templates: $(VENV)/.runtime-installed
	$(BIN)/python scripts/precompile_templates.py

## constraints: re-pin the test environment (after changing the test extra)
constraints: $(VENV)/.test-installed
	(echo "# Pinned test/verify environment (Python 3.11). Regenerate: make constraints"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v '^mlspec') > $(CONSTRAINTS)

## image-requirements: re-hash the Dockerfile's requirements (after `make constraints`, or a new dependency)
image-requirements: $(VENV)/.test-installed
	$(BIN)/python constraints/pin_image.py

## bench: print the benchmark figures
bench: $(VENV)/.test-installed
	$(BIN)/python bench/run_all.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[test]'
	touch $@ $(VENV)/.runtime-installed

$(VENV)/.local-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[local]'
	touch $@ $(VENV)/.runtime-installed

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
