"""Writers of the local warehouse take turns (dbt, a sync, a load): the catalog waits for the
turn and names the lock when it waits too long; readers never wait for it."""

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import DuckDBEngine
from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.warehouse import WarehouseLockedError, local_warehouse

HOLD = """
import sys, time
from pathlib import Path
from lakehouse.warehouse import local_warehouse
with local_warehouse(Path(sys.argv[1])).transaction():
    print("turn taken", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_turn(home, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home), str(seconds)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "turn taken"
    return proc


def spec(tmp_path) -> TableSpec:
    (tmp_path / "lake" / "t").mkdir(parents=True)
    pq.write_table(pa.table({"v": [1, 2]}), tmp_path / "lake" / "t" / "part-0.parquet")
    return TableSpec("lake", "t", (Column("v", "int"),), str(tmp_path / "lake" / "t"),
                     Format.PARQUET)  # fmt: skip


def test_a_sync_waits_for_another_writer_and_readers_do_not(tmp_path):
    warehouse = local_warehouse(tmp_path)
    catalog = LocalCatalog(warehouse=warehouse)
    engine = DuckDBEngine(warehouse=warehouse)
    table = spec(tmp_path)
    assert catalog.sync_table(table) == "created"
    holder = hold_turn(tmp_path, 1.5)
    # A reader during the other writer's turn: answered, not blocked.
    assert engine.query("SELECT sum(v) FROM lake.t") == [(3,)]
    assert warehouse.query("select sum(v) from lake.t") == [(3,)]
    assert holder.poll() is None
    assert catalog.sync_table(table) == "updated"
    assert holder.poll() is not None  # the sync had to wait for the holder's turn to end
    holder.wait(timeout=10)


def test_a_turn_held_too_long_is_named(tmp_path):
    table = spec(tmp_path)
    holder = hold_turn(tmp_path, 20)
    try:
        slow = local_warehouse(tmp_path).model_copy(update={"lock_timeout_seconds": 0.5})
        with pytest.raises(WarehouseLockedError, match=r"warehouse\.sqlite\.lock: another writer"):
            LocalCatalog(warehouse=slow).sync_table(table)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_writer_leaves_its_turn(tmp_path):
    holder = hold_turn(tmp_path, 60)
    holder.kill()
    holder.wait()
    # Waiting at most 5 s (WarehouseLockedError past that): the turn went with the process.
    with local_warehouse(tmp_path).transaction(lock_wait_s=5) as session:
        session.execute("create table t as select 1 as x")
    assert local_warehouse(tmp_path).query("select x from t") == [(1,)]
