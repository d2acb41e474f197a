"""Readers can always open the local warehouse (DuckLake), with real processes: a dbt build, a
catalog sync and telemetry-like loads write while readers hammer SELECTs on the marts. No read
fails, no load is seen in part, every committed load is there afterwards; a writer killed in
the middle of its transaction leaves nothing behind and the next writer goes on."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, materialize

from lakehouse.catalog.local import LocalCatalog
from lakehouse.defs.tickit.assets import raw_tickit_data, tickit_external
from lakehouse.resources import local_resources
from lakehouse.warehouse import local_warehouse
from tests.support.warehouse_workers import BATCH, load, parquet_table, prepare

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECONDS = 30
KIND = "ducklake"  # "duckdb": the former single-file warehouse, which fails this test


def worker(role: str, home: Path, seconds: float = SECONDS) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.warehouse_workers", role, str(home),
         str(seconds), KIND],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def committed_batches(home: Path) -> dict[str, int]:
    with local_warehouse(home).read() as session:
        return dict(session.query("select batch, count(*) from loads.batches group by batch"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    return tmp_path


def test_reads_never_fail_while_dbt_the_sync_and_loads_write(home):
    config = {"ops": {"raw_tickit_data": {"config": {"scale": 0.01, "seed": 7}}}}
    assert materialize([raw_tickit_data, tickit_external], resources=local_resources(),
                       run_config=config, instance=DagsterInstance.ephemeral()).success  # fmt: skip
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "DBT_TARGET": "local"}
    dbt = [str(BIN / "dbt"), "build", "--select", "tag:tickit", "--vars",
           json.dumps({"lake_root": str(home / "lake")}), "--target-path", str(home / "target"),
           "--log-path", str(home / "logs")]  # fmt: skip
    first = subprocess.run(dbt, cwd=REPO / "dbt_project", env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:]
    prepare(local_warehouse(home))
    pq.write_table(pa.table({"i": [1, 2, 3]}), home / "lake" / "readings.parquet")
    (home / "lake" / "readings").mkdir()
    (home / "lake" / "readings.parquet").rename(home / "lake" / "readings" / "part-0.parquet")
    LocalCatalog(warehouse=local_warehouse(home)).sync_table(parquet_table(home))

    readers = [worker("reader", home) for _ in range(2)]
    writers = [worker("loader", home) for _ in range(2)] + [worker("syncer", home)]
    rebuild = subprocess.Popen(dbt, cwd=REPO / "dbt_project", env=env,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    out, _ = rebuild.communicate(timeout=300)
    assert rebuild.returncode == 0, out[-3000:]
    reads = [result(p) for p in readers]
    written = [result(p) for p in writers]

    assert all(r["reads"] > 0 for r in reads)
    assert [f for r in reads for f in r["failed"]] == []
    assert [p for r in reads for p in r["partial"]] == []  # no load seen half-written
    committed = [b for w in written for b in w.get("committed", [])]
    assert committed and written[-1]["syncs"] > 0
    assert committed_batches(home) == dict.fromkeys(committed, BATCH)


def test_a_writer_killed_mid_transaction_leaves_nothing(home):
    prepare(local_warehouse(home))
    load(local_warehouse(home), "before")
    stuck = worker("stuck", home)
    assert stuck.stdout.readline().strip() == "inserted"
    reader = worker("load-reader", home, seconds=5)
    assert reader.stdout.readline().strip() == "reading"  # reading while the writer is inside
    stuck.send_signal(signal.SIGKILL)
    stuck.wait(timeout=30)
    load(local_warehouse(home), "after")  # the next writer takes the turn and commits
    read = result(reader)
    assert read["reads"] > 0 and read["failed"] == [] and read["partial"] == []
    assert committed_batches(home) == {"before": BATCH, "after": BATCH}
