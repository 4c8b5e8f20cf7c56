# Payment Hub: `make demo` runs it locally, `make test` runs every test against real services.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# URLs of the PostgreSQL and Redis in use, written by `hub_core.devservices ensure` (`source` it).
SERVICES_ENV := .hub/services.env

.PHONY: install test lint format demo migrate api validate clean services services-stop

install: $(STAMP) .env

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

# Local settings (the default service URLs) for the hub and `dagster dev` run from here; git-ignored.
# Written only when missing: an existing .env is never touched.
.env: | $(STAMP)
	$(BIN)/python -m hub_core.devservices dotenv --path .env

# PostgreSQL and Redis: the configured ones when they answer, else the machine's services, else
# embedded ones under .hub/ (kept running; `make services-stop` stops them). Fails when none can.
services: install
	$(BIN)/python -m hub_core.devservices ensure --env-file $(SERVICES_ENV)

services-stop:
	test ! -x $(BIN)/python || $(BIN)/python -m hub_core.devservices stop

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m hub_core.devservices ensure --env-file $(SERVICES_ENV)
	set -a && source $(SERVICES_ENV) && set +a && $(BIN)/python -m pytest -n 2 --dist loadfile --cov --cov-report=term

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

clean: services-stop
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage htmlcov
