"""Timeline archival as Hudi 0.14/0.15 does it for table version 6 (HoodieTimelineArchiver).

When more than `hoodie.keep.max.commits` completed commits (or cleans, or rollbacks) are in
`.hoodie`, the oldest are moved until `hoodie.keep.min.commits` remain: every state file of an
archived instant (requested, inflight, completed) becomes one `HoodieArchivedMetaEntry` Avro
record in a data block of a Hudi log file `.hoodie/archived/.commits_.archive.N_1-0-1`, then the
files leave `.hoodie`. Commits are never archived at or past:

- the oldest pending write (no holes in the timeline),
- the earliest commit the last clean retains (its earliestCommitToRetain),
- for Merge-on-Read, the first delta commit since the last compaction (the compaction trigger
  counts them),
- the earliest instant an incremental reader's checkpoint names (the caller passes them).

Readers treat a data file older than the first active instant as committed (Java and hudi-rs
0.5 both do), so archiving changes no query result.
"""

from __future__ import annotations

import copy
import io
import json
import re
import struct

import fastavro

from lakehouse.hudi import logfile
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import (
    CLEAN_METADATA,
    CLEANER_PLAN,
    COMPACTION_PLAN,
    COMPLETED,
    INFLIGHT,
    META,
    REQUESTED,
    ROLLBACK_METADATA,
    Instant,
    Timeline,
    instant_file,
    read_avro_file,
)

ARCHIVE_DIR = f"{META}/archived"
ARCHIVE_FILE = re.compile(r"^\.commits_\.archive\.(\d+)_1-0-1$")
COMMIT_ACTIONS = ("commit", "deltacommit", "replacecommit", "compaction")
STATE_NAMES = {REQUESTED: "REQUESTED", INFLIGHT: "INFLIGHT", COMPLETED: "COMPLETED"}
_NS = "org.apache.hudi.avro.model"
_LONG = ["null", "long"]
_STR = ["null", "string"]

# HoodieCommitMetadata.avsc (the fields of Hudi 0.14's HoodieWriteStat record).
COMMIT_METADATA = {
    "type": "record",
    "name": "HoodieCommitMetadata",
    "namespace": _NS,
    "fields": [
        {
            "name": "partitionToWriteStats",
            "type": ["null", {"type": "map", "values": {"type": "array", "items": {
                "type": "record",
                "name": "HoodieWriteStat",
                "fields": [
                    {"name": n, "type": t, "default": None}
                    for n, t in [
                        ("fileId", _STR), ("path", _STR), ("prevCommit", _STR),
                        ("numWrites", _LONG), ("numDeletes", _LONG), ("numUpdateWrites", _LONG),
                        ("totalWriteBytes", _LONG), ("totalWriteErrors", _LONG),
                        ("partitionPath", _STR), ("totalLogRecords", _LONG),
                        ("totalLogFiles", _LONG), ("totalUpdatedRecordsCompacted", _LONG),
                        ("numInserts", _LONG), ("totalLogBlocks", _LONG),
                        ("totalCorruptLogBlock", _LONG), ("totalRollbackBlocks", _LONG),
                        ("fileSizeInBytes", _LONG),
                    ]
                ],
            }}}],
            "default": None,
        },
        {"name": "extraMetadata", "type": ["null", {"type": "map", "values": "string"}],
         "default": None},
        {"name": "version", "type": ["int", "null"], "default": 1},
        {"name": "operationType", "type": _STR, "default": None},
    ],
}  # fmt: skip


def _dedupe_names(schema, seen: set[str]):
    """A schema where each named type is defined once (later uses refer to it by name)."""
    if isinstance(schema, list):
        return [_dedupe_names(s, seen) for s in schema]
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            full = schema["name"] if "." in schema["name"] else f"{_NS}.{schema['name']}"
            if full in seen:
                return full
            seen.add(full)
            out = dict(schema)
            if kind == "record":
                out["fields"] = [
                    {**f, "type": _dedupe_names(f["type"], seen)} for f in schema["fields"]
                ]
            return out
        if kind == "array":
            return {**schema, "items": _dedupe_names(schema["items"], seen)}
        if kind == "map":
            return {**schema, "values": _dedupe_names(schema["values"], seen)}
    return schema


