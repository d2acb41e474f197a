"""Data quality of the Hudi tables, per table: keys are unique and every live source row is there.

Both read the table with the project's Hudi reader (latest file slices, logs merged), the same
way whichever engine wrote the commit.
"""

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.cdc.arrow import read_cdc_objects
from lakehouse.cdc.sink import parse_object_key, topic_prefix
from lakehouse.hudi import HudiTable
from lakehouse.moma.hudi_tables import HUDI_TABLES, HudiTableDef
from lakehouse.storage import ObjectStore

DELETED = "true"


def live_source_keys(lake: ObjectStore, table: HudiTableDef) -> pa.Array:
    """Record keys whose latest change event (by __source_ts_ms, then log position) is not a
    delete: what the table must hold, whatever order the events arrived in."""
    objects = [
        o
        for o in lake.list_objects(topic_prefix(table.topic))
        if (parsed := parse_object_key(o.key)) and parsed[0] == table.topic
    ]
    # Kafka offsets order the objects; within one, records are in log order.
    objects.sort(key=lambda o: parse_object_key(o.key)[1])
    changes = read_cdc_objects([lake.get_bytes(o.key) for o in objects], table.source)
    if changes.num_rows == 0:
        return pa.array([], pa.int64())
    keys = changes[table.record_key].to_numpy(zero_copy_only=False)
    ts = changes["__source_ts_ms"].to_numpy(zero_copy_only=False)
    deleted = pc.fill_null(pc.equal(changes["__deleted"], DELETED), False).to_numpy(
        zero_copy_only=False
    )
    k, t = np.asarray(keys, dtype=np.int64), np.asarray(ts, dtype=np.int64)
    position = np.arange(len(k))
    order = np.lexsort((position, t, k))  # by key, then time, then position
    last = np.r_[k[order][1:] != k[order][:-1], True]
    latest = order[last]
    return pa.array(k[latest][~np.asarray(deleted)[latest]])


def read_snapshot(lake: ObjectStore, table: HudiTableDef, columns: list[str]) -> pa.Table:
    return HudiTable.open(lake.uri(table.base_key), filesystem=lake.filesystem).snapshot(
        columns=columns
    )


def live_table_keys(snapshot: pa.Table, table: HudiTableDef) -> pa.ChunkedArray:
    keys = snapshot.column(table.record_key)
    if "__deleted" not in snapshot.column_names:
        return keys
    return keys.filter(pc.invert(pc.fill_null(pc.equal(snapshot["__deleted"], DELETED), False)))


def build_hudi_checks(table: HudiTableDef) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=table.asset_key,
        name="unique_record_keys",
        description=f"No {table.record_key} appears twice in the snapshot of {table.qualified} "
        "(the global index keeps keys unique across partitions, also when a row moves).",
        blocking=True,
    )
    def unique_record_keys(lake: ObjectStore) -> dg.AssetCheckResult:
        column = read_snapshot(lake, table, [table.record_key]).column(table.record_key)
        counts = pc.value_counts(column)
        dupes = counts.filter(pc.greater(counts.field("counts"), 1))
        return dg.AssetCheckResult(
            passed=len(dupes) == 0,
            metadata={
                "rows": len(column),
                "duplicate_keys": len(dupes),
                "examples": dg.MetadataValue.json(dupes.field("values").to_pylist()[:10]),
            },
        )

    @dg.asset_check(
        asset=table.asset_key,
        name="matches_source",
        description=f"The live rows of {table.qualified} (not __deleted) are exactly the keys "
        f"of {table.topic} whose latest change is not a delete.",
    )
    def matches_source(lake: ObjectStore) -> dg.AssetCheckResult:
        snapshot = read_snapshot(lake, table, [table.record_key, "__deleted"])
        have = live_table_keys(snapshot, table)
        want = live_source_keys(lake, table)
        have_set = pa.array(pc.unique(have).to_numpy(zero_copy_only=False), pa.int64())
        missing = pc.filter(want, pc.invert(pc.is_in(want, have_set)))
        extra = pc.filter(have_set, pc.invert(pc.is_in(have_set, want)))
        return dg.AssetCheckResult(
            passed=len(have) == len(want) and len(missing) == 0 and len(extra) == 0,
            metadata={
                "live_rows": len(have),
                "live_source_keys": len(want),
                "missing_keys": len(missing),
                "unexpected_keys": len(extra),
                "examples_missing": dg.MetadataValue.json(missing.to_pylist()[:10]),
                "examples_unexpected": dg.MetadataValue.json(extra.to_pylist()[:10]),
            },
        )

    return [unique_record_keys, matches_source]


hudi_checks = [check for t in HUDI_TABLES for check in build_hudi_checks(t)]
