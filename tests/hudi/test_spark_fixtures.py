"""Appending to tables written by Apache Hudi on Spark (the fixtures): the writer takes keys,
partitioning and key generator from their hoodie.properties, and hudi-rs still reads them with
the right rows."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakehouse.hudi import HudiTable
from lakehouse.hudi.bloom import dynamic_bloom_filter
from lakehouse.hudi.schema import META_FIELDS
from tests.hudi import support

FIXTURES = [
    "quickstart_trips_table_mor_avro_v6_trips_8i1u",
    "sample_table_cow_v6_nonpartitioned",
    "sample_table_cow_v6_simplekeygen_nonhivestyle",
    "sample_table_mor_parquet_v6_simplekeygen_nonhivestyle",
]


def _extract(fixtures_dir: Path, name: str, target: Path) -> str:
    with zipfile.ZipFile(fixtures_dir / "hudi" / f"{name}.zip") as z:
        members = [m for m in z.namelist() if not m.startswith("__MACOSX")]
        z.extractall(target, members)
    (table_dir,) = {m.split("/")[0] for m in members}
    return str(target / table_dir)


def _data(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in META_FIELDS if c in table.column_names])


def _by_key(table: pa.Table, key: str) -> dict:
    return {str(r[key]): r for r in _data(table).to_pylist()}


@pytest.mark.parametrize("name", FIXTURES)
def test_upsert_into_spark_written_table(fixtures_dir, tmp_path, name):
    base = _extract(fixtures_dir, name, tmp_path)
    table = HudiTable.open(base)
    key = table.config.record_key_fields[0]
    ordering = table.config.precombine_field
    before = support.snapshot(base)
    assert before.num_rows > 0
    data = _data(before)
    # update the first record (a later ordering value), and insert a copy under a new key
    first = data.slice(0, 1)
    updated = first.set_column(
        first.schema.get_field_index(ordering), ordering, pc.add(first.column(ordering), 1)
    )
    if "name" in data.column_names:
        updated = updated.set_column(
            updated.schema.get_field_index("name"), "name", pa.array(["Updated"])
        )
    elif "rider" in data.column_names:
        updated = updated.set_column(
            updated.schema.get_field_index("rider"), "rider", pa.array(["Updated"])
        )
    new_key = pa.array([9999] if pa.types.is_integer(data.schema.field(key).type) else ["new-key"])
    inserted = first.set_column(first.schema.get_field_index(key), key,
                                new_key.cast(data.schema.field(key).type))  # fmt: skip
    result = table.upsert(pa.concat_tables([updated, inserted]))
    assert (result.updated, result.inserted) == (1, 1)

    after = support.snapshot(base)
    expected = _by_key(before, key)
    old_key = str(first.column(key)[0].as_py())
    expected[old_key] = updated.to_pylist()[0]
    expected[str(new_key[0].as_py())] = inserted.to_pylist()[0]
    assert _by_key(after, key) == expected
    # meta fields of the new rows name this commit; the earlier ones are untouched
    keys = after.column("_hoodie_record_key").to_pylist()
    commit_times = dict(zip(keys, after.column("_hoodie_commit_time").to_pylist(), strict=True))
    assert commit_times[old_key] == result.instant
    assert commit_times[str(new_key[0].as_py())] == result.instant
    # time travel to the Spark commits still gives the Spark rows
    last_spark = max(before.column("_hoodie_commit_time").to_pylist())
    assert support.rows(support.as_of(base, last_spark), data.column_names[:2]) == support.rows(
        before, data.column_names[:2]
    )
    # incremental over our commit returns exactly the two changed records
    incr = support.incremental(base, last_spark, result.instant)
    assert sorted(incr.column("_hoodie_record_key").to_pylist()) == sorted(
        [old_key, str(new_key[0].as_py())]
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_partition_move_and_delete_in_spark_written_table(fixtures_dir, tmp_path, name):
    """A record moves to another partition (where the table has partitions) and another is
    deleted; both Spark's file groups and ours then hold exactly one row per live key."""
    base = _extract(fixtures_dir, name, tmp_path)
    table = HudiTable.open(base)
    key = table.config.record_key_fields[0]
    ordering = table.config.precombine_field
    before = support.snapshot(base)
    data = _data(before).sort_by(key)
    assert data.num_rows >= 3
    expected = _by_key(before, key)
    mover = data.slice(0, 1)
    mover = mover.set_column(
        mover.schema.get_field_index(ordering), ordering, pc.add(mover.column(ordering), 1)
    )
    fields = table.config.partition_fields
    if fields:
        field = fields[0]
        values = sorted({v for v in data.column(field).to_pylist() if v is not None})
        assert len(values) >= 2, "the fixture needs two partitions"
        current = mover.column(field)[0].as_py()
        target = next(v for v in values if v != current)
        mover = mover.set_column(
            mover.schema.get_field_index(field),
            field,
            pa.array([target], data.schema.field(field).type),
        )
    moved = table.upsert(mover)
    assert moved.updated == 1 and moved.inserted == 0
    expected[str(mover.column(key)[0].as_py())] = mover.to_pylist()[0]

    gone = str(data.column(key)[1].as_py())
    deleted = table.delete(data.slice(1, 1).select([key]))
    assert deleted.deleted == 1
    del expected[gone]

    after = support.snapshot(base)
    assert _by_key(after, key) == expected
    assert sorted(after.column("_hoodie_record_key").to_pylist()) == sorted(expected)
    row = next(r for r in after.to_pylist() if str(r[key]) == str(mover.column(key)[0].as_py()))
    if fields:
        assert row["_hoodie_partition_path"].split("=")[-1] == str(target)
    # the writer's own reader agrees
    assert _by_key(table.snapshot(), key) == expected
    # time travel to before our commits still shows Spark's rows
    assert _by_key(support.as_of(base, max(before.column("_hoodie_commit_time").to_pylist())),
                   key) == _by_key(before, key)  # fmt: skip


def test_bloom_filters_match_spark_byte_for_byte(fixtures_dir, tmp_path):
    import pyarrow.parquet as pq

    count = 0
    for name in FIXTURES:
        base = Path(_extract(fixtures_dir, name, tmp_path / name))
        for path in base.rglob("*.parquet"):
            f = pq.ParquetFile(path)
            keys = f.read(columns=["_hoodie_record_key"]).column(0).combine_chunks()
            assert (
                dynamic_bloom_filter(keys)
                == f.metadata.metadata[b"org.apache.hudi.bloomfilter"].decode()
            ), path
            count += 1
    assert count >= 10
