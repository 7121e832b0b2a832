# reviewer: two commands get you going.
#   make demo   set up .venv, build the demo database if missing, open the labeler on it
#   make test   set up .venv, run ruff and the whole test suite
#   make test-fast  the tests not marked slow (under a minute), while you work
#   make bench  run the benchmarks in bench/ (writes bench/results/*.json)
#   make docs   regenerate docs/cli.md from the commands' own --help

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= demo.db
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)

.PHONY: help demo test test-fast bench docs lint format clean
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "reviewer needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## build demo.db if missing and open the labeler on it
	$(BIN)/reviewer --db $(DEMO_DB) demo

test: $(STAMP)  ## ruff, the import contracts and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)  ## the tests not marked slow: under a minute, for the edit-test loop
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: $(STAMP)  ## run the benchmarks; ratios are printed and written to bench/results/
	$(BIN)/python -m bench

docs: $(STAMP)  ## regenerate docs/cli.md from every command's --help
	$(BIN)/python -m reviewer.commands.cli_reference

format: $(STAMP)  ## apply ruff's formatter and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:  ## remove the virtual environment and generated files
	rm -rf $(VENV) bench/results *.egg-info
