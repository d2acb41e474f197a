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

.PHONY: demo test install debian-packages dagster-home manifest materialize ui lint bench clean

demo: install manifest dagster-home materialize ui

test: debian-packages install manifest dagster-home lint
	$(UV) run pytest

install:
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen

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

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\nnux:\n  enabled: false\n' > $(DAGSTER_HOME)/dagster.yaml

materialize:
	$(UV) run dagster asset materialize --select '*' -m lakehouse.definitions

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
