"""Fast, honest run start-up: the dbt project is parsed once, where it is deployed; a run's dbt
commands start from that parse, and each is one dbt process, with no dbt adapter in the run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from lakehouse.dbt.build import run_dbt
from lakehouse.dbt.project import dbt_project
from lakehouse.dbt.resources import LakehouseDbtCliResource
from lakehouse.defs.tickit.assets import raw_tickit_data, tickit_dbt_models, tickit_external
from lakehouse.resources import local_resources
from tests.support.paths import REPO_ROOT

RUN_CONFIG = {"ops": {"raw_tickit_data": {"config": {"scale": 0.01, "seed": 42}}}}


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """A fresh home whose dbt parse (`make manifest`) went to its own target path."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    subprocess.run([sys.executable, "-m", "lakehouse.dbt.manifest"], cwd=REPO_ROOT,
                   env=os.environ, check=True, capture_output=True)  # fmt: skip
    return tmp_path / "target"


def test_a_runs_dbt_commands_start_from_the_deployed_parse(deployed):
    assert (deployed / "manifest.json").exists() and (deployed / "partial_parse.msgpack").exists()
    result = materialize([raw_tickit_data, tickit_external, tickit_dbt_models],
                         resources=local_resources(), run_config=RUN_CONFIG,
                         instance=DagsterInstance.ephemeral())  # fmt: skip
    assert result.success
    logs = sorted(deployed.glob("*/dbt.log"))
    assert [log.parent.name.split("-")[0] for log in logs].count("tickit_dbt_models") == 1
    assert len(logs) == 2  # the external tables' run-operation, then the models' build
    for log in logs:
        text = log.read_text()
        assert "Unable to do partial parsing" not in text, log
        assert "Nothing changed, skipping partial parsing" in text, log


def test_a_dbt_command_is_one_dbt_process_and_opens_no_adapter_in_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    calls = tmp_path / "dbt_calls"
    dbt = tmp_path / "dbt"
    real = Path(sys.executable).parent / "dbt"
    dbt.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    dbt.chmod(0o755)
    resource = LakehouseDbtCliResource(project_dir=dbt_project, target="local",
                                       dbt_executable=str(dbt))  # fmt: skip
    invocation = run_dbt(resource, ["ls", "--select", "stg_tickit__sales"])
    # No `dbt --version` before the command (dagster-dbt's way to learn dbt's version) ...
    (call,) = calls.read_text().splitlines()
    assert call == "ls --target local --select stg_tickit__sales"
    # ... and no in-process dbt adapter (dagster-dbt's, for row counts and column metadata).
    assert invocation.adapter is None
