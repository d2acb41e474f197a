"""The landing zone of telemetry: Kinesis Data Firehose's S3 layout, written and read.

Objects are gzip JSON lines under `<prefix>/YYYY/MM/DD/HH/` (UTC arrival hour), each batch
with a manifest under `<prefix>/manifests/YYYY/MM/DD/HH/` that lists exactly its objects, so a
COPY ... MANIFEST loads one batch and nothing else.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lakehouse.iot.readings import Quarantined
from lakehouse.storage import ObjectStore

STREAM = "lakehouse-telemetry"
# Where telemetry lands in the lake: the original's `message/` prefix, which Firehose writes to.
LANDING_PREFIX = "message"
# An hourly partition's key, as Dagster's HourlyPartitionsDefinition writes it.
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"
HOUR_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.gz$")


def hour_prefix(prefix: str, hour: dt.datetime) -> str:
    return f"{prefix}/{hour:%Y/%m/%d/%H}/"


def partition_of(key: str) -> str | None:
    """The hourly partition key ('YYYY-MM-DD-HH:00') of a landed object, None if not one."""
    m = HOUR_PATH.search(key)
    return f"{m[1]}-{m[2]}-{m[3]}-{m[4]}:00" if m and "/manifests/" not in key else None


def encode(records: list[dict]) -> bytes:
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    return gzip.compress(lines.encode(), mtime=0)


def read_records(data: bytes, name: str) -> Iterator[tuple[int, dict | Quarantined]]:
    """(line, record or Quarantined) for each JSON object in an object.

    Accepts newline-delimited JSON and Firehose's concatenated objects alike (D-13); a line
    that is not JSON is quarantined with its place, and reading goes on with the next line.
    """
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        yield 0, Quarantined(f"{name}: not a gzip UTF-8 object: {e}")
        return
    decoder = json.JSONDecoder()
    for number, line in enumerate(text.split("\n"), start=1):
        pos = 0
        while pos < len(line):
            while pos < len(line) and line[pos] in " \t\r":
                pos += 1
            if pos >= len(line):
                break
            try:
                value, pos = decoder.raw_decode(line, pos)
            except json.JSONDecodeError as e:
                yield (
                    number,
                    Quarantined(f"{name}:{number}: not JSON ({e.msg} at column {e.colno})"),
                )
                break
            if isinstance(value, dict):
                yield number, value
            else:
                yield (
                    number,
                    Quarantined(f"{name}:{number}: a JSON {type(value).__name__}, not an object"),
                )


@dataclass(frozen=True)
class Batch:
    objects: tuple[str, ...]
    manifest: str
    records: int


class LandingWriter:
    """Buffers records and writes a batch when it reaches flush_bytes or flush_seconds.

    A batch is durable once write_batch returns: the object first, its manifest last, both
    atomic; a reader that sees a manifest sees all of its objects.
    """

    def __init__(
        self,
        store: ObjectStore,
        prefix: str = LANDING_PREFIX,
        flush_bytes: int = 1_000_000,
        flush_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        if flush_seconds < 1 and flush_seconds != 0:
            raise ValueError(f"flush_seconds must be at least 1, got {flush_seconds}")
        self.store, self.prefix = store, prefix.strip("/")
        self.flush_bytes, self.flush_seconds, self.clock = flush_bytes, flush_seconds, clock
        self.buffer: list[dict] = []
        self.size = 0
        self.opened_at: float | None = None

    def add(self, record: dict) -> Batch | None:
        self.append(record)
        return self.flush() if self.due() else None

    def append(self, record: dict) -> None:
        """Buffers a record without writing; the caller decides when to flush."""
        if self.opened_at is None:
            self.opened_at = self.clock()
        self.buffer.append(record)
        self.size += len(json.dumps(record, separators=(",", ":"))) + 1

    def due(self) -> bool:
        if not self.buffer:
            return False
        return self.size >= self.flush_bytes or self.clock() - self.opened_at >= self.flush_seconds

    def flush(self) -> Batch | None:
        if not self.buffer:
            return None
        batch = self.write_batch(self.buffer, dt.datetime.fromtimestamp(self.clock(), dt.UTC))
        self.buffer, self.size, self.opened_at = [], 0, None
        return batch

    def write_batch(self, records: list[dict], arrival: dt.datetime) -> Batch:
        stamp = f"{arrival:%Y-%m-%d-%H-%M-%S}"
        batch_id = uuid.uuid4()
        key = f"{hour_prefix(self.prefix, arrival)}{STREAM}-1-{stamp}-{batch_id}.gz"
        manifest_key = f"{self.prefix}/manifests/{arrival:%Y/%m/%d/%H}/{STREAM}-{stamp}-{batch_id}"
        self.store.put_bytes(key, encode(records))
        manifest = {"entries": [{"url": self.store.uri(key), "mandatory": True}]}
        self.store.put_bytes(manifest_key, json.dumps(manifest).encode())
        return Batch(objects=(key,), manifest=manifest_key, records=len(records))
