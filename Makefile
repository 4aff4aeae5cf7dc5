# The custody gateway. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install toolchain demo bench faults test test-long test-unit lint format schemas kafka-up kafka-up-secure kafka-down kafka-status topics

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml tests/browser/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --no-audit --no-fund --silent; \
	else echo "npm is not installed: the browser test of the holders' page is skipped" >&2; fi
	touch $(INSTALLED)

install: $(INSTALLED) toolchain ## create the virtualenv and install the project and its tools

toolchain: ## make sure Java 17, Maven, PostgreSQL, kcat, Chromium, xmllint and promtool are there (apt-get installs what is missing)
	@need=""; want=""; \
	command -v java >/dev/null || need="$$need openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || need="$$need maven"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want="postgresql"; \
	if [ -z "$$need$$want" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && apt-get install -y -q $$need $$want; \
	elif [ -n "$$need" ]; then echo "the local broker needs Java 17 and Maven on PATH" >&2; exit 1; \
	else echo "no PostgreSQL in /usr/lib/postgresql: its read-store tests will be skipped" >&2; fi
	@missing=""; for tool in kcat:kcat chromium:chromium xmllint:libxml2-utils promtool:prometheus; do \
		command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool#*:}"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -q >/dev/null && apt-get install -y -q $$missing) || echo "could not install$$missing: their tests are skipped" >&2; \
	else echo "not installed:$$missing (kcat: the README's kcat example; chromium: the holders' page; libxml2-utils: the report's XSD; prometheus: promtool for ops/prometheus/alerts.yml): their tests are skipped" >&2; fi

demo: install ## run the demo end to end against a real broker (started if none is up)
	$(BIN)/gateway demo

bench: install ## gateway bench: throughput, latency, restore, state-size, ledger (about 22 min)
	$(BIN)/gateway bench $(BENCH_ARGS)

faults: install ## the fault test: 20,000 events, 10 kill -9, 2 broker restarts (about 10 min)
	$(BIN)/gateway faults $(FAULTS_ARGS)

test: install ## run the tests (unit and real-broker integration) but the long ones (test-long)
	$(BIN)/pytest

test-long: install ## the long tests make test skips: the short fault run, the tiny benchmarks (about 4 min)
	$(BIN)/pytest --long -m long

test-unit: install ## run only the pure tests (no broker)
	$(BIN)/pytest -m "not broker"

lint: install ## ruff, mypy (strict) and the layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install ## apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schemas: install ## regenerate contracts/schemas from the contracts
	$(BIN)/gateway schemas

kafka-up: install ## start the local broker (fetching it on first use) and create the topics
	$(BIN)/gateway kafka up

kafka-up-secure: install ## start the local broker secured (SCRAM, ACLs from PARTIES=file; TLS=1 for TLS)
	$(BIN)/gateway kafka up --secure $(if $(PARTIES),--parties $(PARTIES)) $(if $(TLS),--tls)

kafka-down: install ## stop the local broker
	$(BIN)/gateway kafka down

# `gateway kafka status` exits 3 when no local broker runs (for scripts); here that is an answer,
# not a failure. Any other non-zero status still fails the target.
kafka-status: install ## is the local broker running, and where
	@$(BIN)/gateway kafka status || [ $$? -eq 3 ]

topics: install ## list the topic catalogue
	$(BIN)/gateway topics
