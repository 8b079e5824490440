# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Migrate the embedded SQLite database under var/, load the demo once, serve on 127.0.0.1:8000.
run: $(STAMP)
	$(BIN)/cir db upgrade
	$(BIN)/cir demo --if-empty
	$(BIN)/cir serve --host 127.0.0.1 --port 8000

# The whole suite on SQLite, and on PostgreSQL when CIR_TEST_POSTGRES_URL is set or 127.0.0.1:5432 answers.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy registry methodologies trading verification api

bench: $(STAMP)
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
