"""Catalog sync and local Hudi query speed.

    uv run python bench/catalog_sync.py [--partitions 10000] [--new 100] [--rows 400000]

1. Glue partition sync of a table with 10k partitions, in full and incrementally, against
   moto_server on loopback (real Glue adds network latency per request; the request counts
   printed are what a real sync sends).
2. Local Hudi views: the same query on the catalog's relations over a Hudi table (a CoW view
   over exactly the latest base files, a MoR `_ro` view, the materialized `_rt` table) and on
   the same rows written as plain Parquet; medians of 5 warm runs. Target: within 1.5x.

Results go to bench/results/catalog_sync.json.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from lakehouse.catalog.glue import CREATE_BATCH, GlueCatalog  # noqa: E402
from lakehouse.catalog.hudi_sync import HudiState  # noqa: E402
from lakehouse.catalog.local import LocalCatalog  # noqa: E402
from lakehouse.catalog.spec import Column, Format, TableSpec  # noqa: E402
from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions  # noqa: E402
from lakehouse.settings import export_environment  # noqa: E402
from lakehouse.warehouse import local_warehouse  # noqa: E402
from tests.support.moto import CREDENTIALS, moto_server  # noqa: E402

QUERIES = {
    "aggregate": "select part, count(*), sum(v), count(distinct name) from {t} group by part",
    "filter": "select id, v, name from {t} where id = 123457",
    "scan": "select max(length(name)), min(ts) from {t} where v > 0.5",
}


def glue_sync(partitions: int, new: int) -> list[dict]:
    export_environment(**CREDENTIALS)
    keys = (Column("day", "string"), Column("hour", "string"))
    spec = TableSpec("bench", "events", (Column("v", "int"),), "s3://lake/events/",
                     Format.PARQUET, keys)  # fmt: skip
    live = [(f"d{i // 24:05d}", f"{i % 24:02d}") for i in range(partitions)]
    extra = [(f"n{i // 24:05d}", f"{i % 24:02d}") for i in range(new)]
    rows = []
    with moto_server() as endpoint:
        catalog = GlueCatalog(region_name="us-east-1", endpoint_url=endpoint)
        catalog.sync_table(spec)

        def timed(label, fn, requests):
            start = time.perf_counter()
            added = fn()
            seconds = time.perf_counter() - start
            rows.append({"sync": label, "added": added, "seconds": round(seconds, 3),
                         "create_requests": requests})  # fmt: skip

        timed(f"full, {partitions} partitions", lambda: catalog.sync_partitions(spec, live).added,
              -(-partitions // CREATE_BATCH))  # fmt: skip
        timed(f"full listing, {new // 2} new",
              lambda: catalog.sync_partitions(spec, live + extra[: new // 2]).added,
              -(-(new // 2) // CREATE_BATCH))  # fmt: skip
        timed(f"a commit's partitions only, {new} (half already known)",
              lambda: catalog.apply_partition_changes(spec, extra)[0],
              -(-new // CREATE_BATCH))  # fmt: skip
        everything = live + extra
        timed("full listing, nothing new",
              lambda: catalog.sync_partitions(spec, everything).added, 0)  # fmt: skip
    return rows


def hudi_rows(n: int, start: int, rng: np.random.Generator) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    return pa.table({
        "id": ids,
        "ts": np.full(n, 1, dtype=np.int64),
        "part": pa.array([f"p{i % 25:02d}" for i in ids]),
        "v": rng.random(n),
        "name": pa.array([f"artist {i} of the bench" for i in ids]),
        "__deleted": pa.array(["false"] * n),
    })  # fmt: skip


def build_tables(root: Path, rows: int) -> dict[str, str]:
    """A CoW and a MoR table: one bulk insert, then 4 upserts of 2% of the keys each (so older
    file slices sit beside the latest ones, and MoR has log files)."""
    rng = np.random.default_rng(7)
    first = hudi_rows(rows, 0, rng)
    bases = {}
    for table_type in ("COPY_ON_WRITE", "MERGE_ON_READ"):
        base = root / table_type.lower()
        config = HudiConfig(TableConfig("bench", ("id",), "ts", ("part",), table_type=table_type),
                            WriteOptions(compaction_delta_commits=10))  # fmt: skip
        table = HudiTable.open_or_create(str(base), config)
        table.bulk_insert(first)
        for round_ in range(4):
            keys = rng.choice(rows, size=rows // 50, replace=False)
            changed = first.take(pa.array(np.sort(keys)))
            changed = changed.set_column(3, "v", pa.array(rng.random(len(changed))))
            changed = changed.set_column(1, "ts", pa.array(np.full(len(changed), 2 + round_)))
            table.upsert(changed)
        bases[table_type] = str(base)
    return bases


def median_seconds(con, sql: str, runs: int = 5) -> float:
    con.execute(sql).fetchall()  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def local_views(rows: int) -> tuple[list[dict], dict]:
    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        bases = build_tables(root / "lake", rows)
        write_seconds = time.perf_counter() - start
        catalog = LocalCatalog(warehouse=local_warehouse(root))
        sync = {}
        for table_type, base in bases.items():
            start = time.perf_counter()
            state = HudiState(base)
            for entry in state.catalog_tables("bench", table_type.lower()[:3]):
                catalog.sync_hudi(entry, state)
            sync[table_type] = round(time.perf_counter() - start, 3)
        # The same rows as plain Parquet, partitioned the same way.
        with catalog.warehouse.read() as session:
            snapshot = session.cursor.execute("select * from bench.cop").to_arrow_table()
        plain = root / "plain"
        pq.write_to_dataset(snapshot, plain, partition_cols=["part"])
        files = sum(1 for _ in plain.rglob("*.parquet"))
        results = []
        with catalog.warehouse.read() as session:
            con = session.cursor
            relations = {
                "plain Parquet": f"read_parquet('{plain}/**/*.parquet', hive_partitioning = true)",
                "moma_cow-style view (CoW)": "bench.cop",
                "_ro view (MoR)": "bench.mer_ro",
                "_rt table (MoR, merged)": "bench.mer_rt",
            }
            counts = {n: con.execute(f"select count(*) from {r}").fetchone()[0]
                      for n, r in relations.items()}  # fmt: skip
            for query, template in QUERIES.items():
                base_time = median_seconds(con, template.format(t=relations["plain Parquet"]))
                for name, rel in relations.items():
                    seconds = (
                        base_time if name == "plain Parquet"
                        else median_seconds(con, template.format(t=rel))
                    )  # fmt: skip
                    results.append({"query": query, "relation": name, "rows": counts[name],
                                    "seconds": round(seconds, 4),
                                    "vs_plain": round(seconds / base_time, 2)})  # fmt: skip
        info = {"rows": rows, "write_seconds": round(write_seconds, 1), "sync_seconds": sync,
                "plain_files": files,
                "hudi_base_files": len(HudiState(bases["COPY_ON_WRITE"]).base_files)}  # fmt: skip
        return results, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    glue = glue_sync(args.partitions, args.new)
    print("| sync | partitions added | seconds | create requests |")
    print("|---|---|---|---|")
    for r in glue:
        print(f"| {r['sync']} | {r['added']} | {r['seconds']:.2f} | {r['create_requests']} |")
    views, info = local_views(args.rows)
    print(f"\n{info}\n")
    print("| query | relation | rows | median s | vs plain Parquet |")
    print("|---|---|---|---|---|")
    for r in views:
        print(f"| {r['query']} | {r['relation']} | {r['rows']} | {r['seconds']:.4f} | "
              f"{r['vs_plain']:.2f}x |")  # fmt: skip
    out = REPO / "bench" / "results" / "catalog_sync.json"
    out.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                               "glue_sync": glue, "local_views": views, "local_info": info},
                              indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
