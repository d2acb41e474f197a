# Two entry points on a fresh machine (see README.md):
#   make demo   install, materialize the whole lakehouse locally, start the Dagster UI
#   make test   install what the tests need, lint, run the tests

SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

# Debian packages the tests start or build with (Java 17 runs Spark 3.5 with Hudi).
DEBIAN_PACKAGES := openjdk-17-jre-headless chromium postgresql-15 postgresql-15-wal2json mosquitto openssl g++ nlohmann-json3-dev gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib

LAKEHOUSE_HOME ?= $(CURDIR)/.lakehouse
DAGSTER_HOME ?= $(LAKEHOUSE_HOME)/dagster
export LAKEHOUSE_HOME DAGSTER_HOME
HOST ?= 127.0.0.1
PORT ?= 3000
UV := uv
# `make demo` installs and runs without the dev group (pytest, moto, playwright, ...): only what
# the lakehouse needs. --inexact leaves an existing test set-up in place.
UV_GROUPS ?=
demo materialize ui: UV_GROUPS := --no-dev
UV_SYNC_FLAGS = $(if $(UV_GROUPS),$(UV_GROUPS) --inexact,--all-groups)
RUN = $(UV) run $(UV_GROUPS)

ENGINE_TIERS ?=

.PHONY: demo test install engines debian-packages dagster-home print-dagster-yaml manifest materialize ui lint bench clean

demo: install manifest dagster-home materialize ui

test: debian-packages install engines manifest dagster-home lint
	$(RUN) pytest

# --compile-bytecode: every run process imports Dagster, dagster-dbt and dbt-core, and every dbt
# command imports dbt-core; compiling them from source costs ~4 s of CPU per process wherever
# Python does not cache bytecode itself (PYTHONDONTWRITEBYTECODE, a read-only environment).
install:
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen $(UV_SYNC_FLAGS) --compile-bytecode

# Pinned JVM engine artifacts (infra/engines/artifacts.tsv) into .engines/, checksums verified.
engines:
	$(RUN) python -m lakehouse.engines fetch $(foreach t,$(ENGINE_TIERS),--tier $(t))

debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# dagster-dbt reads the dbt manifest when the code location loads; each run's dbt starts from
# this parse (partial parsing), made with the vars and target the runs use.
manifest:
	$(RUN) python -m lakehouse.dbt.manifest

# The committed instance configuration (dagster.yaml: run queue limits, per-domain concurrency,
# one slot per pool, freshness evaluation, telemetry off), then the pools registered with it.
# An edited copy is kept as dagster.yaml.bak.
dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@cmp -s dagster.yaml $(DAGSTER_HOME)/dagster.yaml || { \
	  test ! -f $(DAGSTER_HOME)/dagster.yaml || cp $(DAGSTER_HOME)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml.bak; \
	  cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml; }
	$(RUN) python -m lakehouse.operations.pools

print-dagster-yaml:
	@cat dagster.yaml

# Without a radio or broker, telemetry comes from lakehouse-iot-gen (the last hour of readings
# from the registered LoRa nodes, built by the gateway's message builder and landed as the
# bridge would). lakehouse-materialize then runs every asset, each landed telemetry hour too.
materialize:
	$(RUN) lakehouse-iot-gen --if-empty --minutes 60
	$(RUN) lakehouse-materialize

ui:
	@echo "Dagster UI: http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(RUN) dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

bench: install manifest
	$(RUN) python bench/tickit_materialize.py

clean:
	rm -rf .lakehouse dbt_project/target dbt_project/logs