# HoodieArchivedMetaEntry.avsc with the fields this writer fills; Java reads the block with its
# own class schema, and Avro resolution gives the missing fields their defaults.
ARCHIVED_META_ENTRY = _dedupe_names(
    {
        "type": "record",
        "name": "HoodieArchivedMetaEntry",
        "namespace": _NS,
        "fields": [
            {"name": "hoodieCommitMetadata", "type": ["null", copy.deepcopy(COMMIT_METADATA)],
             "default": None},
            {"name": "hoodieCleanMetadata", "type": ["null", copy.deepcopy(CLEAN_METADATA)],
             "default": None},
            {"name": "hoodieRollbackMetadata", "type": ["null", copy.deepcopy(ROLLBACK_METADATA)],
             "default": None},
            {"name": "commitTime", "type": _STR, "default": None},
            {"name": "actionType", "type": _STR, "default": None},
            {"name": "version", "type": ["int", "null"], "default": 1},
            {"name": "hoodieCompactionPlan", "type": ["null", copy.deepcopy(COMPACTION_PLAN)],
             "default": None},
            {"name": "hoodieCleanerPlan", "type": ["null", copy.deepcopy(CLEANER_PLAN)],
             "default": None},
            {"name": "actionState", "type": _STR, "default": None},
        ],
    },
    set(),
)  # fmt: skip
ARCHIVED_META_ENTRY_JSON = json.dumps(ARCHIVED_META_ENTRY, separators=(",", ":"))
_WRITE_STAT_FIELDS = [
    f["name"]
    for f in COMMIT_METADATA["fields"][0]["type"][1]["values"]["items"]["fields"]  # type: ignore[index]
]


def instants_to_archive(
    timeline: Timeline,
    storage: Storage,
    min_keep: int,
    max_keep: int,
    is_mor: bool,
    keep_from: str | None = None,
) -> list[Instant]:
    """The instants (completed ones) Hudi's archiver would move, oldest first."""
    instants = timeline.instants()
    out: list[Instant] = []
    for action in ("clean", "rollback"):
        done = [i for i in instants if i.action == action and i.state == COMPLETED]
        if len(done) > max_keep:
            out += done[: len(done) - min_keep]
    commits = [i for i in instants if i.action in COMMIT_ACTIONS and i.state == COMPLETED]
    if len(commits) > max_keep:
        limits = []
        pending = [i for i in instants if i.action in COMMIT_ACTIONS and i.state != COMPLETED]
        if pending:
            limits.append(pending[0].timestamp)
        cleans = [i for i in instants if i.action == "clean" and i.state == COMPLETED]
        if cleans:
            data = storage.read(f"{META}/{cleans[-1].file_name(COMPLETED)}")
            earliest = read_avro_file(data).get("earliestCommitToRetain")
            if earliest:
                limits.append(earliest)
        if is_mor:
            compactions = [i.timestamp for i in commits if i.action == "compaction"]
            last = compactions[-1] if compactions else ""
            since = [i for i in commits if i.action == "deltacommit" and i.timestamp > last]
            if since:
                limits.append(since[0].timestamp)
        if keep_from:
            limits.append(keep_from)
        cutoff = min(limits) if limits else None
        eligible = [i for i in commits if cutoff is None or i.timestamp < cutoff]
        out += eligible[: max(len(commits) - min_keep, 0)]
    return sorted(out)


def _state_files(timeline: Timeline, inst: Instant) -> list[tuple[str, str, str]]:
    """(file name, action, state) of every state file of an instant, requested first."""
    states = timeline.files.get(inst.timestamp, {})
    out = []
    if inst.action == "compaction":
        for state in (REQUESTED, INFLIGHT):
            if state in states.get("compaction", set()):
                out.append((instant_file(inst.timestamp, "compaction", state), "compaction", state))
        out.append((instant_file(inst.timestamp, "commit", COMPLETED), "commit", COMPLETED))
        return out
    for state in (REQUESTED, INFLIGHT, COMPLETED):
        if state in states.get(inst.action, set()):
            out.append((instant_file(inst.timestamp, inst.action, state), inst.action, state))
    return out


