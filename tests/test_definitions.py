"""The code location loads, and every definition is documented and placed in a group."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.definitions import defs
from tests.support.paths import REPO_ROOT


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_every_asset_has_description_group_owner_and_kind(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, name
        assert node.group_name and node.group_name != "default", name
        assert node.owners, name
        assert node.kinds, name


def test_jobs_and_schedules_are_described():
    repo = defs.get_repository_def()
    for job in repo.get_all_jobs():
        if not job.name.startswith("__"):
            assert job.description, job.name
    for schedule in repo.schedule_defs:
        assert schedule.description, schedule.name
    for sensor in repo.sensor_defs:
        assert sensor.description, sensor.name


def test_tickit_layers(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"tickit_raw", "tickit_staging", "tickit_intermediate", "tickit_marts"} <= groups
    fct_sales = graph.get(dg.AssetKey("fct_sales"))
    assert fct_sales.group_name == "tickit_marts"
    assert dg.AssetKey("stg_tickit__sales") in fct_sales.parent_keys
    stg = graph.get(dg.AssetKey("stg_tickit__sales"))
    assert stg.parent_keys == {dg.AssetKey(["tickit_external", "sale"])}
    assert graph.get(dg.AssetKey(["tickit_external", "sale"])).parent_keys == {
        dg.AssetKey("raw_tickit_data")
    }


def test_dbt_tests_are_asset_checks(graph):
    tickit = {
        k
        for k in graph.get_all_asset_keys()
        if (graph.get(k).group_name or "").startswith("tickit")
    }
    dbt_checks = [
        k for k in graph.asset_check_keys if k.name != "freshness_check" and k.asset_key in tickit
    ]
    assert len(dbt_checks) == 75


def load_in_subprocess(**env):
    code = "import lakehouse.definitions"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "REDSHIFT_"))}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_unknown_environment_is_named():
    proc = load_in_subprocess(LAKEHOUSE_ENV="staging")
    assert proc.returncode != 0
    assert (
        "LakehouseConfigError: LAKEHOUSE_ENV='staging' is not a known environment; "
        "use one of: local, aws" in proc.stderr
    )


def test_missing_aws_variables_are_named():
    proc = load_in_subprocess(LAKEHOUSE_ENV="aws", AWS_REGION="eu-west-1", REDSHIFT_USER="dbt")
    assert proc.returncode != 0
    assert (
        "LAKEHOUSE_ENV=aws needs these environment variables, which are not set: "
        "LAKEHOUSE_S3_BUCKET, LAKEHOUSE_EMR_CLUSTER_ID, REDSHIFT_HOST, REDSHIFT_PASSWORD, "
        "REDSHIFT_SPECTRUM_ROLE_ARN" in proc.stderr
    )
    assert "REDSHIFT_USER" not in proc.stderr.split("not set:")[-1]


def test_invalid_schedule_cron_is_named():
    proc = load_in_subprocess(LAKEHOUSE_TICKIT_MARTS_CRON="every day at six")
    assert proc.returncode != 0
    assert (
        "LAKEHOUSE_TICKIT_MARTS_CRON='every day at six' is not a valid cron schedule" in proc.stderr
    )


def test_broken_workspace_yaml_is_named(tmp_path):
    broken = tmp_path / "workspace.yaml"
    broken.write_text("load_from:\n  - python_module: [unclosed\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w",
         str(broken)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert str(broken) in proc.stdout + proc.stderr


def test_missing_dagster_home_is_named(tmp_path):
    missing = tmp_path / "no-such-dir"
    env = {**os.environ, "DAGSTER_HOME": str(missing)}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "instance", "info"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert f'$DAGSTER_HOME "{missing}" is not a directory' in proc.stdout + proc.stderr
