"""Catalog spec of the telemetry landing zone, a lake table that is not a Hudi table (those come
from their timelines, see lakehouse.catalog.hudi_sync; the federated results' specs live with
their queries in lakehouse.catalog.federated)."""

from __future__ import annotations

from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.iot.landing import LANDING_PREFIX
from lakehouse.iot.rule import COLOR_FIELDS, DATA_FIELDS, V2_FIELDS

TELEMETRY_TYPES = {
    "device_id": "string",
    "gateway_id": "string",
    "temperature": "double",
    "humidity": "double",
    "pressure": "double",
    "red": "double",
    "green": "double",
    "blue": "double",
    "ambient": "double",
    "ts": "double",
    "schema_version": "int",
    "msg_id": "string",
    "rssi": "int",
    "snr": "int",
    "device": "string",
    "msg_received": "string",
    # What the bridge lands for a payload that is not a JSON object (lakehouse.iot.rule.unparsed).
    "payload_error": "string",
    "payload": "string",
}
TELEMETRY_FIELDS = (*DATA_FIELDS, *COLOR_FIELDS, "ts", *V2_FIELDS, "device", "msg_received")


def telemetry_landing_spec(lake_root: str) -> TableSpec:
    """`iot_landing.telemetry`: the IoT rule's records as landed, one partition per UTC arrival
    hour (year/month/day/hour, in the path without `key=`, as Firehose writes it)."""
    return TableSpec(
        database="iot_landing",
        name="telemetry",
        columns=tuple(Column(n, t) for n, t in TELEMETRY_TYPES.items()),
        location=f"{lake_root.rstrip('/')}/{LANDING_PREFIX}/",
        format=Format.JSON_GZIP,
        partition_keys=tuple(Column(k, "string") for k in ("year", "month", "day", "hour")),
        description="Gateway messages as the IoT rule flattened them, as Firehose landed them "
        "(gzip JSON lines, UTC arrival hour).",
        partition_style="values",
    )
