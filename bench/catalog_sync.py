"""Glue partition sync: a table with 10k partitions, synced in full and then incrementally.

    uv run python bench/catalog_sync.py [--partitions 10000] [--new 100]

Runs against moto_server on loopback (an S3/Glue-compatible server; real Glue adds network
latency per request, and the request counts printed here are what a real sync would send).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lakehouse.catalog.glue import CREATE_BATCH, GlueCatalog  # noqa: E402
from lakehouse.catalog.spec import Column, Format, TableSpec  # noqa: E402
from tests.support.moto import CREDENTIALS, moto_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=100)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    keys = (Column("day", "string"), Column("hour", "string"))
    spec = TableSpec("bench", "events", (Column("v", "int"),), "s3://lake/events/",
                     Format.PARQUET, keys)  # fmt: skip
    live = [(f"d{i // 24:05d}", f"{i % 24:02d}") for i in range(args.partitions)]
    extra = [(f"n{i // 24:05d}", f"{i % 24:02d}") for i in range(args.new)]
    with moto_server() as endpoint:
        catalog = GlueCatalog(region_name="us-east-1", endpoint_url=endpoint)
        catalog.sync_table(spec)
        start = time.perf_counter()
        full = catalog.sync_partitions(spec, live)
        t_full = time.perf_counter() - start
        start = time.perf_counter()
        incremental = catalog.sync_partitions(spec, live + extra[: args.new // 2])
        t_inc = time.perf_counter() - start
        start = time.perf_counter()
        added, _ = catalog.apply_partition_changes(spec, extra)  # what one commit wrote
        t_commit = time.perf_counter() - start
        start = time.perf_counter()
        catalog.sync_partitions(spec, live + extra)
        t_noop = time.perf_counter() - start
    print("| sync | partitions added | seconds | create requests |")
    print("|---|---|---|---|")
    print(f"| full, {args.partitions} partitions | {full.added} | {t_full:.2f} | "
          f"{-(-full.added // CREATE_BATCH)} |")  # fmt: skip
    print(f"| full listing, {args.new // 2} new | {incremental.added} | {t_inc:.2f} | "
          f"{-(-incremental.added // CREATE_BATCH)} |")  # fmt: skip
    print(f"| commit's partitions only, {args.new} (half already known) | {added} | "
          f"{t_commit:.2f} | {-(-len(extra) // CREATE_BATCH)} |")  # fmt: skip
    print(f"| full listing, nothing new | 0 | {t_noop:.2f} | 0 |")


if __name__ == "__main__":
    main()
