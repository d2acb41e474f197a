"""SQL engines over the catalog (resource key `query_engine`): Trino in AWS, DuckDB locally.

Queries are written once, in Trino's dialect and with Trino's catalog names (`hudi.<db>.<table>`
for the Hudi tables, `hive.<db>.<table>` for other lake tables, `postgresql.public.<table>` for
the live source), and transpiled by sqlglot for DuckDB, which attaches the same names: the
warehouse file as `hive` (`hudi` names it too), the source database (or its embedded replica)
as `postgresql`. Trino's hive catalog refuses Hudi tables ("Cannot query Hudi table"), so the
SQL names the hudi catalog for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import dagster as dg
import duckdb
import pyarrow as pa
import sqlglot
from pydantic import Field

from lakehouse.catalog.spec import check_identifier
from lakehouse.duckdb_extensions import ExtensionError, load_extension
from lakehouse.settings import optional_env, setting
from lakehouse.sql import DUCKDB, quote_literal
from lakehouse.warehouse import DuckLakeWarehouse

LAKE_CATALOG = "hive"
HUDI_CATALOG = "hudi"  # Trino's Hudi connector, on the same metastore as `hive`
SOURCE_CATALOG = "postgresql"
SOURCE_SCHEMA = "public"


class QueryEngineError(RuntimeError):
    pass


class QueryEngine(dg.ConfigurableResource):
    dialect: str = "trino"

    def query(self, sql: str, source_tables: Mapping[str, pa.Table] | None = None) -> list[tuple]:
        """Runs one statement written in Trino's dialect; returns its rows. `source_tables`
        stand in for `postgresql.public.<name>` where the engine has no live source."""
        raise NotImplementedError

    @property
    def live_source(self) -> str | None:
        """How the engine reaches the live source database, or None if it cannot."""
        raise NotImplementedError


def to_dialect(sql: str, dialect: str) -> str:
    """The SQL for `dialect`; outside Trino, the `hudi` catalog is the lake's `hive` one."""
    if dialect == "trino":
        return sql
    tree = sqlglot.parse_one(sql, read="trino")
    for table in tree.find_all(sqlglot.exp.Table):
        if table.catalog == HUDI_CATALOG:
            table.set("catalog", sqlglot.exp.to_identifier(LAKE_CATALOG))
    return tree.sql(dialect=dialect)


def _secret(value: str | None) -> str | None:
    """A secret's value: Dagster resolves EnvVar fields when it runs a step, but not when the
    resource is used directly."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def _scrub(message: str, dsn: str) -> str:
    """An error message without the DSN or any password in it."""
    return re.sub(r"password\s*=\s*\S+", "password=***", message.replace(dsn, "<dsn>"))


def load_postgres_extension(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's postgres extension from its wheel (its entry point is `postgres_scanner`)."""
    try:
        load_extension(con, "duckdb_extension_postgres", "postgres", load_as="postgres_scanner")
    except ExtensionError as e:
        raise QueryEngineError(str(e)) from None


class DuckDBEngine(QueryEngine):
    """The local warehouse file with the lake's tables, read-only (dbt and the catalog sync keep
    writing it), plus the `moma` source database when `postgres_dsn` is set."""

    dialect: str = "duckdb"
    warehouse: DuckLakeWarehouse
    postgres_dsn: str | None = Field(default=None, description="libpq DSN of the moma database")

    @property
    def live_source(self) -> str | None:
        return "PostgreSQL (DuckDB postgres extension)" if self.postgres_dsn else None

    def _attach_warehouse(self, con: duckdb.DuckDBPyConnection) -> None:
        # DuckLake: the snapshot committed last, whatever dbt or a sync is writing.
        self.warehouse.attach(con, LAKE_CATALOG, read_only=True)
        con.execute(f"use {LAKE_CATALOG}")

    def _attach_source(self, con, source_tables: Mapping[str, pa.Table] | None) -> None:
        dsn = _secret(self.postgres_dsn)
        if dsn:
            load_postgres_extension(con)
            try:
                con.execute(
                    f"attach {quote_literal(dsn, DUCKDB, 'dsn')} as {SOURCE_CATALOG} "
                    "(type postgres, read_only)"
                )
            except duckdb.Error as e:
                raise QueryEngineError(
                    "cannot attach the moma source database (MOMA_SOURCE_DSN): "
                    + _scrub(str(e).splitlines()[0], dsn)
                ) from None
        elif source_tables:
            con.execute(f"attach ':memory:' as {SOURCE_CATALOG}")
            con.execute(f"create schema {SOURCE_CATALOG}.{SOURCE_SCHEMA}")
            for name, rows in source_tables.items():
                check_identifier(name, "source table")
                con.register("source_rows", rows)
                con.execute(
                    f'create table {SOURCE_CATALOG}.{SOURCE_SCHEMA}."{name}" as '  # noqa: S608
                    "select * from source_rows"
                )
                con.unregister("source_rows")

    def query(self, sql: str, source_tables: Mapping[str, pa.Table] | None = None) -> list[tuple]:
        with duckdb.connect() as con:
            self._attach_warehouse(con)
            self._attach_source(con, source_tables)
            return con.execute(to_dialect(sql, "duckdb")).fetchall()


