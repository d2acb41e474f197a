"""The warehouse the dbt models live in: a DuckDB file locally, Amazon Redshift in AWS.

Assets use it for what dbt does not report itself, such as row counts after a build.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import dagster as dg
import duckdb

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,126}")


class WarehouseError(ValueError):
    pass


def quote_ident(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise WarehouseError(f"{name!r} is not a valid SQL identifier")
    return f'"{name}"'


def row_count_sql(relations: Sequence[tuple[str, str]]) -> str:
    """One statement counting every relation, so a build costs one round trip."""
    parts = [
        f"select {i} as position, count(*) as row_count from {quote_ident(s)}.{quote_ident(n)}"  # noqa: S608
        for i, (s, n) in enumerate(relations)
    ]
    return "\nunion all\n".join(parts)


class Warehouse(dg.ConfigurableResource):
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        raise NotImplementedError

    def row_counts(self, relations: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not relations:
            return {}
        rows = self.query(row_count_sql(relations))
        return {relations[position]: count for position, count in rows}


class DuckDBWarehouse(Warehouse):
    path: str

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        # Short-lived and read-only: a DuckDB file admits one writer process, which is dbt's.
        with duckdb.connect(self.path, read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()


class RedshiftWarehouse(Warehouse):
    host: str
    port: int = 5439
    database: str = "demo"
    user: str
    password: str

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        import redshift_connector

        con = redshift_connector.connect(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            ssl=True,
        )
        try:
            cursor = con.cursor()
            cursor.execute(sql, tuple(params) or None)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            con.close()
