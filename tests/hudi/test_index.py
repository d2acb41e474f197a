"""The key lookup (footer pruning) and the rewrite path it feeds: only file groups that can hold
an incoming key are read, a rewritten file's bloom filter still holds every key in it, and
files rewritten with dictionary-read columns hold the right rows."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions
from lakehouse.hudi.bloom import (
    DEFAULT_SIZING,
    NUM_ENTRIES,
    BloomSizing,
    b64decode,
    b64encode,
    dynamic_bloom_filter,
    extend_filter,
    hash_positions,
    might_contain,
)
from lakehouse.hudi.index import footer_of, locate
from lakehouse.hudi.timeline import Timeline
from tests.hudi import support

SCHEMA = pa.schema([("id", pa.string()), ("ts", pa.int64()), ("city", pa.string()),
                    ("v", pa.string()), ("__deleted", pa.string())])  # fmt: skip
CITIES = ("ams", "ber", "cph", "dub", "edi")


def _table(path: Path, **write) -> HudiTable:
    config = HudiConfig(TableConfig("idx", ("id",), "ts", ("city",)),
                        WriteOptions(delete_mode="hard", **write))  # fmt: skip
    return HudiTable.open_or_create(str(path), config)


def _rows(ids, ts=1, city=None, v="x", deleted="false") -> pa.Table:
    return pa.Table.from_pylist(
        [{"id": i, "ts": ts, "city": city or CITIES[int(i[1:]) // 1000], "v": v,
          "__deleted": deleted} for i in ids],
        schema=SCHEMA,
    )  # fmt: skip


def _lookup(table: HudiTable, keys: list[str]):
    """Run the lookup over the table's latest slices, recording which slices it read."""
    timeline = Timeline(table.storage)
    slices = table._view(timeline).latest_slices()
    read = []

    def read_keys(sl, columns, opened):
        read.append(sl.file_id)
        return table._read_base(sl.base_path, columns, opened=opened)

    located = locate(pa.array(keys, pa.string()), slices, table.storage, read_keys, "ts",
                     lambda fn, items: [fn(i) for i in items])  # fmt: skip
    return slices, located, read


# Hudi's default filter, and one a table configured smaller (hoodie.index.bloom.*): the lookup
# hashes the keys the way each file's own filter says.
@pytest.mark.parametrize("sizing", [DEFAULT_SIZING, BloomSizing(num_entries=2000, fpp=1e-6)])
def test_lookup_reads_only_file_groups_that_can_hold_the_keys(tmp_path, sizing):
    table = _table(tmp_path / "t", bloom=sizing)
    # five partitions, one file group each, keys k0000..k4999 (k1xxx in ber, ...)
    table.bulk_insert(_rows([f"k{i:04d}" for i in range(5000)]))
    slices, located, read = _lookup(table, ["k1234", "k3001", "zzz", "k0500x"])
    by_id = {sl.file_id: sl.partition for sl in slices}
    assert len(slices) == 5
    # the bloom filters rule out every file but the two holding a key ("k0500x" sorts inside
    # the ams file's key range but is not in it)
    assert sorted(by_id[f] for f in read) == ["city=ber", "city=dub"]
    assert [by_id[slices[i].file_id] if i >= 0 else None for i in located.slice_index] == [
        "city=ber", "city=dub", None, None
    ]  # fmt: skip
    assert located.ordering.to_pylist() == [1, 1, None, None]
    # 100 keys against 1000-row files: NB_HASH bloom probes per key would cost more than reading
    # the keys, so only the key ranges prune; every file group whose range overlaps is read
    _, located, read = _lookup(table, [f"k{i:04d}" for i in range(1000, 1100)])
    assert sorted(by_id[f] for f in read) == ["city=ber"]
    assert (located.slice_index >= 0).all()


def test_upserts_through_pruned_lookups_keep_one_row_per_key(tmp_path):
    table = _table(tmp_path / "t")
    table.bulk_insert(_rows([f"k{i:04d}" for i in range(5000)]))
    # an update, a partition move (ams -> edi), a delete and an insert, one commit each
    table.upsert(_rows(["k1234"], ts=2, v="updated"))
    table.upsert(_rows(["k0007"], ts=2, city="edi", v="moved"))
    table.upsert(_rows(["k2500"], ts=2, deleted="true"))
    table.upsert(_rows(["k9999"], ts=2, city="ams", v="new"))
    snap = {r["id"]: r for r in support.snapshot(str(tmp_path / "t")).to_pylist()}
    assert len(snap) == 5000
    assert snap["k1234"]["v"] == "updated" and snap["k0007"]["city"] == "edi"
    assert "k2500" not in snap and snap["k9999"]["_hoodie_partition_path"] == "city=ams"


def _bloom_header(path: Path) -> tuple[int, int]:
    raw = base64.b64decode(pq.ParquetFile(path).metadata.metadata[b"org.apache.hudi.bloomfilter"])
    _, _, _, _, _, current, rows = struct.unpack_from(">iibiiii", raw, 0)
    return current, rows


