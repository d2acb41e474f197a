"""Local DuckDB views over lake tables, with the same columns and types as the catalog entry."""

import re

from lakehouse.catalog.spec import CatalogError, Format, TableSpec

_DUCKDB_TYPES = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
    "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN",
    "string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "binary": "BLOB",
}  # fmt: skip


def duckdb_type(hive_type: str) -> str:
    if hive_type in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[hive_type]
    if hive_type.startswith(("varchar", "char")):
        return "VARCHAR"
    if hive_type.startswith("decimal"):
        return re.sub(r"\s+", "", hive_type).upper()
    raise CatalogError(f"no DuckDB type for Hive type {hive_type!r}")


def _struct(columns) -> str:
    return "{" + ", ".join(f"'{c.name}': '{duckdb_type(c.type)}'" for c in columns) + "}"


def duckdb_view_sql(spec: TableSpec) -> str:
    """`create or replace view` over the table's files; locations are validated by the spec."""
    relation = f'"{spec.database}"."{spec.name}"'
    loc = spec.location
    hive = ""
    if spec.partition_keys:
        hive = f", hive_partitioning = true, hive_types = {_struct(spec.partition_keys)}"
    if spec.format is Format.PARQUET:
        source = f"read_parquet('{loc}**/*.parquet'{hive})"
    elif spec.format is Format.TEXT_PIPE:
        source = (
            f"read_csv('{loc}**/*.txt', delim = '|', quote = '\"', escape = '\\', header = true, "
            "auto_detect = false, strict_mode = true, null_padding = false, "
            "dateformat = '%Y-%m-%d', timestampformat = '%Y-%m-%d %H:%M:%S', "
            f"columns = {_struct(spec.columns)}{hive})"
        )
    elif spec.format is Format.JSON_GZIP:
        source = (
            f"read_json('{loc}**/*.gz', format = 'newline_delimited', compression = 'gzip', "
            f"columns = {_struct(spec.columns)}{hive})"
        )
    else:
        raise CatalogError(
            f"table {spec.qualified_name}: a local view of a {spec.format.value} table must "
            "read through the Hudi reader (latest file slices), not over raw files"
        )
    names = ", ".join(f'"{c.name}"' for c in spec.columns + spec.partition_keys)
    return f"create or replace view {relation} as select {names} from {source}"  # noqa: S608
