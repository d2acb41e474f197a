"""The Kafka Connect S3 sink's side of the flow: topic objects, offsets and the offsets checkpoint.

Objects are named as the Confluent S3 sink names them (DefaultPartitioner, one partition):

    topics/<topic>/partition=0/<topic>+0+<start offset, 10 digits>.avro

An object is committed when it has been written (atomically) *and* the checkpoint that counts it
has been written after it. The checkpoint (`_cdc_offsets/<server>.json` in the same store) holds,
per topic, the next offset and the source position of the last change written. A source may
forget a change only once every topic's checkpointed position covers it (see `release`).

Objects are written one at a time, each followed by its checkpoint, so after a crash at most one
uncommitted object exists, at exactly its topic's checkpointed next offset; the resumed capture
writes that same key again with the same changes (and possibly more), so it is overwritten,
never duplicated.

Changes are buffered column by column (`ChangeBatch`) and encoded a whole object at a time.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lakehouse.cdc.records import (
    FORMATS,
    Change,
    ChangeBatch,
    encode_batch,
    row_values,
    sync_marker,
)
from lakehouse.cdc.source_tables import CdcError, Table
from lakehouse.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)

TOPICS_DIR = "topics"
CHECKPOINT_DIR = "_cdc_offsets"
OBJECT_NAME = re.compile(r"^(?P<topic>[^/+]+)\+(?P<partition>\d+)\+(?P<offset>\d{10})\.avro$")
CHECKPOINT_VERSION = 1


def topic_prefix(topic: str) -> str:
    return f"{TOPICS_DIR}/{topic}/partition=0/"


def object_key(topic: str, start_offset: int) -> str:
    return f"{topic_prefix(topic)}{topic}+0+{start_offset:010d}.avro"


def parse_object_key(key: str) -> tuple[str, int] | None:
    """(topic, start offset) of a sink object key, or None if the key is not one."""
    parts = key.split("/")
    if len(parts) < 4 or parts[-3] != parts[-1].split("+")[0] or parts[-2] != "partition=0":
        return None
    m = OBJECT_NAME.match(parts[-1])
    if not m or m["partition"] != "0":
        return None
    return m["topic"], int(m["offset"])


def checkpoint_key(server: str) -> str:
    return f"{CHECKPOINT_DIR}/{server}.json"


@dataclass
class WrittenObject:
    topic: str
    key: str
    start_offset: int
    records: int
    bytes: int


@dataclass
class TopicState:
    table: Table
    topic: str
    committed_offset: int = 0  # the next object's start offset, as the checkpoint has it
    through: tuple[int, int] | None = None  # position of the last change committed
    seen: tuple[int, int] | None = None  # position of the last change buffered or written
    buffer: ChangeBatch = field(default_factory=ChangeBatch)
    first_position: tuple[int, int] | None = None
    opened_at: float = 0.0


class CdcSink:
    """Buffers changes per topic and writes them as sink objects by flush size and rotation."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        server: str,
        db: str,
        tables: Iterable[Table],
        fmt: str = "unwrapped",
        flush_size: int = 10_000,
        rotate_interval_ms: int = 60_000,
        processing_ts_ms: Callable[[int], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if fmt not in FORMATS:
            raise CdcError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
        if flush_size < 1:
            raise CdcError(f"--flush-size must be at least 1, not {flush_size}")
        if rotate_interval_ms < 0:
            raise CdcError(f"--rotate-interval-ms must not be negative, not {rotate_interval_ms}")
        self.store = store
        self.server = server
        self.db = db
        self.fmt = fmt
        self.flush_size = flush_size
        self.rotate_interval_s = rotate_interval_ms / 1000
        self.clock = clock
        # The envelope's ts_ms, from the change's source ts_ms: when the change was processed.
        self.processing_ts_ms = processing_ts_ms or (lambda source_ts_ms: time.time_ns() // 10**6)
        self.topics = {t.qualified: TopicState(t, t.topic(server)) for t in tables}
        self.written: list[WrittenObject] = []
        self.on_commit: Callable[[], None] | None = None
        self.source: dict = {}
        self._extra_topics: dict = {}  # topics in the checkpoint that this run does not capture
        self._load()

    # -- checkpoint ------------------------------------------------------------------------

    @property
    def checkpoint_key(self) -> str:
        return checkpoint_key(self.server)

    def _load(self) -> None:
        key = self.checkpoint_key
        try:
            raw = self.store.get_bytes(key)
        except StorageError:
            raw = None
        except Exception as e:  # e.g. an S3 bucket that does not exist
            raise CdcError(f"cannot read target {self.store.uri(key)}: {e}") from e
        if raw is None:
            for t in self.topics.values():
                existing = next(iter(self.store.list_objects(topic_prefix(t.topic))), None)
                if existing is not None:
                    raise CdcError(
                        f"target {self.store.uri(existing.key)} already exists but "
                        f"{self.store.uri(key)} (the offsets of the capture that wrote it) does "
                        "not; refusing to write over it (use an empty target)"
                    )
            return
        try:
            state = json.loads(raw)
            if state["version"] != CHECKPOINT_VERSION:
                raise ValueError(f"version {state['version']!r} is not {CHECKPOINT_VERSION}")
            topics = state["topics"]
            source = state["source"]
            fmt = state["format"]
        except (ValueError, KeyError, TypeError) as e:
            raise CdcError(f"offsets checkpoint {self.store.uri(key)} is not valid: {e}") from e
        if fmt != self.fmt:
            raise CdcError(
                f"target holds --format {fmt} objects ({self.store.uri(key)}); "
                f"cannot continue it with --format {self.fmt}"
            )
        self.source = source
        by_topic = {t.topic: t for t in self.topics.values()}
        for name, saved in topics.items():
            t = by_topic.get(name)
            if t is None:
                continue  # a table captured before but not now: its offsets are kept
            t.committed_offset = int(saved["next_offset"])
            t.through = tuple(saved["through"]) if saved.get("through") else None
            t.seen = t.through
        self._extra_topics = {n: s for n, s in topics.items() if n not in by_topic}
        for t in self.topics.values():
            self._discard_beyond(t)

    def save(self) -> None:
        topics = dict(self._extra_topics)
        for t in self.topics.values():
            topics[t.topic] = {
                "next_offset": t.committed_offset,
                "through": list(t.through) if t.through else None,
            }
        state = {
            "version": CHECKPOINT_VERSION,
            "server": self.server,
            "format": self.fmt,
            "source": self.source,
            "topics": topics,
        }
        self.store.put_bytes(self.checkpoint_key, json.dumps(state, indent=1).encode())

    def _discard_beyond(self, t: TopicState) -> None:
        """Deletes objects that start past the committed next offset. Only an interrupted
        snapshot, which is redone from its start, leaves such objects."""
        for obj in list(self.store.list_objects(topic_prefix(t.topic))):
            parsed = parse_object_key(obj.key)
            if parsed and parsed[0] == t.topic and parsed[1] > t.committed_offset:
                log.warning("discarding uncommitted %s", self.store.uri(obj.key))
                self.store.delete(obj.key)

    def restart_topics(self, offsets: dict[str, int]) -> None:
        """Rewinds topics (by qualified table name) to the given next offsets, forgetting
        positions; used to redo an interrupted snapshot."""
        for qualified, offset in offsets.items():
            t = self.topics[qualified]
            t.committed_offset = offset
            t.through = t.seen = None
            t.buffer, t.first_position = ChangeBatch(), None
            self._discard_beyond(t)

    def check_writable(self) -> None:
        """Fails early, naming the target, if the store cannot be written."""
        try:
            self.save()
        except Exception as e:
            raise CdcError(
                f"cannot write to target {self.store.uri(self.checkpoint_key)}: {e}"
            ) from e

    # -- changes ---------------------------------------------------------------------------

    def add(self, change: Change) -> bool:
        """Buffers a change unless its topic already has it; returns whether it was new."""
        return self.add_row(
            self.topics[change.table.qualified], change.op,
            row_values(change.table, change.op, change.row), change.lsn, change.ts_ms,
            change.position, change.tx_id, change.snapshot, change.last_commit_lsn,
        )  # fmt: skip

    def add_row(self, t: TopicState, op: str, values, lsn: int, ts_ms: int,
                position: tuple[int, int], tx_id: int | None = None, snapshot: str = "false",
                last_commit_lsn: int | None = None) -> bool:  # fmt: skip
        """`add` for a row already in column order (a list or tuple of values): the capture's
        path, which makes no Change per row."""
        if t.seen is not None and position <= t.seen:
            return False
        t.seen = position
        b = t.buffer
        if not b.ops:
            t.first_position = position
            t.opened_at = self.clock()
        b.rows.append(values)
        b.ops.append(op)
        b.lsns.append(lsn)
        b.ts_ms.append(ts_ms)
        if self.fmt == "envelope":
            b.tx_ids.append(tx_id)
            b.snapshots.append(snapshot)
            b.last_commits.append(last_commit_lsn)
            b.processed_ms.append(self.processing_ts_ms(ts_ms))
        if len(b.ops) >= self.flush_size:
            self._flush(t)
        elif self.rotate_interval_s and self.clock() - t.opened_at >= self.rotate_interval_s:
            self._flush(t)
        return True

    def rotate(self) -> None:
        """Writes every buffer that has been open for the rotate interval (0: no rotation)."""
        if not self.rotate_interval_s:
            return
        now = self.clock()
        for t in self.topics.values():
            if t.buffer.ops and now - t.opened_at >= self.rotate_interval_s:
                self._flush(t)

    def flush_all(self) -> None:
        """Writes and commits everything buffered."""
        for t in self.topics.values():
            if t.buffer.ops:
                self._flush(t)

    def _flush(self, t: TopicState) -> None:
        """Writes the topic's buffer as the object at its next offset, then commits it."""
        batch, start = t.buffer, t.committed_offset
        key = object_key(t.topic, start)
        data = encode_batch(self.fmt, t.table, self.server, self.db, batch, sync_marker(key))
        t.buffer, t.first_position = ChangeBatch(), None
        try:
            self.store.put_bytes(key, data)
        except Exception as e:
            raise CdcError(f"cannot write {self.store.uri(key)}: {e}") from e
        t.committed_offset = start + len(batch)
        t.through = t.seen
        self.save()
        self.written.append(WrittenObject(t.topic, key, start, len(batch), len(data)))
        log.info("wrote %s (%d records)", self.store.uri(key), len(batch))
        if self.on_commit:
            self.on_commit()

    def oldest_buffered(self) -> tuple[int, int] | None:
        """Position of the oldest change not yet committed, across topics."""
        firsts = [t.first_position for t in self.topics.values() if t.buffer.ops]
        return min(firsts) if firsts else None

    def report(self) -> CaptureReport:
        return CaptureReport(
            root_uri=self.store.root_uri,
            objects=list(self.written),
            next_offsets={t.topic: t.committed_offset for t in self.topics.values()},
        )


@dataclass
class CaptureReport:
    """What one capture or simulator run wrote."""

    root_uri: str
    objects: list[WrittenObject]
    next_offsets: dict[str, int]

    def for_topic(self, topic: str) -> list[WrittenObject]:
        return [o for o in self.objects if o.topic == topic]
