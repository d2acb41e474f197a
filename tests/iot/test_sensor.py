"""The landing sensor: one run for the oldest hour with new objects, and its cursor, exactly."""

import os

import dagster as dg
import pytest

from lakehouse.defs.iot import sensors
from lakehouse.defs.iot.sensors import PARTITION_ASSETS, sensor_messages_landed
from lakehouse.storage import LocalObjectStore

HOUR_15 = "message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-45-32-a.gz"
HOUR_16 = "message/2020/08/27/16/lakehouse-telemetry-1-2020-08-27-16-00-10-b.gz"
T15, T16 = 1598543132, 1598544010  # modification times, seconds


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setattr(sensors.time, "time", lambda: T16 + 60)
    return LocalObjectStore(root=str(tmp_path))


def put(lake, key, mtime):
    lake.put_bytes(key, b"x")
    os.utime(lake.path(key), (mtime, mtime))


def tick(lake, cursor=None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"lake": lake}, instance=dg.DagsterInstance.ephemeral()
    )
    result = sensor_messages_landed(context)
    return result, context.cursor


def test_first_tick_requests_the_oldest_hour_and_keeps_the_next_for_later(lake):
    put(lake, HOUR_15, T15)
    put(lake, HOUR_16, T16)
    put(lake, "message/manifests/2020/08/27/15/lakehouse-telemetry-x", T16)  # not data
    (request,), cursor = tick(lake)
    assert request.partition_key == "2020-08-27-15:00"
    assert request.tags["lakehouse/new_objects"] == "1"
    assert request.asset_selection == PARTITION_ASSETS
    assert request.run_key.startswith("2020-08-27-15:00:")
    # The 16:00 object is not remembered and holds the watermark at the 15:45 object.
    assert cursor == f'{{"seen":{{"{HOUR_15}":{T15}000}},"watermark_ms":{T15}000}}'
    (request,), cursor = tick(lake, cursor)
    assert request.partition_key == "2020-08-27-16:00"
    # The 15:45 object is 14.6 minutes older than the watermark: outside the 10-minute window.
    assert cursor == f'{{"seen":{{"{HOUR_16}":{T16}000}},"watermark_ms":{T16}000}}'


def test_nothing_new_is_a_skip_with_the_cursor_unchanged(lake):
    put(lake, HOUR_16, T16)
    before = f'{{"seen":{{"{HOUR_16}":{T16}000}},"watermark_ms":{T16}000}}'
    result, cursor = tick(lake, before)
    assert isinstance(result, dg.SkipReason)
    assert cursor == before


def test_late_and_replaced_objects_are_requested_again(lake):
    put(lake, HOUR_16, T16)
    cursor = f'{{"seen":{{"{HOUR_16}":{T16}000}},"watermark_ms":{T16}000}}'
    late = "message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-59-59-c.gz"
    put(lake, late, T16 - 120)  # stamped before the watermark, seen only now
    put(lake, HOUR_16, T16 + 5)  # replaced under the same key
    (first,), between = tick(lake, cursor)
    assert first.partition_key == "2020-08-27-15:00"
    assert between == (f'{{"seen":{{"{late}":{T16 - 120}000}},"watermark_ms":{T16}000}}')
    (second,), after = tick(lake, between)
    assert second.partition_key == "2020-08-27-16:00"
    assert after == (
        f'{{"seen":{{"{late}":{T16 - 120}000,"{HOUR_16}":{T16 + 5}000}},'
        f'"watermark_ms":{T16 + 5}000}}'
    )
    # The same objects give the same run key: a repeated tick requests nothing new.
    again, _ = tick(lake, cursor)
    assert [r.run_key for r in again] == [first.run_key]
