"""The on-disk format the writer produces, and its write semantics, checked file by file and
through hudi-rs."""

from __future__ import annotations

import json
import re
import shutil
import zlib
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lakehouse.hudi import (
    HudiConfig,
    HudiConfigError,
    HudiSchemaError,
    HudiTable,
    NotAHudiTableError,
    TableConfig,
    WriteOptions,
)
from lakehouse.hudi.bloom import might_contain
from lakehouse.hudi.logfile import AVRO_DATA_BLOCK, DELETE_BLOCK, read_blocks
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.write import _distinct
from tests.hudi import crash, support

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string()),
                    ("v", pa.string()), ("__deleted", pa.string())])  # fmt: skip


def rows(*items) -> pa.Table:
    return pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, (*i, "false") if len(i) == 4 else i, strict=True)) for i in items],
        schema=SCHEMA,
    )


def make(path: Path, table_type="COPY_ON_WRITE", **write) -> HudiTable:
    config = HudiConfig(TableConfig("trips", ("id",), "ts", ("city",), table_type=table_type),
                        WriteOptions(**write))  # fmt: skip
    return HudiTable.open_or_create(str(path), config)


def test_layout_matches_the_v6_format(tmp_path):
    base = tmp_path / "t"
    table = make(base)
    result = table.bulk_insert(rows((1, 1, "sf", "a"), (2, 1, "sf", "b"), (3, 1, "ny", "c")))
    meta = base / ".hoodie"
    props = dict(
        line.split("=", 1) for line in (meta / "hoodie.properties").read_text().splitlines()
        if not line.startswith("#")
    )  # fmt: skip
    assert props["hoodie.table.version"] == "6"
    assert props["hoodie.timeline.layout.version"] == "1"
    assert props["hoodie.table.checksum"] == str(zlib.crc32(b"default.trips"))
    assert props["hoodie.table.keygenerator.class"] == "org.apache.hudi.keygen.SimpleKeyGenerator"
    assert props["hoodie.table.timeline.timezone"] == "UTC"
    # as Spark writes it at creation: the data schema without meta fields (hudi-rs falls back
    # on it); the same schema as the first commit's
    create = json.loads(props["hoodie.table.create.schema"])
    assert (create["name"], create["namespace"]) == ("trips_record", "hoodie.trips")
    assert [f["name"] for f in create["fields"]] == SCHEMA.names
    assert not (meta / "hoodie.properties.backup").exists()
    for d in (".aux/.bootstrap/.partitions", ".aux/.bootstrap/.fileids", ".schema", "archived"):
        assert (meta / d).is_dir()
    t = result.instant
    assert re.fullmatch(r"\d{17}", t)
    assert (meta / f"{t}.commit.requested").read_bytes() == b""
    assert (meta / f"{t}.inflight").exists()
    commit = json.loads((meta / f"{t}.commit").read_text())
    assert commit["operationType"] == "BULK_INSERT" and commit["compacted"] is False
    schema = json.loads(commit["extraMetadata"]["schema"])
    assert schema == create
    assert (schema["name"], schema["namespace"]) == ("trips_record", "hoodie.trips")
    assert schema["fields"][0] == {"name": "id", "type": ["null", "long"], "default": None}
    (stat,) = commit["partitionToWriteStats"]["city=sf"]
    assert stat["prevCommit"] == "null" and stat["numInserts"] == stat["numWrites"] == 2
    path = base / stat["path"]
    assert path.stat().st_size == stat["fileSizeInBytes"] == stat["totalWriteBytes"]
    assert re.fullmatch(
        rf"{re.escape(stat['fileId'])}_\d+-\d+-\d+_{t}\.parquet", path.name
    ) and re.fullmatch(r"[0-9a-f-]{36}-0", stat["fileId"])
    partition_meta = (base / "city=sf" / ".hoodie_partition_metadata").read_text().splitlines()
    assert partition_meta[0] == "#partition metadata"
    assert partition_meta[2:] == [f"commitTime={t}", "partitionDepth=1"]
    f = pq.ParquetFile(path)
    assert f.schema_arrow.names[:5] == ["_hoodie_commit_time", "_hoodie_commit_seqno",
                                        "_hoodie_record_key", "_hoodie_partition_path",
                                        "_hoodie_file_name"]  # fmt: skip
    data = f.read().to_pylist()
    assert [r["_hoodie_commit_seqno"] for r in data] == [f"{t}_1_0", f"{t}_1_1"]
    assert {r["_hoodie_file_name"] for r in data} == {path.name}
    footer = f.metadata.metadata
    assert footer[b"hoodie_bloom_filter_type_code"] == b"DYNAMIC_V0"
    assert (footer[b"hoodie_min_record_key"], footer[b"hoodie_max_record_key"]) == (b"1", b"2")
    bloom = footer[b"org.apache.hudi.bloomfilter"].decode()
    assert might_contain(bloom, "1") and might_contain(bloom, "2")
    assert not might_contain(bloom, "3")
    # column statistics for pruning: on the data and commit times, not on the unique meta
    # strings (the key range is in the footer keys above)
    group = f.metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(8)}
    assert (stats["id"].min, stats["id"].max) == (1, 2) and stats["city"].has_min_max
    assert stats["_hoodie_commit_time"].has_min_max
    assert stats["_hoodie_commit_seqno"] is None and stats["_hoodie_record_key"] is None


