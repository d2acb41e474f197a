"""Read latency and failed reads of the local warehouse while it is written.

`uv run python bench/warehouse_reads.py [--seconds 30]`: in a temporary home, two loaders (one
500-row transaction after another) and a catalog sync write while this process reads the load
table, once DuckLake (now) and once the former single-file DuckDB. Reports p50/p95/max read
latency, reads and failed reads, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lakehouse.catalog.local import LocalCatalog  # noqa: E402
from tests.support.warehouse_workers import parquet_table, prepare, warehouse  # noqa: E402

READ = "select batch, count(*) from loads.batches group by batch"


def measure(kind: str, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as tmp:
        home = Path(tmp)
        wh = warehouse(home, kind)
        prepare(wh)
        (home / "lake" / "readings").mkdir(parents=True)
        duckdb.sql(
            "copy (select 1::bigint as i) to '"
            + str(home / "lake" / "readings" / "p.parquet")
            + "'"
        )
        LocalCatalog(warehouse=wh).sync_table(parquet_table(home))
        writers = [
            subprocess.Popen([sys.executable, "-m", "tests.support.warehouse_workers", role,
                              str(home), str(seconds), kind], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for role in ("loader", "loader", "syncer")
        ]  # fmt: skip
        latencies, failed = [], 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                wh.query(READ)
                latencies.append(time.perf_counter() - start)
            except duckdb.Error:
                failed += 1
            time.sleep(0.05)
        for w in writers:
            w.wait()
    ordered = sorted(latencies) or [float("nan")]
    pick = lambda p: ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]  # noqa: E731
    return {"kind": kind, "reads": len(latencies) + failed, "failed": failed,
            "p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * pick(95),
            "max_ms": 1000 * ordered[-1]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    print("| warehouse | reads | failed | p50 | p95 | max |\n|---|---|---|---|---|---|")
    for kind in ("ducklake", "duckdb"):
        r = measure(kind, args.seconds)
        print(f"| {kind} | {r['reads']} | {r['failed']} | {r['p50_ms']:.0f} ms | "
              f"{r['p95_ms']:.0f} ms | {r['max_ms']:.0f} ms |")  # fmt: skip


if __name__ == "__main__":
    main()
