# battlestations: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test system-deps lint typecheck pytest bench schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the whole flow built so far on the embedded defaults, printing a transcript.
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash demo/demo.sh

## Install what the tests need, then ruff, mypy and pytest.
test: $(STAMP) system-deps lint typecheck pytest

## Debian's postgresql and chromium, for the store and browser tests (apt-get, when missing).
system-deps:
	bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check bs tests bench
	$(BIN)/ruff format --check bs tests bench
	$(BIN)/zizmor --offline --quiet .github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -n 2

## Benchmarks: open-request against git diff | sha256sum, and start-up time.
bench: $(STAMP)
	$(BIN)/python -m bench

## Regenerate the JSON Schemas under schemas/ from the models.
schemas: $(STAMP)
	$(BIN)/python -m bs.schemas

clean:
	rm -rf $(VENV) .demo .bench .mypy_cache .ruff_cache .pytest_cache
