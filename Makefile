# Two commands matter: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SYSTEM_PACKAGES := postgresql-15 postgresql-15-cron postgresql-15-pgtap \
	postgresql-15-plpgsql-check redis-server fonts-dejavu-core clamav-daemon
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The real Supabase CLI, for its advisors (npm package `supabase`, pinned).
SUPABASE_CLI_VERSION := 2.117.0
SUPABASE_CLI_DIR := $(VENV)/supabase-cli
SUPABASE_CLI_STAMP := $(SUPABASE_CLI_DIR)/.installed-$(SUPABASE_CLI_VERSION)
ARGS ?=

.PHONY: help system venv supabase-cli run stop test lint pytest fuzz db-reset db-schema seed bench-analytics bench-edge bench-live bench-jobs bench-files bench-tools

help:
	@echo "make run      start Postgres, Redis and the edge (foreground; Ctrl-C stops them)"
	@echo "make test     every linter and test"
	@echo "make lint     ruff, mypy, sqlfluff, plpgsql_check, Supabase's advisors and the schema dump check"
	@echo "make stop     stop embedded services left running"
	@echo "make fuzz     schemathesis against /openapi.json with many examples (ARGS go to schemathesis)"
	@echo "make db-reset rebuild the embedded database (migrate and seed)"
	@echo "make db-schema regenerate db/schema.sql from a freshly migrated database"
	@echo "make bench-analytics ARGS='--json out.json'   view refresh, trigger and api benchmark"
	@echo "make bench-edge ARGS='--json out.json'        cached and uncached dashboard against a constant endpoint"
	@echo "make bench-live ARGS='--json out.json'        live updates: commit to client, broadcast, idle streams, marking throughput"
	@echo "make bench-jobs ARGS='--json out.json'        jobs worker, alert emails, the alert backstop and the trigger path"
	@echo "make bench-files ARGS='--json out.json'       uploads, exports and audit archival"

# Debian packages: installed with apt when running as root, otherwise named.
system:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# npm comes with Node.js from Debian when it is missing.
$(SUPABASE_CLI_STAMP):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  else echo "missing Debian package: npm (sudo apt-get install -y npm)"; exit 1; fi; }
	npm install --prefix $(SUPABASE_CLI_DIR) --no-save --no-audit --no-fund --loglevel=error \
	  supabase@$(SUPABASE_CLI_VERSION)
	@touch $@

supabase-cli: venv $(SUPABASE_CLI_STAMP)

run: system venv
	$(PY) -m stack run

stop: venv
	$(PY) -m stack stop

db-reset: system venv
	$(PY) -m db reset

seed: system venv
	$(PY) -m db.seed $(ARGS)

db-schema: system venv
	$(PY) -m db schema --write

lint: system venv supabase-cli
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/sqlfluff lint supabase/migrations
	$(PY) -m db lint

pytest: system venv
	$(VENV)/bin/pytest $(ARGS)

test: lint pytest

# The schemathesis test of `make test`, with 500 examples per operation instead of 25.
fuzz: system venv
	SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-500} SCHEMATHESIS_ARGS="$(ARGS)" \
	  $(VENV)/bin/pytest tests/edge/test_schemathesis.py

bench-analytics: system venv
	$(PY) -m bench.analytics $(ARGS)

# wrk drives the edge benchmark; only benchmarks need it.
bench-tools: system
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; \
	  else echo "missing Debian package: wrk (sudo apt-get install -y wrk)"; exit 1; fi; }

bench-edge: bench-tools venv
	$(PY) -m bench.edge $(ARGS)

bench-live: system venv
	$(PY) -m bench.live $(ARGS)

bench-jobs: system venv
	$(PY) -m bench.jobs $(ARGS)

bench-files: system venv
	$(PY) -m bench.files $(ARGS)
