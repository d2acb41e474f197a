"""Java `.properties` files: hoodie.properties, partition metadata and DeltaStreamer props.

Reading keeps the line each key came from, so an error can name the file and line.
Writing produces what both readers accept (hudi_format.md, hoodie.properties): ASCII only,
backslashes escaped, `:` and `=` in values left unescaped (hudi-rs does no unescaping).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesError(ValueError):
    pass


@dataclass
class Properties:
    """Keys in file order, with where each came from (`file:line`)."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def where(self, key: str) -> str:
        return self.origins.get(key, "(not set)")

    def set(self, key: str, value: str, origin: str) -> None:
        self.values[key] = value
        self.origins[key] = origin

    def update(self, other: Properties) -> None:
        for key, value in other.values.items():
            self.set(key, value, other.origins[key])


def _unescape(text: str, where: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(text):
            break
        c = text[i]
        if c == "u":
            code = text[i + 1 : i + 5]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", code):
                raise PropertiesError(f"{where}: malformed \\u escape")
            out.append(chr(int(code, 16)))
            i += 5
            continue
        out.append(_ESCAPES.get(c, c))
        i += 1
    return "".join(out)


def _logical_lines(text: str):
    """(line number, logical line) with Java's continuation lines joined."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while _ends_with_continuation(line) and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        if _ends_with_continuation(line):
            line = line[:-1]
        yield start + 1, line


def _ends_with_continuation(line: str) -> bool:
    slashes = len(line) - len(line.rstrip("\\"))
    return slashes % 2 == 1


def parse(text: str, source: str) -> Properties:
    props = Properties()
    for lineno, line in _logical_lines(text):
        where = f"{source}:{lineno}"
        # The key ends at the first unescaped '=', ':' or whitespace.
        j = 0
        while j < len(line):
            if line[j] == "\\":
                j += 2
                continue
            if line[j] in "=: \t\f":
                break
            j += 1
        key = _unescape(line[:j], where)
        rest = line[j:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        props.set(key, _unescape(rest, where), where)
    return props


def _escape(text: str, is_key: bool) -> str:
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[c])
        elif is_key and c in "=: #!":
            out.append("\\" + c)
        elif ord(c) > 126 or ord(c) < 32:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def render(values: dict[str, str], now: dt.datetime | None = None) -> bytes:
    """Properties text with Java's two leading comment lines."""
    now = now or dt.datetime.now(dt.UTC)
    lines = [
        f"#Properties saved on {now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
        f"#{now.strftime('%a %b %d %H:%M:%S UTC %Y')}",
    ]
    for key, value in values.items():
        lines.append(f"{_escape(key, True)}={_escape(value, False)}")
    return ("\n".join(lines) + "\n").encode("ascii")
