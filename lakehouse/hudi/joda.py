"""Joda-Time date patterns and Java time zone ids, as TimestampBasedKeyGenerator uses them.

Hudi formats partition paths with Joda's `DateTimeFormat.forPattern` and parses DATE_STRING
input with Joda parsers, so `yyyy/MM/dd` here must print exactly what Joda prints. Only the
pattern letters below are supported; any other letter is refused with the pattern named, rather
than printed differently from Hudi.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lakehouse.hudi.config import HudiConfigError

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PRINT_LETTERS = set("GCYxweEyDMdaKhHkmsSZ")
PARSE_LETTERS = set("GYyDMdEaKhHkmsSZ")
NUMERIC = set("CYxwyDdKhHkmsSe") | {"M"}
_MAX_DIGITS = {"y": 9, "Y": 9, "x": 9, "C": 7, "D": 3, "S": 9}


@dataclass(frozen=True)
class Token:
    letter: str  # "" for literal text
    count: int
    text: str = ""

    @property
    def numeric(self) -> bool:
        return self.letter in NUMERIC and not (self.letter == "M" and self.count >= 3)


def tokenize(pattern: str, letters: set[str], where: str) -> list[Token]:
    """A Joda pattern as tokens; `where` names the setting in errors."""
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = i + 1
            text = []
            while j < len(pattern):
                if pattern[j] == "'":
                    if j + 1 < len(pattern) and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            if i + 1 < len(pattern) and pattern[i + 1] == "'":
                text, j = ["'"], i + 1
            tokens.append(Token("", 0, "".join(text)))
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            if c not in letters:
                raise HudiConfigError(
                    f"{where}: pattern letter {c!r} in {pattern!r} is not supported here "
                    f"(supported: {''.join(sorted(letters))})"
                )
            tokens.append(Token(c, j - i))
            i = j
        else:
            tokens.append(Token("", 0, c))
            i += 1
    return tokens


def java_zone(zone_id: str, where: str) -> dt.tzinfo:
    """java.util.TimeZone.getTimeZone(id) for the ids that mean the same in Python.

    Java silently falls back to GMT for an id it does not know; this refuses it instead."""
    text = zone_id.strip()
    if text in ("UTC", "GMT", "UT", "Z", "Etc/UTC", "Etc/GMT"):
        return UTC
    m = re.fullmatch(r"GMT([+-])(\d{1,2})(?::?(\d{2}))?", text)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 23 or minutes > 59:
            raise HudiConfigError(f"{where}: time zone {zone_id!r} is out of range")
        sign = 1 if m.group(1) == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    if "/" in text:
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise HudiConfigError(
        f"{where}: time zone {zone_id!r} is not an IANA zone name (e.g. America/New_York), "
        "UTC or GMT+hh:mm; Java would silently use GMT for it"
    )


def _offset(moment: dt.datetime, count: int) -> str:
    key = getattr(moment.tzinfo, "key", None)
    if count >= 3 and (key or moment.utcoffset() == dt.timedelta(0)):
        return key or "UTC"
    seconds = int(moment.utcoffset().total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}{':' if count >= 2 else ''}{minutes:02d}"


def format_millis(millis: int, zone: dt.tzinfo, tokens: list[Token]) -> str:
    """Joda's `new DateTime(millis, zone).toString(pattern)`."""
    moment = (EPOCH + dt.timedelta(milliseconds=millis)).astimezone(zone)
    out = []
    for t in tokens:
        n, c = t.count, t.letter
        if not c:
            out.append(t.text)
        elif c in "yY":
            out.append(f"{moment.year % 100:02d}" if n == 2 else str(moment.year).zfill(n))
        elif c == "x":
            year = moment.isocalendar()[0]
            out.append(f"{year % 100:02d}" if n == 2 else str(year).zfill(n))
        elif c == "C":
            out.append(str(moment.year // 100).zfill(n))
        elif c == "G":
            out.append("AD")
        elif c == "w":
            out.append(str(moment.isocalendar()[1]).zfill(n))
        elif c == "e":
            out.append(str(moment.isoweekday()).zfill(n))
        elif c == "E":
            name = DAYS[moment.weekday()]
            out.append(name if n >= 4 else name[:3])
        elif c == "D":
            out.append(str(moment.timetuple().tm_yday).zfill(n))
        elif c == "M":
            name = MONTHS[moment.month - 1]
            out.append(name if n >= 4 else name[:3] if n == 3 else str(moment.month).zfill(n))
        elif c == "d":
            out.append(str(moment.day).zfill(n))
        elif c == "H":
            out.append(str(moment.hour).zfill(n))
        elif c == "k":
            out.append(str(moment.hour or 24).zfill(n))
        elif c == "K":
            out.append(str(moment.hour % 12).zfill(n))
        elif c == "h":
            out.append(str(moment.hour % 12 or 12).zfill(n))
        elif c == "a":
            out.append("AM" if moment.hour < 12 else "PM")
        elif c == "m":
            out.append(str(moment.minute).zfill(n))
        elif c == "s":
            out.append(str(moment.second).zfill(n))
        elif c == "S":
            out.append(f"{moment.microsecond // 1000:03d}".ljust(n, "0")[:n])
        elif c == "Z":
            out.append(_offset(moment, n))
    return "".join(out)


def _numeric_regex(t: Token, fixed: bool) -> str:
    if fixed:
        return rf"(\d{{{t.count}}})"
    if t.letter in "yY":
        return rf"([-+]?\d{{1,{_MAX_DIGITS['y']}}})" if t.count != 2 else r"(\d{2,9})"
    return rf"(\d{{1,{max(t.count, _MAX_DIGITS.get(t.letter, 2))}}})"


@dataclass(frozen=True)
class Parser:
    """One Joda input pattern compiled to a regex."""

    pattern: str
    regex: re.Pattern
    fields: tuple[Token, ...]

    @classmethod
    def compile(cls, pattern: str, where: str) -> Parser:
        tokens = tokenize(pattern, PARSE_LETTERS, where)
        parts, fields = [], []
        for i, t in enumerate(tokens):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if not t.letter:
                parts.append(re.escape(t.text))
                continue
            fields.append(t)
            if t.numeric:
                # Joda reads a numeric field of fixed width when another one follows directly.
                parts.append(_numeric_regex(t, bool(nxt and nxt.letter and nxt.numeric)))
            elif t.letter == "M":
                names = "|".join(MONTHS) + "|" + "|".join(m[:3] for m in MONTHS)
                parts.append(f"({names})")
            elif t.letter == "E":
                parts.append("(" + "|".join(DAYS) + "|" + "|".join(d[:3] for d in DAYS) + ")")
            elif t.letter == "a":
                parts.append("(AM|PM)")
            elif t.letter == "G":
                parts.append("(AD|BC)")
            elif t.letter == "Z":
                parts.append(
                    r"(Z|[+-]\d{2}(?::?\d{2})?)" if t.count < 3 else r"([A-Za-z][A-Za-z0-9_/+-]*)"
                )
        regex = re.compile("".join(parts), re.IGNORECASE)
        return cls(pattern, regex, tuple(fields))

    def parse(self, text: str, zone: dt.tzinfo | None, default_zone: dt.tzinfo):
        """(epoch millis, zone of the parsed DateTime), or None if the text does not match.

        As Joda: an offset in the text fixes the instant; the DateTime is then in `zone` when
        one is configured (withZone), else in the parsed offset (withOffsetParsed)."""
        m = self.regex.fullmatch(text)
        if m is None:
            return None
        v = {"y": 1970, "M": 1, "d": 1, "H": 0, "m": 0, "s": 0, "ms": 0}
        pm, half_hour, day_of_year, parsed_zone = None, None, None, None
        for t, raw in zip(self.fields, m.groups(), strict=True):
            c = t.letter
            if c in "yY":
                year = int(raw)
                if t.count == 2 and len(raw) == 2:
                    pivot = dt.date.today().year - 30  # Joda's DateTimeFormat pivot
                    low = pivot - 50
                    year = low + (year - low) % 100
                v["y"] = year
            elif c == "M":
                if raw.isdigit():
                    v["M"] = int(raw)
                else:
                    v["M"] = next(i for i, n in enumerate(MONTHS, 1) if n.lower().startswith(
                        raw.lower()[:3]))  # fmt: skip
            elif c in "dHms":
                v[c] = int(raw)
            elif c == "k":
                v["H"] = int(raw) % 24
            elif c in "hK":
                half_hour = int(raw) % 12
            elif c == "a":
                pm = raw.upper() == "PM"
            elif c == "D":
                day_of_year = int(raw)
            elif c == "S":
                v["ms"] = int(raw.ljust(3, "0")[:3])
            elif c == "Z":
                if t.count >= 3:
                    parsed_zone = java_zone(raw, self.pattern)
                elif raw.upper() == "Z":
                    parsed_zone = UTC
                else:
                    sign = 1 if raw[0] == "+" else -1
                    digits = raw[1:].replace(":", "")
                    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
                    parsed_zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        if half_hour is not None:
            v["H"] = half_hour + (12 if pm else 0)
        try:
            if day_of_year is not None:
                date = dt.date(v["y"], 1, 1) + dt.timedelta(days=day_of_year - 1)
            else:
                date = dt.date(v["y"], v["M"], v["d"])
            local = dt.datetime(date.year, date.month, date.day, v["H"], v["m"], v["s"],
                                v["ms"] * 1000)  # fmt: skip
        except ValueError:
            return None
        result_zone = zone or parsed_zone or default_zone
        moment = local.replace(tzinfo=parsed_zone or zone or default_zone)
        millis = (moment - EPOCH) // dt.timedelta(milliseconds=1)
        return millis, result_zone
