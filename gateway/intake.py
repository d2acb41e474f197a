"""From a raw serial line to the message to publish, or to a counted, logged rejection."""

from __future__ import annotations

import logging
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

    def handle(self, raw: bytes, ts: float) -> Accepted | None:
        """ts: the gateway's wall clock when the line was read."""
        self.counts["lines"] += 1
        result = parse_line(raw, self.limits)
        if not isinstance(result, Received):
            if result.kind == "module":
                self.counts["module_replies"] += 1
                self.log.info("module line, not published: %s", result.escaped)
            else:
                self.counts["rejected"] += 1
                self.log.warning("rejected line: %s: %s", result.reason, result.escaped)
            return None
        if result.flags:
            self.counts["color_flagged"] += 1
            self.log.warning("reading flagged: %s", "; ".join(result.flags))
        msg_id = self.msg_id()
        if self.schema_version == 2:
            payload = build_message(
                result.reading, self.gateway_id, ts, msg_id=msg_id, rssi=result.rssi, snr=result.snr
            )
        else:
            payload = build_message(result.reading, self.gateway_id, ts)
        self.counts["accepted"] += 1
        return Accepted(payload, msg_id, result.reading.device_id, ts, result.rssi, result.snr)
