"""Typed sensor readings from flattened messages, or the reason a record is quarantined.

The unit conversions are the original pipeline's Lambda (Python `round`, D-20): °F from °C,
inHg from kPa (3.3864 kPa per inHg), colour counts scaled to 0-255 with 4097 as full scale,
clamped at 255 and flagged (the original did not clamp).

A reading from a node with payload format 2 (message v3) carries its identity (boot id and
counter) and the node's CRC-16: the CRC is checked again here over the fields as they arrived,
so a reading changed anywhere between the node and the warehouse is quarantined with the
reason, and the identity is its message id, the same from every gateway that heard it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from gateway.payload import LIMITS, Reading, crc16, node_key, signed_text

DEVICE_ID = re.compile(r"[0-9A-F]{24}")
GATEWAY_ID = re.compile(r"[0-9a-f]{16}")
MSG_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MIN_TS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
FUTURE_SLACK_S = 300  # clocks of a Raspberry Pi without RTC may run a little ahead
BOOT_ID = re.compile(r"[0-9A-F]{8}")
CRC = re.compile(r"[0-9A-F]{4}")
COLOR_FULL_SCALE = LIMITS["color_full_scale"]
# What the node can send (HTS221 with its calibration, LPS22HB): the firmware's documented
# ranges, written once in firmware/test_vectors.json.
RANGES = {k: tuple(LIMITS[k]) for k in ("temperature", "humidity", "pressure")}
IDENTITY = ("boot_id", "seq", "crc")
NUMERIC = ("temperature", "humidity", "pressure", "red", "green", "blue", "ambient", "ts")


@dataclass(frozen=True)
class Quarantined:
    reason: str


def _color(count: float) -> tuple[int, bool]:
    scaled = int(round(count / (COLOR_FULL_SCALE / 255), 0))
    return min(scaled, 255), scaled > 255


def message_id(record: dict) -> str:
    """The deduplication key: a format-2 reading's (device, boot id, counter), the same from
    every gateway; else the v2 msg_id; else device and gateway read time (D-16)."""
    if "boot_id" in record:
        return node_key(record["device_id"], int(record["boot_id"], 16), int(record["seq"]))
    if "msg_id" in record:
        return record["msg_id"]
    return f"{record['device_id']}@{float(record['ts'])!r}"


def _identity_problem(record: dict) -> str | None:
    """Why a v3 record's identity or checksum is unusable, or None."""
    missing = [k for k in IDENTITY if k not in record]
    if missing:
        return f"missing fields: {', '.join(missing)}"
    boot, seq, crc = (record[k] for k in IDENTITY)
    if not isinstance(boot, str) or not BOOT_ID.fullmatch(boot):
        return f"boot_id {boot!r} is not 8 upper-case hex digits"
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**32:
        return f"seq {seq!r} is not a 32-bit counter"
    if not isinstance(crc, str) or not CRC.fullmatch(crc):
        return f"crc {crc!r} is not 4 upper-case hex digits"
    colors = [record[k] for k in ("red", "green", "blue", "ambient")]
    if any(c != int(c) for c in colors):
        return f"checksum not verifiable: colour counts {colors} are not whole numbers"
    reading = Reading(
        record["device_id"],
        record["temperature"],
        record["humidity"],
        record["pressure"],
        *(int(c) for c in colors),
        boot_id=int(boot, 16),
        counter=seq,
    )
    computed = crc16(signed_text(reading).encode())
    if computed != int(crc, 16):
        return f"checksum mismatch: crc {crc} but the fields give {computed:04X}"
    return None


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
    if any(k in record for k in IDENTITY):
        problem = _identity_problem(record)
        if problem:
            return Quarantined(problem)
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
