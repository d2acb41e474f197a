"""Capture throughput: N single-row UPDATEs on `artists` captured and written as sink objects.

    uv run python bench/cdc_capture.py [--sizes 100000,1000000] [--plugin pgoutput,wal2json]

Starts a throwaway PostgreSQL 15 (as the tests do), loads 10,000 generated artists, takes the
snapshot, then for each size: commits that many single-row UPDATEs (1,000 per transaction) and
times the capture of `lakehouse-cdc --once --flush-size 10000` through each output plugin in
turn, each with its own slot and target, over the same changes (decoding pgoutput's or
wal2json's output, building the Debezium records, writing and fsyncing every object and offsets
checkpoint, moving the slot) into a local directory. The capture runs in its own process,
started and imported before the clock starts, so its peak RSS (ru_maxrss) and CPU time are its
own; equal RSS for different sizes shows memory does not grow with the backlog. The machine's
load average is recorded too, since other work on it slows the capture. Then the objects written
are read back with `read_cdc_objects` (Arrow, as the Hudi ingest reads them). Results go to
bench/results/cdc_capture.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lakehouse.cdc import source  # noqa: E402
from lakehouse.cdc.arrow import read_cdc_objects  # noqa: E402
from lakehouse.cdc.capture import connect  # noqa: E402
from lakehouse.cdc.source_tables import ARTISTS  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

RUNNER = """
import json, resource, sys, time
from lakehouse.cdc.capture import CaptureSettings, capture
from lakehouse.storage import LocalObjectStore
dsn, target, plugin = sys.argv[1], sys.argv[2], sys.argv[3]
settings = CaptureSettings(dsn=dsn, slot=f"bench_{plugin}", server="moma",
    tables=(("public", "artists"), ("public", "artworks")), flush_size=10_000, once=True,
    plugin=plugin)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
start, cpu0 = time.perf_counter(), cpu()
report = capture(settings, LocalObjectStore(root=target))
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "cpu_seconds": round(cpu() - cpu0, 1),
    "records": sum(o.records for o in report.objects),
    "objects": len(report.objects), "bytes": sum(o.bytes for o in report.objects),
    "keys": [o.key for o in report.objects],
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

UPDATES = """
DO $$
DECLARE i int;
BEGIN
  FOR i IN 1..%(n)s LOOP
    UPDATE artists SET birth_year = 1800 + (i %% 200)
      WHERE artist_id = (SELECT ids[1 + (i %% array_length(ids, 1))] FROM bench_ids);
    IF i %% 1000 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$
"""


def capture_once(dsn: str, target: str, plugin: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", RUNNER, dsn, target, plugin],
                          capture_output=True, text=True, cwd=REPO)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated change counts")
    p.add_argument(
        "--plugin",
        default="pgoutput,wal2json",
        help="comma-separated output plugins, each captured over the same changes",
    )
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    plugins = args.plugin.split(",")
    results = []
    with postgres_server() as pg, tempfile.TemporaryDirectory(prefix="bench-cdc-") as tmp:
        dsn = pg.create_database("moma")
        with connect(dsn, autocommit=True) as conn:
            source.create_tables(conn)
            source.load_generated(conn, 10_000, 0, 1)
            conn.execute(
                "CREATE TABLE bench_ids AS SELECT array_agg(artist_id) AS ids FROM artists"
            )
        for plugin in plugins:  # every slot exists before the first change
            snapshot = capture_once(dsn, f"{tmp}/{plugin}", plugin)
            print(f"{plugin} snapshot: {snapshot['records']} records in "
                  f"{snapshot['seconds']:.1f} s")  # fmt: skip
        for n, plugin in ((n, plugin) for n in sizes for plugin in plugins):
            target = f"{tmp}/{plugin}"
            generated = 0.0
            if plugin == plugins[0]:
                with connect(dsn, autocommit=True) as conn:
                    start = time.perf_counter()
                    conn.execute(UPDATES % {"n": n})
                    generated = time.perf_counter() - start
            load = os.getloadavg()[0]
            run = capture_once(dsn, target, plugin)
            assert run["records"] == n, run
            start = time.perf_counter()
            keys = run.pop("keys")
            read = read_cdc_objects([Path(target) / k for k in keys], ARTISTS)
            read_seconds = time.perf_counter() - start
            assert read.num_rows == n and set(read.column("__op").to_pylist()) == {"u"}
            del read
            run.update(plugin=plugin, changes=n, changes_per_s=round(n / run["seconds"]),
                       update_seconds=round(generated, 1), load_average=round(load, 2),
                       read_arrow_rows_per_s=round(n / read_seconds))  # fmt: skip
            results.append(run)
            print(
                f"{plugin:>8} {n:>9,} changes: {run['seconds']:.1f} s, "
                f"{run['changes_per_s']:,} changes/s "
                f"({run['cpu_seconds']} s CPU; load average {load:.1f} before), "
                f"{run['objects']} objects, {run['bytes'] / 1e6:.0f} MB, "
                f"peak RSS {run['max_rss_mb']:.0f} MB; "
                f"read back into Arrow at {run['read_arrow_rows_per_s']:,} rows/s"
            )
    out = REPO / "bench" / "results" / "cdc_capture.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                               "runs": results}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
