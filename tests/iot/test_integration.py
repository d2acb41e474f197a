"""Emulated radio -> lora-gateway -> real mosquitto (mTLS) -> lakehouse-iot-bridge -> landing ->
the Dagster assets -> dbt marts, with the bridge SIGKILLed mid-batch and restarted."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from awscrt import mqtt
from awsiot import mqtt_connection_builder

from gateway.message import build_message
from gateway.payload import Reading
from lakehouse.dbt.project import DBT_PROJECT_DIR
from lakehouse.dbt.resources import LakehouseDbtCliResource
from lakehouse.defs.iot.assets import (
    iot_dbt_models,
    message,
    sensor_dimensions,
    sensor_messages,
    sensor_messages_raw,
)
from lakehouse.iot import pipeline
from lakehouse.iot.landing import partition_of, read_records
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import DuckLakeWarehouse, local_warehouse
from tests.iot.support import query, wait_until
from tests.support.mosquitto import mosquitto_broker

BIN = Path(sys.executable).parent
TEST_CPIN = "92A0ECEC9000DA0DCF0CAAB0ABA2E0EF"  # the original's public key: a test vector only
NODES = {"0447383033363932003C0034": 600, "0447383033363932003C0036": 400}


def start_radio(tmp: Path, broker, n: int, node: str, count: int, seed: int | None = None):
    """An emulated RYLR896 with a node sending `count` readings, and a gateway reading it. Two
    radios with the same seed hear the same packets (the same node, heard by two gateways)."""
    link = tmp / f"ttyLORA{n}"
    emitted = tmp / f"emitted{n}.jsonl"
    emulator = subprocess.Popen(
        [str(BIN / "rylr896-emulator"), "--link", str(link), "--node-uid", node, "--rate", "40",
         "--count", str(count), "--seed", str(n if seed is None else seed),
         "--emitted-log", str(emitted)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert emulator.stdout.readline().strip() == str(link)
    client_id = f"lora-iot-gateway-0{n}"
    cert, key = broker.client_cert(client_id)
    log = open(tmp / f"gateway{n}.log", "ab")  # noqa: SIM115 - handed to the process
    gateway = subprocess.Popen(
        [str(BIN / "lora-gateway"), "--port", str(link), "--gateway-id", f"00000000f62051c{n}",
         "--endpoint", "localhost", "--mqtt-port", str(broker.port), "--cert", str(cert),
         "--key", str(key), "--ca", str(broker.ca_cert), "--client-id", client_id,
         "--topic", "lora-iot-demo", "--spool", str(tmp / f"spool{n}.db"),
         "--schema-version", "2"],
        stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "LORA_CPIN": TEST_CPIN},
    )  # fmt: skip
    log.close()
    return emulator, gateway, emitted


def start_bridge(tmp: Path, broker, lake: Path, flush_seconds: int = 2) -> subprocess.Popen:
    cert, key = broker.client_cert("lakehouse-iot-bridge")
    log = open(tmp / "bridge.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "lakehouse-iot-bridge"), "--host", "localhost", "--port", str(broker.port),
         "--cert", str(cert), "--key", str(key), "--ca", str(broker.ca_cert),
         "--target", str(lake), "--flush-seconds", str(flush_seconds), "--stats-interval", "1",
         "--no-load"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    return proc


def landed_ids(lake: LocalObjectStore) -> tuple[int, set[str]]:
    records = [
        r
        for o in lake.list_objects("message/")
        if partition_of(o.key)
        for _, r in read_records(lake.get_bytes(o.key), o.key)
    ]
    return len(records), {r["msg_id"] for r in records}


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(240)
def test_thousand_readings_land_load_and_count_exactly_through_a_bridge_kill(tmp_path, monkeypatch):
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    procs = []
    with mosquitto_broker() as broker:
        bridge = start_bridge(tmp_path, broker, tmp_path / "lake")
        procs.append(bridge)
        wait_until(lambda: "connected to" in (tmp_path / "bridge.log").read_text(), 60,
                   "the bridge's subscription")  # fmt: skip
        radios = [start_radio(tmp_path, broker, n, node, count)
                  for n, (node, count) in enumerate(NODES.items(), start=1)]  # fmt: skip
        procs += [p for e, g, _ in radios for p in (e, g)]
        try:
            # Kill the bridge while messages stream in: it holds up to 2 s of unacknowledged
            # messages in memory, which the broker must deliver again to the new process.
            wait_until(lambda: landed_ids(lake)[0] >= 250, 60, "the first landed batches")
            bridge.send_signal(signal.SIGKILL)
            bridge.wait(10)
            landed_at_kill = landed_ids(lake)[0]
            assert landed_at_kill < 1000
            bridge = start_bridge(tmp_path, broker, tmp_path / "lake")
            procs.append(bridge)
            wait_until(lambda: len(landed_ids(lake)[1]) >= 1000, 120, "all 1,000 readings landed")
            time.sleep(3)  # a late re-delivery, if any, would land now
        finally:
            for proc in reversed(procs):
                stop(proc)
        emitted = Counter()
        for _, _, path in radios:
            for e in map(json.loads, path.read_text().splitlines()):
                assert e["valid"], e
                emitted[e["line"].split(",")[2].split("|")[0]] += 1
        assert emitted == Counter(NODES)

    records, ids = landed_ids(lake)
    assert len(ids) == 1000

    # Load every landed hour through the assets, then build the marts.
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    resources = {
        "lake": lake,
        "warehouse": local_warehouse(tmp_path),
        "dbt": LakehouseDbtCliResource(project_dir=str(DBT_PROJECT_DIR), target="local"),
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([sensor_dimensions], resources=resources, instance=instance).success
    hours = sorted({partition_of(o.key) for o in lake.list_objects("message/")} - {None})
    for hour in hours:
        result = dg.materialize([sensor_messages_raw, sensor_messages, message], partition_key=hour,
                                resources=resources, instance=instance)  # fmt: skip
        assert result.success
    assert dg.materialize([iot_dbt_models], resources=resources, instance=instance).success

    db = local_warehouse(tmp_path)
    assert dict(query(db, "select guid, msg_count from sensor.sensor_msg_count")) == NODES
    assert query(db, "select count(*), count(distinct message_id) from iot.sensor_messages") == [
        (1000, 1000)
    ]
    # Whatever the kill made the broker deliver twice was quarantined as a duplicate.
    reasons = query(db, "select reason from iot.sensor_messages_quarantine")
    assert len(reasons) == records - 1000
    assert all(r.startswith("duplicate message id") for (r,) in reasons)
    # The restarted bridge resumed the persistent session the broker kept through the kill.
    assert "(session present: True)" in (tmp_path / "bridge.log").read_text()


def landed_records(lake: LocalObjectStore) -> list[dict]:
    return [
        r
        for o in lake.list_objects("message/")
        if partition_of(o.key)
        for _, r in read_records(lake.get_bytes(o.key), o.key)
    ]


def load_every_hour(lake: LocalObjectStore, warehouse: DuckLakeWarehouse) -> None:
    """What the partitioned assets do for each landed hour (lakehouse.iot.pipeline)."""
    now = time.time()
    for hour in sorted({partition_of(o.key) for o in lake.list_objects("message/")} - {None}):
        pipeline.snapshot_raw(lake, hour)
        pipeline.load_sensor_messages(lake, warehouse, hour, now=now)


@pytest.mark.timeout(180)
def test_two_gateways_hearing_one_node_give_one_reading_per_packet(tmp_path):
    """Two emulated radios hear the same 150 packets of one node (same seed, same boot id);
    each has its own gateway, both publish, the bridge lands 300 messages, and
    sensor_messages holds exactly one reading per packet."""
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    node, count = "0447383033363932003C0034", 150
    procs = []
    with mosquitto_broker() as broker:
        bridge = start_bridge(tmp_path, broker, tmp_path / "lake", flush_seconds=1)
        procs.append(bridge)
        wait_until(lambda: "connected to" in (tmp_path / "bridge.log").read_text(), 60,
                   "the bridge's subscription")  # fmt: skip
        radios = [start_radio(tmp_path, broker, n, node, count, seed=42) for n in (1, 2)]
        procs += [p for e, g, _ in radios for p in (e, g)]
        try:
            wait_until(lambda: len(landed_records(lake)) >= 2 * count, 90, "both copies landed")
            time.sleep(2)  # a late re-delivery, if any, would land now
        finally:
            for proc in reversed(procs):
                stop(proc)
    lines = [[json.loads(x)["line"] for x in path.read_text().splitlines()]
             for _, _, path in radios]  # fmt: skip
    assert lines[0] == lines[1] and len(lines[0]) == count  # the same packets, heard twice
    records = landed_records(lake)
    assert {r["gateway_id"] for r in records} == {"00000000f62051c1", "00000000f62051c2"}

    warehouse = local_warehouse(tmp_path)
    load_every_hour(lake, warehouse)
    db = local_warehouse(tmp_path)
    keys = {f"{node}-{line.split(',')[2].split('|')[9]}-{line.split(',')[2].split('|')[10]}"
            for line in lines[0]}  # fmt: skip
    rows = query(db, "select message_id from iot.sensor_messages")
    assert sorted(r for (r,) in rows) == sorted(keys)  # exactly one reading per packet
    reasons = query(db, "select reason from iot.sensor_messages_quarantine")
    assert len(reasons) == len(records) - count
    assert all(r.startswith("duplicate message id") for (r,) in reasons)


@pytest.mark.timeout(180)
def test_bridge_down_for_ten_thousand_readings_loses_none(tmp_path):
    """The broker keeps everything for the bridge's persistent session while the bridge is
    stopped (mosquitto's default would keep 1,000 and drop the rest)."""
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    total = 10_000
    with mosquitto_broker() as broker:
        bridge = start_bridge(tmp_path, broker, tmp_path / "lake", flush_seconds=1)
        try:
            wait_until(lambda: "connected to" in (tmp_path / "bridge.log").read_text(), 60,
                       "the bridge's subscription")  # fmt: skip
            stop(bridge)  # a clean stop: its session stays with the broker
            publish_readings(broker, total)
            bridge = start_bridge(tmp_path, broker, tmp_path / "lake", flush_seconds=1)
            wait_until(lambda: len({r["msg_id"] for r in landed_records(lake)}) >= total, 120,
                       "every reading landed")  # fmt: skip
        finally:
            stop(bridge)
        assert "dropped" not in broker.log()
    ids = {r["msg_id"] for r in landed_records(lake)}
    assert len(ids) == total


def publish_readings(broker, total: int) -> None:
    """total QoS 1 messages as gateways publish them (v3, one node), each PUBACKed."""
    cert, key = broker.client_cert("load-gateway")
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint=broker.host, port=broker.port, cert_filepath=str(cert),
        pri_key_filepath=str(key), ca_filepath=str(broker.ca_cert), client_id="load-gateway",
        clean_session=True, enable_metrics_collection=False,
    )  # fmt: skip
    connection.connect().result(20)
    start = time.time() - total * 0.1
    futures = []
    for n in range(total):
        reading = Reading("0447383033363932003C0034", 21.5, 45.0, 99.4, n % 4096, n // 4096, 7, 9,
                          boot_id=0x1A2B3C4D, counter=n)  # fmt: skip
        payload = build_message(reading, "00000000f62051ce", start + n * 0.1, rssi=-60, snr=9)
        future, _ = connection.publish("lora-iot-demo", payload, mqtt.QoS.AT_LEAST_ONCE)
        futures.append(future)
    for future in futures:
        future.result(60)
    connection.disconnect().result(10)
