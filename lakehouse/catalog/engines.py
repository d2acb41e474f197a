"""SQL engines over the catalog: Trino in AWS, DuckDB locally. Queries are written once (in
Trino's dialect, the one users write against the lake) and transpiled by sqlglot for DuckDB."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import duckdb
import sqlglot
from pydantic import Field


class QueryEngine(dg.ConfigurableResource):
    def query(self, sql: str) -> list[tuple]:
        """Runs one statement written in Trino's dialect; returns its rows."""
        raise NotImplementedError


def to_dialect(sql: str, dialect: str) -> str:
    if dialect == "trino":
        return sql
    return sqlglot.transpile(sql, read="trino", write=dialect)[0]


class DuckDBEngine(QueryEngine):
    """The local warehouse file, with the lake's views; read-only, so dbt can keep writing."""

    path: str

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(self.path, read_only=True) as con:
            return con.execute(to_dialect(sql, "duckdb")).fetchall()


class TrinoEngine(QueryEngine):
    """A Trino cluster (e.g. on EMR) with the Glue-backed `hive` catalog and a `postgresql` one."""

    host: str
    port: int = 443
    user: str
    catalog: str = "hive"
    schema_name: str = "default"
    http_scheme: str = "https"
    password: str | None = Field(default=None, description="basic auth over HTTPS when set")
    session_properties: Mapping[str, str] = {}

    def connect(self):
        import trino

        auth = None
        if self.password:
            if self.http_scheme != "https":
                raise ValueError("TRINO_PASSWORD needs HTTPS: set TRINO_HTTP_SCHEME=https")
            auth = trino.auth.BasicAuthentication(self.user, self.password)
        return trino.dbapi.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            catalog=self.catalog,
            schema=self.schema_name,
            http_scheme=self.http_scheme,
            auth=auth,
            session_properties=dict(self.session_properties),
            source="lakehouse",
        )

    def query(self, sql: str) -> list[tuple]:
        con = self.connect()
        try:
            cursor = con.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            con.close()
