"""Local DuckDB relations over lake tables, with the same columns and types as the catalog entry.

Plain formats are views over the table's files. Hudi tables are never read as raw files: a
Copy-on-Write table or a `_ro` table is a view over exactly the latest base files (the file list
comes from the table's timeline), and a `_rt` table is the merged snapshot, materialized.
"""

import re
from collections.abc import Sequence

from lakehouse.catalog.spec import CatalogError, Column, Format, TableSpec
from lakehouse.sql import DUCKDB, quote_identifier

_DUCKDB_TYPES = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
    "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN",
    "string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "binary": "BLOB",
}  # fmt: skip
# A file path in a SQL literal: no quote, backslash or control character, and nothing DuckDB
# would expand as a glob.
_BAD_PATH = re.compile(r"['\\\x00-\x1f*?\[\]{}]")


def duckdb_type(hive_type: str) -> str:
    if hive_type in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[hive_type]
    if hive_type.startswith(("varchar", "char")):
        return "VARCHAR"
    if hive_type.startswith("decimal"):
        return re.sub(r"\s+", "", hive_type).upper()
    raise CatalogError(f"no DuckDB type for Hive type {hive_type!r}")


def duckdb_name(name: str) -> str:
    """A catalog (Hive/Glue) name quoted for DuckDB, so keywords are safe as names."""
    return quote_identifier(name, DUCKDB, error=CatalogError)


def relation(spec: TableSpec) -> str:
    return f"{duckdb_name(spec.database)}.{duckdb_name(spec.name)}"


def path_literal(path: str, glob: str = "") -> str:
    """A SQL string literal of a checked path, with an optional glob pattern appended."""
    if _BAD_PATH.search(path):
        raise CatalogError(f"path {path!r} has quote, backslash, glob or control characters")
    return f"'{path}{glob}'"


def _struct(columns) -> str:
    return "{" + ", ".join(f"'{c.name}': '{duckdb_type(c.type)}'" for c in columns) + "}"


def read_sql(spec: TableSpec, paths: str | None = None) -> str:
    """The DuckDB table function reading the spec's files, typed as the catalog declares them.

    `paths` is a SQL expression (e.g. a `$path` parameter); by default every file under the
    table's location. Text follows LazySimpleSerDe with field.delim '|' and one header line.
    """
    suffix = {Format.PARQUET: ".parquet", Format.TEXT_PIPE: ".txt", Format.JSON_GZIP: ".gz"}.get(
        spec.format
    )
    if suffix is None:
        raise CatalogError(
            f"table {spec.qualified_name}: a local view of a {spec.format.value} table must "
            "read through the Hudi reader (latest file slices), not over raw files"
        )
    values = spec.partition_keys and spec.partition_style == "values"
    if paths is None:
        depth = "*/" * len(spec.partition_keys) if values else "**/"
        paths = path_literal(spec.location, f"{depth}*{suffix}")
    hive = ""
    if values:
        hive = ", filename = true"  # the partition values are cut from the path
    elif spec.partition_keys:
        hive = f", hive_partitioning = true, hive_types = {_struct(spec.partition_keys)}"
    if spec.format is Format.PARQUET:
        return f"read_parquet({paths}{hive})"
    if spec.format is Format.TEXT_PIPE:
        return (
            f"read_csv({paths}, delim = '|', quote = '\"', escape = '\\', header = true, "
            "auto_detect = false, strict_mode = true, null_padding = false, "
            "dateformat = '%Y-%m-%d', timestampformat = '%Y-%m-%d %H:%M:%S', "
            f"columns = {_struct(spec.columns)}{hive})"
        )
    # 'unstructured' reads JSON lines and Firehose's concatenated objects (no delimiter) alike.
    return (
        f"read_json({paths}, format = 'unstructured', compression = 'gzip', "
        f"columns = {_struct(spec.columns)}{hive})"
    )


def _select_list(spec: TableSpec) -> str:
    names = [duckdb_name(c.name) for c in spec.columns]
    if spec.partition_keys and spec.partition_style == "values":
        # .../<v1>/<v2>/.../<file>: the n-th directory from the end is the n-th value.
        depth = len(spec.partition_keys)
        pattern = "/([^/]+)" * depth + "/[^/]+$"
        names += [
            f"regexp_extract(filename, '{pattern}', {i + 1}) as {duckdb_name(k.name)}"
            for i, k in enumerate(spec.partition_keys)
        ]
    else:
        names += [duckdb_name(c.name) for c in spec.partition_keys]
    return ", ".join(names)


def duckdb_view_sql(spec: TableSpec) -> str:
    """`create or replace view` over the table's files; locations are validated by the spec."""
    return (
        f"create or replace view {relation(spec)} as select {_select_list(spec)} "  # noqa: S608
        f"from {read_sql(spec)}"
    )


def _typed(columns: Sequence[Column], present: set[str] | None = None) -> str:
    """Columns cast to their catalog types; a column no file has yet reads as NULL."""
    out = []
    for c in columns:
        name = duckdb_name(c.name)
        value = "null" if present is not None and c.name not in present else name
        out.append(f"cast({value} as {duckdb_type(c.type)}) as {name}")
    return ", ".join(out)


def hudi_files_view_sql(spec: TableSpec, files: Sequence[str], present: set[str]) -> str:
    """A view over exactly these base files (a Hudi table's latest committed file slices).

    Partition columns are read from the files (Hudi keeps them in the data), so rows are what
    Hudi readers return. `present` names the columns at least one file has.
    """
    if spec.format is not Format.HUDI_COW:
        raise CatalogError(
            f"table {spec.qualified_name}: only Copy-on-Write and `_ro` tables are views over "
            f"base files, not {spec.format.value}"
        )
    columns = list(spec.columns + spec.partition_keys)
    if not files:
        return (
            f"create or replace view {relation(spec)} as select {_typed(columns, set())} "  # noqa: S608
            "where false"
        )
    listed = ", ".join(path_literal(f) for f in files)
    return (
        f"create or replace view {relation(spec)} as select {_typed(columns, present)} "  # noqa: S608
        f"from read_parquet([{listed}], union_by_name = true)"
    )


def materialized_table_sql(spec: TableSpec, source: str) -> str:
    """`create or replace table` from a registered relation (the merged `_rt` snapshot)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", source):
        raise CatalogError(f"{source!r} is not a relation name")
    columns = list(spec.columns + spec.partition_keys)
    return (
        f"create or replace table {relation(spec)} as select {_typed(columns)} "  # noqa: S608
        f"from {source}"
    )
