"""Merge-on-Read compaction: every file slice with log files becomes a new base file, in one
compaction instant (a plan in `.requested`, completed as a commit), inline after
hoodie.compact.inline.max.delta.commits delta commits."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from lakehouse.hudi.commit import complete, parallel_map, write_markers, write_stat
from lakehouse.hudi.file_group import FileSlice
from lakehouse.hudi.files import base_file_name, join, write_base_file
from lakehouse.hudi.schema import avro_json, with_meta_fields
from lakehouse.hudi.timeline import (
    COMPACTION_PLAN,
    INFLIGHT,
    META,
    REQUESTED,
    Timeline,
    avro_file,
    instant_file,
    new_instant_time,
)

if TYPE_CHECKING:
    from lakehouse.hudi.table import HudiTable


def due(table: HudiTable) -> bool:
    """Inline compaction is on and enough delta commits followed the last compaction."""
    if not table.config.is_mor or not table.options.inline_compaction:
        return False
    timeline = Timeline(table.storage)
    last_compaction = max((i.timestamp for i in timeline.completed(("compaction",))), default="")
    deltas = [i for i in timeline.completed(("deltacommit",)) if i.timestamp > last_compaction]
    return len(deltas) >= table.options.compaction_delta_commits


def _plan(slices: list[FileSlice]) -> dict:
    """The HoodieCompactionPlan: one operation per slice with logs."""
    operations = [
        {
            "baseInstantTime": sl.base_instant,
            "deltaFilePaths": [log.name for log in sl.logs],
            "dataFilePath": sl.base_name,
            "fileId": sl.file_id,
            "partitionPath": sl.partition,
            "metrics": {"TOTAL_LOG_FILES": float(len(sl.logs))},
            "externalDataFilePath": None,
        }
        for sl in slices
    ]
    return {"operations": operations, "extraMetadata": None, "version": 2}


def compact(table: HudiTable) -> str | None:
    """Compact the table's latest slices that have log files; returns the instant, or None if
    there was nothing to compact. Pending instants must have been rolled back."""
    storage = table.storage
    timeline = Timeline(storage)
    view = table._view(timeline)
    slices = [sl for sl in view.latest_slices() if sl.logs]
    if not slices or table.schema is None:
        return None
    committed = timeline.committed_instants()
    instant = new_instant_time(timeline.last_timestamp())
    avro = table.avro_schema
    avro_meta = avro_json(with_meta_fields(avro))
    storage.write_new(f"{META}/{instant_file(instant, 'compaction', REQUESTED)}",
                      avro_file(COMPACTION_PLAN, _plan(slices)))  # fmt: skip
    storage.write_new(f"{META}/{instant_file(instant, 'compaction', INFLIGHT)}", b"")
    stats: dict[str, list[dict]] = {}
    lock = threading.Lock()
    reader = table._reader()

    def rel_of(task: int, sl: FileSlice) -> str:
        return join(sl.partition, base_file_name(sl.file_id, f"{task}-2-{task}", instant))

    def compact_slice(item: tuple[int, FileSlice]) -> None:
        task, sl = item
        merged = reader.read_slice(sl, committed)
        rel = rel_of(task, sl)
        size = write_base_file(storage, rel, merged, avro_meta,
                               table.options.parquet_compression)  # fmt: skip
        stat = write_stat(sl.partition, sl.file_id, rel, sl.base_instant, merged.num_rows, 0, 0,
                          0, size, totalLogFilesCompacted=len(sl.logs),
                          totalLogSizeCompacted=sum(log.size for log in sl.logs))  # fmt: skip
        with lock:
            stats.setdefault(sl.partition, []).append(stat)
            stats[sl.partition].sort(key=lambda s: s["fileId"])

    numbered = list(enumerate(slices, start=1))
    write_markers(storage, instant, [(rel_of(task, sl), "CREATE") for task, sl in numbered])
    parallel_map(compact_slice, numbered, table.options.parallelism)
    extra = {"schema": avro_json(avro)}
    complete(storage, instant, "compaction", stats, "COMPACT", extra, compacted=True)
    return instant
