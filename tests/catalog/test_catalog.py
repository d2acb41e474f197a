import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.catalog.duckdb_views import duckdb_view_sql
from lakehouse.catalog.glue import GlueCatalog, partition_input, table_input
from lakehouse.catalog.hive import hive_ddl
from lakehouse.catalog.spec import CatalogError, Column, Format, TableSpec
from tests.support.moto import CREDENTIALS, moto_server

META = tuple(Column(c, "string") for c in ("_hoodie_commit_time", "_hoodie_commit_seqno",
             "_hoodie_record_key", "_hoodie_partition_path", "_hoodie_file_name"))  # fmt: skip
ARTIST_COLUMNS = META + (
    Column("artist_id", "int"), Column("name", "string"), Column("gender", "string"),
    Column("birth_year", "int"), Column("death_year", "int"), Column("__op", "string"),
    Column("__db", "string"), Column("__table", "string"), Column("__schema", "string"),
    Column("__lsn", "bigint"), Column("__source_ts_ms", "bigint"), Column("__deleted", "string"),
)  # fmt: skip


def artists_rt(location="s3://lake/moma/artists_mor/"):
    return TableSpec(
        database="moma_mor", name="artists_rt", columns=ARTIST_COLUMNS, location=location,
        format=Format.HUDI_MOR_RT, partition_keys=(Column("nationality", "string"),),
    )  # fmt: skip


def test_hive_ddl_of_a_hudi_mor_snapshot_table():
    assert hive_ddl(artists_rt()) == (
        "CREATE EXTERNAL TABLE `moma_mor`.`artists_rt` (\n"
        + ",\n".join(f"  `{c.name}` {c.type}" for c in ARTIST_COLUMNS)
        + "\n)\n"
        "PARTITIONED BY (`nationality` string)\n"
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n"
        "STORED AS INPUTFORMAT 'org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat'\n"
        "  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'\n"
        "LOCATION 's3://lake/moma/artists_mor'"
    )


def test_hive_ddl_of_pipe_delimited_text_with_header():
    spec = TableSpec("tickit_dbt", "category", (Column("catid", "int"),
                     Column("catgroup", "varchar(20)")), "s3://lake/raw_tickit_data/category",
                     Format.TEXT_PIPE)  # fmt: skip
    assert hive_ddl(spec) == (
        "CREATE EXTERNAL TABLE `tickit_dbt`.`category` (\n"
        "  `catid` int,\n  `catgroup` varchar(20)\n)\n"
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'\n"
        "WITH SERDEPROPERTIES ('field.delim'='|', 'serialization.format'='|')\n"
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n"
        "  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        "LOCATION 's3://lake/raw_tickit_data/category/'\n"
        "TBLPROPERTIES ('classification'='csv', 'skip.header.line.count'='1')"
    )


def test_glue_requests_match_the_ddl():
    spec = artists_rt()
    table = table_input(spec)
    sd = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["PartitionKeys"] == [{"Name": "nationality", "Type": "string"}]
    assert [c["Name"] for c in sd["Columns"]][:5] == [c.name for c in META]
    assert sd["InputFormat"] in hive_ddl(spec) and sd["SerdeInfo"]["SerializationLibrary"] in (
        hive_ddl(spec)
    )
    assert partition_input(spec, ("Dutch",))["StorageDescriptor"]["Location"] == (
        "s3://lake/moma/artists_mor/nationality=Dutch"
    )


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    for k, v in CREDENTIALS.items():
        mp.setenv(k, v)
    with moto_server() as endpoint:
        yield GlueCatalog(region_name="us-east-1", endpoint_url=endpoint), endpoint
    mp.undo()


