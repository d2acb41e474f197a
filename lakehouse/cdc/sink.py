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

Encoding a large object to Avro costs about as much CPU as reading and decoding its changes, so
objects of WORKER_MIN_RECORDS or more are encoded in a worker process while the capture reads
on; writing and committing them stays here, in order.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from lakehouse.cdc.records import (
    FORMATS,
    Change,
    encode_container,
    envelope_record,
    schema_for,
    sync_marker,
    unwrapped_record,
)
from lakehouse.cdc.tables import CdcError, Table
from lakehouse.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)

TOPICS_DIR = "topics"
CHECKPOINT_DIR = "_cdc_offsets"
OBJECT_NAME = re.compile(r"^(?P<topic>[^/+]+)\+(?P<partition>\d+)\+(?P<offset>\d{10})\.avro$")
CHECKPOINT_VERSION = 1
WORKER_MIN_RECORDS = 2_000  # smaller objects are encoded in-process


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


def _exit_with_parent(parent: int) -> None:
    """Ends the worker when the capture that started it is gone (e.g. killed), which the
    process pool does not notice by itself."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


@dataclass
class _Job:
    """An object on its way out: encoded (data) or being encoded (future)."""

    topic: TopicState
    key: str
    start: int
    records: int
    through: tuple[int, int] | None
    first_position: tuple[int, int] | None
    data: bytes | None = None
    future: Future | None = None


@dataclass
class TopicState:
    table: Table
    topic: str
    schema_text: str
    next_offset: int = 0  # the next object's start offset (objects being written included)
    committed_offset: int = 0  # the next offset as the checkpoint has it
    through: tuple[int, int] | None = None  # position of the last change committed
    seen: tuple[int, int] | None = None  # position of the last change buffered or written
    buffer: list[dict] = field(default_factory=list)
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
        processing_ts_ms: Callable[[Change], int] | None = None,
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
        self.processing_ts_ms = processing_ts_ms or (lambda change: time.time_ns() // 1_000_000)
        self.topics: dict[str, TopicState] = {}
        for t in tables:
            topic = t.topic(server)
            self.topics[t.qualified] = TopicState(t, topic, schema_for(fmt, t, server))
        self.written: list[WrittenObject] = []
        self.inflight: deque[_Job] = deque()
        self._pool: ProcessPoolExecutor | None = None
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
            t.next_offset = t.committed_offset = int(saved["next_offset"])
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
            t.next_offset = t.committed_offset = offset
            t.through = t.seen = None
            t.buffer, t.first_position = [], None
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

    def topic_for(self, change: Change) -> TopicState:
        return self.topics[change.table.qualified]

    def add(self, change: Change) -> bool:
        """Buffers a change unless its topic already has it; returns whether it was new."""
        t = self.topics[change.table.qualified]
        if t.seen is not None and change.position <= t.seen:
            return False
        t.seen = change.position
        if not t.buffer:
            t.first_position = change.position
            t.opened_at = self.clock()
        if self.fmt == "unwrapped":
            t.buffer.append(unwrapped_record(change, self.db))
        else:
            t.buffer.append(
                envelope_record(change, self.db, self.server, self.processing_ts_ms(change))
            )
        if len(t.buffer) >= self.flush_size:
            self._flush(t)
        elif self.rotate_interval_s and self.clock() - t.opened_at >= self.rotate_interval_s:
            self._flush(t)
        return True

    def rotate(self) -> None:
        """Writes every buffer that has been open for the rotate interval."""
        now = self.clock()
        for t in self.topics.values():
            if t.buffer and now - t.opened_at >= self.rotate_interval_s:
                self._flush(t)

    def flush_all(self) -> None:
        """Writes and commits everything buffered."""
        for t in self.topics.values():
            if t.buffer:
                self._flush(t)
        while self.inflight:
            self._complete(self.inflight.popleft())

    def _flush(self, t: TopicState) -> None:
        start, records = t.next_offset, t.buffer
        key = object_key(t.topic, start)
        job = _Job(t, key, start, len(records), t.seen, t.first_position)
        t.next_offset += len(records)
        t.buffer, t.first_position = [], None
        if len(records) >= WORKER_MIN_RECORDS:
            job.future = self._worker().submit(
                encode_container, t.schema_text, records, sync_marker(key)
            )
        else:
            job.data = encode_container(t.schema_text, records, sync_marker(key))
        self.inflight.append(job)
        # One object may be encoding while the next one fills; older ones are written now.
        while len(self.inflight) > 1:
            self._complete(self.inflight.popleft())

    def _worker(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # fork: the worker needs nothing but this process's already-imported code.
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _complete(self, job: _Job) -> None:
        data = job.future.result() if job.future is not None else job.data
        try:
            self.store.put_bytes(job.key, data)
        except Exception as e:
            raise CdcError(f"cannot write {self.store.uri(job.key)}: {e}") from e
        t = job.topic
        t.committed_offset = job.start + job.records
        t.through = job.through
        self.save()
        self.written.append(WrittenObject(t.topic, job.key, job.start, job.records, len(data)))
        log.info("wrote %s (%d records)", self.store.uri(job.key), job.records)
        if self.on_commit:
            self.on_commit()

    def close(self) -> None:
        """Stops the encoding worker; objects not yet committed are left to the next run."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def oldest_buffered(self) -> tuple[int, int] | None:
        """Position of the oldest change not yet committed, across topics."""
        firsts = [t.first_position for t in self.topics.values() if t.buffer]
        firsts += [j.first_position for j in self.inflight]
        return min(firsts) if firsts else None

    def buffered(self) -> int:
        return sum(len(t.buffer) for t in self.topics.values())

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