def test_precombine_latest_wins_in_either_order_and_ties_go_to_the_later_row(tmp_path):
    for order in ((100, "A"), (200, "B")), ((200, "B"), (100, "A")):
        base = tmp_path / f"t{order[0][0]}"
        make(base).upsert(rows(*[(7, ts, "sf", v) for ts, v in order]))
        assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(7, "B")]
    base = tmp_path / "tie"
    make(base).upsert(rows((7, 5, "sf", "first"), (7, 5, "sf", "second")))
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(7, "second")]


def test_event_time_ordering_keeps_newer_stored_records(tmp_path):
    base = tmp_path / "t"
    table = make(base)
    table.upsert(rows((1, 10, "sf", "new")))
    result = table.upsert(rows((1, 5, "sf", "old"), (2, 5, "sf", "x")))
    assert (result.unchanged, result.inserted) == (1, 1)
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(1, "new"), (2, "x")]


def test_carried_over_rows_keep_their_commit_time(tmp_path):
    base = tmp_path / "t"
    table = make(base)
    first = table.upsert(rows((1, 1, "sf", "a"), (2, 1, "sf", "b")))
    second = table.upsert(rows((1, 2, "sf", "a2")))
    snap = {r["id"]: r for r in support.snapshot(str(base)).to_pylist()}
    assert snap[1]["_hoodie_commit_time"] == second.instant
    assert snap[2]["_hoodie_commit_time"] == first.instant
    assert snap[2]["_hoodie_commit_seqno"].startswith(first.instant)
    assert snap[1]["_hoodie_file_name"] == snap[2]["_hoodie_file_name"]
    assert second.instant in snap[2]["_hoodie_file_name"]


def test_small_files_take_new_inserts_before_new_file_groups(tmp_path):
    base = tmp_path / "t"
    table = make(base, small_file_limit=10_000_000, max_file_size=20_000_000,
                 record_size_estimate=1_000_000)  # room for 20 records per file  # fmt: skip
    table.insert(rows(*[(i, 1, "sf", "x") for i in range(5)]))
    second = table.insert(rows(*[(i, 1, "sf", "x") for i in range(5, 30)]))
    # 15 fill the existing file group, the other 10 open one new group
    assert (second.files_updated, second.files_created) == (1, 1)
    snap = support.snapshot(str(base))
    groups = {n.split("_")[0] for n in snap.column("_hoodie_file_name").to_pylist()}
    assert len(groups) == 2 and snap.num_rows == 30


