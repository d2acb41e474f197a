"""Checks a raw TICKIT file the way the external tables will parse it, before it is exposed."""

from __future__ import annotations

import re

import duckdb

from lakehouse.catalog.duckdb_views import read_sql
from lakehouse.storage import ObjectStore
from lakehouse.tickit.raw_tables import header, raw_key, table_spec


class RawFileError(ValueError):
    pass


def validate_raw_file(store: ObjectStore, table: str) -> int:
    """Row count of a well-formed raw file; RawFileError naming the file and line otherwise."""
    key = raw_key(table)
    uri = store.uri(key)
    with store.local_copy(key) as path:
        with open(path, "rb") as f:
            first = f.readline().rstrip(b"\n").decode("utf-8", errors="replace")
        if first != header(table):
            raise RawFileError(f"{uri}, line 1: header is {first!r}, expected {header(table)!r}")
        con = duckdb.connect()
        try:
            # count(columns(*)) makes DuckDB convert every field, not only count lines.
            source = read_sql(table_spec(table, store.root_uri), paths="$path")
            sql = f"select count(*), count(columns(*)) from {source}"  # noqa: S608
            return con.execute(sql, {"path": str(path)}).fetchone()[0]
        except duckdb.Error as e:
            raise RawFileError(f"{uri}: {_summary(str(e))}") from None
        finally:
            con.close()


def _summary(message: str) -> str:
    """DuckDB's CSV error up to its list of fixes: the line number, the line and what is wrong."""
    lines = []
    message = re.sub(r"^[A-Za-z ]+ Error: ", "", message)  # DuckDB's exception class name
    for line in message.splitlines():
        if line.startswith(("Possible fixes", "Possible solutions")) or not line.strip():
            break
        lines.append(line.strip())
    return "; ".join(lines)
