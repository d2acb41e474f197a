"""The active timeline in `.hoodie` (layout version 1): instants, their files and contents, and
the commit metadata of completed writes (as hudi-rs's `timeline` module reads them)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from functools import cached_property

import fastavro

from lakehouse.hudi.table_storage import Storage

META = ".hoodie"
REQUESTED, INFLIGHT, COMPLETED = "REQUESTED", "INFLIGHT", "COMPLETED"
WRITE_ACTIONS = ("commit", "deltacommit", "replacecommit")
CHECKPOINT_KEY = "deltastreamer.checkpoint.key"
# Partition moves in a commit. Hudi's write stats count each as a delete in the old file group
# and an insert in the new one; this count lets readers report them as the updates they are.
MOVES_KEY = "lakehouse.partition.moves"
_INSTANT_FILE = re.compile(
    r"^(?P<ts>\d{14}|\d{17})\.(?P<rest>commit|deltacommit|replacecommit|clean|rollback|savepoint"
    r"|restore|indexing|inflight|compaction|logcompaction|schemacommit)(?P<state>(\.[a-z]+)*)$"
)


@dataclass(frozen=True, order=True)
class Instant:
    """One instant of the timeline: its time (yyyyMMddHHmmss[SSS]), action and state
    (REQUESTED, INFLIGHT or COMPLETED)."""

    timestamp: str
    action: str  # commit, deltacommit, compaction, clean, rollback, replacecommit, ...
    state: str

    def file_name(self, state: str | None = None) -> str:
        return instant_file(self.timestamp, self.action, state or self.state)

    @property
    def time(self) -> dt.datetime:
        """The instant time as a UTC datetime (the writers here run with
        hoodie.table.timeline.timezone=UTC)."""
        ts = self.timestamp
        parsed = dt.datetime.strptime(ts[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        return parsed + dt.timedelta(milliseconds=int(ts[14:] or 0))

    @property
    def is_completed(self) -> bool:
        return self.state == COMPLETED


@dataclass(frozen=True)
class CommitMetadata:
    """What a completed write instant's file records (HoodieCommitMetadata as JSON): write stats
    per partition, replaced file groups, the operation and extra metadata."""

    instant: Instant
    raw: dict

    @property
    def operation(self) -> str:
        return self.raw.get("operationType") or "UNKNOWN"

    @property
    def compacted(self) -> bool:
        return bool(self.raw.get("compacted"))

    @property
    def extra_metadata(self) -> dict[str, str]:
        return self.raw.get("extraMetadata") or {}

    @property
    def partition_to_write_stats(self) -> dict[str, list[dict]]:
        return self.raw.get("partitionToWriteStats") or {}

    @property
    def partition_to_replace_file_ids(self) -> dict[str, list[str]]:
        return self.raw.get("partitionToReplaceFileIds") or {}

    @cached_property
    def write_stats(self) -> list[dict]:
        return [s for group in self.partition_to_write_stats.values() for s in group]

    @property
    def checkpoint(self) -> str | None:
        """The source checkpoint (deltastreamer.checkpoint.key), if the write carried one."""
        return self.extra_metadata.get(CHECKPOINT_KEY)

    @property
    def avro_schema(self) -> dict | None:
        """The writer's Avro schema (extraMetadata.schema), if recorded."""
        text = self.extra_metadata.get("schema")
        return json.loads(text) if text else None

    @property
    def partitions(self) -> tuple[str, ...]:
        """Partitions written to, sorted."""
        return tuple(sorted(self.partition_to_write_stats))

    @property
    def partitions_changed(self) -> set[str]:
        """Partitions whose file groups this commit wrote or replaced."""
        return set(self.partition_to_write_stats) | set(self.partition_to_replace_file_ids)

    @property
    def partition_moves(self) -> int:
        return int(self.extra_metadata.get(MOVES_KEY) or 0)

    def _total(self, key: str) -> int:
        return sum(s.get(key, 0) for s in self.write_stats)

    # A partition move is in the stats as a delete plus an insert (Hudi's global index); the
    # Python writer records how many, so they count as the updates they are. Commits by
    # HoodieDeltaStreamer carry no count, and report Hudi's own figures.
    @property
    def inserted(self) -> int:
        return self._total("numInserts") - self.partition_moves

    @property
    def updated(self) -> int:
        return self._total("numUpdateWrites") + self.partition_moves

    @property
    def deleted(self) -> int:
        return self._total("numDeletes") - self.partition_moves

    @property
    def records_written(self) -> int:
        return self._total("numWrites")

    @property
    def bytes_written(self) -> int:
        return self._total("totalWriteBytes")

    @property
    def files_written(self) -> int:
        return len(self.write_stats)


