"""Hourly telemetry partitions start where the deployment's telemetry starts, not in 2020."""

import datetime as dt
import os
import subprocess
import sys

import pytest

from lakehouse.settings import LakehouseConfigError, telemetry_start
from tests.support.paths import REPO_ROOT


def first_partition(env: dict) -> str:
    code = "from lakehouse.defs.iot.assets import HOURLY; print(HOURLY.get_first_partition_key())"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def test_the_partitions_start_with_the_deployments_telemetry(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_TELEMETRY_START"}
    assert first_partition(env) == "2026-11-01-00:00"
    assert first_partition({**env, "LAKEHOUSE_TELEMETRY_START": "2020-08-27-15:00"}) == (
        "2020-08-27-15:00"
    )


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2026-11-01-15:30"])
def test_a_bad_start_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("LAKEHOUSE_TELEMETRY_START", value)
    with pytest.raises(LakehouseConfigError, match=f"LAKEHOUSE_TELEMETRY_START='{value}'"):
        telemetry_start()


def test_a_day_means_its_first_hour(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_TELEMETRY_START", "2026-11-05")
    assert telemetry_start() == dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
