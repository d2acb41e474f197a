"""Freshness policies on the marts and the raw landing, evaluated as the daemon evaluates them
(`freshness: enabled` in dagster.yaml), against the code location as it is deployed."""

import asyncio
import datetime as dt
import os
import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon

from tests.support.paths import REPO_ROOT

KEYS = ["fct_sales", "dim_events", "sensor_msg_count", "sensor_messages_raw", "stg_tickit__sales"]


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "lakehouse"))
    monkeypatch.chdir(REPO_ROOT)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        target = ModuleTarget(
            module_name="lakehouse.definitions", attribute=None, working_directory=str(REPO_ROOT),
            location_name="lakehouse",
        )  # fmt: skip
        with create_test_daemon_workspace_context(target, instance) as context:
            yield instance, context


def states(instance, context) -> dict[str, FreshnessState]:
    asyncio.run(FreshnessDaemon()._evaluate_assets(workspace_process_context=context))
    keys = [dg.AssetKey.from_user_string(k) for k in KEYS]
    records = instance.get_freshness_state_records(keys)
    return {k.to_user_string(): records[k].freshness_state for k in keys if k in records}


def test_marts_and_landing_pass_when_just_built_and_fail_when_the_flow_stops(workspace):
    instance, context = workspace
    now = dt.datetime.now(dt.UTC)
    hour = now.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%d-%H:%M")
    for key in ["fct_sales", "sensor_msg_count"]:
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    instance.report_runless_asset_event(
        dg.AssetMaterialization("sensor_messages_raw", partition=hour)
    )

    assert states(instance, context) == {
        "fct_sales": FreshnessState.PASS,
        "dim_events": FreshnessState.UNKNOWN,  # never built: unknown, not a blank duration
        "sensor_msg_count": FreshnessState.PASS,
        "sensor_messages_raw": FreshnessState.PASS,
        "stg_tickit__sales": FreshnessState.NOT_APPLICABLE,  # staging views have no policy
    }
    # Two hours on, with nothing new: telemetry is stale, the daily TICKIT marts are not yet.
    with freeze_time(now + dt.timedelta(hours=2)):
        later = states(instance, context)
    assert later["sensor_msg_count"] == FreshnessState.FAIL
    assert later["sensor_messages_raw"] == FreshnessState.FAIL
    # A day and a deadline later, the TICKIT mart is stale too.
    with freeze_time(now + dt.timedelta(hours=49)):
        assert states(instance, context)["fct_sales"] == FreshnessState.FAIL


def test_loading_the_code_location_warns_about_nothing_of_ours():
    # Fresh interpreter: the module must be imported for its warnings to be raised.
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import lakehouse.definitions\n"
        "for w in caught:\n"
        "    if '/lakehouse/' in w.filename:\n"
        "        print(w.category.__name__, w.filename, w.lineno, w.message)\n"
    )
    ours = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert ours == ""


def test_a_run_process_under_dagster_dev_does_not_parse_the_dbt_project():
    # `dagster dev` sets DAGSTER_IS_DEV_CLI for the run processes it launches; the manifest that
    # `make manifest` built must be used as it is, not parsed again at every run's start.
    manifest = REPO_ROOT / "dbt_project" / "target" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    env = {**os.environ, "DAGSTER_IS_DEV_CLI": "1"}
    subprocess.run([sys.executable, "-c", "import lakehouse.definitions"], cwd=REPO_ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    assert manifest.stat().st_mtime_ns == before