def _commit_metadata(data: bytes) -> dict | None:
    if not data.strip():
        return None
    meta = json.loads(data)
    stats = meta.get("partitionToWriteStats")
    return {
        "partitionToWriteStats": None if stats is None else {
            p: [{k: s.get(k) for k in _WRITE_STAT_FIELDS} for s in group]
            for p, group in stats.items()
        },
        "extraMetadata": meta.get("extraMetadata"),
        "version": 1,
        "operationType": meta.get("operationType"),
    }  # fmt: skip


def archived_entry(storage: Storage, ts: str, name: str, action: str, state: str) -> dict:
    """MetadataConversionUtils.createMetaWrapper for one state file."""
    entry = {"commitTime": ts, "actionType": action, "actionState": STATE_NAMES[state],
             "version": 1}  # fmt: skip
    data = storage.read(f"{META}/{name}")
    if action in ("commit", "deltacommit", "replacecommit"):
        entry["hoodieCommitMetadata"] = _commit_metadata(data) if state != REQUESTED else None
    elif action == "clean":
        if state == COMPLETED:
            entry["hoodieCleanMetadata"] = read_avro_file(data)
        elif data:
            entry["hoodieCleanerPlan"] = read_avro_file(data)
    elif action == "rollback" and state == COMPLETED:
        entry["hoodieRollbackMetadata"] = read_avro_file(data)
    elif action == "compaction":
        requested = storage.read(f"{META}/{instant_file(ts, 'compaction', REQUESTED)}")
        entry["hoodieCompactionPlan"] = read_avro_file(requested)
    return entry


def next_archive_file(storage: Storage) -> str:
    """Hudi's log writer cannot append on object stores (or the local file system), so each
    archival rolls over to the next version."""
    versions = [
        int(m.group(1))
        for e in storage.list(ARCHIVE_DIR)
        if (m := ARCHIVE_FILE.match(e.path.rpartition("/")[2]))
    ]
    return f"{ARCHIVE_DIR}/.commits_.archive.{max(versions, default=0) + 1}_1-0-1"


def archive(storage: Storage, timeline: Timeline, instants: list[Instant], batch: int = 10):
    """Write the archive file, then delete the archived files from `.hoodie`: requested and
    inflight files first, completed ones last, so a crash never leaves an archived instant
    looking pending (which the next write would roll back)."""
    entries, files = [], []
    for inst in instants:
        for name, action, state in _state_files(timeline, inst):
            entries.append(archived_entry(storage, inst.timestamp, name, action, state))
            files.append((state == COMPLETED, inst.timestamp, name))
    if not entries:
        return None
    parsed = fastavro.parse_schema(ARCHIVED_META_ENTRY, named_schemas={})
    blocks = []
    for start in range(0, len(entries), batch):  # hoodie.commits.archival.batch
        chunk = entries[start : start + batch]
        records = _records(parsed, chunk)
        content = struct.pack(">ii", 3, len(chunk)) + records
        header = {logfile.SCHEMA: ARCHIVED_META_ENTRY_JSON}
        blocks.append(logfile.encode_block(logfile.AVRO_DATA_BLOCK, header, content))
    path = next_archive_file(storage)
    storage.write(path, b"".join(blocks))
    for _, ts, name in sorted(files):
        storage.delete(f"{META}/{name}")
        storage.delete_dir(f"{META}/.temp/{ts}")
    return path


def _records(parsed, records: list[dict]) -> bytes:
    parts = []
    for record in records:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, record)
        data = buf.getvalue()
        parts.append(struct.pack(">i", len(data)) + data)
    return b"".join(parts)


def read_archive(storage: Storage) -> list[dict]:
    """Every archived entry, in archive order (as HoodieArchivedTimeline loads them)."""
    out = []
    files = sorted(
        (int(m.group(1)), e.path)
        for e in storage.list(ARCHIVE_DIR)
        if (m := ARCHIVE_FILE.match(e.path.rpartition("/")[2]))
    )
    for _, path in files:
        for block in logfile.read_blocks(storage.read(path), storage.uri_of(path)):
            out.extend(logfile.decode_avro_records(block))
    return out
