"""Which file slices the cleaner deletes, per hoodie.cleaner.policy (Hudi's CleanPlanner).

    KEEP_LATEST_COMMITS        keep every slice a query at or after the N-th latest commit can
                               read (hoodie.cleaner.commits.retained, default 10)
    KEEP_LATEST_BY_HOURS       the same, with the earliest commit to retain being the first one
                               made within the last N hours (hoodie.cleaner.hours.retained, 24)
    KEEP_LATEST_FILE_VERSIONS  keep the newest N slices of each file group
                               (hoodie.cleaner.fileversions.retained, default 3)

The newest slice of a file group is never deleted. `clean` plans (HoodieCleanerPlan in the
clean instant's .requested/.inflight), deletes and completes (HoodieCleanMetadata).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from lakehouse.hudi.config import CLEANER_POLICIES, WriteOptions
from lakehouse.hudi.file_group import FileSystemView
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import (
    CLEAN_METADATA,
    CLEANER_PLAN,
    COMPLETED,
    INFLIGHT,
    META,
    REQUESTED,
    Instant,
    Timeline,
    avro_file,
    instant_file,
    new_instant_time,
    read_avro_file,
)

KEEP_LATEST_COMMITS, KEEP_LATEST_FILE_VERSIONS, KEEP_LATEST_BY_HOURS = CLEANER_POLICIES


@dataclass(frozen=True)
class CleanPlan:
    policy: str
    files: dict[str, list[str]]  # partition -> paths relative to the table
    earliest_to_retain: Instant | None  # None for KEEP_LATEST_FILE_VERSIONS


def earliest_to_retain(
    writes: list[Instant], policy: str, commits: int, hours: int, now: dt.datetime
) -> Instant | None:
    """The earliest completed write the plan keeps readable, or None to clean nothing (for the
    commit-based policies)."""
    if policy == KEEP_LATEST_COMMITS:
        return writes[-commits] if len(writes) > commits else None
    cutoff = (now - dt.timedelta(hours=hours)).strftime("%Y%m%d%H%M%S%f")[:17]
    return next((w for w in writes if w.timestamp >= cutoff), None)


def plan(
    view: FileSystemView,
    writes: list[Instant],
    policy: str,
    commits: int,
    versions: int,
    hours: int,
    now: dt.datetime | None = None,
) -> CleanPlan:
    files: dict[str, list[str]] = {}
    if policy == KEEP_LATEST_FILE_VERSIONS:
        for (partition, fid), _ in sorted(view.groups.items()):
            slices = view.slices(partition, fid)
            for old in slices[: max(len(slices) - versions, 0)]:
                files.setdefault(partition, []).extend(old.paths())
        return CleanPlan(policy, files, None)
    earliest = earliest_to_retain(writes, policy, commits, hours, now or dt.datetime.now(dt.UTC))
    if earliest is None:
        return CleanPlan(policy, {}, None)
    for (partition, fid), _ in sorted(view.groups.items()):
        slices = view.slices(partition, fid)
        for older, newer in zip(slices, slices[1:], strict=False):
            # `older` is needed only by queries before `newer`, which start before `earliest`
            if newer.base_instant <= earliest.timestamp:
                files.setdefault(partition, []).extend(older.paths())
    return CleanPlan(policy, files, earliest)


def clean(
    storage: Storage,
    view: FileSystemView,
    timeline: Timeline,
    opts: WriteOptions,
    commits_retained: int | None = None,
) -> tuple[str | None, int]:
    """Delete the file slices hoodie.cleaner.policy no longer keeps. Returns (clean instant or
    None, files deleted)."""
    writes = timeline.completed_writes()
    if not writes:
        return None, 0
    chosen = plan(view, writes, opts.cleaner_policy, commits_retained or opts.commits_retained,
                  opts.file_versions_retained, opts.hours_retained)  # fmt: skip
    if not chosen.files:
        return None, 0
    instant = new_instant_time(timeline.last_timestamp())
    record = _plan_record(storage, chosen)
    data = avro_file(CLEANER_PLAN, record)
    storage.write_new(f"{META}/{instant_file(instant, 'clean', REQUESTED)}", data)
    storage.write_new(f"{META}/{instant_file(instant, 'clean', INFLIGHT)}", data)
    return instant, execute(storage, instant, record, writes[-1].timestamp)


def _plan_record(storage: Storage, chosen: CleanPlan) -> dict:
    """The HoodieCleanerPlan record of a plan."""
    earliest = chosen.earliest_to_retain
    return {
        "earliestInstantToRetain": None if earliest is None else {
            "timestamp": earliest.timestamp,
            "action": "commit" if earliest.action == "compaction" else earliest.action,
            "state": COMPLETED,
        },
        "policy": chosen.policy,
        "filesToBeDeletedPerPartition": None,
        "version": 2,
        "filePathsToBeDeletedPerPartition": {
            p: [{"filePath": storage.uri_of(f), "isBootstrapBaseFile": False} for f in fs]
            for p, fs in chosen.files.items()
        },
        "partitionsToBeDeleted": None,
    }  # fmt: skip


def finish_pending(storage: Storage, inst: Instant, timeline: Timeline) -> None:
    """Complete a clean a writer left pending (its plan is in the .requested file)."""
    data = storage.read(f"{META}/{inst.file_name(REQUESTED)}")
    if not storage.exists(f"{META}/{inst.file_name(INFLIGHT)}"):
        storage.write_new(f"{META}/{inst.file_name(INFLIGHT)}", data)
    last = timeline.completed_writes()
    execute(storage, inst.timestamp, read_avro_file(data), last[-1].timestamp if last else "")


def execute(storage: Storage, instant: str, cleaner_plan: dict, last_completed: str) -> int:
    """Delete the planned files and complete the clean instant; returns the files deleted."""
    start = time.monotonic()
    partitions = {}
    total = 0
    prefix = storage.uri + "/"
    for partition, files in (cleaner_plan.get("filePathsToBeDeletedPerPartition") or {}).items():
        done = []
        for info in files:
            path = info["filePath"]
            storage.delete(path[len(prefix) :] if path.startswith(prefix) else path)
            done.append(path.rpartition("/")[2])
        total += len(done)
        partitions[partition] = {
            "partitionPath": partition,
            "policy": cleaner_plan["policy"],
            "deletePathPatterns": done,
            "successDeleteFiles": done,
            "failedDeleteFiles": [],
            "isPartitionDeleted": False,
        }
    earliest = cleaner_plan.get("earliestInstantToRetain") or {}
    metadata = {
        "policy": cleaner_plan["policy"],
        "startCleanTime": instant,
        "timeTakenInMillis": int((time.monotonic() - start) * 1000),
        "totalFilesDeleted": total,
        "earliestCommitToRetain": earliest.get("timestamp", ""),
        "lastCompletedCommitTimestamp": last_completed,
        "partitionMetadata": partitions,
        "version": 2,
        "bootstrapPartitionMetadata": None,
    }
    storage.write_new(
        f"{META}/{instant_file(instant, 'clean', COMPLETED)}", avro_file(CLEAN_METADATA, metadata)
    )
    return total
