"""The telemetry domain as Dagster sees it: partitions, metadata policy and the automation that
carries new partitions to the marts."""

import datetime as dt

import dagster as dg

from lakehouse.definitions import defs
from lakehouse.defs.iot.assets import HOURLY, MESSAGE_KEY, iot_dbt_models
from lakehouse.iot.materialize import plan

MARTS = {"sensor_msg_detail", "sensor_msg_count", "sensor_avg_temp", "sensor_avg_temp_current",
         "sensor_hourly", "message_latency"}  # fmt: skip
PARTITIONED = {"sensor_messages_raw", "sensor_messages", "sensor_messages_quarantine",
               "sensor/message"}  # fmt: skip


def test_telemetry_assets_are_hourly_and_in_iot_groups():
    graph = defs.resolve_asset_graph()
    iot = {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()
           if (graph.get(k).group_name or "").startswith("iot_")}  # fmt: skip
    assert {k for k, n in iot.items() if n.partitions_def == HOURLY} == PARTITIONED
    assert MARTS | {"sensor/sensor", "sensor/sensors", "sensor/history"} <= set(iot)
    assert graph.get(dg.AssetKey("sensor_msg_count")).parent_keys == {
        dg.AssetKey("stg_sensor__installed_sensors"),
        dg.AssetKey("stg_sensor__messages"),
    }
    assert graph.get(dg.AssetKey("stg_sensor__messages")).parent_keys == {MESSAGE_KEY}


def test_materialize_plan_runs_partitions_between_the_rest_and_the_marts():
    before, telemetry, after, skipped = plan(defs, HOURLY)
    names = lambda keys: {k.to_user_string() for k in keys}  # noqa: E731
    assert names(telemetry) == PARTITIONED
    assert MARTS <= names(after)
    assert {"sensor/sensor", "raw_tickit_data", "fct_sales"} <= names(before)
    assert not (before & after) and not skipped


def test_new_telemetry_needs_no_dbt_run_and_the_hourly_table_refreshes_every_ten_minutes():
    instance = dg.DagsterInstance.ephemeral()
    marts = dg.AssetSelection.assets(iot_dbt_models)
    start = dt.datetime(2026, 11, 23, 8, 1, tzinfo=dt.UTC)

    def evaluate(cursor, minutes):
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=marts, cursor=cursor,
            evaluation_time=start + dt.timedelta(minutes=minutes),
        )  # fmt: skip
        requested = {r.key.to_user_string() for r in result.results if r.true_subset.size}
        return requested, result.cursor

    _, cursor = evaluate(None, 0)
    for key in iot_dbt_models.keys:  # the marts exist and are up to date
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    requested, cursor = evaluate(cursor, 1)
    assert requested == set()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=MESSAGE_KEY, partition="2026-11-23-08:00")
    )
    # A new telemetry partition: the views read it live, so no dbt run is requested.
    requested, cursor = evaluate(cursor, 2)
    assert requested == set()
    # The 08:10 tick: the one table is rebuilt, the views are not.
    requested, cursor = evaluate(cursor, 10)
    assert requested == {"sensor_hourly"}
