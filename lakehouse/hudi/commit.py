"""The steps every instant that writes data files takes (a write or a compaction):

    <t>.<action>.requested -> <t>.inflight -> markers + data files -> <t>.<action> (commit point)

and the write stats (HoodieWriteStat) the commit file records for each file written.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lakehouse.hudi.files import MARKER_TYPE, MARKER_TYPE_FILE, MARKERS_FILE, TEMP
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import COMPLETED, INFLIGHT, META, REQUESTED, instant_file


def write_stat(partition, file_id, path, prev, writes, deletes, updates, inserts, size, **extra):
    """A HoodieWriteStat for one file written; `extra` adds or overrides fields."""
    stat = {
        "fileId": file_id,
        "path": path,
        "cdcStats": None,
        "prevCommit": prev,
        "numWrites": writes,
        "numDeletes": deletes,
        "numUpdateWrites": updates,
        "numInserts": inserts,
        "totalWriteBytes": size,
        "totalWriteErrors": 0,
        "tempPath": None,
        "partitionPath": partition,
        "totalLogRecords": 0,
        "totalLogFilesCompacted": 0,
        "totalLogSizeCompacted": 0,
        "totalUpdatedRecordsCompacted": 0,
        "totalLogBlocks": 0,
        "totalCorruptLogBlock": 0,
        "totalRollbackBlocks": 0,
        "fileSizeInBytes": size,
        "minEventTime": None,
        "maxEventTime": None,
        "runtimeStats": None,
    }
    stat.update(extra)
    return stat


def delta_extra(base_name: str | None, logs: list[str], version: int = 0) -> dict:
    """The HoodieDeltaWriteStat fields a Merge-on-Read write stat carries."""
    return {
        "logVersion": version,
        "logOffset": 0,
        "baseFile": base_name or "",
        "logFiles": logs,
        "recordsStats": {"val": None},
    }


@dataclass
class Written:
    """What the files of one write hold, gathered from the writer's threads."""

    stats: dict[str, list[dict]] = field(default_factory=dict)
    files_created: int = 0
    files_updated: int = 0
    log_files: int = 0
    bytes: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    moved: int = 0  # records that changed partition: updates, though the stats hold a delete
    writes: int = 0  # and an insert for each (as Hudi's global index writes them)

    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, partition: str, stat: dict, kind: str) -> None:
        """Record one written file (kind: created, updated or log); called from worker threads."""
        with self.lock:
            self.stats.setdefault(partition, []).append(stat)
            self.stats[partition].sort(key=lambda s: s["fileId"])
            self.bytes += stat["totalWriteBytes"]
            self.writes += stat["numWrites"]
            if kind == "created":
                self.files_created += 1
            else:
                self.files_updated += 1
            if kind == "log":
                self.log_files += 1


def step_requested(storage: Storage, instant: str, action: str) -> None:
    storage.write_new(f"{META}/{instant_file(instant, action, REQUESTED)}", b"")
    storage.write_new(f"{META}/{instant_file(instant, action, INFLIGHT)}", b"")


def write_markers(storage: Storage, instant: str, files: list[tuple[str, str]]) -> None:
    """Name every file this instant will write, before writing any: a rollback deletes
    them. Written as Hudi's timeline-server-based markers (MARKERS.type, then all names in
    MARKERS0), which Java's rollback reads from storage too; one file instead of one per
    data file."""
    if not files:
        return
    storage.write(f"{TEMP}/{instant}/{MARKER_TYPE_FILE}", MARKER_TYPE.encode())
    lines = "".join(f"{rel}.marker.{io_type}\n" for rel, io_type in files)
    storage.write(f"{TEMP}/{instant}/{MARKERS_FILE}", lines.encode("utf-8"))


def complete(storage: Storage, instant, action, stats, operation, extra, compacted) -> None:
    """The commit point: the completed instant file with the commit metadata, then the
    instant's markers go."""
    meta = {
        "partitionToWriteStats": stats,
        "compacted": compacted,
        "extraMetadata": extra,
        "operationType": operation,
    }
    # Compact JSON: readers take any JSON, and json's C encoder skips indented output.
    data = json.dumps(meta).encode("utf-8")
    storage.write_new(f"{META}/{instant_file(instant, action, COMPLETED)}", data)
    storage.delete_dir(f"{TEMP}/{instant}")


def parallel_map(fn, items, parallelism: int = 0) -> list:
    """fn over items on the writer's threads (Arrow, numpy and Parquet release the GIL);
    parallelism 0 is one thread per CPU."""
    items = list(items)
    workers = min(len(items), parallelism or os.cpu_count() or 1)
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="hudi-write") as pool:
        return list(pool.map(fn, items))
