"""Validating parser of the RYLR896's receive lines: `+RCV=<addr>,<len>,<data>,<rssi>,<snr>\\r\\n`.

Every line is either Received (all checks passed) or Rejected (with the reason, the field and
the raw bytes escaped for the log). Nothing about a rejected line is ever published.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gateway.payload import LIMITS, MAX_DATA, PAYLOAD_VERSION, Reading, crc16

PREFIX = "+RCV="
UID = re.compile(r"[0-9A-F]{24}")
# No leading zeros anywhere: neither the firmware's printf nor the module writes them.
DECIMAL_2DP = re.compile(r"-?(0|[1-9][0-9]{0,3})\.[0-9]{2}")
COUNT = re.compile(r"0|[1-9][0-9]{0,4}")
ADDRESS = re.compile(r"0|[1-9][0-9]{0,4}")
LENGTH = re.compile(r"[1-9][0-9]{0,2}")
SIGNED = re.compile(r"0|-?[1-9][0-9]{0,3}")
BOOT_ID = re.compile(r"[0-9A-F]{8}")
COUNTER = re.compile(r"0|[1-9][0-9]{0,9}")
CRC = re.compile(r"[0-9A-F]{4}")
COLOR_FULL_SCALE = LIMITS["color_full_scale"]  # the APDS9960's observed maximum; flagged above
KEY_TEXT = re.compile(rb"(CPIN=)[^\r\n,]*")


def redact(raw: bytes) -> bytes:
    """The line with any radio key (AT+CPIN=..., +CPIN=...) replaced, fit for logs."""
    return KEY_TEXT.sub(rb"\1<redacted>", raw)


@dataclass(frozen=True)
class Limits:
    """What the node can send (the firmware's documented ranges, from the shared vectors: the
    HTS221's -40..120 °C with the -4 °C calibration is -44..116); configurable."""

    temperature: tuple[float, float] = tuple(LIMITS["temperature"])
    humidity: tuple[float, float] = tuple(LIMITS["humidity"])
    pressure: tuple[float, float] = tuple(LIMITS["pressure"])
    color: tuple[int, int] = tuple(LIMITS["color"])
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
        identity = None
        if len(fields) == 12:
            identity = _identity(data, fields[8:])
        elif len(fields) != 8:
            raise _Bad(f"data has {len(fields)} '|' fields, expected 8 (format 1) or 12 (format 2)")
        uid, t, h, p, *colors = fields[:8]
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
    reading = Reading(uid, temperature, humidity, pressure, *counts, *(identity or ()))
    return Received(sender, reading, rssi, snr, flags)


def _identity(data: str, tail: list[str]) -> tuple[int, int, int]:
    """Format 2's |version|boot id|counter|crc: checked first, so a corrupted packet is
    reported as such rather than as whichever field the corruption happened to hit."""
    version, boot, counter, crc = tail
    if not CRC.fullmatch(crc):
        raise _Bad(f"crc {crc!r} is not 4 upper-case hex digits")
    computed = crc16(data[: -len(crc) - 1].encode("ascii"))
    if computed != int(crc, 16):
        raise _Bad(f"checksum {crc} does not match the data's {computed:04X} (corrupted packet)")
    if version != str(PAYLOAD_VERSION):
        raise _Bad(f"payload version {version!r} is not {PAYLOAD_VERSION}")
    if not BOOT_ID.fullmatch(boot):
        raise _Bad(f"boot id {boot!r} is not 8 upper-case hex digits")
    if not COUNTER.fullmatch(counter) or int(counter) > 0xFFFFFFFF:
        raise _Bad(f"counter {counter!r} is not a 32-bit decimal")
    return int(boot, 16), int(counter), int(crc, 16)
