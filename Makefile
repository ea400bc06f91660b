# CareDesk: `make run` (install, migrate, demo data, web + worker + beat) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
PY := $(VENV)/bin/python
export DATA_DIR ?= $(CURDIR)/var
PORT ?= 8000
PYTEST_WORKERS ?= auto

.PHONY: install run test test-sqlite test-postgres lint typecheck migrations-check check messages clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode --python ">=3.11"
	@touch $@

run: install
	@mkdir -p "$(DATA_DIR)"
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo --verbosity 0
	DEBUG=1 PORT=$(PORT) $(PY) manage.py serve

# The whole suite on SQLite; again on PostgreSQL when DATABASE_URL is set.
test: install
	env -u DATABASE_URL $(PY) -m pytest -n $(PYTEST_WORKERS) -q
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($${DATABASE_URL%%@*}@…)"; \
		$(PY) -m pytest -n $(PYTEST_WORKERS) -q; \
	fi

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	DEBUG=1 $(VENV)/bin/mypy caredesk config

migrations-check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

messages: install
	DEBUG=1 $(PY) manage.py makemessages -l en --ignore=.venv --ignore=var --ignore=tests
	$(PY) scripts/fill_po.py locale/en/LC_MESSAGES/django.po locale/en/*.tsv
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