def test_merge_on_read_logs_compaction_and_read_optimized(tmp_path):
    base = tmp_path / "t"
    table = make(base, "MERGE_ON_READ", compaction_delta_commits=3, delete_mode="hard")
    table.upsert(rows((1, 1, "sf", "a"), (2, 1, "sf", "b"), (3, 1, "ny", "c")))
    second = table.upsert(rows((1, 2, "sf", "a2"), (3, 2, "la", "c-moved"),
                               (2, 2, "sf", None, "true")))  # fmt: skip
    assert second.log_files == 2 and second.compaction_instant is None
    rt = {r["id"]: r for r in support.snapshot(str(base)).to_pylist()}
    assert set(rt) == {1, 3} and rt[1]["v"] == "a2" and rt[3]["city"] == "la"
    assert rt[1]["_hoodie_file_name"] == rt[1]["_hoodie_file_name"].split("_")[0]  # a log record
    ro = support.rows(support.read_optimized(str(base)), ("id", "v"))
    assert ro == [(1, "a"), (2, "b"), (3, "c"), (3, "c-moved")]
    # the log file: an Avro data block and a delete block, as Hudi lays them out
    commit = json.loads((base / ".hoodie" / f"{second.instant}.deltacommit").read_text())
    log_stat = next(s for s in commit["partitionToWriteStats"]["city=sf"] if ".log." in s["path"])
    assert log_stat["baseFile"].endswith(".parquet") and log_stat["logVersion"] == 1
    assert log_stat["logFiles"] == [Path(log_stat["path"]).name]
    data = (base / log_stat["path"]).read_bytes()
    blocks = read_blocks(data, "log")
    assert [b.type for b in blocks] == [AVRO_DATA_BLOCK, DELETE_BLOCK]
    assert all(b.instant == second.instant for b in blocks)
    third = table.upsert(rows((4, 3, "sf", "d")))
    assert third.compaction_instant
    c = third.compaction_instant
    plan = next(fastavro.reader((base / ".hoodie" / f"{c}.compaction.requested").open("rb")))
    assert {op["fileId"] for op in plan["operations"]} >= {log_stat["fileId"]}
    done = json.loads((base / ".hoodie" / f"{c}.commit").read_text())
    assert done["compacted"] is True and done["operationType"] == "COMPACT"
    ro = support.read_optimized(str(base))
    rt = support.snapshot(str(base))
    assert support.rows(ro, SCHEMA.names) == support.rows(rt, SCHEMA.names)
    assert sorted(ro.column("_hoodie_file_name").to_pylist()) == sorted(
        rt.column("_hoodie_file_name").to_pylist()
    )
    assert support.rows(support.as_of(str(base), second.instant), ("id", "v")) == [
        (1, "a2"), (3, "c-moved")
    ]  # fmt: skip


def test_cleaner_keeps_the_last_commits_file_versions(tmp_path):
    base = tmp_path / "t"
    table = make(base, commits_retained=2)
    instants = [table.upsert(rows((1, i, "sf", f"v{i}"))).instant for i in range(4)]
    files = sorted(p.name for p in (base / "city=sf").glob("*.parquet"))
    assert [f.rsplit("_", 1)[1][:-8] for f in files] == instants[-2:]
    cleans = sorted((base / ".hoodie").glob("*.clean"))
    assert cleans
    meta = next(fastavro.reader(cleans[-1].open("rb")))
    assert meta["policy"] == "KEEP_LATEST_COMMITS" and meta["totalFilesDeleted"] >= 1
    schema = fastavro.reader(cleans[-1].open("rb")).writer_schema
    assert schema["name"] == "org.apache.hudi.avro.model.HoodieCleanMetadata"
    # queries as of the retained commits still work
    assert support.rows(support.as_of(str(base), instants[-2]), ("id", "v")) == [(1, "v2")]
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(1, "v3")]


def test_a_crashed_write_is_rolled_back_with_a_rollback_instant(tmp_path):
    base = tmp_path / "t"
    table = make(base)
    table.upsert(rows((1, 1, "sf", "a")))
    with pytest.raises(crash.Crash), crash.crash_before(6):
        make(base).upsert(rows((1, 2, "sf", "b"), (2, 2, "ny", "c")))
    result = make(base).upsert(rows((3, 3, "sf", "d")))
    assert len(result.rolled_back) == 1
    (rollback,) = (base / ".hoodie").glob("*.rollback")
    meta = next(fastavro.reader(rollback.open("rb")))
    assert meta["commitsRollback"] == list(result.rolled_back)
    assert not list((base / ".hoodie").glob(f"{result.rolled_back[0]}*"))
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(1, "a"), (3, "d")]


