# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 2
export HOST PORT WEB_CONCURRENCY

.PHONY: run serve test test-postgres test-citus citus test-sqlite test-sqlite-slowpath lint format install docs bench bench-feed bench-schema bench-ingest bench-peers bench-cluster clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## run: set up (venv, install, migrate) and serve the API on http://$(HOST):$(PORT)
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@$(BIN)/python manage.py bootstrap_token
	@echo "datastorage is serving on http://$(HOST):$(PORT)/ (API under /api/v1/, docs at /api/docs/)"
	@$(MAKE) --no-print-directory serve

## serve: the production server (granian, datastorage/serve.py) and the migration worker,
## in the foreground (reads HOST, PORT, WEB_CONCURRENCY, GRANIAN_*); Ctrl-C stops both.
## scripts/serve.py supervises them: it starts the worker again whenever it exits, and on
## Ctrl-C or SIGTERM gives each exactly one SIGTERM (a second one can hang granian's main
## process for good), then waits for both. Both write their metrics into
## PROMETHEUS_MULTIPROC_DIR (var/metrics), whose *.db files (an earlier run's counters)
## are removed here first.
serve: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/metrics
serve:
	@mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && rm -f "$$PROMETHEUS_MULTIPROC_DIR"/*.db
	@$(BIN)/python scripts/serve.py

## test: lint, then the whole suite on a throwaway PostgreSQL, then the records, schema,
## ingest and cluster tests on a throwaway Citus cluster, then the whole suite on SQLite,
## then on SQLite again with the fast lane and the front door off
test: install lint test-postgres test-citus test-sqlite test-sqlite-slowpath

## lint: Ruff, and import-linter: the apps import downward only (.importlinter)
lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-postgres: install
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/pytest $(PYTEST_ARGS)

## test-citus: a coordinator and two workers (scripts/with_postgres.py --citus 2):
## tests/cluster, and the records API, feed, upsert, schema-change and ingest suites with
## every storage they create distributed (DATASTORAGE_TEST_DISTRIBUTE_ALL, conftest.py).
## Builds Citus first when missing.
CITUS_TESTS ?= tests/cluster storage ingest factory/tests/test_partition_retention.py
test-citus: install citus
	DATASTORAGE_TEST_DISTRIBUTE_ALL=1 $(BIN)/python scripts/with_postgres.py --citus 2 -- \
		$(BIN)/pytest --reuse-db $(CITUS_TESTS) $(PYTEST_ARGS)

## citus: the Citus extension in the local PostgreSQL server, built from ../shared/citus
## when missing (apt and make install: as root, else through sudo; about 4 minutes on 2 cores)
PG_CONFIG ?= $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin/pg_config)))
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
citus:
	@test -f "$$($(PG_CONFIG) --pkglibdir)/citus.so" \
		|| $(AS_ROOT) ../shared/citus/build-citus.sh $(PG_CONFIG)

test-sqlite: install
	DATABASE_URL= $(BIN)/pytest -m "not postgresql" $(PYTEST_ARGS)

## test-sqlite-slowpath: the front door closed, every request through Django and the DRF
## viewset, which must give the same answers (tests marked `fastpath`, about the front
## door itself, deselected)
test-sqlite-slowpath: install
	DATABASE_URL= RECORDS_FAST_PATH=0 $(BIN)/pytest -m "not postgresql" $(PYTEST_ARGS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## docs: regenerate docs/api-reference.md from the OpenAPI document (a test checks it)
docs: install
	$(BIN)/python scripts/api_reference.py docs/api-reference.md

## bench: the records API under load (bench/run.py), then the change feed (bench/feed.py)
bench: install
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/run.py
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/feed.py

bench-feed: install
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/feed.py

bench-schema: install
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/schema_change.py

bench-ingest: install
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/ingest.py

## bench-cluster: a distributed storage vs a plain one, and retention by dropping a
## partition vs batched deletes (bench/cluster.py), on a throwaway Citus coordinator and
## two workers (Citus built first when missing: make citus)
bench-cluster: install citus
	$(BIN)/python scripts/with_postgres.py --citus 2 -- $(BIN)/python bench/cluster.py

## bench-peers: datastorage and Kinto side by side (bench/peers.py); Kinto, pinned in
## bench/kinto-requirements.txt, gets a virtualenv of its own in bench/.kinto
KINTO_VENV := bench/.kinto
$(KINTO_VENV)/.installed: bench/kinto-requirements.txt
	rm -rf $(KINTO_VENV)
	$(PYTHON) -m venv $(KINTO_VENV)
	$(KINTO_VENV)/bin/pip install --quiet --upgrade pip
	$(KINTO_VENV)/bin/pip install --quiet -r bench/kinto-requirements.txt
	touch $@

bench-peers: install $(KINTO_VENV)/.installed
	@command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk
	$(BIN)/python scripts/with_postgres.py -- $(BIN)/python bench/peers.py

clean:
	rm -rf $(VENV) $(KINTO_VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis .schemathesis
