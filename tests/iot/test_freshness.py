"""The raw telemetry freshness check: by :15 past each hour, that hour's partition has been read
(the hourly partitions include the current hour, and telemetry lands every few seconds)."""

import datetime as dt

import dagster as dg

from lakehouse.iot.assets import HOURLY
from lakehouse.iot.checks import raw_telemetry_freshness_checks


def evaluate(instance) -> bool:
    job = dg.define_asset_job(
        "raw_freshness", selection=dg.AssetSelection.checks(*raw_telemetry_freshness_checks)
    )
    defs = dg.Definitions(
        assets=[dg.AssetSpec("sensor_messages_raw", partitions_def=HOURLY)],
        asset_checks=raw_telemetry_freshness_checks,
        jobs=[job],
    )
    result = defs.get_job_def("raw_freshness").execute_in_process(instance=instance)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed


def hour_of_the_last_deadline() -> str:
    now = dt.datetime.now(dt.UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    if now.minute < 15:
        hour -= dt.timedelta(hours=1)
    return hour.strftime("%Y-%m-%d-%H:%M")


def test_raw_telemetry_never_landed_is_not_fresh():
    assert evaluate(dg.DagsterInstance.ephemeral()) is False


def test_raw_telemetry_read_for_the_hour_of_the_last_deadline_is_fresh():
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization("sensor_messages_raw", partition=hour_of_the_last_deadline())
    )
    assert evaluate(instance) is True
