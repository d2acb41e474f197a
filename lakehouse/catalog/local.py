"""The local catalog: tables as relations in the warehouse dbt also uses (the `warehouse`
resource, DuckLake), and a metastore of their definitions and partitions in its schema
`lakehouse_catalog`.

Each sync writes one table's relation, partitions and last sync in a single warehouse
transaction: a reader sees the table before or after a sync, never in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from lakehouse.catalog.base import Catalog, Partition, SyncReport, plan_partitions
from lakehouse.catalog.duckdb_views import (
    duckdb_name,
    duckdb_view_sql,
    hudi_files_view_sql,
    materialized_table_sql,
)
from lakehouse.catalog.hive import hive_ddl
from lakehouse.catalog.hudi_sync import LAST_SYNC, REALTIME, HudiCatalogTable, HudiState
from lakehouse.catalog.spec import TableSpec
from lakehouse.warehouse import Warehouse

META = "lakehouse_catalog"
_SETUP = [
    f"create schema if not exists {META}",
    f"""create table if not exists {META}.tables (
        database varchar not null, name varchar not null, format varchar not null,
        location varchar not null, ddl varchar not null, parameters varchar not null,
        last_commit_time_sync varchar, synced_at timestamptz not null default now())""",
    f"""create table if not exists {META}.partitions (
        database varchar not null, name varchar not null, partition_values varchar[] not null,
        location varchar not null)""",
]


class LocalCatalog(Catalog):
    warehouse: Warehouse

    @contextmanager
    def _write(self) -> Iterator:
        # The block's statements are one warehouse transaction (`Warehouse.transaction`).
        with self.warehouse.transaction() as session:
            for statement in _SETUP:
                session.cursor.execute(statement)
            yield session.cursor

    def _read(self, sql: str, params: list) -> list[tuple]:
        with self.warehouse.read() as session:
            known = session.query(
                "select count(*) from information_schema.tables where table_schema = ? "
                "and table_name in ('tables', 'partitions') and table_catalog = current_database()",
                [META],
            )[0][0]
            return session.query(sql, params) if known == 2 else []

    # -- the metastore --------------------------------------------------------------------

    def last_synced(self, spec: TableSpec) -> str | None:
        rows = self._read(
            f"select last_commit_time_sync from {META}.tables where database = ? and name = ?",  # noqa: S608
            [spec.database, spec.name],
        )
        return rows[0][0] if rows else None

    def partitions(self, spec: TableSpec) -> set[Partition]:
        rows = self._read(
            f"select partition_values from {META}.partitions where database = ? and name = ?",  # noqa: S608
            [spec.database, spec.name],
        )
        return {tuple(r[0]) for r in rows}

    def _record(self, con, spec: TableSpec, last_commit: str | None) -> str:
        """Upserts the table's definition; says whether it was created or updated."""
        key = [spec.database, spec.name]
        where = "where database = ? and name = ?"
        # (DuckLake has no DELETE ... RETURNING.)
        existed = con.execute(f"select count(*) from {META}.tables {where}", key).fetchone()[0]  # noqa: S608
        con.execute(f"delete from {META}.tables {where}", key)  # noqa: S608
        con.execute(
            f"insert into {META}.tables (database, name, format, location, ddl, parameters, "  # noqa: S608
            "last_commit_time_sync) values (?, ?, ?, ?, ?, ?, ?)",
            [spec.database, spec.name, spec.format.value, spec.location, hive_ddl(spec),
             json.dumps(dict(spec.properties)), last_commit],
        )  # fmt: skip
        return "updated" if existed else "created"

    def _change_partitions(self, con, spec, add, remove) -> tuple[int, int]:
        where = "database = ? and name = ? and partition_values = ?"
        known = {
            tuple(r[0])
            for r in con.execute(
                f"select partition_values from {META}.partitions where database = ? "  # noqa: S608
                "and name = ?",
                [spec.database, spec.name],
            ).fetchall()
        }
        add = sorted({tuple(v) for v in add} - known)
        remove = sorted({tuple(v) for v in remove} & known)
        for values in remove:
            con.execute(f"delete from {META}.partitions where {where}",  # noqa: S608
                        [spec.database, spec.name, list(values)])  # fmt: skip
        if add:
            con.executemany(
                f"insert into {META}.partitions values (?, ?, ?, ?)",  # noqa: S608
                [[spec.database, spec.name, list(v), spec.partition_location(v)] for v in add],
            )
        return len(add), len(remove)

    def apply_partition_changes(
        self, spec: TableSpec, add: Iterable[Partition], remove: Iterable[Partition] = ()
    ) -> tuple[int, int]:
        spec = self.check(spec)
        with self._write() as con:
            return self._change_partitions(con, spec, list(add), list(remove))

    # -- tables -----------------------------------------------------------------------------

    @staticmethod
    def _replace(con, spec: TableSpec, sql: str, kind: str) -> None:
        """Creates the schema and replaces the relation, whichever kind it was before."""
        con.execute(f"create schema if not exists {duckdb_name(spec.database)}")
        other = con.execute(
            "select table_type from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [spec.database, spec.name],
        ).fetchone()
        if other and (other[0] == "VIEW") != (kind == "view"):
            dropped = "view" if other[0] == "VIEW" else "table"
            con.execute(f"drop {dropped} {duckdb_name(spec.database)}.{duckdb_name(spec.name)}")
        con.execute(sql)

    def sync_table(self, spec: TableSpec) -> str:
        spec = self.check(spec)
        with self._write() as con:
            self._replace(con, spec, duckdb_view_sql(spec), "view")
            return self._record(con, spec, None)

    def sync_hudi(self, entry: HudiCatalogTable, state: HudiState) -> SyncReport:
        spec = self.check(entry.spec)
        previous = self.last_synced(spec)
        # Everything slow (footers, the merged snapshot) happens before the lock is taken.
        if entry.query == REALTIME:
            unchanged = previous is not None and previous == state.latest_instant
            rows = None if unchanged else state.snapshot
            relation_sql = None if unchanged else materialized_table_sql(spec, "hudi_snapshot")
        plan = plan_partitions(state, entry, previous, lambda: self.partitions(spec))
        if entry.query != REALTIME:
            files = state.base_files
            present = set().union(*(f.columns for f in files)) if files else set()
            relation_sql = hudi_files_view_sql(spec, [f.uri for f in files], present)
        with self._write() as con:
            if relation_sql is not None:
                if entry.query == REALTIME:
                    con.register("hudi_snapshot", rows)
                self._replace(
                    con, spec, relation_sql, "table" if entry.query == REALTIME else "view"
                )
            added, removed = self._change_partitions(con, spec, plan.add, plan.remove)
            latest = state.latest_instant
            recorded = spec.with_properties(**{LAST_SYNC: latest}) if latest else spec
            action = self._record(con, recorded, latest)
        if action == "updated" and previous == latest and not (added or removed):
            action = "unchanged"
        return SyncReport(spec.qualified_name, action, plan.mode, added, removed, len(plan.live),
                          state.latest_instant, spec.location)  # fmt: skip
