"""Telemetry reaches sensor_msg_count through the bridge itself: real mosquitto (mTLS) ->
lakehouse-iot-bridge (a process) -> landing -> load_landed -> the dbt views, each batch reported
to a temporary Dagster instance as runless materializations; the bridge SIGKILLed with a batch
in memory, restarted, and the hour's partition run afterwards: every reading counted once."""

import gzip
import json
import os
import signal
import time
from collections import Counter

import dagster as dg
import pytest

from lakehouse.dbt.project import DBT_PROJECT_DIR
from lakehouse.dbt.resources import LakehouseDbtCliResource
from lakehouse.defs.iot.assets import (
    iot_dbt_models,
    message,
    sensor_dimensions,
    sensor_messages,
    sensor_messages_raw,
)
from lakehouse.iot.landing import partition_of
from lakehouse.iot.readings import message_id
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import DuckLakeWarehouse, local_warehouse
from tests.iot.support import Publisher, start_bridge_process, wait_until
from tests.support.mosquitto import mosquitto_broker

NODES = ("0447383033363932003C0034", "0447383033363932003C0036")
MSG_COUNT = "select guid, msg_count from sensor.sensor_msg_count order by guid"


def counts(warehouse: DuckLakeWarehouse) -> dict[str, int]:
    try:
        return dict(warehouse.query(MSG_COUNT))
    except Exception:  # the bridge holds the single writer lock for a moment
        return {}


def landed(lake: LocalObjectStore) -> dict[str, list[dict]]:
    return {
        o.key: [json.loads(line) for line in gzip.decompress(lake.get_bytes(o.key)).splitlines()]
        for o in lake.list_objects("message/")
        if partition_of(o.key)
    }


def runless_events(instance: dg.DagsterInstance, key: dg.AssetKey) -> list:
    records = instance.fetch_materializations(key, limit=1000).records
    return sorted(records, key=lambda r: r.timestamp)


