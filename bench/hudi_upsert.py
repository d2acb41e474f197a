"""Hudi upsert throughput: the Python writer (CoW and MoR) vs delta-rs merge and DuckDB, and
Apache Hudi on Spark (local[2], `--spark`).

    uv run python bench/hudi_upsert.py [--rows 1000000] [--changes 100000] [--repeat 3] [--spark]

Bulk-inserts `rows` generated CDC rows (MoMA artists shape, partitioned by nationality), then
applies `changes` CDC events: updates (a tenth of them move partition), inserts and hard deletes.
The same data goes through deltalake (delta-rs) `merge` and a DuckDB table in the same process.
Each engine bulk-loads into an empty table and upserts into a fresh copy of it `repeat` times
(Spark loads once), in rounds over the engines so that load from other processes falls on each
alike; the best load and the best upsert count, and all runs are printed. Prints rows/s,
ratios, the process's peak RSS after the Hudi writer's loads and upserts (they run first) and
overall, and the bulk-loaded tables' Parquet bytes per row (for Hudi, also how many of them
are bloom filter); writes bench/results/hudi_upsert.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions  # noqa: E402

NATIONALITIES = [f"Nation_{i:02d}" for i in range(50)]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(rows: int, changes: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int32)
    nat = rng.integers(0, len(NATIONALITIES), rows)
    base_ts = 1_640_401_890_000

    def table(ids, nat, ts, op, deleted, names):
        n = len(ids)
        return pa.table({
            "artist_id": pa.array(ids, pa.int32()),
            "name": pa.array(names, pa.string()),
            "nationality": pa.array(np.array(NATIONALITIES, dtype=object)[nat], pa.string()),
            "gender": pa.array(np.where(rng.random(n) < 0.8, "Male", "Female"), pa.string()),
            "birth_year": pa.array(rng.integers(1700, 2000, n).astype(np.int32)),
            "death_year": pa.array(rng.integers(1750, 2020, n).astype(np.int32)),
            "__op": pa.array(op, pa.string()),
            "__db": pa.repeat("moma", n),
            "__table": pa.repeat("artists", n),
            "__schema": pa.repeat("public", n),
            "__lsn": pa.array(np.full(n, 3600591880192, dtype=np.int64)),
            "__source_ts_ms": pa.array(ts.astype(np.int64)),
            "__deleted": pa.array(deleted, pa.string()),
        })  # fmt: skip

    names = pc.binary_join_element_wise("Artist ", pa.array(ids).cast(pa.string()), "")
    initial = table(ids, nat, np.full(rows, base_ts) + ids // 1000, np.full(rows, "r"),
                    np.full(rows, "false"), names)  # fmt: skip
    n_upd, n_ins = int(changes * 0.7), int(changes * 0.2)
    n_del = changes - n_upd - n_ins
    picked = rng.choice(rows, n_upd + n_del, replace=False).astype(np.int32)
    upd, dele = picked[:n_upd], picked[n_upd:]
    new = np.arange(rows, rows + n_ins, dtype=np.int32)
    cids = np.concatenate([upd, new, dele])
    cnat = np.concatenate([nat[upd], rng.integers(0, len(NATIONALITIES), n_ins), nat[dele]])
    moves = rng.random(n_upd) < 0.1
    cnat[:n_upd][moves] = (cnat[:n_upd][moves] + 1) % len(NATIONALITIES)
    op = np.array(["u"] * n_upd + ["c"] * n_ins + ["d"] * n_del)
    deleted = np.where(op == "d", "true", "false")
    cnames = pc.binary_join_element_wise("Changed ", pa.array(cids).cast(pa.string()), "")
    ts = np.full(len(cids), base_ts + 10_000_000)
    return initial, table(cids, cnat, ts, op, deleted, cnames)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class Engine:
    """One engine's figures: a bulk load, then upsert runs timed in wall and CPU seconds (the
    process's, all threads: less sensitive to other processes than wall time)."""

    reload = True  # bulk-load again before each upsert round (False: one load only)

    def __init__(self):
        self.out: dict = {"upsert_runs_s": [], "upsert_runs_cpu_s": [], "bulk_runs_s": []}
        self.pristine: Path | None = None

    def clear(self) -> None:
        """Remove what a previous load wrote, so that each load starts from nothing."""
        if self.pristine is not None:
            shutil.rmtree(self.pristine, ignore_errors=True)

    def timed_load(self, initial: pa.Table) -> None:
        self.clear()
        self.load(initial)
        self.out["bulk_runs_s"].append(self.out["bulk_insert_s"])

    def timed_upsert(self, fn):
        cpu = time.process_time()
        elapsed, result = timed(fn)
        self.out["upsert_runs_cpu_s"].append(time.process_time() - cpu)
        self.out["upsert_runs_s"].append(elapsed)
        return result