class TrinoEngine(QueryEngine):
    """A Trino cluster (e.g. on EMR) with the Glue-backed `hive` catalog and a `postgresql`
    catalog on the live source. TLS and basic auth when a password is configured."""

    host: str = Field(default="", description="TRINO_HOST; required when a query runs")
    port: int = 443
    user: str = "lakehouse"
    catalog: str = LAKE_CATALOG
    schema_name: str = "default"
    http_scheme: str = "https"
    password: str | None = Field(default=None, description="basic auth over HTTPS when set")
    ca_bundle: str | None = Field(default=None, description="CA file to verify the server with")
    session_properties: Mapping[str, str] = {}

    @property
    def live_source(self) -> str | None:
        return f"Trino catalog {SOURCE_CATALOG}"

    def connect(self):
        import trino

        if not self.host:
            raise QueryEngineError(
                "no Trino coordinator configured: set TRINO_HOST (and TRINO_PORT, TRINO_USER, "
                "TRINO_PASSWORD for basic auth over HTTPS)"
            )
        auth = None
        password = _secret(self.password)
        if password:
            if self.http_scheme != "https":
                raise QueryEngineError("TRINO_PASSWORD needs HTTPS: set TRINO_HTTP_SCHEME=https")
            auth = trino.auth.BasicAuthentication(self.user, password)
        return trino.dbapi.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            catalog=self.catalog,
            schema=self.schema_name,
            http_scheme=self.http_scheme,
            auth=auth,
            http_session=self._http_session(),
            session_properties=dict(self.session_properties),
            source="lakehouse",
        )

    def _http_session(self):
        import requests

        session = requests.Session()
        if self.ca_bundle:
            # requests prefers REQUESTS_CA_BUNDLE from the environment over a session's own
            # CA file; keep the configured one (and the environment's proxies).
            session.trust_env = False
            session.proxies = requests.utils.get_environ_proxies(
                f"{self.http_scheme}://{self.host}:{self.port}"
            )
            session.verify = self.ca_bundle
        return session

    def query(self, sql: str, source_tables: Mapping[str, pa.Table] | None = None) -> list[tuple]:
        # Trino reaches the source through its own postgresql catalog; no stand-ins.
        import requests
        import trino

        con = self.connect()
        where = f"Trino at {self.http_scheme}://{self.host}:{self.port}"
        try:
            cursor = con.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        except trino.exceptions.TrinoQueryError as e:
            # A missing catalog, schema or table, or SQL Trino rejects: retrying cannot help.
            raise QueryEngineError(
                f"{where} rejected the query: {e.error_name}: {e.message}"
            ) from None
        except trino.exceptions.HttpError as e:
            if str(e).startswith("error 401"):
                raise QueryEngineError(
                    f"{where} refused the credentials of user {self.user!r} (HTTP 401): check "
                    "TRINO_USER and TRINO_PASSWORD"
                ) from None
            raise
        except (requests.exceptions.SSLError, trino.exceptions.TrinoConnectionError) as e:
            tls = e if isinstance(e, requests.exceptions.SSLError) else e.__context__
            if not isinstance(tls, requests.exceptions.SSLError):
                raise  # unreachable or reset: the retry policy decides
            found = re.search(r"\[SSL: [^\]]+\][^'\")]*", str(tls))
            reason = found.group(0) if found else str(tls).splitlines()[0]
            raise QueryEngineError(
                f"TLS with {where} failed: the server's certificate is not trusted (set "
                "TRINO_CA_BUNDLE to its CA) or the port does not speak TLS (check TRINO_PORT "
                f"and TRINO_HTTP_SCHEME): {reason[:300]}"
            ) from None
        finally:
            con.close()


def trino_from_env() -> TrinoEngine:
    """TRINO_HOST, TRINO_PORT (443), TRINO_USER (lakehouse), TRINO_CATALOG (hive),
    TRINO_SCHEMA (default), TRINO_HTTP_SCHEME (https), TRINO_PASSWORD, TRINO_CA_BUNDLE; all
    optional until a query runs."""
    env = setting
    port = env("TRINO_PORT") or "443"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise QueryEngineError(f"TRINO_PORT={port!r} is not a port number")
    return TrinoEngine(
        host=env("TRINO_HOST", "") or "",
        port=int(port),
        user=env("TRINO_USER") or "lakehouse",
        catalog=env("TRINO_CATALOG") or LAKE_CATALOG,
        schema_name=env("TRINO_SCHEMA") or "default",
        http_scheme=env("TRINO_HTTP_SCHEME") or "https",
        password=optional_env("TRINO_PASSWORD"),
        ca_bundle=env("TRINO_CA_BUNDLE") or None,
    )