def instant_file(ts: str, action: str, state: str) -> str:
    if state == COMPLETED:
        # A completed compaction is a commit.
        return f"{ts}.{'commit' if action == 'compaction' else action}"
    if state == REQUESTED:
        return f"{ts}.{action}.requested"
    if action == "commit":
        return f"{ts}.inflight"
    return f"{ts}.{action}.inflight"


def parse_instant_file(name: str) -> tuple[str, str, str] | None:
    """(timestamp, action, state) of a timeline file name, or None if it is not one."""
    m = _INSTANT_FILE.match(name)
    if not m:
        return None
    ts, rest, state = m["ts"], m["rest"], m["state"]
    if rest == "inflight" and not state:
        return ts, "commit", INFLIGHT
    if state == ".requested":
        return ts, rest, REQUESTED
    if state == ".inflight":
        return ts, rest, INFLIGHT
    if not state:
        return ts, rest, COMPLETED
    return None


class CommittedInstants(set):
    """Instant times whose files are committed: the completed writes of the active timeline
    plus any time older than the first of them (moved to the archived timeline)."""

    def __init__(self, completed: set[str], first_active: str | None):
        super().__init__(completed)
        self.first_active = first_active

    def __contains__(self, ts) -> bool:
        return super().__contains__(ts) or (
            self.first_active is not None and isinstance(ts, str) and ts < self.first_active
        )


