"""The sensor node's payload, as the firmware formats it (firmware/lora_node/src/lora/node.cpp).

Format 1 (the original's): uid|t|h|p|r|g|b|a. Format 2 appends |2|<boot id>|<counter>|<crc>:
a random 32-bit id the node draws at boot (8 upper-case hex digits), a counter from 0 within
that boot (decimal) and a CRC-16/CCITT-FALSE (4 upper-case hex digits) over everything before
the last '|'. (device, boot id, counter) names one reading end to end, whichever gateway heard
it and however often it was re-sent.

The emulator uses this to produce what a node would send; the shared test vectors
(firmware/test_vectors.json) are asserted against both this module and the C++ library, so the
two cannot drift.
"""

from __future__ import annotations

import binascii
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_DATA = 240  # the RYLR896 answers +ERR=13 above this many bytes of <data>
FIELD_SEPARATOR = "|"  # <data> must not contain ',' (the AT+SEND field separator)
PAYLOAD_VERSION = 2  # the version field of format 2 (format 1 has none)
SHARED_VECTORS = Path(__file__).resolve().parents[1] / "firmware" / "test_vectors.json"


def _shared_limits() -> dict:
    """The node's documented ranges, written once in the firmware's shared vectors (the
    gateway runs from a checkout of the repository, which has them)."""
    try:
        return json.loads(SHARED_VECTORS.read_text())["limits"]
    except (OSError, ValueError, KeyError) as e:
        raise RuntimeError(f"cannot read the node's limits from {SHARED_VECTORS}: {e!r}") from None


LIMITS = _shared_limits()


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
    boot_id: int | None = None  # format 2 only
    counter: int | None = None
    crc: int | None = None  # as the node sent it (the parser checked it)

    @property
    def key(self) -> str | None:
        """The reading's identity across gateways and re-sends (format 2), else None."""
        if self.boot_id is None:
            return None
        return node_key(self.device_id, self.boot_id, self.counter)


def node_key(device_id: str, boot_id: int, counter: int) -> str:
    return f"{device_id}-{boot_id:08X}-{counter}"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection; b"123456789" -> 0x29B1.
    (binascii's CRC-CCITT is this polynomial, unreflected; the initial value makes it FALSE.)"""
    return binascii.crc_hqx(data, 0xFFFF)


def float32(value: float) -> float:
    """The value a float32 variable on the node holds."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def format_float(value: float) -> str:
    """Arduino's `String += float`: printf "%4.2f" of the float32 value widened to double."""
    return f"{float32(value):4.2f}"


def format_data(reading: Reading, with_uid: bool = True) -> str:
    """The <data> of AT+SEND: uid|t|h|p|r|g|b|a (the v0 variant has no uid), with format 2's
    |2|<boot id>|<counter>|<crc> when the reading has an identity."""
    values = (reading.temperature, reading.humidity, reading.pressure)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"non-finite reading is never sent: {values}")
    fields = [format_float(v) for v in values]
    fields += [str(int(c)) for c in (reading.red, reading.green, reading.blue, reading.ambient)]
    if with_uid:
        fields.insert(0, reading.device_id)
    data = FIELD_SEPARATOR.join(fields)
    if reading.boot_id is not None:
        if not with_uid:
            raise ValueError("format 2 always names its node")
        data += f"|{PAYLOAD_VERSION}|{reading.boot_id:08X}|{reading.counter}"
        data += f"|{crc16(data.encode()):04X}"
    if len(data) > MAX_DATA:
        raise ValueError(f"payload of {len(data)} bytes exceeds the radio's {MAX_DATA}")
    return data


def send_command(destination: int, data: str) -> str:
    """The full line the node writes to its module, CRLF included."""
    return f"AT+SEND={destination},{len(data)},{data}\r\n"


def signed_text(reading: Reading) -> str:
    """The part of a format-2 payload its CRC covers, rebuilt from parsed values (the parser
    accepts exactly 2 decimal places, so "%.2f" of the parsed value is the text that was sent)."""
    fields = [reading.device_id]
    fields += [f"{v:.2f}" for v in (reading.temperature, reading.humidity, reading.pressure)]
    fields += [str(int(c)) for c in (reading.red, reading.green, reading.blue, reading.ambient)]
    fields += [str(PAYLOAD_VERSION), f"{reading.boot_id:08X}", str(reading.counter)]
    return FIELD_SEPARATOR.join(fields)
