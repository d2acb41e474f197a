"""Recovery from a writer that died: pending writes and compactions are rolled back (the files
their markers name are deleted, a rollback instant records it), pending cleans and rollbacks
are completed, and marker directories left by completed instants are removed."""

from __future__ import annotations

import time

from lakehouse.hudi import cleaner
from lakehouse.hudi.files import TEMP, marker_names
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import (
    COMPLETED,
    INFLIGHT,
    META,
    REQUESTED,
    ROLLBACK_METADATA,
    ROLLBACK_PLAN,
    WRITE_ACTIONS,
    Instant,
    Timeline,
    avro_file,
    instant_file,
    new_instant_time,
    read_avro_file,
)


def rollback_pending(storage: Storage) -> list[str]:
    """Finish or undo whatever a failed writer left. Returns the rolled back instants."""
    rolled = []
    timeline = Timeline(storage)
    for inst in timeline.pending():
        if inst.action == "clean":
            cleaner.finish_pending(storage, inst, timeline)
        elif inst.action == "rollback":
            plan = read_avro_file(storage.read(f"{META}/{inst.file_name(REQUESTED)}"))
            target = plan["instantToRollback"]
            execute(storage, inst.timestamp, plan, target["commitTime"], target["action"])
            rolled.append(target["commitTime"])
    timeline = Timeline(storage)
    for inst in timeline.pending():
        if inst.action in WRITE_ACTIONS + ("compaction",):
            rollback(storage, inst, timeline)
            rolled.append(inst.timestamp)
    remove_stale_markers(storage)
    return rolled


def rollback(storage: Storage, inst: Instant, timeline: Timeline) -> None:
    """Plan (HoodieRollbackPlan from the instant's markers) and execute one rollback."""
    requests: dict[tuple[str, str], list[str]] = {}
    for data_rel in sorted(set(marker_names(storage, inst.timestamp))):
        partition, _, name = data_rel.rpartition("/")
        fid = name.lstrip(".").split("_", 1)[0]
        requests.setdefault((partition, fid), []).append(storage.uri_of(data_rel))
    plan = {
        "instantToRollback": {"commitTime": inst.timestamp, "action": inst.action},
        "RollbackRequests": [
            {"partitionPath": p, "fileId": fid, "latestBaseInstant": None,
             "filesToBeDeleted": sorted(files), "logBlocksToBeDeleted": None}
            for (p, fid), files in sorted(requests.items())
        ],
        "version": 1,
    }  # fmt: skip
    instant = new_instant_time(timeline.last_timestamp())
    storage.write_new(
        f"{META}/{instant_file(instant, 'rollback', REQUESTED)}", avro_file(ROLLBACK_PLAN, plan)
    )
    storage.write_new(f"{META}/{instant_file(instant, 'rollback', INFLIGHT)}", b"")
    execute(storage, instant, plan, inst.timestamp, inst.action)


def _delete_requested(storage: Storage, plan: dict) -> tuple[dict[str, dict], int]:
    """Delete the files the plan names: (partition metadata, files that existed)."""
    prefix = storage.uri + "/"
    partitions: dict[str, dict] = {}
    total = 0
    for req in plan.get("RollbackRequests") or []:
        done = []
        for path in req["filesToBeDeleted"]:
            rel = path[len(prefix) :] if path.startswith(prefix) else path
            if storage.delete(rel):
                total += 1
            done.append(path)
        entry = partitions.setdefault(
            req["partitionPath"],
            {"partitionPath": req["partitionPath"], "successDeleteFiles": [],
             "failedDeleteFiles": [], "rollbackLogFiles": {}, "logFilesFromFailedCommit": {}},
        )  # fmt: skip
        entry["successDeleteFiles"].extend(done)
    return partitions, total


def execute(storage: Storage, instant: str, plan: dict, target: str, action: str) -> None:
    """Delete the planned files and the target's pending instant files, then complete."""
    start = time.monotonic()
    partitions, total = _delete_requested(storage, plan)
    for state in (INFLIGHT, REQUESTED):
        storage.delete(f"{META}/{instant_file(target, action, state)}")
    storage.delete_dir(f"{TEMP}/{target}")
    metadata = {
        "startRollbackTime": instant,
        "timeTakenInMillis": int((time.monotonic() - start) * 1000),
        "totalFilesDeleted": total,
        "commitsRollback": [target],
        "partitionMetadata": partitions,
        "version": 1,
        "instantsRollback": [{"commitTime": target, "action": action}],
    }
    storage.write_new(
        f"{META}/{instant_file(instant, 'rollback', COMPLETED)}",
        avro_file(ROLLBACK_METADATA, metadata),
    )


def remove_stale_markers(storage: Storage) -> None:
    """Marker directories of completed instants (the writer died before removing them)."""
    timeline = Timeline(storage)
    done = {i.timestamp for i in timeline.instants() if i.state == COMPLETED}
    for d in storage.list_dirs(TEMP):
        name = d.rpartition("/")[2]
        if name in done:
            storage.delete_dir(d)
    for entry in storage.list(TEMP):
        if entry.path.rpartition("/")[2].startswith(".write-"):
            storage.delete(entry.path)
