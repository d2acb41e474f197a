"""One spec, three renderings: Hive DDL, Glue requests and the local DuckDB relation, checked
against reviewed golden files in tests/catalog/golden/, for every table format.

After an intended change, refresh them with
    LAKEHOUSE_UPDATE_SNAPSHOTS=1 uv run pytest tests/catalog/test_golden.py
and review the diff.
"""

import json
import os
import re

import duckdb
import pyarrow as pa
import pytest

from lakehouse.catalog.duckdb_views import (
    duckdb_type,
    duckdb_view_sql,
    hudi_files_view_sql,
    materialized_table_sql,
)
from lakehouse.catalog.federated import QUERIES
from lakehouse.catalog.glue import partition_input, table_input
from lakehouse.catalog.hive import hive_ddl
from lakehouse.catalog.hudi_sync import LAST_SYNC, READ_OPTIMIZED, REALTIME, hudi_catalog_tables
from lakehouse.catalog.lake_tables import TELEMETRY_FIELDS, TELEMETRY_TYPES, telemetry_landing_spec
from lakehouse.catalog.spec import Format
from lakehouse.cdc.records import value_schema
from lakehouse.cdc.source_tables import MOMA_SERVER
from lakehouse.hudi.schema import arrow_from_avro
from lakehouse.iot.landing import LandingWriter
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.storage import LocalObjectStore
from lakehouse.tickit.raw_tables import table_spec
from tests.support.paths import REPO_ROOT

GOLDEN = REPO_ROOT / "tests/catalog/golden"
LAKE = "s3://acme-lake/prod"
INSTANT = "20260301101500123"


def moma_entries():
    """The six MoMA catalog tables, from each Hudi table's definition and the schema its
    writer takes (the topic's Avro value schema), as of one commit."""
    out = []
    for t in HUDI_TABLES:
        schema = arrow_from_avro(json.loads(value_schema(t.source, MOMA_SERVER)))
        entries = hudi_catalog_tables(t.database, t.name, t.table_type, schema,
                                      (t.source.partition,), f"{LAKE}/{t.base_key}",
                                      f"Apache Hudi table {t.qualified}")  # fmt: skip
        out += [(e.spec.with_properties(**{LAST_SYNC: INSTANT}), e.query) for e in entries]
    return out


def sample_partition(spec):
    return {"nationality": ("Dutch",), "classification": ("Print",)}.get(
        spec.partition_keys[0].name if spec.partition_keys else "", ("2026", "03", "01", "10")
    )


def duckdb_relation(spec, query):
    if query == REALTIME:
        return materialized_table_sql(spec, "hudi_snapshot")
    if query is not None:
        base = spec.partition_location(sample_partition(spec))
        files = [f"{base}4a1c0f9e-1111-4b7c-9d2e-0123456789ab-0_0-1-0_{INSTANT}.parquet"]
        return hudi_files_view_sql(
            spec, files, {c.name for c in spec.columns + spec.partition_keys}
        )
    return duckdb_view_sql(spec)


def all_tables():
    tables = moma_entries()
    tables.append((table_spec("category", LAKE), None))
    tables.append((telemetry_landing_spec(LAKE), None))
    tables.append((QUERIES[0].spec(LAKE), None))
    return tables


def rendered(spec, query) -> dict[str, str]:
    partition = sample_partition(spec) if spec.partition_keys else None
    glue = {"TableInput": table_input(spec)}
    if partition:
        glue["PartitionInput"] = partition_input(spec, partition)
    return {
        "hive.sql": hive_ddl(spec) + "\n",
        "glue.json": json.dumps(glue, indent=1, sort_keys=True) + "\n",
        "duckdb.sql": duckdb_relation(spec, query) + "\n",
    }


TABLES = all_tables()


@pytest.mark.parametrize(("spec", "query"), TABLES, ids=[s.qualified_name for s, _ in TABLES])
def test_renderings_match_the_golden_files(spec, query):
    for suffix, text in rendered(spec, query).items():
        path = GOLDEN / f"{spec.qualified_name}.{suffix}"
        if os.environ.get("LAKEHOUSE_UPDATE_SNAPSHOTS"):
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(text)
        assert text == path.read_text(), path.name


def hive_columns(ddl: str) -> list[tuple[str, str]]:
    body = ddl.split("(\n", 1)[1].split("\n)", 1)[0]
    columns = [re.fullmatch(r"\s*`(\w+)` (.+?),?", line).groups() for line in body.splitlines()]
    keys = re.search(r"PARTITIONED BY \((.*)\)", ddl)
    if keys:
        columns += re.findall(r"`(\w+)` ([^,]+)", keys[1])
    return columns


