"""Write transactions on the warehouse resource, and manifest-scoped loads inside them.

The `warehouse` resource answers read-only queries; loads need a transaction, so this opens a
write connection on the same target: the DuckDB file (retrying while dbt or another run holds
its single writer lock) or the Redshift cluster (redshift_connector, TLS, autocommit off).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from lakehouse.iot.landing import encode
from lakehouse.iot.tables import DUCKDB, REDSHIFT, Table
from lakehouse.storage import ObjectStore
from lakehouse.warehouse import DuckDBWarehouse, RedshiftWarehouse, Warehouse

COPY_ROLE_VARIABLES = ("REDSHIFT_COPY_ROLE_ARN", "REDSHIFT_SPECTRUM_ROLE_ARN")
LOCK_WAIT_S = 120


class LoadError(RuntimeError):
    pass


def copy_role() -> str:
    """The IAM role Redshift assumes to read the lake (COPY), from the environment."""
    for name in COPY_ROLE_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    raise LoadError(
        "Redshift COPY needs an IAM role: set REDSHIFT_COPY_ROLE_ARN "
        "(or REDSHIFT_SPECTRUM_ROLE_ARN, which it falls back to)"
    )


@dataclass
class Session:
    """One open transaction; statements are recorded for metadata and logs."""

    dialect: str
    cursor: object
    statements: list[str]

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self.statements.append(sql)
        if self.dialect == REDSHIFT:
            self.cursor.execute(sql, tuple(params) or None)
        else:
            self.cursor.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        self.execute(sql, params)
        return [tuple(r) for r in self.cursor.fetchall()]

    @property
    def mark(self) -> str:
        return "%s" if self.dialect == REDSHIFT else "?"


def _duckdb_connect(path: str, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException as e:
            # One writer per DuckDB file: wait while dbt or another run holds it.
            if "lock" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def transaction(warehouse: Warehouse, lock_wait_s: float = LOCK_WAIT_S) -> Iterator[Session]:
    """Commits if the block returns, rolls back if it raises: all of it or nothing is visible."""
    if isinstance(warehouse, DuckDBWarehouse):
        con = _duckdb_connect(warehouse.path, lock_wait_s)
        dialect = DUCKDB
    elif isinstance(warehouse, RedshiftWarehouse):
        import redshift_connector

        con = redshift_connector.connect(
            host=warehouse.host,
            port=warehouse.port,
            database=warehouse.database,
            user=warehouse.user,
            password=warehouse.password,
            ssl=True,
        )
        con.autocommit = False
        dialect = REDSHIFT
    else:
        raise LoadError(f"no write path for a {type(warehouse).__name__} warehouse")
    try:
        # (A DuckDB cursor is a connection of its own, with its own transaction.)
        cursor = con if dialect == DUCKDB else con.cursor()
        if dialect == DUCKDB:
            cursor.execute("BEGIN TRANSACTION")
        session = Session(dialect, cursor, [])
        try:
            yield session
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.close()


def ensure_tables(session: Session, tables: Sequence[Table]) -> None:
    for table in tables:
        for statement in table.create(session.dialect):
            session.execute(statement)


# -- files to load, and their manifests -----------------------------------------------------


def hour_path(hour: dt.datetime) -> str:
    return f"{hour:%Y/%m/%d/%H}"


@dataclass(frozen=True)
class Part:
    manifest_key: str
    files: int
    bytes: int


def write_part(lake: ObjectStore, prefix: str, hour: dt.datetime, rows: list[dict]) -> Part:
    """One partition's rows as a gzip JSON-lines object, and the manifest that lists exactly
    it (no entries when there are no rows). Fixed names: a re-run replaces both."""
    manifest_key = f"{prefix}/manifests/{hour:%Y-%m-%d-%H}.manifest"
    entries, size = [], 0
    if rows:
        key = f"{prefix}/{hour_path(hour)}/part-00000.json.gz"
        data = encode(rows)
        lake.put_bytes(key, data)
        entries.append({"url": lake.uri(key), "mandatory": True})
        size = len(data)
    lake.put_bytes(manifest_key, json.dumps({"entries": entries}).encode())
    return Part(manifest_key, len(entries), size)


def manifest_urls(lake: ObjectStore, manifest_key: str) -> list[str]:
    return [e["url"] for e in json.loads(lake.get_bytes(manifest_key))["entries"]]


def replace_partition(
    session: Session, table: Table, lake: ObjectStore, manifest_key: str, value: object
) -> None:
    """Delete the partition's rows, then load exactly the manifest's files."""
    session.execute(table.delete_partition(session.dialect), [value])
    urls = manifest_urls(lake, manifest_key)
    if not urls:
        return
    if session.dialect == REDSHIFT:
        session.execute(table.copy_json(lake.uri(manifest_key), copy_role()))
    else:
        session.execute(table.insert_json(), [urls])


def replace_all_from_csv(session: Session, table: Table, lake: ObjectStore, key: str) -> None:
    """Full refresh of a table from one CSV object, inside the caller's transaction."""
    session.execute(table.delete_all())
    if session.dialect == REDSHIFT:
        session.execute(table.copy_csv(lake.uri(key), copy_role()))
    else:
        session.execute(table.insert_csv(), [lake.uri(key)])
