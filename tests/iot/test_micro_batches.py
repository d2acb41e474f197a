"""Micro-batch loads (what lakehouse-iot-bridge does with each landed object) and the hourly
partition run agree: whichever runs first, and however often, each reading is counted once;
the landing sensor leaves bridge-loaded objects alone and reconciles the ones no load marked."""

import os

import dagster as dg
import pytest

from lakehouse.defs.iot import sensors
from lakehouse.defs.iot.sensors import sensor_messages_landed
from lakehouse.iot import pipeline
from lakehouse.iot.landing import partition_of
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import local_warehouse
from tests.iot.support import ARRIVAL, HOUR, NOW, land, message

STATE = {
    "typed": "select message_id, source from iot.sensor_messages order by 1",
    "quarantine": "select source, reason from iot.sensor_messages_quarantine order by 1",
    "message": "select guid, ts, temp, landed_hour from sensor.message order by 1, 2",
}


@pytest.fixture
def lake(tmp_path):
    return LocalObjectStore(root=str(tmp_path / "lake"))


@pytest.fixture
def warehouse(tmp_path):
    return local_warehouse(tmp_path)


def state(warehouse) -> dict[str, list[tuple]]:
    return {name: warehouse.query(sql) for name, sql in STATE.items()}


def partition_run(lake, warehouse, hour=HOUR):
    pipeline.snapshot_raw(lake, hour)
    pipeline.load_sensor_messages(lake, warehouse, hour, now=NOW)
    pipeline.load_message(lake, warehouse, hour)


def three_objects(lake) -> list[str]:
    """Readings 0-4, 3-7 (3 and 4 again: a re-delivery) and a line that is not a reading."""
    return [
        land(lake, [message(n) for n in range(5)], ARRIVAL),
        land(lake, [message(n) for n in range(3, 8)], ARRIVAL + 1),
        land(lake, [{"payload_error": "not JSON (x)", "payload": "x"}], ARRIVAL + 2),
    ]


def test_micro_batches_then_the_partition_run_give_the_partition_runs_result(lake, warehouse):
    keys = three_objects(lake)
    loads = [pipeline.load_landed(lake, warehouse, [k], now=NOW)[0] for k in keys]
    assert [(x.messages, x.rows, x.quarantined, x.duplicates) for x in loads] == [
        (5, 5, 0, 0), (5, 3, 2, 2), (1, 0, 1, 0),
    ]  # fmt: skip
    after_batches = state(warehouse)
    assert len(after_batches["typed"]) == len(after_batches["message"]) == 8
    partition_run(lake, warehouse)
    assert state(warehouse) == after_batches
    # A retried micro-batch after the partition run adds nothing.
    again = pipeline.load_landed(lake, warehouse, keys, now=NOW)
    assert [x.already_loaded for x in again] == [True] * 3
    assert state(warehouse) == after_batches


def test_a_failed_micro_batch_is_reconciled_by_the_partition_run(lake, warehouse):
    first, second, third = three_objects(lake)
    pipeline.load_landed(lake, warehouse, [first], now=NOW)
    # `second` and `third` landed, but their load failed: the partition run loads them.
    partition_run(lake, warehouse)
    reconciled = state(warehouse)
    assert len(reconciled["typed"]) == len(reconciled["message"]) == 8
    assert [x.already_loaded for x in pipeline.load_landed(lake, warehouse, [second, third],
                                                           now=NOW)] == [True, True]  # fmt: skip
    assert state(warehouse) == reconciled


def test_a_reading_loaded_in_another_hour_is_a_duplicate(lake, warehouse):
    first = land(lake, [message(n) for n in range(3)], ARRIVAL)
    later = land(lake, [message(n) for n in range(2, 4)], ARRIVAL + 3600)  # the next hour
    pipeline.load_landed(lake, warehouse, [first, later], now=NOW + 3600)
    assert warehouse.query(STATE["quarantine"]) == [
        (f"{later}:1", f"duplicate message id 0034-000002 (already loaded from partition {HOUR})")
    ]
    assert warehouse.query("select count(*) from sensor.message") == [(4,)]


def test_only_landed_objects_are_loaded(lake, warehouse):
    with pytest.raises(pipeline.PipelineError, match="^sensor_messages/x.gz: not a landed"):
        pipeline.load_landed(lake, warehouse, ["sensor_messages/x.gz"])


def tick(lake, now, cursor=None):
    sensors_time = sensors.time.time
    sensors.time.time = lambda: now
    try:
        context = dg.build_sensor_context(
            cursor=cursor, resources={"lake": lake}, instance=dg.DagsterInstance.ephemeral()
        )
        result = sensor_messages_landed(context)
    finally:
        sensors.time.time = sensors_time
    return result, context.cursor


def aged(lake, key, mtime):
    os.utime(lake.path(key), (mtime, mtime))


def test_the_sensor_leaves_bridge_loaded_objects_and_waits_for_the_bridge(lake, warehouse):
    first, second, third = three_objects(lake)
    for key in (first, second, third):
        aged(lake, key, ARRIVAL)
    pipeline.load_landed(lake, warehouse, [first], now=NOW)
    # Just landed, the bridge may still load them: nothing yet.
    result, cursor = tick(lake, ARRIVAL + 10)
    assert isinstance(result, dg.SkipReason)
    # The bridge loaded `second`; `third` is older than the grace period: a run for its hour.
    pipeline.load_landed(lake, warehouse, [second], now=NOW)
    (request,) = tick(lake, ARRIVAL + sensors.BRIDGE_GRACE_S + 1, cursor)[0]
    assert request.partition_key == HOUR == partition_of(third)
    assert request.tags["lakehouse/new_objects"] == "1"


def test_without_a_bridge_loading_an_object_gets_its_run_at_once(lake):
    key = land(lake, [message(0)], ARRIVAL)
    aged(lake, key, ARRIVAL)
    (request,) = tick(lake, ARRIVAL + 1)[0]
    assert request.partition_key == HOUR


def test_a_micro_batch_between_a_partition_runs_steps_is_kept(lake, warehouse):
    """The run snapshots the hour; the bridge then lands and loads an object; the run's loads
    replace the hour without dropping it, and without counting anything twice."""
    first = land(lake, [message(n) for n in range(5)], ARRIVAL)
    pipeline.load_landed(lake, warehouse, [first], now=NOW)
    pipeline.snapshot_raw(lake, HOUR)
    later = land(lake, [message(n) for n in range(4, 9)], ARRIVAL + 1)  # 4 again
    pipeline.load_landed(lake, warehouse, [later], now=NOW)
    before = state(warehouse)
    assert len(before["typed"]) == len(before["message"]) == 9
    pipeline.load_sensor_messages(lake, warehouse, HOUR, now=NOW)
    assert len(state(warehouse)["typed"]) == 9
    later2 = land(lake, [message(9)], ARRIVAL + 2)  # between the run's two steps
    pipeline.load_landed(lake, warehouse, [later2], now=NOW)
    pipeline.load_message(lake, warehouse, HOUR)
    after = state(warehouse)
    assert len(after["typed"]) == len(after["message"]) == 10
    assert sorted(after["message"]) == sorted(set(after["message"]))
    partition_run(lake, warehouse)  # a run that saw every object: the same readings
    assert {k: sorted(v) for k, v in state(warehouse).items()} == {
        k: sorted(v) for k, v in after.items()
    }
