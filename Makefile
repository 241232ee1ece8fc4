# sqm-monitor: `make help` lists the targets. Everything installs into .venv on first use.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: soak help setup kafka-fetch packages lint typecheck unit test run bench clean docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "needs $(PY) on PATH"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

setup: $(STAMP) kafka-fetch packages ## create .venv with the package and dev tools, fetch the Kafka jars, install Prometheus, Alertmanager and Chromium

kafka-fetch: ## fetch Apache Kafka jars from Maven Central into ~/.cache/sqm-monitor
	bash deploy/local/kafka.sh fetch

packages: ## install Debian's prometheus, prometheus-alertmanager (promtool, amtool) and chromium if missing
	bash deploy/local/packages.sh

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check monitor tests
	$(BIN)/mypy

docs: $(STAMP) ## build the docs site (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

unit: $(STAMP) ## unit tests only (no broker)
	$(BIN)/pytest -q -m "not integration"

test: setup lint docs ## everything CI runs: lint, the docs site, unit and integration tests on a real local Kafka
	$(BIN)/pytest -q

run: setup ## local Kafka + topics + worker + synthetic traffic; prints the metrics URL
	PATH="$(abspath $(BIN)):$$PATH" bash deploy/local/run.sh

bench: setup ## throughput (3 runs), memory and latency benchmark vs the ceiling and peers (not a test; ~20 min)
	$(BIN)/pip install -q -r bench/peers/requirements.txt
	$(BIN)/python bench/bench.py

soak: setup ## the local stack for SOAK_MINUTES (30) at a steady rate with worker restarts: lag, RSS, accounting (not a test)
	$(BIN)/python bench/soak.py --minutes $${SOAK_MINUTES:-30} --out bench/SOAK.md

clean: ## remove .venv and caches (the Kafka jar cache stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
