# make demo: set up and run the whole system on SQLite.
# make test: set up and run ruff, the import rules, mypy and every test (SQLite and PostgreSQL).
# make check: the fast lane: lint, import rules, types, the page checks and the unit tests.
# make bench: run the benchmarks and write bench/results.json.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
STAMP := $(VENV)/.installed
WHEELS := var/wheels
PACKAGES := ems ems_contracts hospital_gateway ambulance_client card_issuer simulation tests bench

.PHONY: demo test check bench setup system services lint imports typecheck pytest unit pages \
	wheels lock screenshots clean load faults

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Wheels of every part's pinned set, fetched at setup, so that the test installing each
# part alone in a fresh environment downloads nothing while it runs.
$(WHEELS)/.stamp: constraints.txt pyproject.toml $(STAMP)
	@mkdir -p $(WHEELS)
	$(PY) -m pip download -q -d $(WHEELS) -c constraints.txt setuptools wheel \
		$$($(PY) scripts/extra-requirements server relay tablet)
	@touch $@

wheels: $(WHEELS)/.stamp

# Re-pin constraints.txt from the development environment (after changing requirements).
lock: $(STAMP)
	scripts/lock

system:
	@scripts/ensure-system

services: system
	@scripts/ensure-system --services

setup: system $(STAMP) frontend wheels
	@scripts/fetch-test-data

frontend: $(STAMP)
	@scripts/ensure-frontend

# make demo PORT=8100 RELAY_PORT=8865 TABLET_PORT=8880 SPEED=10 (SPEED > 1: labelled fast mode)
demo: PORT ?= 8000
demo: RELAY_PORT ?= 8765
demo: TABLET_PORT ?= 8780
demo: SPEED ?= 1
demo: setup
	$(PY) -m simulation demo --port $(PORT) --relay-port $(RELAY_PORT) \
		--tablet-port $(TABLET_PORT) --speed $(SPEED) $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(wildcard $(PACKAGES))
	$(VENV)/bin/ruff format --check $(wildcard $(PACKAGES))

# The layers of STYLE.md rule 13 as import contracts (pyproject.toml, [tool.importlinter]).
imports: $(STAMP)
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Two workers (pytest-xdist), one file at a time each; every worker gets a PostgreSQL
# database and a Redis index of its own (tests/conftest.py).
TEST_WORKERS ?= 2
pytest: setup services
	TEST_DATABASE_URL=$(PG_TEST_URL) TEST_REDIS_URL=$(REDIS_TEST_URL) \
		$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

# Unit tests: no database, no browser, no process rig (marked by tests/conftest.py).
unit: $(STAMP)
	$(VENV)/bin/pytest -q -m unit -p no:cacheprovider

# The pages' pure state modules under Node's own test runner, and eslint over the pages.
pages: frontend
	node --test tests/js/
	npx --no-install eslint ems/web/static/js ambulance_client/web/static hospital_gateway/static tests/js

test: setup services lint imports typecheck pages pytest

check: $(STAMP) frontend lint imports typecheck pages unit

bench: setup services
	$(PY) -m bench.run

# make load: 300 units, 30 streams × 3 viewers, dispatch traffic for 60 s (PostgreSQL, 4 workers).
load: setup services
	$(PY) -m bench.load --duration 60

# make faults: relay killed mid-stream, PostgreSQL restarted (throwaway cluster), tablet cut off 60 s.
faults: setup services
	$(PY) -m bench.faults

screenshots: setup
	$(PY) -m tests.browser.screenshots

clean:
	rm -rf $(VENV) var node_modules