def parquet_bytes(root: Path) -> tuple[int, int]:
    """(bytes of the Parquet data files under root, bytes of their Hudi bloom filters)."""
    import pyarrow.parquet as pq

    total = bloom = 0
    for path in root.rglob("*.parquet"):
        total += path.stat().st_size
        meta = pq.read_metadata(path).metadata or {}
        bloom += len(meta.get(b"org.apache.hudi.bloomfilter", b""))
    return total, bloom


def fresh_copy(pristine: Path, run: int) -> Path:
    """A copy of a bulk-loaded table for one upsert run (the previous run's copy is removed)."""
    work = pristine.with_name(f"{pristine.name}-run{run}")
    previous = pristine.with_name(f"{pristine.name}-run{run - 1}")
    shutil.rmtree(previous, ignore_errors=True)
    shutil.copytree(pristine, work)
    return work


class HudiEngine(Engine):
    def __init__(self, root: Path, table_type: str):
        super().__init__()
        self.table_type = table_type
        self.pristine = root / table_type.lower()
        self.config = HudiConfig(
            TableConfig("artists", ("artist_id",), "__source_ts_ms", ("nationality",),
                        table_type=table_type),
            WriteOptions(delete_mode="hard", auto_clean=False, inline_compaction=False),
        )  # fmt: skip

    def load(self, initial: pa.Table) -> None:
        table = HudiTable.open_or_create(str(self.pristine), self.config)
        self.out["bulk_insert_s"], _ = timed(lambda: table.bulk_insert(initial))
        total, bloom = parquet_bytes(self.pristine)
        self.out["bulk_bytes_per_row"] = total / initial.num_rows
        self.out["bulk_bloom_bytes_per_row"] = bloom / initial.num_rows

    def upsert(self, changes: pa.Table, run: int) -> None:
        table = HudiTable.open(str(fresh_copy(self.pristine, run)), self.config.write)
        result = self.timed_upsert(lambda: table.upsert(changes))
        self.out["upsert_bytes"] = result.bytes_written
        self.table = table

    def finish(self) -> dict:
        self.out["rows"] = self.table.snapshot(["_hoodie_record_key"]).num_rows
        if self.table_type == "MERGE_ON_READ":
            self.out["compaction_s"], _ = timed(self.table.compact)
        return self.out


class DeltaEngine(Engine):
    def __init__(self, root: Path):
        super().__init__()
        self.pristine = root / "delta"

    def load(self, initial: pa.Table) -> None:
        from deltalake import write_deltalake

        self.out["bulk_insert_s"], _ = timed(
            lambda: write_deltalake(str(self.pristine), initial, partition_by=["nationality"])
        )
        self.out["bulk_bytes_per_row"] = parquet_bytes(self.pristine)[0] / initial.num_rows

    def upsert(self, changes: pa.Table, run: int) -> None:
        from deltalake import DeltaTable

        path = fresh_copy(self.pristine, run)

        def merge():
            (
                DeltaTable(str(path))
                .merge(
                    changes,
                    predicate="t.artist_id = s.artist_id",
                    source_alias="s",
                    target_alias="t",
                )  # fmt: skip
                .when_matched_delete(predicate="s.__deleted = 'true'")
                .when_matched_update_all()
                .when_not_matched_insert_all(predicate="s.__deleted <> 'true'")
                .execute()
            )

        self.timed_upsert(merge)
        self.path = path

    def finish(self) -> dict:
        from deltalake import DeltaTable

        self.out["rows"] = DeltaTable(str(self.path)).to_pyarrow_dataset().count_rows()
        return self.out


