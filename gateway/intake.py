"""From a raw serial line to the message to publish, or to a counted, logged rejection."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.message import build_message
from gateway.parser import Limits, Received, parse_line


@dataclass(frozen=True)
class Accepted:
    """A reading to publish: the exact bytes every (re-)send repeats, and what the spool keeps."""

    payload: bytes
    msg_id: str
    device_id: str
    ts: float
    rssi: int
    snr: int


def new_msg_id() -> str:
    return uuid.uuid4().hex


LOG_BURST = 10  # rejected lines logged in full per window ...
LOG_WINDOW_S = 60.0  # ... then only counted, and summed up once the window is over
LOG_RAW_CHARS = 160  # of a rejected line's escaped bytes


def _cut(text: str) -> str:
    if len(text) <= LOG_RAW_CHARS:
        return text
    return f"{text[:LOG_RAW_CHARS]}... ({len(text)} chars)"


class RejectLog:
    """Rejected lines, logged without flooding: the first LOG_BURST of each window one by one
    (their raw bytes cut to LOG_RAW_CHARS), the rest as one summary line with their count."""

    def __init__(self, log: logging.Logger, clock=time.monotonic):
        self.log, self.clock = log, clock
        self.window_start = clock()
        self.logged = 0
        self.suppressed: Counter[str] = Counter()

    def __call__(self, level: int, what: str, reason: str, escaped: str) -> None:
        self.roll()
        if self.logged < LOG_BURST:
            self.logged += 1
            self.log.log(level, "%s: %s: %s", what, _cut(reason), _cut(escaped))
        else:
            self.suppressed[what] += 1

    def roll(self) -> None:
        """Starts a new window when the current one is over, summing up what it did not log."""
        if self.clock() - self.window_start < LOG_WINDOW_S:
            return
        if self.suppressed:
            counts = ", ".join(f"{n} {what}(s)" for what, n in sorted(self.suppressed.items()))
            self.log.warning(
                "%s not logged one by one in the last %.0f s",
                counts,
                self.clock() - self.window_start,
            )
        self.window_start, self.logged = self.clock(), 0
        self.suppressed.clear()


class Intake:
    """Validates lines and builds messages; counts everything it sees.

    Counters: lines, accepted, rejected, module_replies, color_flagged.
    """

    def __init__(
        self,
        gateway_id: str,
        schema_version: int = 1,
        limits: Limits | None = None,
        log: logging.Logger | None = None,
        msg_id: Callable[[], str] = new_msg_id,
    ):
        if schema_version not in (1, 2):
            raise ValueError(f"schema version {schema_version} is not 1 or 2")
        self.gateway_id = gateway_id
        self.schema_version = schema_version
        self.limits = limits or Limits()
        self.log = log or logging.getLogger("gateway.intake")
        self.msg_id = msg_id
        self.counts: Counter[str] = Counter()
        self.reject_log = RejectLog(self.log)

    def handle(self, raw: bytes, ts: float) -> Accepted | None:
        """ts: the gateway's wall clock when the line was read."""
        self.counts["lines"] += 1
        result = parse_line(raw, self.limits)
        if not isinstance(result, Received):
            if result.kind == "module":
                self.counts["module_replies"] += 1
                self.reject_log(logging.INFO, "module line", "not published", result.escaped)
            else:
                self.counts["rejected"] += 1
                self.reject_log(logging.WARNING, "rejected line", result.reason, result.escaped)
            return None
        if result.flags:
            self.counts["color_flagged"] += 1
            self.log.warning("reading flagged: %s", "; ".join(result.flags))
        reading = result.reading
        msg_id = reading.key or self.msg_id()
        if self.schema_version == 2 or reading.key is not None:
            payload = build_message(
                result.reading, self.gateway_id, ts, msg_id=msg_id, rssi=result.rssi, snr=result.snr
            )
        else:
            payload = build_message(result.reading, self.gateway_id, ts)
        self.counts["accepted"] += 1
        return Accepted(payload, msg_id, result.reading.device_id, ts, result.rssi, result.snr)