def test_markers_name_every_data_file_before_it_is_written(tmp_path, monkeypatch):
    """A write that dies just before its commit file leaves its data files named in Hudi's
    timeline-server-based markers; the next write deletes exactly those files."""
    base = tmp_path / "t"
    make(base).upsert(rows((1, 1, "sf", "a"), (2, 1, "ny", "b")))
    before = {str(p.relative_to(base)) for p in base.rglob("*.parquet")}
    original = Storage.write_new

    def die_at_the_commit(self, rel, data):
        if rel.endswith(".commit"):
            raise crash.Crash(rel)
        return original(self, rel, data)

    monkeypatch.setattr(Storage, "write_new", die_at_the_commit)
    with pytest.raises(crash.Crash):
        make(base).upsert(rows((1, 2, "sf", "a2"), (3, 2, "la", "c")))
    monkeypatch.setattr(Storage, "write_new", original)
    (marker_dir,) = [d for d in (base / ".hoodie" / ".temp").iterdir() if d.is_dir()]
    assert (marker_dir / "MARKERS.type").read_text() == "TIMELINE_SERVER_BASED"
    lines = (marker_dir / "MARKERS0").read_text().split()
    named = {line.rsplit(".marker.", 1)[0] for line in lines}
    written = {str(p.relative_to(base)) for p in base.rglob("*.parquet")} - before
    assert len(written) == 2 and written == named  # the sf rewrite and the new la file
    assert sorted(line.rsplit(".", 1)[1] for line in lines) == ["CREATE", "MERGE"]
    result = make(base).upsert(rows((4, 3, "sf", "d")))
    assert result.rolled_back == (marker_dir.name,)
    assert not any((base / name).exists() for name in named)
    expected = [(1, "a"), (2, "b"), (4, "d")]
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == expected


