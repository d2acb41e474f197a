"""The two federated queries through Trino and through DuckDB, on the same data.

    uv run python bench/federated.py [--artists 100000] [--artworks 1000000] [--repeat 3]

The simulated MoMA snapshot is captured and upserted into moma_cow.* with the project's Hudi
writer in a local lake; the same files are copied into moto_server's S3 and registered in its
Glue. `public.artists` is loaded into a real PostgreSQL. Then each query runs `--repeat` times
on the pinned Trino (single node, 1 GB heap, S3 and Glue on loopback) and on DuckDB (the local
warehouse plus its postgres extension), and the medians are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
import psycopg  # noqa: E402

from lakehouse.catalog.federated import QUERIES  # noqa: E402
from lakehouse.catalog.hudi_sync import HudiState  # noqa: E402
from lakehouse.catalog.local import LocalCatalog  # noqa: E402
from lakehouse.catalog.query_engines import DuckDBEngine  # noqa: E402
from lakehouse.cdc import source  # noqa: E402
from lakehouse.cdc.generator import generate_rows  # noqa: E402
from lakehouse.cdc.resources import SimulatedMomaSource  # noqa: E402
from lakehouse.cdc.source_tables import ARTISTS  # noqa: E402
from lakehouse.defs.catalog.assets import catalog_assets  # noqa: E402
from lakehouse.defs.cdc.assets import raw_cdc_capture  # noqa: E402
from lakehouse.defs.moma.assets import hudi_table_assets  # noqa: E402
from lakehouse.moma.resources import LocalHudiIngest  # noqa: E402
from lakehouse.settings import export_environment  # noqa: E402
from lakehouse.storage import LocalObjectStore  # noqa: E402
from lakehouse.warehouse import local_warehouse  # noqa: E402
from tests.support.moto import CREDENTIALS, moto_server  # noqa: E402
from tests.support.postgres import SUPERUSER, SUPERUSER_PASSWORD, postgres_server  # noqa: E402
from tests.support.trino import lakehouse_catalogs, trino_server  # noqa: E402
from tests.trino.conftest import BUCKET, REGION, Stack  # noqa: E402
from tests.trino.test_tables import mirror  # noqa: E402

COW = "moma_cow"


def build_lake(root: Path, artists: int, artworks: int, seed: int) -> LocalObjectStore:
    lake = LocalObjectStore(root=str(root / "lake"))
    catalog = LocalCatalog(warehouse=local_warehouse(root), lake_root=lake.root_uri)
    sim = SimulatedMomaSource(artists=artists, artworks=artworks, seed=seed, batches_per_run=1,
                              flush_size=200_000)  # fmt: skip
    assets = [raw_cdc_capture, *hudi_table_assets, *catalog_assets]
    selection = [a for a in assets if a is raw_cdc_capture or COW in a.key.to_user_string()
                 or any(COW in k.to_user_string() for k in a.keys)]  # fmt: skip
    resources = {"lake": lake, "moma_source": sim, "hudi": LocalHudiIngest(), "catalog": catalog}
    result = dg.materialize(selection, resources=resources)
    assert result.success
    return lake


def timed(run, repeat: int) -> tuple[float, list]:
    times, rows = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artists", type=int, default=100_000)
    parser.add_argument("--artworks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    export_environment(**CREDENTIALS)
    root = Path(tempfile.mkdtemp(prefix="bench-federated-"))
    started = time.perf_counter()
    lake = build_lake(root, args.artists, args.artworks, args.seed)
    print(f"lake built in {time.perf_counter() - started:.1f} s", flush=True)
    with moto_server() as endpoint, postgres_server() as pg:
        export_environment(AWS_ENDPOINT_URL=endpoint)
        dsn = pg.create_database("moma")
        with psycopg.connect(dsn, autocommit=True) as conn:
            source.create_tables(conn, [ARTISTS])
            rows = generate_rows(args.artists, 0, args.seed)[ARTISTS.qualified]
            source.load_rows(conn, ARTISTS, rows)
        key, secret = CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        catalogs = lakehouse_catalogs(endpoint, REGION, key, secret, pg.port, "moma", SUPERUSER,
                                      SUPERUSER_PASSWORD)  # fmt: skip
        with trino_server(catalogs) as trino:
            stack = Stack(endpoint, pg, trino)
            stack.s3().create_bucket(Bucket=BUCKET)
            glue = stack.glue(lake_root=f"s3://{BUCKET}")
            for table in ("artists", "artworks"):
                local = Path(lake.root_uri) / "hudi" / COW / table
                uri = mirror(stack, local, f"hudi/{COW}/{table}")
                state = HudiState(uri, stack.filesystem)
                for entry in state.catalog_tables(COW, table):
                    glue.sync_hudi(entry, state)
            print(f"Trino started in {trino.startup_seconds:.1f} s", flush=True)
            duck = DuckDBEngine(warehouse=local_warehouse(root), postgres_dsn=dsn)
            engine = trino.engine()
            print("| query | Trino (s) | DuckDB (s) | Trino / DuckDB | rows |")
            print("|---|---|---|---|---|")
            for query in QUERIES:
                t_trino, on_trino = timed(lambda q=query: engine.query(q.sql), args.repeat)
                t_duck, on_duck = timed(lambda q=query: duck.query(q.sql), args.repeat)
                same = "same" if on_trino == on_duck else "DIFFERENT"
                ratio = t_trino / t_duck
                print(f"| {query.name} | {t_trino:.2f} | {t_duck:.2f} | {ratio:.1f}x | "
                      f"{len(on_trino)} ({same}) |", flush=True)  # fmt: skip
    print(f"load average: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
