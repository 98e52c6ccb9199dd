# make run: set up .venv and serve the API with GraphiQL on the embedded SQLite database.
# make test: set up .venv and run the whole test suite (SQLite and PostgreSQL).
# make bench: the dashboard page beside PostGraphile and a hand-written floor (benchmarks/).
# make fuzz: the model of the desk and the fuzzers, run long, then a summary of what they did.
# make soak: PostgreSQL restart and a killed server under 50 clients, then 20 writers on SQLite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test fuzz soak check lint schema lock bench assets

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

fuzz: setup
	GQL_SUPPORT_TEST_MODEL_EXAMPLES=$${GQL_SUPPORT_TEST_MODEL_EXAMPLES:-100} \
	GQL_SUPPORT_TEST_MODEL_STEPS=$${GQL_SUPPORT_TEST_MODEL_STEPS:-50} \
	GQL_SUPPORT_TEST_SCHEMATHESIS_EXAMPLES=$${GQL_SUPPORT_TEST_SCHEMATHESIS_EXAMPLES:-300} \
	GQL_SUPPORT_TEST_FUZZ_EXAMPLES=$${GQL_SUPPORT_TEST_FUZZ_EXAMPLES:-300} \
	$(BIN)/pytest --durations=5 \
		tests/incidents/test_state_machine.py tests/api/test_schemathesis.py \
		tests/api/test_fuzz_arguments.py

soak: setup
	$(BIN)/python benchmarks/soak.py

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

# Refresh the browser files vendored from npm (pinned here; `make run` never needs npm):
# GraphiQL with React for /graphql, axe-core for the accessibility tests.
GRAPHIQL_VERSION := 3.9.0
REACT_VERSION := 18.3.1
AXE_VERSION := 4.14.1
VENDOR := gql_support/web/static/vendor/graphiql
assets:
	rm -rf .npm-assets && mkdir -p .npm-assets $(VENDOR) tests/web/vendor
	cd .npm-assets && npm pack --silent graphiql@$(GRAPHIQL_VERSION) react@$(REACT_VERSION) \
		react-dom@$(REACT_VERSION) axe-core@$(AXE_VERSION) && for f in *.tgz; do \
		mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	sed '/sourceMappingURL/d' .npm-assets/graphiql-$(GRAPHIQL_VERSION)/package/dist/index.umd.js \
		> $(VENDOR)/graphiql.min.js
	cp .npm-assets/graphiql-$(GRAPHIQL_VERSION)/package/dist/style.css $(VENDOR)/graphiql.min.css
	cp .npm-assets/graphiql-$(GRAPHIQL_VERSION)/package/LICENSE $(VENDOR)/LICENSE.graphiql
	cp .npm-assets/react-$(REACT_VERSION)/package/umd/react.production.min.js $(VENDOR)/
	cp .npm-assets/react-$(REACT_VERSION)/package/LICENSE $(VENDOR)/LICENSE.react
	cp .npm-assets/react-dom-$(REACT_VERSION)/package/umd/react-dom.production.min.js $(VENDOR)/
	cp .npm-assets/react-dom-$(REACT_VERSION)/package/LICENSE $(VENDOR)/LICENSE.react-dom
	cp .npm-assets/axe-core-$(AXE_VERSION)/package/axe.min.js tests/web/vendor/
	cp .npm-assets/axe-core-$(AXE_VERSION)/package/LICENSE tests/web/vendor/LICENSE.axe-core
	rm -rf .npm-assets