class SparkHudiEngine(Engine):
    """Apache Hudi 0.15 on Spark 3.5, local[2], through the datasource with the writer's
    settings (global bloom index moving partitions, event-time payload, hard deletes). The
    JVM's start-up is timed on its own; the upsert times exclude it."""

    reload = False  # a minute per load

    def __init__(self, root: Path, table_type: str, session):
        super().__init__()
        self.root, self.table_type, self.spark = root, table_type, session
        self.pristine = root / f"spark_{table_type.lower()}"
        self.options = {
            "hoodie.table.name": "artists",
            "hoodie.datasource.write.table.type": table_type,
            "hoodie.datasource.write.recordkey.field": "artist_id",
            "hoodie.datasource.write.partitionpath.field": "nationality",
            "hoodie.datasource.write.precombine.field": "__source_ts_ms",
            "hoodie.datasource.write.hive_style_partitioning": "true",
            "hoodie.datasource.write.payload.class": (
                "org.apache.hudi.common.model.DefaultHoodieRecordPayload"
            ),
            "hoodie.index.type": "GLOBAL_BLOOM",
            "hoodie.bloom.index.update.partition.path": "true",
            "hoodie.metadata.enable": "false",
            "hoodie.compact.inline": "false",
            "hoodie.clean.automatic": "false",
            **{f"hoodie.{op}.shuffle.parallelism": "2"
               for op in ("upsert", "insert", "bulkinsert", "delete")},
        }  # fmt: skip

    def _frame(self, data: pa.Table, name: str):
        import pyarrow.parquet as pq

        path = self.root / f"{name}.parquet"
        if not path.exists():
            deleted = pc.equal(data.column("__deleted"), "true")
            pq.write_table(data.append_column("_hoodie_is_deleted", deleted), path)
        return self.spark.read.parquet(str(path))

    def _write(self, frame, path: Path, operation: str) -> None:
        writer = frame.write.format("hudi").mode("append")
        for key, value in {**self.options, "hoodie.datasource.write.operation": operation}.items():
            writer = writer.option(key, value)
        writer.save(str(path))

    def load(self, initial: pa.Table) -> None:
        frame = self._frame(initial, "initial")
        self.out["bulk_insert_s"], _ = timed(
            lambda: self._write(frame, self.pristine, "bulk_insert")
        )

    def upsert(self, changes: pa.Table, run: int) -> None:
        path = fresh_copy(self.pristine, run)
        frame = self._frame(changes, "changes")
        self.timed_upsert(lambda: self._write(frame, path, "upsert"))
        self.path = path

    def finish(self) -> dict:
        self.out["rows"] = self.spark.read.format("hudi").load(str(self.path)).count()
        return self.out