def test_a_failed_write_with_direct_markers_is_rolled_back(tmp_path):
    """Writers that use one marker file per data file (Hudi's direct markers) leave those on a
    failure; their files are deleted too."""
    base = tmp_path / "t"
    table = make(base)
    table.upsert(rows((1, 1, "sf", "a")))
    (existing,) = (base / "city=sf").glob("*.parquet")
    failed = "29990101000000000"
    meta = base / ".hoodie"
    (meta / f"{failed}.commit.requested").write_bytes(b"")
    (meta / f"{failed}.inflight").write_bytes(b"")
    name = f"{existing.name.split('_')[0]}_0-1-0_{failed}.parquet"
    shutil.copy(existing, base / "city=sf" / name)
    marker = meta / ".temp" / failed / "city=sf" / f"{name}.marker.MERGE"
    marker.parent.mkdir(parents=True)
    marker.write_bytes(b"")
    result = make(base).upsert(rows((2, 2, "sf", "b")))
    assert result.rolled_back == (failed,)
    assert not (base / "city=sf" / name).exists() and not (meta / ".temp" / failed).exists()
    assert support.rows(support.snapshot(str(base)), ("id", "v")) == [(1, "a"), (2, "b")]


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "data, message",
    [
        (pa.table({"ts": [1], "city": ["sf"]}), "no record key field 'id'"),
        (pa.table({"id": [1], "city": ["sf"]}), "no ordering (precombine) field 'ts'"),
        (pa.table({"id": [None, 2], "ts": [1, 1], "city": ["sf", "sf"]}), "null or empty in 1"),
        (pa.table({"id": [1], "ts": [1], "city": ["sf"], "extra": [1]}), "'extra' is not in"),
        (pa.table({"id": [1], "ts": ["soon"], "city": ["sf"]}), "field 'ts': cannot store"),
        (pa.table({"id": [1], "ts": [1], "city": ["a/b"]}), "'a/b', which would split"),
        (pa.table({"id": [1], "ts": [None], "city": ["sf"]}, schema=pa.schema(
            [("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string())])), "is null in 1"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_leaves_the_table_untouched(tmp_path, data, message):
    base = tmp_path / "t"
    make(base).upsert(rows((1, 1, "sf", "a")))
    before = _tree(base)
    with pytest.raises(HudiSchemaError, match=re.escape(message)):
        make(base).upsert(data)
    assert _tree(base) == before


def test_opening_checks_the_table(tmp_path):
    with pytest.raises(NotAHudiTableError, match="is not a Hudi table"):
        HudiTable.open(str(tmp_path / "missing"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.parquet").write_bytes(b"x")
    with pytest.raises(NotAHudiTableError, match="not empty"):
        make(tmp_path / "other")
    make(tmp_path / "t").upsert(rows((1, 1, "sf", "a")))
    other = HudiConfig(TableConfig("trips", ("id",), "ts", ("v",)))
    with pytest.raises(HudiConfigError, match="hoodie.table.partition.fields"):
        HudiTable.open_or_create(str(tmp_path / "t"), other)


def test_merge_on_read_snapshot_of_some_columns(tmp_path):
    # Merging logs needs the record key; asking for other columns only must still work.
    from lakehouse.hudi import HudiConfig, HudiTable, TableConfig

    config = HudiConfig(TableConfig("t", ("id",), "ts", ("part",), table_type="MERGE_ON_READ"))
    table = HudiTable.open_or_create(str(tmp_path / "t"), config)
    rows = pa.table({"id": [1, 2], "ts": [1, 1], "part": ["a", "b"], "v": ["x", "y"]})
    table.upsert(rows)
    table.upsert(pa.table({"id": [2], "ts": [2], "part": ["b"], "v": ["z"]}))
    got = table.snapshot(columns=["id", "v"])
    assert got.column_names == ["id", "v"]
    assert sorted(got.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "v": "x"},
        {"id": 2, "v": "z"},
    ]


@pytest.mark.parametrize("per_file", [1000, 7])
def test_bulk_insert_writes_each_partitions_rows_in_key_order(tmp_path, per_file):
    """Hudi's bulk insert sort: every base file holds its partition's rows sorted by record key,
    with sequence numbers in file order; a partition larger than a file is sorted before it is
    split, so its files hold consecutive key ranges."""
    ids = [(i * 7919) % 40 for i in range(40)]  # shuffled, keys "0".."39" sort as strings
    cities = ["a", "b", "c"]
    table = make(tmp_path / "t", max_file_size=per_file * 1024, record_size_estimate=1024)
    table.bulk_insert(rows(*[(i, 1, cities[i % 3], f"v{i}") for i in ids]))
    ranges: dict[str, list[list[str]]] = {}
    for path in sorted((tmp_path / "t").rglob("*.parquet")):
        got = pq.read_table(path, columns=["_hoodie_record_key", "_hoodie_commit_seqno", "city"])
        keys = got.column("_hoodie_record_key").to_pylist()
        assert keys == sorted(keys) and len(keys) <= per_file
        seq = [int(s.rsplit("_", 1)[1]) for s in got.column("_hoodie_commit_seqno").to_pylist()]
        assert seq == list(range(len(keys)))
        (city,) = set(got.column("city").to_pylist())
        assert path.parent.name.rpartition("=")[2] == city
        ranges.setdefault(city, []).append(keys)
    assert sorted(ranges) == cities
    for city, files in ranges.items():
        files.sort()
        want = sorted(str(i) for i in ids if cities[i % 3] == city)
        assert [k for keys in files for k in keys] == want, city


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "uint64"]).flatmap(
        lambda t: st.tuples(
            st.just(t),
            st.lists(st.integers(np.iinfo(t).min, np.iinfo(t).max), max_size=300)
            | st.lists(st.integers(np.iinfo(t).min, np.iinfo(t).min + 40), max_size=30),
        )
    )
)
@example(("int8", list(range(-128, 128))))  # a small type's whole range, all distinct
@example(("int8", [-128, 127] * 40))
def test_integer_keys_are_found_distinct_exactly_when_they_are(typed):
    """The bulk load's shortcut past combining: right for any integer type, range and
    duplicates (the counting pass near a type's minimum and over a small type's whole range,
    the sort for wide ranges)."""
    dtype, values = typed
    assert _distinct(np.array(values, dtype=dtype)) == (len(set(values)) == len(values))


def test_the_filesystem_is_injected_and_nothing_else_is_reached(tmp_path):
    """hudi-rs's shape: the table's Storage works over the filesystem it is given. A scheme
    this package cannot resolve alone is written wherever the given function puts it, every
    URI (base path, commit metadata) keeps the scheme, and without one it is a config error
    naming the URI."""
    import pyarrow.fs as pafs

    asked = []

    def lakefs(uri: str):
        asked.append(uri)
        return pafs.LocalFileSystem(), str(tmp_path / "disk" / uri.removeprefix("lake://"))

    config = HudiConfig(TableConfig("trips", ("id",), "ts", ("city",)))
    table = HudiTable.open_or_create("lake://t", config, filesystem=lakefs)
    table.bulk_insert(rows((1, 1, "sf", "a"), (2, 1, "ny", "b")))
    assert asked and set(asked) == {"lake://t"}
    assert (tmp_path / "disk" / "t" / ".hoodie" / "hoodie.properties").is_file()
    again = HudiTable.open("lake://t", filesystem=lakefs)
    assert again.base_path == "lake://t"
    assert sorted(again.snapshot(columns=["id"]).column("id").to_pylist()) == [1, 2]
    assert {again.uri_of(s.base_path).rsplit("/", 1)[0] for s in again.file_slices()} == {
        "lake://t/city=ny",
        "lake://t/city=sf",
    }
    with pytest.raises(HudiConfigError, match=r"^s3://b/t: no filesystem given for this scheme"):
        HudiTable.open("s3://b/t")
