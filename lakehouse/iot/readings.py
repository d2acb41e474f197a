"""Typed sensor readings from flattened messages, or the reason a record is quarantined.

The unit conversions are the original pipeline's Lambda (Python `round`, D-20): °F from °C,
inHg from kPa (3.3864 kPa per inHg), colour counts scaled to 0-255 with 4097 as full scale,
clamped at 255 and flagged (the original did not clamp).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

DEVICE_ID = re.compile(r"[0-9A-F]{24}")
GATEWAY_ID = re.compile(r"[0-9a-f]{16}")
MSG_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MIN_TS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
FUTURE_SLACK_S = 300  # clocks of a Raspberry Pi without RTC may run a little ahead
COLOR_FULL_SCALE = 4097
# Physically possible values of the node's sensors (HTS221, LPS22HB).
RANGES = {"temperature": (-40.0, 120.0), "humidity": (0.0, 100.0), "pressure": (26.0, 126.0)}
NUMERIC = ("temperature", "humidity", "pressure", "red", "green", "blue", "ambient", "ts")


@dataclass(frozen=True)
class Quarantined:
    reason: str


def _color(count: float) -> tuple[int, bool]:
    scaled = int(round(count / (COLOR_FULL_SCALE / 255), 0))
    return min(scaled, 255), scaled > 255


def message_id(record: dict) -> str:
    """The deduplication key (D-16): the v2 msg_id, else device and gateway read time."""
    if "msg_id" in record:
        return record["msg_id"]
    return f"{record['device_id']}@{float(record['ts'])!r}"


def to_reading(record: dict, now: float) -> dict | Quarantined:
    """One flattened record -> a typed row, or Quarantined(reason)."""
    if "payload_error" in record:
        return Quarantined(f"payload is not a JSON object: {record['payload_error']}")
    missing = [k for k in ("device_id", "gateway_id", *NUMERIC) if k not in record]
    if missing:
        return Quarantined(f"missing fields: {', '.join(missing)}")
    for k in NUMERIC:
        v = record[k]
        if isinstance(v, bool) or not isinstance(v, int | float):
            return Quarantined(f"{k} is {type(v).__name__} {v!r}, not a number")
        if not math.isfinite(v):
            return Quarantined(f"{k} is not finite: {v!r}")
    if not isinstance(record["device_id"], str) or not DEVICE_ID.fullmatch(record["device_id"]):
        return Quarantined(f"device_id {record['device_id']!r} is not 24 upper-case hex digits")
    if not isinstance(record["gateway_id"], str) or not GATEWAY_ID.fullmatch(record["gateway_id"]):
        return Quarantined(f"gateway_id {record['gateway_id']!r} is not 16 lower-case hex digits")
    if "msg_id" in record and not (
        isinstance(record["msg_id"], str) and MSG_ID.fullmatch(record["msg_id"])
    ):
        return Quarantined(f"msg_id {record['msg_id']!r} is not 1-64 letters, digits, '-' or '_'")
    for k in ("rssi", "snr"):
        v = record.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            return Quarantined(f"{k} is {type(v).__name__} {v!r}, not an integer")
    ts = float(record["ts"])
    if ts < MIN_TS:
        return Quarantined(f"ts {ts!r} is before 2000-01-01")
    if ts > now + FUTURE_SLACK_S:
        return Quarantined(f"ts {ts!r} is in the future (now {now:.3f})")
    for k, (low, high) in RANGES.items():
        if not low <= record[k] <= high:
            return Quarantined(f"{k} {record[k]!r} is outside [{low}, {high}]")
    for k in ("red", "green", "blue", "ambient"):
        if record[k] < 0:
            return Quarantined(f"{k} {record[k]!r} is negative")
    red, green, blue, ambient = (_color(record[k]) for k in ("red", "green", "blue", "ambient"))
    return {
        "message_id": message_id(record),
        "device_id": record["device_id"],
        "gateway_id": record["gateway_id"],
        "ts": ts,
        "temperature_c": float(record["temperature"]),
        "temperature_f": round(record["temperature"] * 1.8 + 32, 2),
        "humidity": round(record["humidity"], 2),
        "pressure_kpa": float(record["pressure"]),
        "pressure_inhg": round(record["pressure"] / 3.3864, 2),
        "red": red[0],
        "green": green[0],
        "blue": blue[0],
        "ambient": ambient[0],
        "color_clamped": any(c[1] for c in (red, green, blue, ambient)),
        "rssi": record.get("rssi"),
        "snr": record.get("snr"),
        "device": record.get("device"),
        "msg_received": record.get("msg_received"),
    }
