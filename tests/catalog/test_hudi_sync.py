"""Hudi tables in the catalog after sequences of commits that add, move, delete and compact:
the local relations return exactly what hudi-rs (the official reader) returns, and the catalog,
local or Glue on moto_server, lists exactly the partitions that hold rows."""

import tempfile
from pathlib import Path

import boto3
import dagster as dg
import pyarrow as pa
import pytest
from dagster_aws.s3 import S3Resource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.hudi_sync import LAST_SYNC, READ_OPTIMIZED, HudiState
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.defs.catalog.assets import build_catalog_asset
from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.storage import S3ObjectStore
from lakehouse.warehouse import local_warehouse
from tests.hudi import support
from tests.support.moto import CREDENTIALS, moto_server

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("part", pa.string()),
                    ("v", pa.string()), ("__deleted", pa.string())])  # fmt: skip
TYPES = ("COPY_ON_WRITE", "MERGE_ON_READ")


def batch(*rows) -> pa.Table:
    """(id, part, v) upserts; v=None deletes the key (hard delete)."""
    return pa.Table.from_pylist(
        [{"id": i, "ts": 0, "part": p, "v": v, "__deleted": "true" if v is None else "false"}
         for i, p, v in rows],
        schema=SCHEMA,
    )  # fmt: skip


def make_table(base: Path, table_type: str) -> HudiTable:
    config = HudiConfig(
        TableConfig("t", ("id",), "ts", ("part",), table_type=table_type),
        WriteOptions(delete_mode="hard", compaction_delta_commits=3, parallelism=1),
    )
    return HudiTable.open_or_create(str(base), config)


# Adds partitions a-c; moves 2 to d; empties b (3 deleted); revives b and empties c; then more
# commits, so MoR compacts (every 3 delta commits) with b, c and d in different states.
SEQUENCE = [
    [(1, "a", "x"), (2, "b", "y"), (3, "b", "z"), (4, "c", "w")],
    [(2, "d", "y2"), (1, "a", "x2")],
    [(3, "b", None)],
    [(5, "b", "n"), (4, "c", None)],
    [(1, "a", "x3"), (6, "e", "m")],
    [(6, "e", None), (2, "a", "y3")],
]


def oracle(base: str, query: str) -> pa.Table:
    if query == READ_OPTIMIZED:
        return support.read_optimized(base)
    return support.snapshot(base)


def live_partitions(rows: pa.Table) -> set[tuple[str, ...]]:
    if rows.num_rows == 0:
        return set()
    return {(p.split("=", 1)[1],) for p in rows.column("_hoodie_partition_path").to_pylist()}


def sorted_rows(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=repr)


def check_local(catalog: LocalCatalog, base: str) -> list:
    """Syncs every catalog table of the Hudi table; asserts rows and partitions; returns the
    sync reports."""
    state = HudiState(base)
    reports = []
    for entry in state.catalog_tables("lake", "t"):
        reports.append(catalog.sync_hudi(entry, state))
        spec = entry.spec
        expected = oracle(base, entry.query)
        columns = [c.name for c in spec.columns + spec.partition_keys]
        with catalog.warehouse.read() as session:
            got = session.cursor.execute(f'select * from lake."{spec.name}"').fetchall()
        want = [tuple(r[c] for c in columns) for r in expected.to_pylist()]
        assert sorted_rows(got) == sorted_rows(want), spec.name
        assert catalog.partitions(spec) == live_partitions(expected), spec.name
    return reports


@pytest.mark.parametrize("table_type", TYPES)
def test_local_relations_follow_a_sequence_of_commits(tmp_path, table_type):
    base = tmp_path / "lake" / "t"
    table = make_table(base, table_type)
    catalog = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=str(tmp_path / "lake"))
    modes = []
    for rows in SEQUENCE:
        table.upsert(batch(*rows))
        modes.append({r.mode for r in check_local(catalog, str(base))})
    assert modes == [{"full"}] + [{"incremental"}] * (len(SEQUENCE) - 1)
    if table_type == "MERGE_ON_READ":
        timeline = HudiState(str(base)).timeline
        assert any(i.action == "compaction" for i in timeline.completed_writes())
    # A sync with no new commit changes nothing.
    again = check_local(catalog, str(base))
    assert {(r.action, r.added, r.removed) for r in again} == {("unchanged", 0, 0)}