def test_rewritten_files_keep_a_bloom_filter_that_holds_every_key(tmp_path):
    base = tmp_path / "t"
    table = _table(base)
    table.bulk_insert(_rows([f"k{i:04d}" for i in range(3000)]))
    # updates, deletes, moves out and inserts into the ams and ber file groups
    changes = pa.concat_tables([
        _rows([f"k{i:04d}" for i in range(0, 300)], ts=2, v="u"),
        _rows([f"k{i:04d}" for i in range(300, 400)], ts=2, deleted="true"),
        _rows([f"k{i:04d}" for i in range(1000, 1100)], ts=2, city="ams", v="moved"),
        _rows([f"n{i:04d}" for i in range(200)], ts=2, city="ber", v="new"),
    ])  # fmt: skip
    result = table.upsert(changes)
    assert (result.updated, result.deleted, result.inserted) == (400, 100, 200)
    expected = {f"k{i:04d}" for i in range(3000)} - {f"k{i:04d}" for i in range(300, 400)}
    expected |= {f"n{i:04d}" for i in range(200)}
    snap = support.snapshot(str(base))
    assert sorted(snap.column("id").to_pylist()) == sorted(expected)
    rows = {r["id"]: r for r in snap.to_pylist()}
    assert rows["k0001"]["v"] == "u" and rows["k0001"]["city"] == "ams"
    assert rows["k1050"]["city"] == "ams" and rows["k1050"]["v"] == "moved"
    assert rows["k2000"]["v"] == "x" and rows["k2000"]["_hoodie_commit_time"] != result.instant
    for name in ("city=ams", "city=ber"):
        (path,) = [p for p in (base / name).glob(f"*_{result.instant}.parquet")]
        f = pq.ParquetFile(path)
        keys = f.read(columns=["_hoodie_record_key"]).column(0).to_pylist()
        bloom = f.metadata.metadata[b"org.apache.hudi.bloomfilter"].decode()
        assert all(might_contain(bloom, k) for k in keys[:: max(1, len(keys) // 50)])
        # every key the file held before, or holds now, is counted (removed keys keep bits)
        current, rows_ = _bloom_header(path)
        assert rows_ == 1 and current >= len(keys)
        meta = f.metadata.metadata
        assert meta[b"hoodie_min_record_key"].decode() == min(keys)
        assert meta[b"hoodie_max_record_key"].decode() == max(keys)
        # the few-valued string columns were rewritten from dictionaries: the file reads back
        # as plain strings with the right values
        t = f.read()
        assert t.schema.field("city").type == pa.string()
        assert set(t.column("city").to_pylist()) == {name.split("=")[1]}
        assert set(t.column("_hoodie_file_name").to_pylist()) == {path.name}


def test_few_valued_columns_are_read_as_dictionaries(tmp_path):
    table = _table(tmp_path / "t")
    table.bulk_insert(_rows([f"k{i:04d}" for i in range(2000)]))
    (path,) = (tmp_path / "t" / "city=ams").glob("*.parquet")
    footer = footer_of(pq.ParquetFile(path).metadata)
    assert {"city", "__deleted", "_hoodie_partition_path"} <= set(footer.dictionary_columns)
    assert "id" not in footer.dictionary_columns and "_hoodie_commit_seqno" not in (
        footer.dictionary_columns
    )  # fmt: skip


keys = st.lists(st.text(min_size=1, max_size=12), max_size=60, unique=True)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(old=keys, new=keys)
def test_extending_a_filter_equals_building_it_from_all_keys(old, new):
    new = [k for k in new if k not in old]
    old_filter = dynamic_bloom_filter(pa.array(old, pa.string()))
    positions = hash_positions(pa.array(new, pa.string()))
    extended = extend_filter(old_filter, positions)
    assert extended == dynamic_bloom_filter(pa.array(old + new, pa.string()))
    assert all(might_contain(extended, k) for k in old + new)


def test_a_filter_is_rebuilt_once_extending_would_exceed_its_capacity():
    full = dynamic_bloom_filter(pa.array([f"k{i}" for i in range(NUM_ENTRIES - 1)], pa.string()))
    one = hash_positions(pa.array(["x"], pa.string()))
    two = hash_positions(pa.array(["x", "y"], pa.string()))
    assert extend_filter(full, one) is not None
    assert extend_filter(full, two) is None
    assert extend_filter("bm90IGEgZmlsdGVy", one) is None


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=100))
def test_base64_matches_the_standard_library(data):
    text = base64.b64encode(data).decode()
    assert b64encode(data) == text
    assert b64decode(text).tobytes() == data


def test_malformed_filters_are_not_used():
    assert extend_filter("not base64!", hash_positions(pa.array(["x"], pa.string()))) is None


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_hash_positions_do_not_depend_on_the_other_keys(n):
    keys = [f"key-{i}" * (i % 3 + 1) for i in range(n)]
    together = hash_positions(pa.array(keys, pa.string()))
    alone = np.vstack([hash_positions(pa.array([k], pa.string())) for k in keys])
    assert (together == alone).all()


def test_repeated_incoming_keys_are_all_looked_up(tmp_path):
    """Insert without combining: both copies of a stored key are dropped by --filter-dupes, both
    copies of a new key are written (Hudi's INSERT keeps duplicates it is given)."""
    base = tmp_path / "t"
    table = _table(base, filter_dupes=True, combine_before_insert=False)
    table.bulk_insert(_rows([f"k{i:04d}" for i in range(10)]))
    result = table.insert(_rows(["k0001", "k0001", "n0001", "n0001"], city="ams", ts=2))
    assert result.inserted == 2
    ids = support.snapshot(str(base)).column("id").to_pylist()
    assert sorted(ids) == sorted([f"k{i:04d}" for i in range(10)] + ["n0001", "n0001"])
