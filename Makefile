# The two commands: `make run` (the service on the embedded SQLite database, with sample data) and
# `make test` (the whole suite, against a real MariaDB/MySQL). Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
LOCAL_DB ?= .local/hr.db
export PYTHONDONTWRITEBYTECODE := 1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run lint test bench system-deps mysql clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Run-time packages only: enough for `chalice local` and the CLI.
$(VENV)/.run-deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt chalice==1.34.0 boto3==1.44.5
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt $(wildcard */requirements*.txt) | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	@mkdir -p $(dir $(LOCAL_DB))
	$(PY) -m chalicelib.cli --database sqlite:///$(LOCAL_DB) schema create
	$(PY) -m chalicelib.cli --database sqlite:///$(LOCAL_DB) load samples/
	@echo
	@echo "  API:     http://$(HOST):$(PORT)/"
	@echo "  API key: $$($(PY) -c 'import json; print(json.load(open(".chalice/config.json"))["stages"]["local"]["environment_variables"]["API_KEY"])')"
	@echo "  try:     curl -H 'x-api-key: <key>' http://$(HOST):$(PORT)/reports/hires-by-quarter"
	@echo
	@# No auto-reload: it watches the whole tree, so every write to the SQLite files under .local/ would
	@# restart the server. Restart `make run` after changing code.
	$(abspath $(VENV))/bin/chalice local --stage local --host $(HOST) --port $(PORT) --no-autoreload

# System packages the suite needs (Java + MariaDB JDBC driver for Spark, Chromium, a MariaDB server).
system-deps:
	scripts/system-deps.sh

mysql:
	scripts/ensure-mysql.sh

# ruff with the settings in pyproject.toml: the rules, then the formatting.
lint: $(VENV)/.dev-deps
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# The suite starts with the linter, so CI fails on a lint error before any test runs.
test: lint $(VENV)/.dev-deps system-deps mysql
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-deps system-deps mysql
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .local .pytest_cache chalice.out cdk.out

# Area-specific targets (synth, ...) live beside the code they drive.
-include mk/*.mk
