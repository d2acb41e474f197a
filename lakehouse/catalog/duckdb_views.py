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


def read_sql(spec: TableSpec, paths: str | None = None) -> str:
    """The DuckDB table function reading the spec's files, typed as the catalog declares them.

    `paths` is a SQL expression (e.g. a `$path` parameter); by default every file under the
    table's location. Text follows OpenCSVSerde with separatorChar '|' and one header line.
    """
    pattern = {Format.PARQUET: "**/*.parquet", Format.TEXT_PIPE: "**/*.txt",
               Format.JSON_GZIP: "**/*.gz"}.get(spec.format)  # fmt: skip
    if pattern is None:
        raise CatalogError(
            f"table {spec.qualified_name}: a local view of a {spec.format.value} table must "
            "read through the Hudi reader (latest file slices), not over raw files"
        )
    paths = paths or f"'{spec.location}{pattern}'"
    hive = ""
    if spec.partition_keys:
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
    return (
        f"read_json({paths}, format = 'newline_delimited', compression = 'gzip', "
        f"columns = {_struct(spec.columns)}{hive})"
    )


def duckdb_view_sql(spec: TableSpec) -> str:
    """`create or replace view` over the table's files; locations are validated by the spec."""
    relation = f'"{spec.database}"."{spec.name}"'
    names = ", ".join(f'"{c.name}"' for c in spec.columns + spec.partition_keys)
    return f"create or replace view {relation} as select {names} from {read_sql(spec)}"  # noqa: S608
