# make demo: set up and run the whole system on SQLite.
# make test: set up and run ruff, mypy and every test (SQLite and PostgreSQL).
# make bench: run the benchmarks and write bench/results.json.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
STAMP := $(VENV)/.installed

.PHONY: demo test bench setup system services lint typecheck pytest screenshots clean load faults

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

system:
	@scripts/ensure-system

services: system
	@scripts/ensure-system --services

setup: system $(STAMP) frontend

frontend: $(STAMP)
	@scripts/ensure-frontend

demo: setup
	$(VENV)/bin/ems demo

lint: $(STAMP)
	$(VENV)/bin/ruff check ems hospital_gateway ambulance_client tests bench migrations
	$(VENV)/bin/ruff format --check ems hospital_gateway ambulance_client tests bench migrations

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: setup services
	TEST_DATABASE_URL=$(PG_TEST_URL) TEST_REDIS_URL=$(REDIS_TEST_URL) $(VENV)/bin/pytest -q

test: setup services lint typecheck pytest

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
