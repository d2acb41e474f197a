"""HudiTable's read API (timeline, file slices as of an instant, schema, partitioning) against
the in-memory model and hudi-rs (the official reader), on random write histories.

The Spark tier checks the same API on tables Apache Hudi wrote (tests/hudi/test_spark_engine.py).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import hudi
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.hudi import (
    COMPLETED,
    INFLIGHT,
    META_FIELDS,
    HudiConfig,
    HudiTable,
    TableConfig,
    WriteOptions,
)
from tests.hudi import support
from tests.hudi.crash import Crash, crash_before

SCHEMA = support.SCHEMA
# few keys, three partitions: updates, moves and deletes in most batches
row = st.builds(
    dict,
    id=st.integers(0, 15),
    ts=st.integers(0, 3),
    part=st.sampled_from(["a", "b", "c"]),
    v=st.text("xy", max_size=2),
    __deleted=st.sampled_from(["false", "false", "true"]),
)
history = st.lists(st.lists(row, min_size=1, max_size=8), min_size=1, max_size=5)


def _upsert(table: HudiTable, *rows: tuple):
    data = [dict(zip(SCHEMA.names, r, strict=True)) for r in rows]
    return table.upsert(pa.Table.from_pylist(data, schema=SCHEMA))


def _table(base: str, table_type: str, compaction_delta_commits: int = 2) -> HudiTable:
    config = HudiConfig(
        TableConfig("api", ("id",), "ts", ("part",), table_type=table_type),
        WriteOptions(
            delete_mode="hard",
            compaction_delta_commits=compaction_delta_commits,
            auto_clean=False,  # every slice stays, so every instant can be read
            max_file_size=4096,
            record_size_estimate=1024,  # a few rows per file: several file groups
            small_file_limit=2048,
        ),
    )
    return HudiTable.open_or_create(base, config)


def _rs_slices(base: str, as_of: str) -> list[tuple]:
    table = hudi.HudiTableBuilder.from_base_uri(base).build()
    options = hudi.HudiReadOptions().with_hudi_option("hoodie.read.as.of.timestamp", as_of)
    return sorted(
        (s.partition_path, s.file_id, s.base_file_name, tuple(sorted(s.log_file_names)))
        for s in table.get_file_slices(options)
    )


def _our_slices(table: HudiTable, as_of: str | None) -> list[tuple]:
    return sorted(
        (s.partition, s.file_id, s.base_name, tuple(sorted(log.name for log in s.logs)))
        for s in table.file_slices(as_of=as_of)
    )


@pytest.mark.parametrize("table_type", ["COPY_ON_WRITE", "MERGE_ON_READ"])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=history)
def test_timeline_slices_and_snapshots_as_of_every_commit(table_type, batches):
    with tempfile.TemporaryDirectory() as tmp:
        base = f"{tmp}/t"
        table = _table(base, table_type)
        model = support.Model(event_time=True, hard_deletes=True)
        results = []
        for n, batch in enumerate(batches):
            result = table.upsert(pa.Table.from_pylist(batch, schema=SCHEMA), str(n))
            model.apply("UPSERT", batch, result.instant)
            results.append(result)
        timeline = table.timeline()
        writes = timeline.completed_writes()
        # every commit and compaction, in order, completed, with its metadata
        expected = sorted(
            [(r.instant, r.action) for r in results]
            + [(r.compaction_instant, "compaction") for r in results if r.compaction_instant]
        )
        assert [(i.timestamp, i.action) for i in writes] == expected
        assert {i.state for i in writes} == {COMPLETED}
        assert table.latest_commit_time() == writes[-1].timestamp
        for n, r in enumerate(results):
            (inst,) = [i for i in writes if i.timestamp == r.instant]
            assert inst.time.strftime("%Y%m%d%H%M%S%f")[:17] == r.instant
            meta = timeline.commit_metadata(inst)
            assert (meta.operation, meta.checkpoint) == ("UPSERT", str(n))
            assert (meta.inserted, meta.updated, meta.deleted) == (r.inserted, r.updated,
                                                                  r.deleted)  # fmt: skip
            assert meta.records_written == r.records_written
            assert meta.partitions == r.partitions
        # as of each write: the model's rows, read through our slices and hudi-rs's
        for r in results:
            got = support.rows(table.snapshot(as_of=r.instant))
            assert got == model.at(r.instant) == support.rows(support.as_of(base, r.instant))
            assert _our_slices(table, r.instant) == _rs_slices(base, r.instant)
            for sl in table.file_slices(as_of=r.instant):
                assert sl.base_instant <= r.instant
                assert all((Path(base) / p).is_file() for p in sl.paths())
        assert _our_slices(table, None) == _rs_slices(base, writes[-1].timestamp)


def test_file_slices_base_file_only_are_what_read_optimized_reads(tmp_path):
    base = str(tmp_path / "t")
    table = _table(base, "MERGE_ON_READ", compaction_delta_commits=5)
    table.bulk_insert(pa.Table.from_pylist(
        [{"id": i, "ts": 1, "part": "ab"[i % 2], "v": "x", "__deleted": "false"} for i in range(6)],
        schema=SCHEMA))  # fmt: skip
    _upsert(table, (0, 2, "a", "y", "false"))
    latest = table.file_slices()
    assert any(sl.has_log_file for sl in latest)
    ro = table.file_slices(base_file_only=True)
    assert not any(sl.has_log_file for sl in ro)
    assert [(s.file_id, s.base_path) for s in ro] == [(s.file_id, s.base_path) for s in latest]
    footer_rows = sum(table.base_file_footer(sl).num_rows for sl in ro)
    assert footer_rows == table.snapshot(read_optimized=True).num_rows == 6
    assert table.uri_of(ro[0].base_path).endswith(ro[0].base_path)


def test_a_crashed_write_is_a_pending_instant_and_never_a_file_slice(tmp_path):
    base = str(tmp_path / "t")
    table = _table(base, "COPY_ON_WRITE")
    first = _upsert(table, (1, 1, "a", "x", "false"))
    slices = _our_slices(table, None)
    with pytest.raises(Crash), crash_before(7):
        _upsert(table, (1, 2, "a", "y", "false"))
    timeline = table.timeline()
    (pending,) = timeline.pending()
    assert pending.state == INFLIGHT and pending.timestamp > first.instant
    assert [i.timestamp for i in timeline.completed_writes()] == [first.instant]
    assert _our_slices(table, None) == slices
    assert support.rows(table.snapshot()) == [(1, 1, "a", "x", "false")]


def test_schema_and_partitioning_are_the_tables(tmp_path):
    base = str(tmp_path / "t")
    table = _table(base, "COPY_ON_WRITE")
    assert table.schema is None and table.avro_schema is None and table.file_slices() == []
    assert table.timeline().completed_writes() == [] and table.latest_commit_time() is None
    _upsert(table, (1, 1, "a", "x", "false"))
    reopened = HudiTable.open(base)
    rs = hudi.HudiTableBuilder.from_base_uri(base).build()
    assert reopened.schema.names == SCHEMA.names == rs.get_schema().names
    assert reopened.schema_with_meta_fields.names == [*META_FIELDS, *SCHEMA.names]
    assert reopened.schema_with_meta_fields.names == rs.get_schema_with_meta_fields().names
    assert reopened.avro_schema == json.loads(rs.get_schema_in_avro_str())
    with_meta = json.loads(rs.get_schema_in_avro_str_with_meta_fields())
    assert [f["name"] for f in reopened.avro_schema_with_meta_fields["fields"]] == [
        f["name"] for f in with_meta["fields"]
    ]
    assert reopened.partition_fields == ("part",) == tuple(rs.get_partition_schema().names)
    assert reopened.record_key_fields == ("id",)
    assert reopened.config.hive_style_partitioning is True
