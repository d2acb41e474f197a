"""Processes reading and writing the local warehouse at once (tests/test_warehouse_concurrency.py).

`python -m tests.support.warehouse_workers ROLE HOME SECONDS [KIND]` prints one JSON line when
done (KIND `duckdb` runs the same roles on the former single-file warehouse):
- reader: SELECTs on the marts and the load table; counts failed reads, and loads seen in part
  (says `reading` after its first read); load-reader: the load table only
- loader: telemetry-like loads, BATCH rows each in one transaction; lists what it committed
- syncer: the catalog sync of one Parquet table, again and again
- stuck: inserts a batch inside a transaction, says so, and waits to be killed
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb

from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.iot.load import transaction
from lakehouse.warehouse import DuckDBWarehouse, Warehouse, local_warehouse

BATCH = 500
CREATE = "create table if not exists loads.batches (batch varchar not null, n integer not null)"
INSERT = "insert into loads.batches select ?, i from range(?) t(i)"  # noqa: S608
MARTS = "select count(*) from tickit_dbt.fct_sales"


def warehouse(home: Path, kind: str) -> Warehouse:
    return (
        DuckDBWarehouse(path=str(home / "warehouse.duckdb"))
        if kind == "duckdb"
        else (local_warehouse(home))
    )


def prepare(wh: Warehouse) -> None:
    with transaction(wh) as session:
        session.execute("create schema if not exists loads")
        session.execute(CREATE)


def load(wh: Warehouse, batch: str) -> None:
    with transaction(wh) as session:
        session.execute(INSERT, [batch, BATCH])


def parquet_table(home: Path) -> TableSpec:
    return TableSpec("lake", "readings", (Column("i", "bigint"),), str(home / "lake" / "readings"),
                     Format.PARQUET)  # fmt: skip


def run(role: str, home: Path, seconds: float, kind: str) -> dict:
    wh = warehouse(home, kind)
    deadline = time.monotonic() + seconds
    if role == "stuck":
        with transaction(wh) as session:
            session.execute(INSERT, ["stuck", BATCH])
            print("inserted", flush=True)
            time.sleep(3600)
    if role == "loader":
        committed = []
        while time.monotonic() < deadline:
            batch = f"{os.getpid()}-{len(committed)}"
            load(wh, batch)
            committed.append(batch)
        return {"committed": committed}
    if role == "syncer":
        catalog, spec, syncs = LocalCatalog(warehouse=wh), parquet_table(home), 0
        while time.monotonic() < deadline:
            catalog.sync_table(spec)
            syncs += 1
        return {"syncs": syncs}
    reads, failed, partial = 0, [], []
    while time.monotonic() < deadline:
        try:
            with wh.read() as session:
                if role == "reader" and kind == "ducklake":  # dbt writes only into DuckLake
                    session.query(MARTS)
                partial += session.query(
                    "select batch, count(*) from loads.batches group by batch having count(*) <> ?",
                    [BATCH],
                )
            reads += 1
        except duckdb.Error as e:
            failed.append(str(e).splitlines()[0])
        if reads + len(failed) == 1:
            print("reading", flush=True)
    return {"reads": reads, "failed": failed, "partial": partial}


if __name__ == "__main__":
    role, home, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    kind = sys.argv[4] if len(sys.argv) > 4 else "ducklake"
    print(json.dumps(run(role, home, seconds, kind)), flush=True)
