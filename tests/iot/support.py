"""Helpers the telemetry tests share: stores, warehouses and landed messages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from pydantic import PrivateAttr

from lakehouse.iot.landing import LandingWriter
from lakehouse.iot.rule import flatten
from lakehouse.storage import ObjectInfo, ObjectStore, StorageError, check_key
from lakehouse.warehouse import Warehouse

GOLDEN = json.loads(
    '{"data":{"color":{"ambient":1057.0,"blue":650.0,"green":667.0,"red":281.0},'
    '"device_id":"0447383033363932003C0034","gateway_id":"00000000f62051ce",'
    '"humidity":45.73,"pressure":98.65,"temperature":23.6},"ts":1598543131.9861386}'
)
HOUR = "2020-08-27-15:00"
ARRIVAL = 1598543132.024  # 2020-08-27T15:45:32.024Z
NOW = 1598543200.0


class MemoryS3Store(ObjectStore):
    """An in-memory stand-in that names its objects s3://acme-lake/prod/<key>."""

    _objects: dict = PrivateAttr(default_factory=dict)

    @property
    def objects(self) -> dict:
        return self._objects

    @property
    def root_uri(self) -> str:
        return "s3://acme-lake/prod"

    def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[check_key(key)] = data

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise StorageError(f"no object {self.uri(key)}") from None

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield ObjectInfo(key, len(self.objects[key]), 0)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def message(n: int = 0, device: str = "0447383033363932003C0034", **data) -> dict:
    """A gateway message: the golden one, n seconds later, with a v2 msg_id."""
    m = json.loads(json.dumps(GOLDEN))
    m["ts"] = GOLDEN["ts"] + n
    m["data"]["device_id"] = device
    m["data"].update(data)
    m["schema_version"] = 2
    m["msg_id"] = f"{device[-4:]}-{n:06d}"
    return m


def land(store: ObjectStore, records: list[dict], arrival: float = ARRIVAL) -> str:
    """Writes flattened records (or raw dicts) as one landed object; returns its key."""
    writer = LandingWriter(store, clock=lambda: arrival)
    when = dt.datetime.fromtimestamp(arrival, dt.UTC)
    for r in records:
        writer.append(flatten(r, "lora-iot-gateway-01", when) if "data" in r else r)
    (key,) = writer.flush().objects
    return key


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    return warehouse.query(sql)


# -- the bridge as a process, and readings published to a real broker ----------------------


def wait_until(predicate, timeout: float, what: str):
    """predicate()'s first truthy value, polled every 0.1 s; TimeoutError naming `what`."""
    import time

    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def start_bridge_process(broker, lake_dir, log_path, env: dict, *flags: str):
    """lakehouse-iot-bridge against `broker` (tests.support.mosquitto), landing in lake_dir;
    returns once it has subscribed."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    cert, key = broker.client_cert("lakehouse-iot-bridge")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "lakehouse-iot-bridge"), "--host", "localhost",
             "--port", str(broker.port), "--cert", str(cert), "--key", str(key),
             "--ca", str(broker.ca_cert), "--target", str(lake_dir), "--stats-interval", "5",
             *flags],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    start = Path(log_path).read_text().count("connected to")
    deadline = time.monotonic() + 90
    while Path(log_path).read_text().count("connected to") <= start:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(Path(log_path).read_text()[-3000:])
        time.sleep(0.1)
    return proc


class Publisher:
    """A gateway publishing format-2 readings over MQTT with mTLS, QoS 1 (each PUBACKed)."""

    def __init__(self, broker, client_id: str = "test-gateway", topic: str = "lora-iot-demo"):
        import ssl

        import paho.mqtt.client as mqtt

        cert, key = broker.client_cert(client_id)
        self.topic = topic
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(broker.ca_cert))
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
        self.client.tls_set_context(context)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, device: str, counter: int, ts: float, boot_id: int = 0x1A2B3C4D) -> str:
        """One reading; returns its message id (device/boot/counter, as sensor_messages has)."""
        from gateway.message import build_message
        from gateway.payload import Reading, node_key

        reading = Reading(device, 21.5, 45.0, 99.4, counter % 4096, 100, 7, 9,
                          boot_id=boot_id, counter=counter)  # fmt: skip
        payload = build_message(reading, "00000000f62051ce", ts, rssi=-60, snr=9)
        self.client.publish(self.topic, payload, qos=1).wait_for_publish(30)
        return node_key(device, boot_id, counter)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
