"""The warehouse the dbt models live in: DuckLake locally, Amazon Redshift in AWS.

Every read and write of the warehouse goes through this resource, so the concurrency design
lives here:

- Locally the warehouse is DuckLake: a SQLite catalog (`$LAKEHOUSE_HOME/warehouse.sqlite`, in
  WAL mode) and Parquet data under the lake (`$LAKEHOUSE_HOME/lake/warehouse/`). Readers open
  the snapshot committed last and never wait, whatever is being written.
- Writers take turns: a write transaction holds an exclusive lock on `warehouse.lock` beside
  the catalog (dbt holds it for its run, see `lakehouse.dbt.ducklake_plugin`). SQLite admits
  one writer too, and a DuckLake commit that loses that race fails instead of waiting, so the
  turn is taken before the transaction starts. A killed writer's lock goes with its process;
  its Parquet files are never referenced by a snapshot.
- In AWS, Redshift's own MVCC does all of this.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from lakehouse import sql
from lakehouse.duckdb_extensions import load_extension

DUCKDB = "duckdb"
REDSHIFT = "redshift"
ALIAS = "warehouse"  # the attached DuckLake's catalog name in every local connection
DUCKLAKE_SQLITE = "ducklake:sqlite:"  # the attach path's prefix of a DuckLake with a SQLite catalog
SQLITE_BUSY_TIMEOUT_MS = 60_000
LOCK_WAIT_S = 600.0


class WarehouseError(ValueError):
    pass


class WarehouseLockedError(RuntimeError):
    pass


def quote_ident(name: str) -> str:
    # Redshift's rules in both environments: the same SQL runs on DuckDB locally.
    return sql.quote_identifier(name, sql.REDSHIFT, error=WarehouseError)


def _sql_string(value: str) -> str:
    return sql.quote_literal(value, sql.DUCKDB, error=WarehouseError)


def row_count_sql(relations: Sequence[tuple[str, str]]) -> str:
    """One statement counting every relation, so a build costs one round trip."""
    parts = [
        f"select {i} as position, count(*) as row_count from {quote_ident(s)}.{quote_ident(n)}"  # noqa: S608
        for i, (s, n) in enumerate(relations)
    ]
    return "\nunion all\n".join(parts)


@dataclass
class Session:
    """One open connection (a transaction when writing); statements are recorded for metadata
    and logs."""

    dialect: str
    cursor: object
    statements: list[str] = field(default_factory=list)
    copy_role_arn: str | None = None  # the IAM role Redshift's COPY assumes to read the lake

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


@contextmanager
def _committed(con, session: Session) -> Iterator[Session]:
    """Commits if the block returns, rolls back if it raises."""
    try:
        yield session
    except BaseException:
        con.rollback()
        raise
    con.commit()


class Warehouse(dg.ConfigurableResource):
    """Reads (`read`, `query`) see committed data only; `transaction` commits if its block
    returns and rolls back if it raises: all of it or nothing becomes visible."""

    @property
    def dialect(self) -> str:
        raise NotImplementedError

    @contextmanager
    def read(self) -> Iterator[Session]:
        raise NotImplementedError

    @contextmanager
    def transaction(self, lock_wait_s: float | None = None) -> Iterator[Session]:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self.read() as session:
            return session.query(sql, params)

    def row_counts(self, relations: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not relations:
            return {}
        rows = self.query(row_count_sql(relations))
        return {relations[position]: count for position, count in rows}


# -- local: DuckLake -------------------------------------------------------------------------


def load_ducklake_extensions(con: duckdb.DuckDBPyConnection) -> None:
    load_extension(con, "duckdb_extension_sqlite_scanner", "sqlite_scanner")
    load_extension(con, "duckdb_extension_ducklake", "ducklake")


def ducklake_attach_sql(catalog: str, data_path: str, alias: str, read_only: bool) -> str:
    options = [
        f"data_path {_sql_string(data_path.rstrip('/') + '/')}",
        f"meta_busy_timeout {SQLITE_BUSY_TIMEOUT_MS}",
    ]
    if read_only:
        options.append("read_only")
    return (
        f"attach {_sql_string(DUCKLAKE_SQLITE + catalog)} as {quote_ident(alias)} "
        f"({', '.join(options)})"
    )


def prepare_catalog(catalog: str, data_path: str) -> None:
    """Creates the SQLite catalog in WAL mode (its readers then never wait for its writer)
    and the data directory. Idempotent; WAL mode is a property of the file."""
    Path(data_path).mkdir(parents=True, exist_ok=True)
    Path(catalog).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(catalog, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        if con.execute("pragma journal_mode").fetchone()[0].lower() != "wal":
            con.execute("pragma journal_mode=wal")
    finally:
        con.close()


def catalog_initialized(catalog: str) -> bool:
    if not Path(catalog).exists():
        return False
    con = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=30)
    try:
        return bool(
            con.execute(
                "select count(*) from sqlite_master where name = 'ducklake_metadata'"
            ).fetchone()[0]
        )
    finally:
        con.close()


@contextmanager
def writer_turn(lock_path: str, wait_s: float) -> Iterator[None]:
    """The exclusive turn to write, waited for (never failed on) up to `wait_s`."""
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + wait_s
        delay = 0.02
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseLockedError(
                        f"{lock_path}: another writer (a dbt run, a sync or a load) kept its "
                        f"turn for more than {wait_s:.0f} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_databases: dict[tuple, duckdb.DuckDBPyConnection] = {}
_databases_guard = threading.Lock()
_writers_guard = threading.Lock()  # flock is per open file: threads also take turns in-process


class DuckLakeWarehouse(Warehouse):
    catalog: str  # the SQLite catalog file
    data_path: str  # where the Parquet files go
    lock_timeout_seconds: float = LOCK_WAIT_S

    @property
    def dialect(self) -> str:
        return DUCKDB

    @property
    def lock_path(self) -> str:
        return self.catalog + ".lock"

    def attach_sql(self, alias: str = ALIAS, read_only: bool = False) -> str:
        return ducklake_attach_sql(self.catalog, self.data_path, alias, read_only)

    def attach(self, con: duckdb.DuckDBPyConnection, alias: str, read_only: bool = True) -> None:
        """Attaches the warehouse to another DuckDB connection (the catalog's query engine)."""
        self.initialize()
        load_ducklake_extensions(con)
        con.execute(self.attach_sql(alias, read_only))

    def initialize(self) -> None:
        if catalog_initialized(self.catalog):
            return
        # The first attach writes DuckLake's tables; two processes doing it at once collide.
        with writer_turn(self.lock_path, self.lock_timeout_seconds):
            prepare_catalog(self.catalog, self.data_path)
            if not catalog_initialized(self.catalog):
                with duckdb.connect() as con:
                    load_ducklake_extensions(con)
                    con.execute(self.attach_sql())

    def _database(self) -> duckdb.DuckDBPyConnection:
        """One in-memory DuckDB per process with the warehouse attached; every read or write
        is a cursor of it (its own connection and transaction), so extensions load once."""
        key = (os.getpid(), self.catalog, self.data_path)
        with _databases_guard:
            if key not in _databases:
                self.initialize()
                con = duckdb.connect(config={"autoinstall_known_extensions": False})
                load_ducklake_extensions(con)
                con.execute(self.attach_sql())
                con.execute(f"use {ALIAS}")
                _databases[key] = con
            return _databases[key]

    @contextmanager
    def read(self) -> Iterator[Session]:
        cursor = self._database().cursor()
        try:
            cursor.execute(f"use {ALIAS}")
            yield Session(DUCKDB, cursor)
        finally:
            cursor.close()

    @contextmanager
    def transaction(self, lock_wait_s: float | None = None) -> Iterator[Session]:
        wait_s = self.lock_timeout_seconds if lock_wait_s is None else lock_wait_s
        database = self._database()
        with _writers_guard, writer_turn(self.lock_path, wait_s):
            cursor = database.cursor()
            try:
                cursor.execute(f"use {ALIAS}")
                cursor.execute("begin transaction")
                with _committed(cursor, Session(DUCKDB, cursor)) as session:
                    yield session
            finally:
                cursor.close()


def local_warehouse(home: Path) -> DuckLakeWarehouse:
    """The layout of `$LAKEHOUSE_HOME`: catalog beside the lake, data inside it."""
    return DuckLakeWarehouse(
        catalog=str(home / "warehouse.sqlite"), data_path=str(home / "lake" / "warehouse")
    )


class DuckDBWarehouse(Warehouse):
    """The former single-file warehouse: one writer process and no reader while it writes.
    Kept to show what DuckLake fixes (the concurrency test fails with it)."""

    path: str

    @property
    def dialect(self) -> str:
        return DUCKDB

    @contextmanager
    def read(self) -> Iterator[Session]:
        with duckdb.connect(self.path, read_only=True) as con:
            yield Session(DUCKDB, con)

    @contextmanager
    def transaction(self, lock_wait_s: float | None = None) -> Iterator[Session]:
        with duckdb.connect(self.path) as con:
            con.execute("begin transaction")
            with _committed(con, Session(DUCKDB, con)) as session:
                yield session


# -- AWS: Redshift ---------------------------------------------------------------------------


class RedshiftWarehouse(Warehouse):
    host: str
    port: int = 5439
    database: str = "demo"
    user: str
    password: str
    copy_role_arn: str | None = None

    @property
    def dialect(self) -> str:
        return REDSHIFT

    def _connect(self):
        import redshift_connector

        return redshift_connector.connect(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            ssl=True,
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        con = self._connect()
        try:
            yield Session(REDSHIFT, con.cursor(), copy_role_arn=self.copy_role_arn)
        finally:
            con.close()

    @contextmanager
    def transaction(self, lock_wait_s: float | None = None) -> Iterator[Session]:
        # Redshift's MVCC serializes writers itself; lock_wait_s has nothing to wait for.
        con = self._connect()
        con.autocommit = False
        try:
            session = Session(REDSHIFT, con.cursor(), copy_role_arn=self.copy_role_arn)
            with _committed(con, session) as session:
                yield session
        finally:
            con.close()


def sql_main(argv: Sequence[str] | None = None) -> int:
    """`lakehouse-sql "SQL"`: one query against the local warehouse, printed as a table (an
    analyst's read: never blocked by dbt, a sync or a load)."""
    import argparse

    from lakehouse.settings import lakehouse_home

    parser = argparse.ArgumentParser(prog="lakehouse-sql", description=sql_main.__doc__)
    parser.add_argument("sql", help="e.g. 'from tickit_dbt.fct_sales limit 5'")
    args = parser.parse_args(argv)
    with local_warehouse(lakehouse_home()).read() as session:
        try:
            print(session.cursor.sql(args.sql))
        except duckdb.Error as e:
            parser.exit(1, f"lakehouse-sql: {str(e).splitlines()[0]}\n")
    return 0
