# Payment Hub: `make demo` runs it locally, `make test` runs every test against real services.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint format demo migrate api validate clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest --cov --cov-report=term

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	$(BIN)/hub migrate

# dagster.yaml reads its storage URL from the environment: take it from the hub settings.
validate: migrate
	DAGSTER_POSTGRES_URL=$$($(BIN)/python -c 'from hub_core.settings import get_settings; print(get_settings().dagster_postgres_url)') \
	DAGSTER_HOME=$(CURDIR) $(BIN)/dagster definitions validate -w workspace.yaml

demo: install
	bash scripts/demo.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage htmlcov