@pytest.mark.timeout(300)
def test_each_reading_reaches_sensor_msg_count_once_through_a_bridge_kill(tmp_path):
    home, dagster_home = tmp_path / "lakehouse", tmp_path / "dagster"
    dagster_home.mkdir(parents=True)
    lake = LocalObjectStore(root=str(home / "lake"))
    warehouse = local_warehouse(home)
    resources = {
        "lake": lake,
        "warehouse": warehouse,
        "dbt": LakehouseDbtCliResource(project_dir=str(DBT_PROJECT_DIR), target="local"),
    }
    env = {**os.environ, "LAKEHOUSE_ENV": "local", "LAKEHOUSE_HOME": str(home),
           "DAGSTER_HOME": str(dagster_home)}  # fmt: skip
    old_home = os.environ.get("LAKEHOUSE_HOME")
    os.environ["LAKEHOUSE_HOME"] = str(home)  # dbt's profile reads the warehouse from it
    log = tmp_path / "bridge.log"
    expected: Counter = Counter()
    ids: set[str] = set()
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            # The views exist before any telemetry: a load is visible without a dbt run.
            assert dg.materialize([sensor_dimensions, iot_dbt_models], resources=resources,
                                  instance=instance).success  # fmt: skip
            with mosquitto_broker() as broker:
                bridge = start_bridge_process(broker, home / "lake", log, env,
                                              "--flush-seconds", "2")  # fmt: skip
                gateway = Publisher(broker)
                try:
                    now = time.time()

                    def publish(device: str, counter: int) -> None:
                        ids.add(gateway.publish(device, counter, now + counter / 10))
                        expected[device] = sum(1 for i in ids if i.startswith(device))

                    # 1. Readings, then each one in sensor_msg_count with no run at all.
                    for n in range(30):
                        publish(NODES[n % 2], n)
                    wait_until(lambda: counts(warehouse) == dict(expected), 60,
                               f"{dict(expected)} in sensor_msg_count")  # fmt: skip
                    first_objects = landed(lake)
                    # 2. The same readings again (a second gateway heard them): one later
                    #    batch, every copy a duplicate of an id already loaded.
                    for n in range(10):
                        gateway.publish(NODES[n % 2], n, now + n / 10)
                    wait_until(lambda: len(landed(lake)) > len(first_objects), 30,
                               "the duplicates' batch")  # fmt: skip
                    time.sleep(1)
                    assert counts(warehouse) == dict(expected)
                    # 3. A batch in the bridge's memory (flushed after 2 s) when it is killed.
                    before_kill = set(landed(lake))
                    for n in range(30, 50):
                        publish(NODES[n % 2], n)
                    bridge.send_signal(signal.SIGKILL)
                    bridge.wait(10)
                    in_memory = [k for k in landed(lake) if k not in before_kill]
                    assert in_memory == [], "the kill came after the batch was written"
                    bridge = start_bridge_process(broker, home / "lake", log, env,
                                                  "--flush-seconds", "2")  # fmt: skip
                    for n in range(50, 60):
                        publish(NODES[n % 2], n)
                    wait_until(lambda: counts(warehouse) == dict(expected), 60,
                               f"{dict(expected)} after the restart")  # fmt: skip
                    time.sleep(3)  # a late re-delivery, if any, would be loaded now
                finally:
                    gateway.close()
                    bridge.send_signal(signal.SIGTERM)
                    bridge.wait(20)
            assert counts(warehouse) == dict(expected) == {NODES[0]: 30, NODES[1]: 30}
            assert "(session present: True)" in log.read_text()
            loaded_ids = warehouse.query("select message_id from iot.sensor_messages")
            assert sorted(i for (i,) in loaded_ids) == sorted(ids)

            # Each landed object was reported once, by no run, with exactly its own figures: the
            # readings whose id no earlier object had are its rows, the others duplicates.
            objects = landed(lake)
            for key in (dg.AssetKey("sensor_messages"), dg.AssetKey(["sensor", "message"])):
                events = runless_events(instance, key)
                assert [e.run_id for e in events] == [""] * len(objects)
                seen: set[str] = set()
                for e in events:
                    meta = {k: v.value for k, v in e.asset_materialization.metadata.items()}
                    object_key = meta["landing_object"][len(lake.root_uri) + 1 :]
                    records = objects[object_key]
                    fresh = {message_id(r) for r in records} - seen
                    seen |= fresh
                    expected_meta = {
                        "partition": partition_of(object_key),
                        "landing_object": lake.uri(object_key),
                        "messages": len(records),
                        "rows": len(fresh),
                    }
                    if key.path == ["sensor_messages"]:
                        dups = len(records) - len(fresh)
                        expected_meta |= {"quarantined": dups, "duplicates": dups}
                    assert meta == expected_meta
                    assert e.asset_materialization.partition == partition_of(object_key)
                assert seen == ids
                assert sorted(e.asset_materialization.metadata["landing_object"].value
                              for e in events) == sorted(map(lake.uri, objects))  # fmt: skip
            assert sorted(
                (m["messages"].value, m["duplicates"].value)
                for e in runless_events(instance, dg.AssetKey("sensor_messages"))
                if (m := e.asset_materialization.metadata)["duplicates"].value
            ) == [(10, 10)]

            # 4. The hourly partition runs afterwards replace the hours with the same readings.
            for hour in sorted({partition_of(k) for k in landed(lake)}):
                assert dg.materialize([sensor_messages_raw, sensor_messages, message],
                                      partition_key=hour, resources=resources,
                                      instance=instance).success  # fmt: skip
            assert counts(warehouse) == {NODES[0]: 30, NODES[1]: 30}
            assert warehouse.query(
                "select count(*), count(distinct message_id) from iot.sensor_messages"
            ) == [(60, 60)]
            assert warehouse.query("select count(*) from sensor.message") == [(60,)]
    finally:
        if old_home is None:
            os.environ.pop("LAKEHOUSE_HOME", None)
        else:
            os.environ["LAKEHOUSE_HOME"] = old_home