@pytest.mark.parametrize("table_type", TYPES)
@pytest.mark.parametrize("sync_after", [(1, 3, 6), (1, 4, 6), (1, 6)])
def test_a_sync_after_several_commits_takes_every_one_into_account(
    tmp_path, table_type, sync_after
):
    """Syncs 2, 3 or 5 commits apart: partitions added or emptied by a commit before the last
    one must reach the catalog too (the incremental sync reads every commit since the last
    synced instant)."""
    base = tmp_path / "lake" / "t"
    table = make_table(base, table_type)
    catalog = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=str(tmp_path / "lake"))
    for number, rows in enumerate(SEQUENCE, start=1):
        table.upsert(batch(*rows))
        if number in sync_after:
            reports = check_local(catalog, str(base))
            assert {r.mode for r in reports} == {"full" if number == 1 else "incremental"}


def test_a_rollback_or_an_unknown_last_sync_falls_back_to_a_full_listing(tmp_path):
    base = tmp_path / "lake" / "t"
    table = make_table(base, "COPY_ON_WRITE")
    catalog = LocalCatalog(warehouse=local_warehouse(tmp_path))
    table.upsert(batch((1, "a", "x"), (2, "b", "y")))
    check_local(catalog, str(base))
    state = HudiState(str(base))
    assert state.changed_partitions_since(state.latest_instant) == set()
    assert state.changed_partitions_since("20000101000000000") is None  # archived or unknown
    # The catalog lost a partition behind the sync's back; a completed rollback after the last
    # sync means the commits since cannot be trusted, so the listings are compared.
    spec = state.catalog_tables("lake", "t")[0].spec
    catalog.apply_partition_changes(spec, [], [("b",)])
    table.upsert(batch((3, "c", "z")))
    (base / ".hoodie" / "29991231235959999.rollback").write_bytes(b"")
    (report,) = check_local(catalog, str(base))
    assert (report.mode, report.added, report.removed) == ("full", 2, 0)


ops = st.lists(
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.sampled_from("abcd"),
            st.one_of(st.none(), st.sampled_from(["p", "q", "r"])),
        ),  # fmt: skip
        min_size=1,
        max_size=5,
        unique_by=lambda r: r[0],
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_type=st.sampled_from(TYPES), commits=ops)
def test_any_sequence_of_commits_keeps_the_local_catalog_exact(table_type, commits):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "t"
        table = make_table(base, table_type)
        catalog = LocalCatalog(warehouse=local_warehouse(Path(tmp)))
        for rows in commits:
            table.upsert(batch(*rows))
            check_local(catalog, str(base))


@pytest.fixture(scope="module")
def glue():
    mp = pytest.MonkeyPatch()
    for k, v in CREDENTIALS.items():
        mp.setenv(k, v)
    with moto_server() as endpoint:
        yield GlueCatalog(region_name="us-east-1", endpoint_url=endpoint), endpoint
    mp.undo()


@pytest.mark.parametrize("table_type", TYPES)
def test_glue_lists_exactly_the_live_partitions(tmp_path, glue, table_type):
    catalog, endpoint = glue
    base = tmp_path / "lake" / "t"
    table = make_table(base, table_type)
    database = f"lake_{table_type.lower()}"
    for number, rows in enumerate(SEQUENCE):
        table.upsert(batch(*rows))
        state = HudiState(str(base))
        for entry in state.catalog_tables(database, "t"):
            report = catalog.sync_hudi(entry, state)
            assert report.mode == ("full" if number == 0 else "incremental")
            expected = live_partitions(oracle(str(base), entry.query))
            assert catalog.partitions(entry.spec) == expected, (number, entry.spec.name)
            assert report.live == len(expected)
    # What Athena, Spectrum or Trino read back from Glue.

    client = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    names = ["t"] if table_type == "COPY_ON_WRITE" else ["t_ro", "t_rt"]
    for name in names:
        got = client.get_table(DatabaseName=database, Name=name)["Table"]
        sd = got["StorageDescriptor"]
        realtime = name.endswith("_rt")
        assert sd["InputFormat"] == (
            "org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat"
            if realtime
            else "org.apache.hudi.hadoop.HoodieParquetInputFormat"
        )
        assert sd["SerdeInfo"]["SerializationLibrary"].endswith(".ParquetHiveSerDe")
        assert (
            sd["SerdeInfo"]["Parameters"]["hoodie.query.as.ro.table"]
            == str(name.endswith("_ro")).lower()
        )
        assert got["Parameters"][LAST_SYNC] == HudiState(str(base)).latest_instant
        assert [c["Name"] for c in sd["Columns"]][-2:] == ["v", "__deleted"]
        assert got["PartitionKeys"] == [{"Name": "part", "Type": "string"}]
        for p in client.get_partitions(DatabaseName=database, TableName=name)["Partitions"]:
            # As Hudi's hive sync registers it: no trailing '/' (Trino's Hudi connector
            # refuses one).
            assert p["StorageDescriptor"]["Location"] == f"{base}/part={p['Values'][0]}"


