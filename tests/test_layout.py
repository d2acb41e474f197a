"""The Dagster project layout: `[tool.dg]` in pyproject.toml and every definition under
lakehouse/defs/, so `dg check defs` passes and `dg list defs` lists the graph of the snapshot;
and the library outside defs/ stays importable without the asset graph."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

BIN = Path(sys.executable).parent
SNAPSHOT = json.loads((REPO_ROOT / "tests/snapshots/asset_graph.json").read_text())


def dg(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "REDSHIFT_"))}
    return subprocess.run([str(BIN / "dg"), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_dg_check_defs_passes():
    proc = dg("check", "defs")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def listed() -> dict:
    proc = dg("list", "defs", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_dg_lists_the_assets_and_checks_of_the_snapshot(listed):
    assets = {
        a["asset_key"]: {"group": a["group_name"], "deps": sorted(a["dependency_keys"]),
                         "kinds": sorted(a["kinds"])}
        for a in listed["assets"]
    }  # fmt: skip
    assert assets == {
        key: {"group": a["group"], "deps": a["deps"], "kinds": a["kinds"]}
        for key, a in SNAPSHOT["assets"].items()
    }
    checks = Counter(c["asset_key"] for c in listed["asset_checks"])
    assert dict(sorted(checks.items())) == SNAPSHOT["checks_per_asset"]


def test_dg_lists_the_jobs_schedules_and_sensors_of_the_snapshot(listed):
    jobs = sorted(j["name"] for j in listed["jobs"] if not j["name"].startswith("__"))
    assert jobs == SNAPSHOT["jobs"]
    assert {s["name"]: s["cron_schedule"] for s in listed["schedules"]} == SNAPSHOT["schedules"]
    assert sorted(s["name"] for s in listed["sensors"]) == SNAPSHOT["sensors"]


# Entry points that run without the asset graph: each must import no module under
# lakehouse/defs/. The first four also start without dagster-dbt and the dbt manifest.
WITHOUT_DBT = ["lakehouse.iot.bridge", "lakehouse.iot.generator", "lakehouse.cdc.cli",
               "lakehouse.tickit.generator"]  # fmt: skip
WITHOUT_DEFS = ["lakehouse.moma.resources", "lakehouse.hudi.cli", "lakehouse.warehouse",
                "lakehouse.iot.materialize", "lakehouse.operations.pools", "lakehouse.dbt.manifest",
                "lakehouse.resources"]  # fmt: skip
FIRST_HEAVY = """
import importlib, sys
for name, heavy in [(n, ("lakehouse.defs", "dagster_dbt")) for n in sys.argv[1].split()] + [
        (n, ("lakehouse.defs",)) for n in sys.argv[2].split()]:
    importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.startswith(heavy))
    if loaded:
        print(name, "imports", ", ".join(loaded[:3]))
        break
"""


def test_clis_and_the_bridge_start_without_the_asset_graph():
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_HEAVY, " ".join(WITHOUT_DBT), " ".join(WITHOUT_DEFS)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert proc.stdout == ""
