# Flowyard: `make run` serves a demo, `make test` runs everything. Both install what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
FLOWYARD_HOST ?= 127.0.0.1
FLOWYARD_PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/flowyard
export FLOWYARD_HOST FLOWYARD_PORT

.PHONY: install frontend services migrate seed run test lint test-fast test-unit test-e2e test-postgres chaos fuzz bench clean test-workers

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

static/node_modules/.installed: static/package.json static/package-lock.json
	cd static && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The Orchesty SDK worker the runtime tests drive (tests/orchesty_worker): its own npm project and lockfile.
tests/orchesty_worker/node_modules/.installed: tests/orchesty_worker/package.json tests/orchesty_worker/package-lock.json
	cd tests/orchesty_worker && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

static/dist/.built: static/node_modules/.installed static/build.mjs $(shell find static/src -type f 2>/dev/null)
	cd static && npm run --silent build
	@mkdir -p staticfiles  # whitenoise warns when STATIC_ROOT is missing; collectstatic fills it for production
	@touch $@

install: $(VENV)/.installed frontend
test-workers: tests/orchesty_worker/node_modules/.installed
frontend: static/dist/.built

services:
	@.ci/ensure-services

migrate: install services
	$(PY) manage.py migrate --noinput -v 0

seed: migrate
	$(PY) manage.py seed_demo

# Development defaults of `make run`: the engine may call local workers and stubs, and the web process starts
# on the development keys (production refuses both; see README).
run: export FLOWYARD_EGRESS_ALLOW ?= 127.0.0.0/8,::1,localhost
run: export FLOWYARD_ALLOW_DEV_KEYS ?= true
run: seed
	@echo ""
	@echo "  Flowyard is starting at http://$(FLOWYARD_HOST):$(FLOWYARD_PORT)/"
	@echo "  Demo login: demo@flowyard.local / flowyard-demo"
	@echo "  Stop with Ctrl-C."
	@echo ""
	$(VENV)/bin/honcho start -f Procfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy admin_ui topology processes limiter trash
	$(VENV)/bin/lint-imports

# No engine subprocess, browser or fault injection: the quick loop while editing.
test-fast: install services
	$(VENV)/bin/pytest tests -m "not slow and not fuzz" --ignore=tests/e2e --ignore=tests/chaos -q

test-unit: install test-workers services
	$(VENV)/bin/pytest tests --ignore=tests/e2e -q

test-e2e: install services
	@.ci/ensure-chromium
	$(VENV)/bin/pytest tests/e2e -q

test: lint test-unit test-e2e

# The chaos short form already ran in test-unit; its scenarios do not depend on the database engine.
test-postgres: install test-workers services
	DATABASE_URL=$(PG_TEST_URL) .ci/ensure-services
	DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest tests --ignore=tests/e2e --ignore=tests/chaos -q

# Every fault scenario with more processes (test-unit runs a short form); prints the books per fault and
# writes them to test-results/chaos.txt. Starts its own RabbitMQ node, a three-node RabbitMQ cluster and Redis server; SQLite only.
chaos: install services
	FLOWYARD_CHAOS=full $(VENV)/bin/pytest tests/chaos -q --timeout 1800
	$(MAKE) fuzz

# Schemathesis over every API operation with a member's token: no 5xx, no undocumented status or body.
# CI runs the same test with a few examples per operation; `make chaos` runs this full form.
FUZZ_EXAMPLES ?= 100
fuzz: install services
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/test_api_fuzz.py -q -s

bench: install services
	@.ci/ensure-chromium
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) static/node_modules tests/orchesty_worker/node_modules static/dist staticfiles db.sqlite3 .test-db.sqlite3