def test_the_aws_sync_asset_reads_the_table_in_s3_and_registers_it_in_glue(glue, monkeypatch):
    catalog, endpoint = glue
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="acme-lake"
    )
    lake = S3ObjectStore(bucket="acme-lake", prefix="prod",
                         s3=S3Resource(endpoint_url=endpoint, region_name="us-east-1"))  # fmt: skip
    table_def = next(t for t in HUDI_TABLES if t.qualified == "moma_mor.artists")
    uri = lake.uri(table_def.base_key)
    schema = pa.schema([("artist_id", pa.int32()), ("nationality", pa.string()),
                        ("__source_ts_ms", pa.int64()), ("__deleted", pa.string())])  # fmt: skip
    config = HudiConfig(TableConfig("artists", ("artist_id",), "__source_ts_ms", ("nationality",),
                                    table_type="MERGE_ON_READ"))  # fmt: skip
    table = HudiTable.open_or_create(uri, config, lake.filesystem)
    rows = [(1, "Dutch"), (2, "American"), (3, "Swiss")]
    table.upsert(pa.Table.from_pylist(
        [{"artist_id": i, "nationality": n, "__source_ts_ms": 1, "__deleted": "false"}
         for i, n in rows], schema=schema))  # fmt: skip
    table.upsert(pa.Table.from_pylist(
        [{"artist_id": 3, "nationality": "German", "__source_ts_ms": 2, "__deleted": "false"}],
        schema=schema))  # fmt: skip
    aws_catalog = catalog.model_copy(update={"lake_root": lake.root_uri})
    result = dg.materialize([build_catalog_asset(table_def)],
                            resources={"lake": lake, "catalog": aws_catalog})  # fmt: skip
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["tables"].value == ["moma_mor.artists_ro", "moma_mor.artists_rt"]
    options = {"aws_endpoint_url": endpoint, "aws_allow_http": "true",
               **{k.lower(): v for k, v in CREDENTIALS.items() if k.startswith("AWS_")
                  and k != "AWS_DEFAULT_REGION"}}  # fmt: skip
    ro = support.read_optimized(uri, storage_options=options)
    rt = support.snapshot(uri, storage_options=options)
    for name, expected in (("artists_ro", ro), ("artists_rt", rt)):
        spec = TableSpec("moma_mor", name, (Column("x", "int"),), uri, Format.HUDI_COW,
                         (Column("nationality", "string"),))  # fmt: skip
        assert catalog.partitions(spec) == live_partitions(expected), name
    assert catalog.partitions(spec) == {("Dutch",), ("American",), ("German",)}
    client = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    got = client.get_table(DatabaseName="moma_mor", Name="artists_rt")["Table"]
    assert got["StorageDescriptor"]["Location"] == "s3://acme-lake/prod/hudi/moma_mor/artists"
    parts = client.get_partitions(DatabaseName="moma_mor", TableName="artists_rt")["Partitions"]
    assert {p["StorageDescriptor"]["Location"] for p in parts} == {
        f"s3://acme-lake/prod/hudi/moma_mor/artists/nationality={n}"
        for n in ("Dutch", "American", "German")
    }
