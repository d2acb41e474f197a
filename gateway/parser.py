"""Validating parser of the RYLR896's receive lines: `+RCV=<addr>,<len>,<data>,<rssi>,<snr>\\r\\n`.

Every line is either Received (all checks passed) or Rejected (with the reason, the field and
the raw bytes escaped for the log). Nothing about a rejected line is ever published.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gateway.payload import MAX_DATA, Reading

PREFIX = "+RCV="
UID = re.compile(r"[0-9A-F]{24}")
DECIMAL_2DP = re.compile(r"-?[0-9]{1,4}\.[0-9]{2}")
COUNT = re.compile(r"[0-9]{1,5}")
ADDRESS = re.compile(r"[0-9]{1,5}")
LENGTH = re.compile(r"[0-9]{1,3}")
SIGNED = re.compile(r"-?[0-9]{1,4}")
COLOR_FULL_SCALE = 4097  # the APDS9960's observed maximum; above it a count is flagged
KEY_TEXT = re.compile(rb"(CPIN=)[^\r\n,]*")


def redact(raw: bytes) -> bytes:
    """The line with any radio key (AT+CPIN=..., +CPIN=...) replaced, fit for logs."""
    return KEY_TEXT.sub(rb"\1<redacted>", raw)


@dataclass(frozen=True)
class Limits:
    """Physical ranges of the node's sensors (HTS221, LPS22HB, APDS9960); configurable."""

    temperature: tuple[float, float] = (-40.0, 120.0)
    humidity: tuple[float, float] = (0.0, 100.0)
    pressure: tuple[float, float] = (26.0, 126.0)
    color: tuple[int, int] = (0, 65535)
    senders: frozenset[int] = frozenset({116})


@dataclass(frozen=True)
class Received:
    sender: int
    reading: Reading
    rssi: int
    snr: int
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    reason: str
    raw: bytes
    kind: str = "invalid"  # "invalid" or "module" (a module reply such as +OK or +ERR=12)

    @property
    def escaped(self) -> str:
        """The raw bytes as a printable, unambiguous log string."""
        return repr(redact(self.raw))[2:-1]


class _Bad(Exception):
    pass


def _int(text: str, pattern: re.Pattern, name: str, low: int, high: int) -> int:
    if not pattern.fullmatch(text):
        raise _Bad(f"{name} {text!r} is not an integer")
    value = int(text)
    if not low <= value <= high:
        raise _Bad(f"{name} {value} is outside [{low}, {high}]")
    return value


def _decimal(text: str, name: str, bounds: tuple[float, float]) -> float:
    if not DECIMAL_2DP.fullmatch(text):
        raise _Bad(f"{name} {text!r} is not a decimal with 2 places")
    value = float(text)
    if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
        raise _Bad(f"{name} {value} is outside [{bounds[0]}, {bounds[1]}]")
    return value


def parse_line(raw: bytes, limits: Limits = Limits()) -> Received | Rejected:
    """Parses one line as read from the serial port, terminator included."""
    if not raw.endswith(b"\r\n"):
        return Rejected("line does not end in CRLF (partial read or wrong terminator)", raw)
    body = raw[:-2]
    if b"\r" in body or b"\n" in body:
        return Rejected("stray CR or LF inside the line", raw)
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as e:
        return Rejected(f"not ASCII: byte 0x{body[e.start]:02x} at offset {e.start}", raw)
    if not text.startswith(PREFIX):
        if text.startswith("+"):
            return Rejected(f"module reply {text!r}, not a received packet", raw, kind="module")
        return Rejected("not a +RCV line", raw)
    parts = text[len(PREFIX) :].split(",")
    if len(parts) < 5:
        return Rejected(f"{len(parts)} comma fields, expected 5", raw)
    # <data> may not contain ',' but is taken as everything between the second comma and the
    # last two fields, so a stray comma shows up as a length mismatch rather than a shift.
    addr_text, len_text, rssi_text, snr_text = parts[0], parts[1], parts[-2], parts[-1]
    data = ",".join(parts[2:-2])
    try:
        sender = _int(addr_text, ADDRESS, "address", 0, 65535)
        if sender not in limits.senders:
            raise _Bad(f"address {sender} is not an allowed sender {sorted(limits.senders)}")
        length = _int(len_text, LENGTH, "length", 1, MAX_DATA)
        if length != len(data):
            raise _Bad(f"length field {length} but data has {len(data)} bytes")
        rssi = _int(rssi_text, SIGNED, "rssi", -200, 0)
        snr = _int(snr_text, SIGNED, "snr", -128, 127)
        fields = data.split("|")
        if len(fields) != 8:
            raise _Bad(f"data has {len(fields)} '|' fields, expected 8")
        uid, t, h, p, *colors = fields
        if not UID.fullmatch(uid):
            raise _Bad(f"device_id {uid!r} is not 24 upper-case hex digits")
        temperature = _decimal(t, "temperature", limits.temperature)
        humidity = _decimal(h, "humidity", limits.humidity)
        pressure = _decimal(p, "pressure", limits.pressure)
        names = ("red", "green", "blue", "ambient")
        counts = [_int(c, COUNT, n, *limits.color) for c, n in zip(colors, names, strict=True)]
    except _Bad as e:
        return Rejected(str(e), raw)
    flags = tuple(
        f"{n} {c} above full scale {COLOR_FULL_SCALE}"
        for n, c in zip(names, counts, strict=True)
        if c > COLOR_FULL_SCALE
    )
    reading = Reading(uid, temperature, humidity, pressure, *counts)
    return Received(sender, reading, rssi, snr, flags)