@pytest.mark.parametrize(("spec", "query"), TABLES, ids=[s.qualified_name for s, _ in TABLES])
def test_the_three_renderings_agree(spec, query):
    """Same columns and types in the DDL, in Glue and in DuckDB; same formats in DDL and Glue."""
    ddl = hive_ddl(spec)
    glue = table_input(spec)
    sd = glue["StorageDescriptor"]
    glue_columns = [(c["Name"], c["Type"]) for c in sd["Columns"] + glue["PartitionKeys"]]
    assert hive_columns(ddl) == glue_columns
    assert f"INPUTFORMAT '{sd['InputFormat']}'" in ddl
    assert f"OUTPUTFORMAT '{sd['OutputFormat']}'" in ddl
    assert f"ROW FORMAT SERDE '{sd['SerdeInfo']['SerializationLibrary']}'" in ddl
    assert f"LOCATION '{sd['Location']}'" in ddl
    for key, value in {**sd["SerdeInfo"]["Parameters"], **glue["Parameters"]}.items():
        if key != "EXTERNAL":
            assert f"'{key}'='{value}'" in ddl
    if query is not None:  # the Hudi relations, bound with no files to see their types
        con = duckdb.connect()
        con.execute(f'create schema "{spec.database}"')
        if query == REALTIME:
            con.register("hudi_snapshot", pa.table({c: pa.array([], pa.string())
                                                    for c, _ in glue_columns}))  # fmt: skip
            con.execute(materialized_table_sql(spec, "hudi_snapshot"))
        else:
            con.execute(hudi_files_view_sql(spec, [], set()))
        described = con.execute(f'describe "{spec.database}"."{spec.name}"').fetchall()
        assert [(r[0], r[1]) for r in described] == [(n, duckdb_type(t)) for n, t in glue_columns]


def test_hudi_tables_are_registered_as_hudi_hive_sync_does():
    by_name = {s.qualified_name: (s, q) for s, q in moma_entries()}
    assert sorted(by_name) == ["moma_cow.artists", "moma_cow.artworks", "moma_mor.artists_ro",
                               "moma_mor.artists_rt", "moma_mor.artworks_ro",
                               "moma_mor.artworks_rt"]  # fmt: skip
    formats = {
        "moma_cow.artists": "org.apache.hudi.hadoop.HoodieParquetInputFormat",
        "moma_mor.artists_ro": "org.apache.hudi.hadoop.HoodieParquetInputFormat",
        "moma_mor.artists_rt": "org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat",
    }
    for name, input_format in formats.items():
        spec, query = by_name[name]
        sd = table_input(spec)["StorageDescriptor"]
        assert sd["InputFormat"] == input_format
        assert sd["SerdeInfo"]["SerializationLibrary"] == (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        )
        assert sd["OutputFormat"] == (
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
        )
        serde = sd["SerdeInfo"]["Parameters"]
        assert serde == {
            "path": f"{LAKE}/hudi/{name.split('.')[0]}/artists",
            "hoodie.query.as.ro.table": str(query == READ_OPTIMIZED).lower(),
        }
        # The meta columns first; the partition field moved out to a string partition key.
        names = [c["Name"] for c in sd["Columns"]]
        assert names[:5] == [
            "_hoodie_commit_time",
            "_hoodie_commit_seqno",
            "_hoodie_record_key",
            "_hoodie_partition_path",
            "_hoodie_file_name",
        ]
        assert "nationality" not in names
        assert table_input(spec)["PartitionKeys"] == [{"Name": "nationality", "Type": "string"}]
        params = table_input(spec)["Parameters"]
        assert params[LAST_SYNC] == INSTANT and params["spark.sql.sources.provider"] == "hudi"
        spark = json.loads(params["spark.sql.sources.schema.part.0"])
        assert [f["name"] for f in spark["fields"]] == names + ["nationality"]


def test_telemetry_landing_reads_firehose_objects_locally(tmp_path):
    """The hourly partitions come from the YYYY/MM/DD/HH path, records as the rule wrote them."""
    import datetime as dt

    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    writer = LandingWriter(lake, flush_seconds=0)
    record = {"device_id": "00AB" * 6, "gateway_id": "0123456789abcdef", "temperature": 21.5,
              "humidity": 40.0, "pressure": 101.2, "red": 1, "green": 2, "blue": 3,
              "ambient": 4, "ts": 1767225600.5, "device": "node-1",
              "msg_received": "2026-01-01T00:00:01.000+0000", "rssi": -70}  # fmt: skip
    writer.write_batch([record], dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.UTC))
    writer.write_batch([{"payload_error": "not JSON", "payload": "x", "device": "node-2",
                         "msg_received": "2026-01-01T13:00:00.000+0000"}],
                       dt.datetime(2026, 1, 1, 13, 0, 0, tzinfo=dt.UTC))  # fmt: skip
    spec = telemetry_landing_spec(lake.root_uri)
    assert spec.partition_location(("2026", "01", "01", "13")) == (
        f"{lake.root_uri}/message/2026/01/01/13/"
    )
    con = duckdb.connect()
    con.execute("create schema iot_landing")
    con.execute(duckdb_view_sql(spec))
    rows = con.execute(
        "select year, month, day, hour, device_id, temperature, rssi, payload_error "
        "from iot_landing.telemetry order by hour"
    ).fetchall()
    assert rows == [("2026", "01", "01", "00", "00AB" * 6, 21.5, -70, None),
                    ("2026", "01", "01", "13", None, None, None, "not JSON")]  # fmt: skip
    # Every field the IoT rule can write has a column.
    assert set(TELEMETRY_FIELDS) <= set(TELEMETRY_TYPES)
    assert spec.format is Format.JSON_GZIP
