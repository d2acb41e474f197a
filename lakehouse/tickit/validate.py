"""Checks a raw TICKIT file the way the external tables will parse it, before it is exposed."""

from __future__ import annotations

import re

import duckdb

from lakehouse.storage import ObjectStore
from lakehouse.tickit.tables import TABLES, header, raw_key


class RawFileError(ValueError):
    pass


def read_csv_sql(path_param: str, table: str) -> str:
    """read_csv over pipe-delimited text with one header line, typed per the table spec.

    Mirrors the DuckDB view of the `stage_external_sources` macro (OpenCSVSerde semantics).
    """
    columns = ", ".join(f"'{name}': '{ty}'" for name, ty in TABLES[table])
    return (
        f"read_csv({path_param}, delim='|', quote='\"', escape='\\', header=true, "
        "auto_detect=false, strict_mode=true, null_padding=false, dateformat='%Y-%m-%d', "
        f"timestampformat='%Y-%m-%d %H:%M:%S', columns={{{columns}}})"
    )


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
            sql = f"select count(*), count(columns(*)) from {read_csv_sql('$path', table)}"  # noqa: S608
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