class DuckDBEngine(Engine):
    def __init__(self, root: Path):
        import duckdb

        super().__init__()
        self.con = duckdb.connect(str(root / "bench.duckdb"))

    def clear(self) -> None:
        self.con.execute("DROP TABLE IF EXISTS artists")

    def load(self, initial: pa.Table) -> None:
        self.con.register("initial_rows", initial)
        self.out["bulk_insert_s"], _ = timed(
            lambda: self.con.execute("CREATE TABLE artists AS SELECT * FROM initial_rows")
        )

    def upsert(self, changes: pa.Table, run: int) -> None:
        # A fresh copy of the loaded table per run, made outside the timing.
        self.con.execute("DROP TABLE IF EXISTS artists_run")
        self.con.execute("CREATE TABLE artists_run AS SELECT * FROM artists")
        self.con.register("change_rows", changes)

        def upsert():
            self.con.execute("BEGIN")
            self.con.execute(
                "DELETE FROM artists_run WHERE artist_id IN (SELECT artist_id FROM change_rows)"
            )
            self.con.execute(
                "INSERT INTO artists_run SELECT * FROM change_rows WHERE __deleted <> 'true'"
            )
            self.con.execute("COMMIT")

        self.timed_upsert(upsert)

    def finish(self) -> dict:
        self.out["rows"] = self.con.execute("SELECT count(*) FROM artists_run").fetchone()[0]
        self.con.close()
        return self.out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="load and upsert runs per engine (best)"
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "hudi_upsert.json")
    )
    parser.add_argument("--spark", action="store_true", help="add Apache Hudi on Spark")
    args = parser.parse_args()
    initial, changes = generate(args.rows, args.changes)
    expected = args.rows + int(args.changes * 0.2) - (args.changes - int(args.changes * 0.9))
    root = Path(tempfile.mkdtemp(prefix="hudi-bench-"))
    results = {}
    try:
        engines = {"hudi_cow": HudiEngine(root, "COPY_ON_WRITE"),
                   "hudi_mor": HudiEngine(root, "MERGE_ON_READ"),
                   "delta_rs": DeltaEngine(root), "duckdb": DuckDBEngine(root)}  # fmt: skip
        hudi = [engines["hudi_cow"], engines["hudi_mor"]]
        others = [engines["delta_rs"], engines["duckdb"]]
        if args.spark:
            from lakehouse import hudi_spark as spark

            startup, session = timed(
                lambda: spark.session(extra_conf={"spark.driver.memory": "4g"})
            )
            results["spark_startup_s"] = startup
            for table_type, name in (
                ("COPY_ON_WRITE", "spark_cow"),
                ("MERGE_ON_READ", "spark_mor"),
            ):
                engines[name] = SparkHudiEngine(root, table_type, session)
                others.append(engines[name])
        # The Hudi writer's own peak memory first, then the others; then the upsert runs in
        # rounds over all engines, so that load from other processes falls on each alike.
        for engine in hudi:
            engine.timed_load(initial)
            engine.upsert(changes, 0)
        hudi_peak = rss_mb()
        for engine in others:
            engine.timed_load(initial)
            engine.upsert(changes, 0)
        for run in range(1, args.repeat):
            for engine in engines.values():
                if engine.reload:
                    engine.timed_load(initial)
                engine.upsert(changes, run)
        for name, engine in engines.items():
            results[name] = engine.finish()
            results[name]["upsert_s"] = min(results[name]["upsert_runs_s"])
            results[name]["bulk_insert_s"] = min(results[name]["bulk_runs_s"])
            results[name]["upsert_cpu_s"] = min(results[name]["upsert_runs_cpu_s"])
    finally:
        if args.spark:
            session.stop()
        shutil.rmtree(root, ignore_errors=True)
    startup = results.pop("spark_startup_s", None)
    print(f"{args.rows:,} rows bulk insert, then {args.changes:,} changes "
          f"(70% updates of which 10% move partition, 20% inserts, 10% deletes)")  # fmt: skip
    print(f"{'engine':10} {'bulk rows/s':>12} {'B/row':>6} {'upsert rows/s':>14} "
          f"{'rows after':>11} {'CPU s':>6}  bulk runs | upsert runs (s)")  # fmt: skip
    for name, r in results.items():
        r["bulk_rows_per_s"] = args.rows / r["bulk_insert_s"]
        r["upsert_rows_per_s"] = args.changes / r["upsert_s"]
        assert r["rows"] == expected, (name, r["rows"], expected)
        runs = " ".join(f"{t:.2f}" for t in r["bulk_runs_s"]) + " | "
        runs += " ".join(f"{t:.2f}" for t in r["upsert_runs_s"])
        per_row = r.get("bulk_bytes_per_row")
        print(f"{name:10} {r['bulk_rows_per_s']:12,.0f} "
              f"{'' if per_row is None else f'{per_row:.1f}':>6} {r['upsert_rows_per_s']:14,.0f} "
              f"{r['rows']:11,} {r['upsert_cpu_s']:6.2f}  {runs}")  # fmt: skip
    bloom = results["hudi_cow"]["bulk_bloom_bytes_per_row"]
    print(f"bulk-inserted Hudi base files: {bloom:.1f} of their bytes per row are bloom filters")
    delta = results["delta_rs"]["upsert_rows_per_s"]
    ratios = {
        "cow_upsert_vs_delta_merge": results["hudi_cow"]["upsert_rows_per_s"] / delta,
        "mor_upsert_vs_delta_merge": results["hudi_mor"]["upsert_rows_per_s"] / delta,
        "cow_upsert_vs_duckdb": results["hudi_cow"]["upsert_rows_per_s"]
        / results["duckdb"]["upsert_rows_per_s"],
        "cow_bulk_vs_delta_write": results["hudi_cow"]["bulk_rows_per_s"]
        / results["delta_rs"]["bulk_rows_per_s"],
        # CPU seconds of delta-rs merge per CPU second of the CoW upsert (best runs)
        "cow_upsert_vs_delta_merge_cpu": results["delta_rs"]["upsert_cpu_s"]
        / results["hudi_cow"]["upsert_cpu_s"],
        # the median over rounds of delta-rs's time / the CoW upsert's time in the same round
        # (runs next to each other see about the same load from other processes)
        "cow_upsert_vs_delta_merge_paired": statistics.median(
            d / c
            for d, c in zip(
                results["delta_rs"]["upsert_runs_s"],
                results["hudi_cow"]["upsert_runs_s"],
                strict=True,
            )
        ),
    }
    if startup is not None:
        # Python writer ÷ Spark, upsert throughput, JVM start-up excluded
        for kind in ("cow", "mor"):
            ratios[f"{kind}_upsert_vs_spark"] = (
                results[f"hudi_{kind}"]["upsert_rows_per_s"]
                / results[f"spark_{kind}"]["upsert_rows_per_s"]
            )
        ratios["spark_jvm_startup_s"] = startup
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    peak = rss_mb()
    print(f"peak RSS: {hudi_peak:,.0f} MB after the Hudi loads and upserts, {peak:,.0f} MB overall")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(
        {"machine": platform.machine(), "rows": args.rows, "changes": args.changes,
         "repeat": args.repeat, "results": results, "ratios": ratios,
         "peak_rss_mb": {"hudi": hudi_peak, "overall": peak}}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