def test_glue_create_update_and_partition_sync(glue):
    catalog, endpoint = glue
    spec = artists_rt()
    assert catalog.sync_table(spec) == "created"
    wider = TableSpec(spec.database, spec.name, spec.columns + (Column("bio", "string"),),
                      spec.location, spec.format, spec.partition_keys)  # fmt: skip
    assert catalog.sync_table(wider) == "updated"
    read = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1").get_table(
        DatabaseName="moma_mor", Name="artists_rt"
    )["Table"]
    sd = read["StorageDescriptor"]
    assert sd["Columns"][-1] == {"Name": "bio", "Type": "string"}
    assert sd["InputFormat"] == "org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert sd["Location"] == "s3://lake/moma/artists_mor"  # as Hudi registers it

    first = catalog.sync_partitions(wider, [("Dutch",), ("American",), ("default",)])
    assert (first.added, first.removed, first.live) == (3, 0, 3)
    second = catalog.sync_partitions(wider, [("Dutch",), ("German",), ("default",)])
    assert (second.added, second.removed) == (1, 1)
    assert catalog.partitions(wider) == {("Dutch",), ("German",), ("default",)}
    assert catalog.sync_partitions(wider, [("Dutch",), ("German",), ("default",)]).added == 0


def test_glue_partition_sync_batches_past_the_request_limits(glue):
    catalog, _ = glue
    spec = TableSpec("lake", "events", (Column("v", "int"),), "s3://lake/events/",
                     Format.PARQUET, (Column("day", "string"),))  # fmt: skip
    catalog.sync_table(spec)
    days = [(f"2026-{i:04d}",) for i in range(230)]
    assert catalog.sync_partitions(spec, days).added == 230
    assert catalog.sync_partitions(spec, days[:170]).removed == 60
    assert catalog.partitions(spec) == set(days[:170])


def test_duckdb_view_over_partitioned_parquet(tmp_path):
    root = tmp_path / "lake" / "events"
    for day, values in {"2026-01-01": [1, 2], "2026-01-02": [3]}.items():
        (root / f"day={day}").mkdir(parents=True)
        pq.write_table(pa.table({"v": values}), root / f"day={day}" / "part-0.parquet")
    spec = TableSpec("lake", "events", (Column("v", "int"),), str(root), Format.PARQUET,
                     (Column("day", "date"),))  # fmt: skip
    con = duckdb.connect()
    con.execute("create schema lake")
    con.execute(duckdb_view_sql(spec))
    rows = con.sql("select day::varchar, v from lake.events order by v").fetchall()
    assert rows == [("2026-01-01", 1), ("2026-01-01", 2), ("2026-01-02", 3)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Column("tags", "map<string,int>"),
         "column 'tags': unsupported Hive type 'map<string,int>'"),
        (lambda: TableSpec("moma", "Bad-Name", (), "s3://lake/x/", Format.PARQUET),
         "table 'Bad-Name' is not a valid identifier"),
        (lambda: artists_rt().partition_location(("../etc",)),
         "partition nationality='../etc'"),
        (lambda: artists_rt().partition_location(("O'Brien",)),
         "partition nationality=\"O'Brien\""),
        (lambda: artists_rt("s3://other-bucket/moma/").check_location("s3://lake"),
         "location 's3://other-bucket/moma/' is outside the lake 's3://lake/'"),
        (lambda: artists_rt("s3://lake/x'; drop/"), "has quote, backslash or control characters"),
        (lambda: duckdb_view_sql(artists_rt()), "must read through the Hudi reader"),
    ],
)  # fmt: skip
def test_bad_input_is_named(make, message):
    with pytest.raises(CatalogError) as e:
        make()
    assert message in str(e.value)


def test_apply_partition_changes_is_idempotent(glue):
    catalog, _ = glue
    spec = TableSpec("lake", "commits", (Column("v", "int"),), "s3://lake/commits/",
                     Format.PARQUET, (Column("day", "string"),))  # fmt: skip
    catalog.sync_table(spec)
    assert catalog.apply_partition_changes(spec, [("a",), ("b",)]) == (2, 0)
    # A retried sync of the same commit, plus one partition the commit emptied.
    assert catalog.apply_partition_changes(spec, [("a",), ("b",), ("c",)], [("a",)]) == (1, 1)
    assert catalog.apply_partition_changes(spec, [], [("a",), ("c",)]) == (0, 1)
    assert catalog.partitions(spec) == {("b",)}
