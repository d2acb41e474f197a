"""Bad input is refused with an error that names the table, column, partition or location, before
anything reaches a catalog; nothing registered before is changed."""

import string

import dagster as dg
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.catalog.duckdb_views import hudi_files_view_sql, path_literal
from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.hudi_sync import HudiState, hive_type, hudi_catalog_tables
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.spec import (
    CatalogError,
    Column,
    Format,
    TableSpec,
    check_identifier,
    check_partition_value,
)
from lakehouse.defs.catalog.assets import build_catalog_asset
from lakehouse.hudi import HudiConfig, HudiTable, TableConfig
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import local_warehouse

HIVE_ESCAPED = "\"#%'*/:=?\\\x7f{[]^"  # what Hive escapes in partition directory names


def spec(location="s3://acme-lake/prod/t/", name="t", **kw) -> TableSpec:
    keys = (Column("part", "string"),)
    return TableSpec("lake", name, (Column("v", "int"),), location, Format.PARQUET, keys, **kw)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Column("tags", "array<string>"), "column 'tags': unsupported Hive type"),
        (lambda: Column("n", "number"), "column 'n': unsupported Hive type 'number'"),
        (lambda: hive_type(pa.list_(pa.int32()), "tags"),
         "column 'tags': unsupported Hive type for Arrow type list<item: int32>"),
        (lambda: hive_type(pa.struct([("a", pa.int8())]), "point"), "column 'point'"),
        (lambda: hudi_catalog_tables("moma", "t", "COPY_ON_WRITE", pa.schema(
            [("id", pa.int64()), ("m", pa.map_(pa.string(), pa.int32()))]), (), "s3://l/t"),
         "column 'm': unsupported Hive type for Arrow type map<string, int32>"),
        (lambda: spec(name="artworks-per-nationality"),
         "table 'artworks-per-nationality' is not a valid identifier"),
        (lambda: spec(name="Artists"), "table 'Artists' is not a valid identifier"),
        (lambda: spec(name="1st"), "table '1st' is not a valid identifier"),
        (lambda: spec(name="t; drop table x"), "table 't; drop table x' is not a valid identifier"),
        (lambda: TableSpec("moma db", "t", (), "s3://l/t/", Format.PARQUET),
         "database 'moma db' is not a valid identifier"),
        (lambda: Column("a b", "int"), "column 'a b' is not a valid identifier"),
        (lambda: spec().partition_location(("a/b",)), "partition part='a/b'"),
        (lambda: spec().partition_location(("x*",)), "partition part='x*'"),
        (lambda: spec().partition_location(("",)), "partition part=''"),
        (lambda: spec().partition_location(("a", "b")), "partition ('a', 'b') needs 1 values"),
        (lambda: spec("s3://other-bucket/t/").check_location("s3://acme-lake/prod"),
         "table lake.t: location 's3://other-bucket/t/' is outside the lake 's3://acme-lake/prod/'"),
        (lambda: spec("s3://acme-lake/prod/../secrets/").check_location("s3://acme-lake/prod"),
         "is outside the lake"),
        (lambda: spec("s3://acme-lake/production/t/").check_location("s3://acme-lake/prod"),
         "is outside the lake"),
        (lambda: spec(properties=(("comment", "it's"),)),
         "property 'comment' has a quote, backslash or control character"),
        (lambda: spec(description="the lake's table"), "the description has a quote"),
        (lambda: path_literal("/lake/t/part=a/f[1].parquet"), "glob or control characters"),
    ],
)  # fmt: skip
def test_bad_input_is_named(make, message):
    with pytest.raises(CatalogError) as e:
        make()
    assert message in str(e.value)


@given(st.text(alphabet=string.ascii_letters + string.digits + "_-. " + HIVE_ESCAPED, max_size=12))
def test_partition_values_are_their_own_directory_names(value):
    """A value is accepted exactly when Hive would not escape it in the path, and then the
    location is <table>/part=<value>/ with nothing else in between."""
    bad = value in ("", ".", "..") or any(c in HIVE_ESCAPED for c in value)
    if bad:
        with pytest.raises(CatalogError, match="partition part="):
            check_partition_value(value, "part")
        return
    location = spec().partition_location((value,))
    assert location == f"s3://acme-lake/prod/t/part={value}/"
    path_literal(location)  # and it can be read by DuckDB as is


@given(st.text(max_size=20))
def test_identifiers_are_plain_lower_case_names(name):
    ok = (
        name != ""
        and name[0] in string.ascii_lowercase + "_"
        and all(c in string.ascii_lowercase + string.digits + "_" for c in name)
    )
    if ok:
        assert check_identifier(name, "table") == name
    else:
        with pytest.raises(CatalogError, match="is not a valid identifier"):
            check_identifier(name, "table")


def test_catalogs_refuse_a_location_outside_the_configured_lake(tmp_path):
    outside = spec("s3://other-bucket/t/")
    # Port 9 (discard) answers nothing: a request would fail differently, so none is sent.
    glue = GlueCatalog(region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                       lake_root="s3://acme-lake/prod")  # fmt: skip
    with pytest.raises(CatalogError, match="outside the lake 's3://acme-lake/prod/'"):
        glue.sync_table(outside)
    local = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=str(tmp_path / "lake"))
    with pytest.raises(CatalogError, match="outside the lake"):
        local.sync_table(outside)
    with pytest.raises(CatalogError, match="outside the lake"):
        local.apply_partition_changes(outside, [("a",)])
    assert not (tmp_path / "w.duckdb").exists()


def test_a_hudi_partition_value_with_a_quote_stops_the_sync_and_changes_nothing(tmp_path):
    base = tmp_path / "lake" / "t"
    config = HudiConfig(TableConfig("t", ("id",), "ts", ("part",)))
    table = HudiTable.open_or_create(str(base), config)
    schema = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("part", pa.string())])
    table.upsert(pa.Table.from_pylist([{"id": 1, "ts": 1, "part": "Dutch"}], schema=schema))
    catalog = LocalCatalog(warehouse=local_warehouse(tmp_path))
    state = HudiState(str(base))
    (entry,) = state.catalog_tables("lake", "t")
    catalog.sync_hudi(entry, state)
    table.upsert(pa.Table.from_pylist([{"id": 2, "ts": 1, "part": "O'Brien"}], schema=schema))
    state = HudiState(str(base))
    with pytest.raises(CatalogError, match='partition part="O\'Brien"'):
        catalog.sync_hudi(entry, state)
    # The table and its partitions are as the last good sync left them.
    assert catalog.partitions(entry.spec) == {("Dutch",)}
    with catalog.warehouse.read() as session:
        assert session.cursor.execute("select id from lake.t").fetchall() == [(1,)]


def test_the_sync_asset_fails_without_retry_naming_the_table(tmp_path):
    table = next(t for t in HUDI_TABLES if t.qualified == "moma_cow.artists")
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    (tmp_path / "lake" / table.base_key).mkdir(parents=True)  # no Hudi table there yet
    result = dg.materialize(
        [build_catalog_asset(table)],
        resources={"lake": lake, "catalog": LocalCatalog(warehouse=local_warehouse(tmp_path))},
        raise_on_error=False,
    )
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "moma_cow.artists:" in message and "is not a Hudi table" in message


def test_a_view_over_files_is_only_for_base_files():
    entries = hudi_catalog_tables("moma", "t", "MERGE_ON_READ", pa.schema([("id", pa.int64())]),
                                  (), "s3://acme-lake/t")  # fmt: skip
    with pytest.raises(CatalogError, match="only Copy-on-Write and `_ro` tables"):
        hudi_files_view_sql(entries[1].spec, [], set())
