"""The sensor node's payload, as the firmware formats it (firmware/lora_node/src/lora/node.cpp).

The emulator uses this to produce what a node would send; the shared test vectors
(firmware/test_vectors.json) are asserted against both this module and the C++ library, so the
two cannot drift.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

MAX_DATA = 240  # the RYLR896 answers +ERR=13 above this many bytes of <data>
FIELD_SEPARATOR = "|"  # <data> must not contain ',' (the AT+SEND field separator)


@dataclass(frozen=True)
class Reading:
    """One sensor reading as the node sends it: °C (calibrated), %RH, kPa, raw colour counts."""

    device_id: str
    temperature: float
    humidity: float
    pressure: float
    red: int
    green: int
    blue: int
    ambient: int


def float32(value: float) -> float:
    """The value a float32 variable on the node holds."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def format_float(value: float) -> str:
    """Arduino's `String += float`: printf "%4.2f" of the float32 value widened to double."""
    return f"{float32(value):4.2f}"


def format_data(reading: Reading, with_uid: bool = True) -> str:
    """The <data> of AT+SEND: uid|t|h|p|r|g|b|a (the v0 variant has no uid)."""
    values = (reading.temperature, reading.humidity, reading.pressure)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"non-finite reading is never sent: {values}")
    fields = [format_float(v) for v in values]
    fields += [str(int(c)) for c in (reading.red, reading.green, reading.blue, reading.ambient)]
    if with_uid:
        fields.insert(0, reading.device_id)
    data = FIELD_SEPARATOR.join(fields)
    if len(data) > MAX_DATA:
        raise ValueError(f"payload of {len(data)} bytes exceeds the radio's {MAX_DATA}")
    return data


def send_command(destination: int, data: str) -> str:
    """The full line the node writes to its module, CRLF included."""
    return f"AT+SEND={destination},{len(data)},{data}\r\n"
