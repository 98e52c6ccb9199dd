# make run: set up .venv and serve the API with GraphiQL on the embedded SQLite database.
# make test: set up .venv and run the whole test suite (SQLite and PostgreSQL).
# make bench: the dashboard page beside PostGraphile and a hand-written floor (benchmarks/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test check lint schema lock bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/gql-support serve

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

schema: setup
	$(BIN)/python -m gql_support.api.schema > schema/schema.graphql

# Re-pin every dependency after changing pyproject.toml.
lock: setup
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

# The dashboard page against PostGraphile 4 and a Starlette + asyncpg floor (benchmarks/README.md).
# Needs PostgreSQL on 127.0.0.1:5432 and npm; e.g. make bench BENCH_ARGS="--incidents 10000".
bench: setup
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
