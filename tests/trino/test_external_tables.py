"""The non-Hudi tables the catalog registers read back through real Trino (hive catalog on Glue,
files in moto's S3) exactly as the local DuckDB relations read the same files: the seven TICKIT
external tables and the telemetry landing zone."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb

from lakehouse.catalog.duckdb_views import duckdb_view_sql
from lakehouse.catalog.lake_tables import telemetry_landing_spec
from lakehouse.iot.generator import generate as generate_telemetry
from lakehouse.iot.landing import HOUR_PATH, LANDING_PREFIX, LandingWriter
from lakehouse.storage import LocalObjectStore
from lakehouse.tickit.generator import generate as generate_tickit
from lakehouse.tickit.raw_tables import TABLES, raw_key, table_spec
from tests.trino.test_tables import mirror, sorted_rows, trino_rows


def duckdb_view_rows(spec) -> list[tuple]:
    columns = ", ".join(f'"{c.name}"' for c in spec.columns + spec.partition_keys)
    with duckdb.connect() as con:
        con.execute(f"create schema {spec.database}")
        con.execute(duckdb_view_sql(spec))
        return con.execute(f'select {columns} from {spec.database}."{spec.name}"').fetchall()


def comparable(rows: list[tuple]) -> list[tuple]:
    """Decimals compare by value (DuckDB and Trino agree on scale), everything else as is."""
    return sorted_rows([tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in r)
                        for r in rows])  # fmt: skip


def test_tickit_external_tables_read_the_same_through_trino(stack, tmp_path):
    lake = tmp_path / "lake"
    for table in generate_tickit(scale=0.002, seed=5).values():
        path = lake / raw_key(table.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(table.data)
    root = mirror(stack, lake, "tickit")
    glue = stack.glue(lake_root=root)
    for name in TABLES:
        glue.sync_table(table_spec(name, root))
        expected = duckdb_view_rows(table_spec(name, str(lake)))
        assert expected, name
        assert comparable(trino_rows(stack, "hive", table_spec(name, root))) == comparable(
            expected
        ), name


def test_the_telemetry_landing_zone_reads_the_same_through_trino(stack, tmp_path):
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    end = dt.datetime(2026, 3, 1, 10, 20, tzinfo=dt.UTC).timestamp()
    generate_telemetry(lake, end=end, minutes=40, interval=30.0)  # crosses 10:00
    LandingWriter(lake, flush_seconds=0).write_batch(
        [{"payload_error": "not JSON", "payload": "x", "device": "node-9",
          "msg_received": "2026-03-01T11:00:00.000+0000"}],
        dt.datetime(2026, 3, 1, 11, 0, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    root = mirror(stack, tmp_path / "lake", "telemetry")
    spec = telemetry_landing_spec(root)
    hours = {
        m.groups()
        for p in (tmp_path / "lake" / LANDING_PREFIX).rglob("*.gz")
        if (m := HOUR_PATH.search(p.as_posix()))
    }
    assert hours == {("2026", "03", "01", h) for h in ("09", "10", "11")}
    glue = stack.glue(lake_root=root)
    glue.sync_table(spec)
    glue.apply_partition_changes(spec, hours)
    expected = duckdb_view_rows(telemetry_landing_spec(lake.root_uri))
    assert len(expected) > 80
    assert sorted_rows(trino_rows(stack, "hive", spec)) == sorted_rows(expected)
