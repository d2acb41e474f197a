# Two entry points on a fresh machine (see README.md):
#   make demo   install, materialize the whole lakehouse locally, start the Dagster UI
#   make test   install what the tests need, lint, run the tests

SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

# Debian packages the tests start or build with.
DEBIAN_PACKAGES := chromium postgresql-15 postgresql-15-wal2json mosquitto openssl g++ nlohmann-json3-dev gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib

LAKEHOUSE_HOME ?= $(CURDIR)/.lakehouse
DAGSTER_HOME ?= $(LAKEHOUSE_HOME)/dagster
export LAKEHOUSE_HOME DAGSTER_HOME
HOST ?= 127.0.0.1
PORT ?= 3000
UV := uv

ENGINE_TIERS ?=

.PHONY: demo test install engines debian-packages dagster-home print-dagster-yaml manifest materialize ui lint bench clean

demo: install manifest dagster-home materialize ui

test: debian-packages install engines manifest dagster-home lint
	$(UV) run pytest

install:
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen

# Pinned JVM engine artifacts (infra/engines/artifacts.tsv) into .engines/, checksums verified.
engines:
	$(UV) run python -m lakehouse.engines fetch $(foreach t,$(ENGINE_TIERS),--tier $(t))

debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# dagster-dbt reads the dbt manifest when the code location loads.
manifest:
	cd dbt_project && $(UV) run dbt parse --quiet

# The committed instance configuration (dagster.yaml: run queue limits, per-domain concurrency,
# one slot per pool, freshness evaluation, telemetry off), then the pools registered with it.
# An edited copy is kept as dagster.yaml.bak.
dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@cmp -s dagster.yaml $(DAGSTER_HOME)/dagster.yaml || { \
	  test ! -f $(DAGSTER_HOME)/dagster.yaml || cp $(DAGSTER_HOME)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml.bak; \
	  cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml; }
	$(UV) run python -m lakehouse.operations.pools

print-dagster-yaml:
	@cat dagster.yaml

# Without a radio or broker, telemetry comes from lakehouse-iot-gen (the last hour of readings
# from the registered LoRa nodes, built by the gateway's message builder and landed as the
# bridge would). lakehouse-materialize then runs every asset, each landed telemetry hour too.
materialize:
	$(UV) run lakehouse-iot-gen --if-empty --minutes 60
	$(UV) run lakehouse-materialize

ui:
	@echo "Dagster UI: http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(UV) run dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

bench: install manifest
	$(UV) run python bench/tickit_materialize.py

clean:
	rm -rf .lakehouse dbt_project/target dbt_project/logs
