# DMS: `make run` serves the app on http://$(HOST):$(PORT); `make test` runs lint and the whole suite
# on SQLite, then again on PostgreSQL (mandatory in CI, skipped locally when PostgreSQL is not there).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?= -q
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DMS_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

export FLASK_APP := wsgi
export DMS_TEST_REDIS_URL

# Exit 0 when something accepts TCP connections at the URL's host and port (default port 5432).
REACHABLE = $(BIN)/python -c 'import socket, sys, urllib.parse as up; \
u = up.urlsplit(sys.argv[1].replace("+psycopg", "")); \
socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=3).close()'
# One closing line over both runs, in the plain form CI reads: "total: N passed, N failed, N skipped".
SUMMARY = $(BIN)/python .ci/summary.py
IN_CI = [ "$$(printf '%s' "$${CI:-}" | tr '[:upper:]' '[:lower:]')" = true ]

.PHONY: help venv translations db run test messages

help:
	@echo "make run    serve the app on http://$(HOST):$(PORT) (creates .venv, the database and the demo accounts)"
	@echo "make test   ruff, then pytest on SQLite, then pytest on PostgreSQL ($(POSTGRES_TEST_URL))"
	@echo "make venv | translations | db    the steps on their own"

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt is newer than the stamp.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# Compiled catalogs (*.mo) are not in git: always rebuilt from the *.po files.
translations: venv
	@if compgen -G 'dms/translations/*/LC_MESSAGES/*.po' > /dev/null; then \
		$(BIN)/pybabel compile -d dms/translations -f; \
	else \
		echo "No translation catalogs in dms/translations: nothing to compile."; \
	fi

db: venv
	$(BIN)/flask db upgrade

run: venv translations db
	$(BIN)/flask dms seed-demo
	@echo "Open http://$(HOST):$(PORT) and log in with one of the accounts above."
	exec $(BIN)/flask run --host "$(HOST)" --port "$(PORT)"

test: venv translations
	$(BIN)/ruff check .
	@rm -rf .test-results; mkdir -p .test-results; status=0; \
	echo "== pytest on SQLite =="; \
	env -u DMS_TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS) --junitxml=.test-results/sqlite.xml || status=1; \
	if $(REACHABLE) '$(POSTGRES_TEST_URL)' 2>/dev/null; then \
		echo "== pytest on PostgreSQL ($(POSTGRES_TEST_URL)) =="; \
		DMS_TEST_DATABASE_URL='$(POSTGRES_TEST_URL)' $(BIN)/pytest $(PYTEST_ARGS) --junitxml=.test-results/postgresql.xml || status=1; \
	elif $(IN_CI); then \
		echo "ERROR: PostgreSQL does not answer at $(POSTGRES_TEST_URL); in CI the PostgreSQL run is mandatory." >&2; \
		status=1; \
	else \
		echo "SKIPPED the PostgreSQL run: nothing answers at $(POSTGRES_TEST_URL) (set POSTGRES_TEST_URL or start PostgreSQL)."; \
	fi; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED" >&2; fi; \
	$(SUMMARY) .test-results/*.xml; \
	exit $$status

# Refresh the catalogs after adding strings: then translate the new zh_CN entries (tests/core/test_i18n_catalogs.py checks).
messages: venv
	mkdir -p .test-results && $(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --omit-header -o .test-results/messages.pot .
	$(BIN)/pybabel update -d dms/translations -i .test-results/messages.pot --no-fuzzy-matching --ignore-obsolete
