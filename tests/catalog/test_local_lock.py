"""The warehouse file has one writer process at a time (dbt, a sync, a DuckDB shell): the local
catalog waits for the lock, and names the file when it waits too long."""

import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.catalog.engines import DuckDBEngine
from lakehouse.catalog.local import LocalCatalog, WarehouseLockedError
from lakehouse.catalog.spec import Column, Format, TableSpec

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, path, str(seconds)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "locked"
    return proc


def spec(tmp_path) -> TableSpec:
    (tmp_path / "lake" / "t").mkdir(parents=True)
    pq.write_table(pa.table({"v": [1, 2]}), tmp_path / "lake" / "t" / "part-0.parquet")
    return TableSpec("lake", "t", (Column("v", "int"),), str(tmp_path / "lake" / "t"),
                     Format.PARQUET)  # fmt: skip


def test_a_sync_waits_for_another_writer(tmp_path):
    path = str(tmp_path / "w.duckdb")
    catalog = LocalCatalog(path=path, lock_timeout_seconds=30)
    table = spec(tmp_path)
    holder = hold_lock(path, 1.5)
    start = time.monotonic()
    assert catalog.sync_table(table) == "created"
    assert time.monotonic() - start >= 1.0  # it waited for the other process
    holder.wait(timeout=10)
    assert DuckDBEngine(path=path).query("SELECT sum(v) FROM lake.t") == [(3,)]


def test_a_lock_held_too_long_is_named(tmp_path):
    path = str(tmp_path / "w.duckdb")
    table = spec(tmp_path)
    holder = hold_lock(path, 20)
    try:
        with pytest.raises(WarehouseLockedError, match=r"w\.duckdb stayed locked by another"):
            LocalCatalog(path=path, lock_timeout_seconds=0.5).sync_table(table)
        with pytest.raises(WarehouseLockedError, match=r"w\.duckdb stayed locked by another"):
            DuckDBEngine(path=path, lock_timeout_seconds=0.5).query("SELECT 1")
    finally:
        holder.kill()
        holder.wait()
