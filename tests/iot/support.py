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
