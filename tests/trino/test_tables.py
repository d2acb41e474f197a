"""Every table the catalog sync registers in Glue reads back through real Trino exactly as the
local DuckDB relations and hudi-rs read it: the Hudi tables after commits that move a row to
another partition, empty a partition, compact and roll back a crashed write; the TICKIT external
tables; the telemetry landing zone.

The lake is written in a local folder and mirrored byte for byte into moto's S3 after each
commit, so DuckDB and hudi-rs read the folder while Trino reads the same files through Glue."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.catalog.hudi_sync import READ_OPTIMIZED, REALTIME, HudiState
from lakehouse.catalog.local import LocalCatalog
from lakehouse.warehouse import local_warehouse
from tests.catalog.test_hudi_sync import SEQUENCE, batch, make_table, sorted_rows
from tests.hudi import crash, support
from tests.trino.conftest import BUCKET

TYPES = ("COPY_ON_WRITE", "MERGE_ON_READ")


def mirror(stack, local: Path, prefix: str) -> str:
    """Makes s3://BUCKET/prefix/ hold exactly the files under `local`; returns its URI."""
    s3 = stack.s3()
    wanted = {p.relative_to(local).as_posix(): p for p in local.rglob("*") if p.is_file()}
    present = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        present.update(o["Key"][len(prefix) + 1 :] for o in page.get("Contents", []))
    for key in sorted(present - wanted.keys()):
        s3.delete_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
    for key, path in wanted.items():
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=path.read_bytes())
    return f"s3://{BUCKET}/{prefix}"


def trino_rows(stack, catalog: str, spec) -> list[tuple]:
    columns = ", ".join(f'"{c.name}"' for c in spec.columns + spec.partition_keys)
    return stack.trino.engine().query(
        f'SELECT {columns} FROM {catalog}."{spec.database}"."{spec.name}"'  # noqa: S608
    )


def duckdb_rows(catalog: LocalCatalog, spec) -> list[tuple]:
    columns = ", ".join(f'"{c.name}"' for c in spec.columns + spec.partition_keys)
    with catalog.warehouse.read() as session:
        return session.cursor.execute(
            f'select {columns} from "{spec.database}"."{spec.name}"'
        ).fetchall()


def hudi_rs_rows(base, query: str, spec, storage_options: dict | None = None) -> list[tuple]:
    names = [c.name for c in spec.columns + spec.partition_keys]
    options = {"storage_options": storage_options} if storage_options else {}
    if query == READ_OPTIMIZED:
        rows = support.read_optimized(str(base), **options)
    else:
        rows = support.snapshot(str(base), **options)
    return [tuple(r[c] for c in names) for r in rows.to_pylist()]


def check_commit(stack, base: Path, database: str, local: LocalCatalog, stale: list) -> dict:
    """Syncs both catalogs after a commit; returns {table: Trino rows} after asserting them."""
    uri = mirror(stack, base, f"hudi/{database}/t")
    glue = stack.glue(lake_root=f"s3://{BUCKET}")
    s3_state = HudiState(uri, stack.filesystem)
    local_state = HudiState(str(base))
    seen = {}
    pairs = zip(s3_state.catalog_tables(database, "t"), local_state.catalog_tables(database, "t"),
                strict=True)  # fmt: skip
    for entry, local_entry in pairs:
        glue.sync_hudi(entry, s3_state)
        local.sync_hudi(local_entry, local_state)
        spec = entry.spec
        expected = sorted_rows(hudi_rs_rows(base, entry.query, spec))
        assert sorted_rows(duckdb_rows(local, local_entry.spec)) == expected, spec.name
        got = sorted_rows(trino_rows(stack, "hudi", spec))
        if entry.query == REALTIME:
            # Trino's Hudi connector (476) reads Copy-on-Write and read-optimized tables only:
            # through it `_rt` returns the latest base files of the partitions registered for
            # `_rt` (those live in the merged snapshot), without the logs merged.
            live = {f"part={v}" for (v,) in glue.partitions(spec)}
            base_rows = hudi_rs_rows(base, READ_OPTIMIZED, spec)
            assert got == sorted_rows([r for r in base_rows if r[3] in live]), spec.name
            stale[0] |= got != expected
        else:
            assert got == expected, spec.name
        seen[spec.name] = got
    return seen


@pytest.mark.parametrize("table_type", TYPES)
def test_hudi_tables_read_the_same_through_trino_after_moves_compaction_and_rollback(
    stack, tmp_path, table_type
):
    base = tmp_path / "t"
    database = f"trino_{table_type.lower()}"
    local = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=str(tmp_path))
    table = make_table(base, table_type)
    stale = [False]  # whether `_rt` through Trino ever lagged the merged snapshot
    for rows in SEQUENCE[:3]:
        table.upsert(batch(*rows))
        check_commit(stack, base, database, local, stale)
    # A write that dies half-way is rolled back by the next one; Trino must not see its files.
    with pytest.raises(crash.Crash), crash.crash_before(6):
        make_table(base, table_type).upsert(batch((7, "z", "crashed")))
    mirror(stack, base, f"hudi/{database}/t")
    result = make_table(base, table_type).upsert(batch(*SEQUENCE[3]))
    assert result.rolled_back
    check_commit(stack, base, database, local, stale)
    for rows in SEQUENCE[4:]:
        table.upsert(batch(*rows))
        seen = check_commit(stack, base, database, local, stale)
    assert all("crashed" not in row for rows in seen.values() for row in rows)
    timeline = HudiState(str(base)).timeline
    assert any(i.action == "rollback" for i in timeline.completed(("rollback",)))
    if table_type == "MERGE_ON_READ":
        assert any(i.action == "compaction" for i in timeline.completed_writes())
        assert stale[0], "Trino merged the logs of `_rt`: read it from Trino after all"