class Timeline:
    """A listing of `.hoodie`, grouped per instant time."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.files: dict[str, dict[str, set[str]]] = {}  # ts -> action -> states
        for entry in storage.list(META):
            name = entry.path.rsplit("/", 1)[-1]
            parsed = parse_instant_file(name)
            if parsed:
                ts, action, state = parsed
                self.files.setdefault(ts, {}).setdefault(action, set()).add(state)
        # A compaction completes as a commit file with the same time.
        for actions in self.files.values():
            if "compaction" in actions and COMPLETED in actions.get("commit", set()):
                actions["compaction"].add(COMPLETED)
                if actions["commit"] == {COMPLETED}:
                    del actions["commit"]

    def instants(self) -> list[Instant]:
        out = []
        for ts, actions in self.files.items():
            for action, states in actions.items():
                state = (
                    COMPLETED
                    if COMPLETED in states
                    else INFLIGHT
                    if INFLIGHT in states
                    else REQUESTED
                )
                out.append(Instant(ts, action, state))
        return sorted(out)

    def completed(self, actions=None) -> list[Instant]:
        return [
            i
            for i in self.instants()
            if i.state == COMPLETED and (actions is None or i.action in actions)
        ]

    def pending(self) -> list[Instant]:
        return [i for i in self.instants() if i.state != COMPLETED]

    def completed_writes(self) -> list[Instant]:
        """Instants whose files readers see: commit, deltacommit, replacecommit, compaction."""
        return self.completed(WRITE_ACTIONS + ("compaction",))

    def last_timestamp(self) -> str | None:
        """The greatest instant time of any state or action (new instants go after it)."""
        return max(self.files) if self.files else None

    def latest_commit_time(self) -> str | None:
        """The time of the newest completed write, or None before the first."""
        writes = self.completed_writes()
        return writes[-1].timestamp if writes else None

    def committed_instants(self) -> CommittedInstants:
        """Completed write instants, and every time before the first of them (archived, hence
        committed: Java's isBeforeTimelineStarts, and hudi-rs, read such files the same way)."""
        writes = [i.timestamp for i in self.completed_writes()]
        return CommittedInstants(set(writes), writes[0] if writes else None)

    def read_json(self, instant: Instant) -> dict:
        data = self.storage.read(f"{META}/{instant.file_name(COMPLETED)}")
        return json.loads(data) if data.strip() else {}

    def commit_metadata(self, instant: Instant) -> CommitMetadata:
        """The metadata of a completed write instant (commit, deltacommit, replacecommit or
        compaction)."""
        if instant.action not in WRITE_ACTIONS + ("compaction",):
            raise ValueError(f"{instant.timestamp}.{instant.action} is not a write instant")
        return CommitMetadata(instant, self.read_json(instant))


def new_instant_time(after: str | None, now: dt.datetime | None = None) -> str:
    """yyyyMMddHHmmssSSS in UTC, strictly greater than `after`."""
    now = now or dt.datetime.now(dt.UTC)
    candidate = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
    if after is not None:
        last = after if len(after) == 17 else after + "999"
        if candidate <= last:
            parsed = dt.datetime.strptime(last[:14], "%Y%m%d%H%M%S").replace(
                microsecond=int(last[14:]) * 1000, tzinfo=dt.UTC
            ) + dt.timedelta(milliseconds=1)
            candidate = parsed.strftime("%Y%m%d%H%M%S") + f"{parsed.microsecond // 1000:03d}"
    return candidate


# Avro timeline records. Java decodes them with SpecificDatumReader, so record names must be
# the org.apache.hudi.avro.model ones (hudi_format.md section 2).
_NS = "org.apache.hudi.avro.model"
INSTANT_INFO = {
    "type": "record",
    "name": "HoodieInstantInfo",
    "namespace": _NS,
    "fields": [{"name": "commitTime", "type": "string"}, {"name": "action", "type": "string"}],
}
ROLLBACK_PLAN = {
    "type": "record",
    "name": "HoodieRollbackPlan",
    "namespace": _NS,
    "fields": [
        {"name": "instantToRollback", "type": ["null", INSTANT_INFO], "default": None},
        {
            "name": "RollbackRequests",
            "type": [
                "null",
                {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "HoodieRollbackRequest",
                        "fields": [
                            {"name": "partitionPath", "type": "string"},
                            {"name": "fileId", "type": ["null", "string"], "default": None},
                            {
                                "name": "latestBaseInstant",
                                "type": ["null", "string"],
                                "default": None,
                            },
                            {
                                "name": "filesToBeDeleted",
                                "type": {"type": "array", "items": "string"},
                                "default": [],
                            },
                            {
                                "name": "logBlocksToBeDeleted",
                                "type": ["null", {"type": "map", "values": "long"}],
                                "default": None,
                            },
                        ],
                    },
                },
            ],
            "default": None,
        },
        {"name": "version", "type": ["int", "null"], "default": 1},
    ],
}
_STRINGS = {"type": "array", "items": "string"}
ROLLBACK_METADATA = {
    "type": "record",
    "name": "HoodieRollbackMetadata",
    "namespace": _NS,
    "fields": [
        {"name": "startRollbackTime", "type": "string"},
        {"name": "timeTakenInMillis", "type": "long"},
        {"name": "totalFilesDeleted", "type": "int"},
        {"name": "commitsRollback", "type": _STRINGS},
        {
            "name": "partitionMetadata",
            "type": {
                "type": "map",
                "values": {
                    "type": "record",
                    "name": "HoodieRollbackPartitionMetadata",
                    "fields": [
                        {"name": "partitionPath", "type": "string"},
                        {"name": "successDeleteFiles", "type": _STRINGS},
                        {"name": "failedDeleteFiles", "type": _STRINGS},
                        {
                            "name": "rollbackLogFiles",
                            "type": ["null", {"type": "map", "values": "long"}],
                            "default": None,
                        },
                        {
                            "name": "logFilesFromFailedCommit",
                            "type": ["null", {"type": "map", "values": "long"}],
                            "default": None,
                        },
                    ],
                },
            },
        },
        {"name": "version", "type": ["int", "null"], "default": 1},
        {
            "name": "instantsRollback",
            "type": {"type": "array", "items": INSTANT_INFO},
            "default": [],
        },
    ],
}
ACTION_INSTANT = {
    "type": "record",
    "name": "HoodieActionInstant",
    "namespace": _NS,
    "fields": [
        {"name": "timestamp", "type": "string"},
        {"name": "action", "type": "string"},
        {"name": "state", "type": "string"},
    ],
}
CLEANER_PLAN = {
    "type": "record",
    "name": "HoodieCleanerPlan",
    "namespace": _NS,
    "fields": [
        {"name": "earliestInstantToRetain", "type": ["null", ACTION_INSTANT], "default": None},
        {"name": "policy", "type": "string"},
        {
            "name": "filesToBeDeletedPerPartition",
            "type": ["null", {"type": "map", "values": _STRINGS}],
            "default": None,
        },
        {"name": "version", "type": ["int", "null"], "default": 1},
        {
            "name": "filePathsToBeDeletedPerPartition",
            "type": [
                "null",
                {
                    "type": "map",
                    "values": {
                        "type": "array",
                        "items": {
                            "type": "record",
                            "name": "HoodieCleanFileInfo",
                            "fields": [
                                {"name": "filePath", "type": ["null", "string"], "default": None},
                                {
                                    "name": "isBootstrapBaseFile",
                                    "type": ["null", "boolean"],
                                    "default": None,
                                },
                            ],
                        },
                    },
                },
            ],
            "default": None,
        },
        {"name": "partitionsToBeDeleted", "type": ["null", _STRINGS], "default": None},
    ],
}
CLEAN_PARTITION_METADATA = {
    "type": "record",
    "name": "HoodieCleanPartitionMetadata",
    "namespace": _NS,
    "fields": [
        {"name": "partitionPath", "type": "string"},
        {"name": "policy", "type": "string"},
        {"name": "deletePathPatterns", "type": _STRINGS},
        {"name": "successDeleteFiles", "type": _STRINGS},
        {"name": "failedDeleteFiles", "type": _STRINGS},
        {"name": "isPartitionDeleted", "type": ["null", "boolean"], "default": None},
    ],
}
CLEAN_METADATA = {
    "type": "record",
    "name": "HoodieCleanMetadata",
    "namespace": _NS,
    "fields": [
        {"name": "policy", "type": "string", "default": ""},
        {"name": "startCleanTime", "type": "string"},
        {"name": "timeTakenInMillis", "type": "long"},
        {"name": "totalFilesDeleted", "type": "int"},
        {"name": "earliestCommitToRetain", "type": "string"},
        {"name": "lastCompletedCommitTimestamp", "type": "string", "default": ""},
        {"name": "partitionMetadata", "type": {"type": "map", "values": CLEAN_PARTITION_METADATA}},
        {"name": "version", "type": ["int", "null"], "default": 1},
        {
            "name": "bootstrapPartitionMetadata",
            "type": ["null", {"type": "map", "values": "HoodieCleanPartitionMetadata"}],
            "default": None,
        },
    ],
}
COMPACTION_PLAN = {
    "type": "record",
    "name": "HoodieCompactionPlan",
    "namespace": _NS,
    "fields": [
        {
            "name": "operations",
            "type": [
                "null",
                {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "HoodieCompactionOperation",
                        "fields": [
                            {"name": "baseInstantTime", "type": ["null", "string"]},
                            {"name": "deltaFilePaths", "type": ["null", _STRINGS], "default": None},
                            {"name": "dataFilePath", "type": ["null", "string"], "default": None},
                            {"name": "fileId", "type": ["null", "string"]},
                            {"name": "partitionPath", "type": ["null", "string"], "default": None},
                            {
                                "name": "metrics",
                                "type": ["null", {"type": "map", "values": "double"}],
                                "default": None,
                            },
                            {
                                "name": "externalDataFilePath",
                                "type": ["null", "string"],
                                "default": None,
                            },
                        ],
                    },
                },
            ],
            "default": None,
        },
        {
            "name": "extraMetadata",
            "type": ["null", {"type": "map", "values": "string"}],
            "default": None,
        },
        {"name": "version", "type": ["int", "null"], "default": 1},
    ],
}
_PARSED: dict[str, object] = {}


def _parsed(schema: dict):
    name = schema["name"]
    if name not in _PARSED:
        _PARSED[name] = fastavro.parse_schema(schema, named_schemas={})
    return _PARSED[name]


def avro_file(schema: dict, record: dict) -> bytes:
    """A one-record Avro container file, codec null, as Java writes timeline metadata."""
    buf = io.BytesIO()
    fastavro.writer(buf, _parsed(schema), [record], codec="null")
    return buf.getvalue()


def read_avro_file(data: bytes) -> dict:
    records = list(fastavro.reader(io.BytesIO(data)))
    if len(records) != 1:
        raise ValueError(f"expected one record in a timeline file, found {len(records)}")
    return records[0]
