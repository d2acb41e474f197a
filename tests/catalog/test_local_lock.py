"""Writers of the local warehouse take turns (dbt, a sync, a load): the catalog waits for the
turn and names the lock when it waits too long; readers never wait for it."""

import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import DuckDBEngine
from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.warehouse import WarehouseLockedError, local_warehouse

HOLD = """
import sys
from pathlib import Path
from lakehouse.warehouse import local_warehouse
with local_warehouse(Path(sys.argv[1])).transaction():
    print("turn taken", flush=True)
    sys.stdin.readline()  # holds the turn until the test says so (or kills it)
"""


def hold_turn(home) -> subprocess.Popen:
    """Another process in its writer's turn, until a line on its stdin (or a kill)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
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
    holder = hold_turn(tmp_path)
    try:
        # A reader during the other writer's turn: answered, not blocked.
        assert engine.query("SELECT sum(v) FROM lake.t") == [(3,)]
        assert warehouse.query("select sum(v) from lake.t") == [(3,)]
        synced = []
        sync = threading.Thread(
            target=lambda: synced.append((catalog.sync_table(table), time.monotonic()))
        )
        sync.start()
        sync.join(1.0)
        assert sync.is_alive() and not synced  # the sync waits for the holder's turn to end
        released_at = time.monotonic()
        holder.stdin.write("release\n")
        holder.stdin.flush()
        sync.join(60)
        assert synced and synced[0][0] == "updated"
        assert synced[0][1] >= released_at
    finally:
        holder.kill()
        holder.wait()


def test_a_turn_held_too_long_is_named(tmp_path):
    table = spec(tmp_path)
    holder = hold_turn(tmp_path)
    try:
        slow = local_warehouse(tmp_path).model_copy(update={"lock_timeout_seconds": 0.5})
        with pytest.raises(WarehouseLockedError, match=r"warehouse\.sqlite\.lock: another writer"):
            LocalCatalog(warehouse=slow).sync_table(table)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_writer_leaves_its_turn(tmp_path):
    holder = hold_turn(tmp_path)
    holder.kill()
    holder.wait()
    # Waiting at most 5 s (WarehouseLockedError past that): the turn went with the process.
    with local_warehouse(tmp_path).transaction(lock_wait_s=5) as session:
        session.execute("create table t as select 1 as x")
    assert local_warehouse(tmp_path).query("select x from t") == [(1,)]
