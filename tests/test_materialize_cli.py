"""lakehouse-materialize (what `make demo` runs) prints a one-screen summary and keeps the runs'
logs in a file."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from lakehouse.defs.iot.assets import iot_dbt_models, sensor_dimensions
from lakehouse.resources import local_resources
from tests.support.paths import REPO_ROOT

BIN = Path(sys.executable).parent


def test_telemetry_partitions_end_in_a_short_summary(tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "lakehouse", tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "DAGSTER_HOME": str(dagster_home),
           "LAKEHOUSE_ENV": "local"}  # fmt: skip
    # What the marts read besides telemetry (built before the partitions in a full run).
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    dimensions = dg.materialize(
        [sensor_dimensions, iot_dbt_models],
        selection=dg.AssetSelection.assets(sensor_dimensions, "stg_sensor__installed_sensors"),
        resources=local_resources(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert dimensions.success
    subprocess.run([BIN / "lakehouse-iot-gen", "--minutes", "5"], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    proc = subprocess.run([BIN / "lakehouse-materialize", "--partitions-only"], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    lines = out.splitlines()
    assert len(lines) <= 30, out
    (headline,) = [line for line in lines if " assets in " in line]
    assert headline.endswith(" 0 failed, " + headline.rsplit(" ", 2)[-2] + " s")
    (marts,) = [line.split() for line in lines if line.strip().startswith("iot_marts ")]
    assert marts[1] == "6"  # the six IoT marts
    log = (home / "logs" / "materialize.log").read_text()
    assert "STEP_SUCCESS" in log or "Finished dbt command" in log
    assert f"  log:       {home / 'logs' / 'materialize.log'}" in lines
