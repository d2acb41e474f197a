"""One declarative definition per lake table, rendered as Hive DDL, Glue requests or DuckDB views.

Everything that reaches SQL or a catalog request passes through the validators here: names are
lower-case identifiers, types are Hive types, partition values carry no path or quote characters
and locations stay inside the lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum

from lakehouse import sql


class CatalogError(ValueError):
    pass


class Format(Enum):
    PARQUET = "parquet"
    HUDI_COW = "hudi_cow"  # also the read-optimized view of a MoR table (`_ro`)
    HUDI_MOR_RT = "hudi_mor_rt"  # snapshot of a MoR table, base files merged with logs (`_rt`)
    TEXT_PIPE = "text_pipe"  # pipe-delimited text with one header line (LazySimpleSerDe)
    JSON_GZIP = "json_gzip"  # gzip JSON lines


@dataclass(frozen=True)
class StorageFormat:
    input_format: str
    output_format: str
    serde: str
    serde_parameters: tuple[tuple[str, str], ...] = ()
    table_parameters: tuple[tuple[str, str], ...] = ()


PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

STORAGE = {
    Format.PARQUET: StorageFormat(
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        PARQUET_OUTPUT,
        PARQUET_SERDE,
        table_parameters=(("classification", "parquet"),),
    ),
    # As Hudi's hive sync registers them; the per-table serde and table properties it adds
    # (base path, spark.sql.sources.*, last_commit_time_sync) come from lakehouse.catalog.hudi_sync.
    Format.HUDI_COW: StorageFormat(
        "org.apache.hudi.hadoop.HoodieParquetInputFormat", PARQUET_OUTPUT, PARQUET_SERDE
    ),
    Format.HUDI_MOR_RT: StorageFormat(
        "org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat",
        PARQUET_OUTPUT,
        PARQUET_SERDE,
    ),
    Format.TEXT_PIPE: StorageFormat(
        TEXT_INPUT,
        TEXT_OUTPUT,
        # LazySimpleSerDe reads typed columns (Trino, Spectrum, Athena); with OpenCSVSerde
        # Trino reads every column as varchar.
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        serde_parameters=(("field.delim", "|"), ("serialization.format", "|")),
        table_parameters=(("classification", "csv"), ("skip.header.line.count", "1")),
    ),
    Format.JSON_GZIP: StorageFormat(
        TEXT_INPUT,
        TEXT_OUTPUT,
        "org.openx.data.jsonserde.JsonSerDe",
        table_parameters=(("classification", "json"), ("compressionType", "gzip")),
    ),
}

HUDI_FORMATS = (Format.HUDI_COW, Format.HUDI_MOR_RT)

_PRIMITIVE = re.compile(
    r"(tinyint|smallint|int|integer|bigint|float|double|boolean|string|date|timestamp|binary"
    r"|varchar\(\d{1,5}\)|char\(\d{1,3}\)|decimal\(\d{1,2},\s*\d{1,2}\))"
)
# Characters Hive escapes in partition directory names (so the path would not be the value),
# plus quotes and glob characters: a value with none of them is its own directory name.
_BAD_PARTITION_CHARS = re.compile(r"[/\\'\"`\x00-\x1f\x7f=#%*:?^{}\[\]]")


def check_identifier(name: str, what: str) -> str:
    return sql.check_identifier(name, sql.HIVE, what, error=CatalogError)


def check_hive_type(type_: str, column: str) -> str:
    normalized = type_.strip().lower()
    if not _PRIMITIVE.fullmatch(normalized):
        raise CatalogError(f"column {column!r}: unsupported Hive type {type_!r}")
    # Hive's DDL takes `integer` for `int`, but Glue stores the name as given and Trino's Hive
    # type parser refuses `integer` when it reads the table.
    return "int" if normalized == "integer" else normalized


def check_partition_value(value: str, key: str) -> str:
    if value in ("", ".", "..") or _BAD_PARTITION_CHARS.search(value):
        raise CatalogError(
            f"partition {key}={value!r}: values must be non-empty and carry no path, quote, "
            "glob, '=', ':', '%', '#', '^' or control characters"
        )
    return value


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def __post_init__(self):
        check_identifier(self.name, "column")
        object.__setattr__(self, "type", check_hive_type(self.type, self.name))


@dataclass(frozen=True)
class TableSpec:
    database: str
    name: str
    columns: tuple[Column, ...]
    location: str  # a folder: local path or s3:// URI, ending in '/'
    format: Format
    partition_keys: tuple[Column, ...] = ()
    description: str = ""
    properties: tuple[tuple[str, str], ...] = field(default=())  # TBLPROPERTIES
    serde_properties: tuple[tuple[str, str], ...] = field(default=())  # SERDEPROPERTIES
    # "hive": <location>key=value/...; "values": <location>value/... (Firehose's YYYY/MM/DD/HH)
    partition_style: str = "hive"

    def __post_init__(self):
        check_identifier(self.database, "database")
        check_identifier(self.name, "table")
        names = [c.name for c in self.columns + self.partition_keys]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CatalogError(f"table {self.qualified_name}: duplicate columns {dupes}")
        if self.partition_style not in ("hive", "values"):
            raise CatalogError(
                f"table {self.qualified_name}: partition_style {self.partition_style!r} is not "
                "'hive' or 'values'"
            )
        what = f"table {self.qualified_name}: the description"
        sql.check_literal(self.description, sql.HIVE, what, error=CatalogError)
        for what, pairs in (
            ("property", self.properties),
            ("serde property", self.serde_properties),
        ):
            for key, value in pairs:
                for text in (key, value):
                    where = f"table {self.qualified_name}: {what} {key!r}"
                    sql.check_literal(text, sql.HIVE, where, error=CatalogError)
        if re.search(r"['\"`\\\x00-\x1f]", self.location):
            raise CatalogError(
                f"table {self.qualified_name}: location {self.location!r} has quote, backslash "
                "or control characters"
            )
        if not self.location.endswith("/"):
            object.__setattr__(self, "location", self.location + "/")

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def storage(self) -> StorageFormat:
        return STORAGE[self.format]

    def check_location(self, lake_root: str) -> TableSpec:
        root = lake_root.rstrip("/") + "/"
        if not self.location.startswith(root) or "/../" in self.location:
            raise CatalogError(
                f"table {self.qualified_name}: location {self.location!r} is outside the lake "
                f"{root!r}"
            )
        return self

    def with_properties(self, **changes: str) -> TableSpec:
        """The same table with table properties set (e.g. the last synced commit)."""
        kept = tuple((k, v) for k, v in self.properties if k not in changes)
        return replace(self, properties=kept + tuple(changes.items()))

    def catalog_location(self, location: str | None = None) -> str:
        """The table's (or a partition's) location as catalogs register it. Hudi's hive sync
        registers base and partition paths without a trailing '/', and Trino's Hudi connector
        refuses one that ends in '/' ("File location cannot end with '/'")."""
        location = self.location if location is None else location
        return location.rstrip("/") if self.format in HUDI_FORMATS else location

    def partition_location(self, values: tuple[str, ...]) -> str:
        """Directory of a partition: <location>key=value/... (Hive style) or <location>value/..."""
        if len(values) != len(self.partition_keys):
            raise CatalogError(
                f"table {self.qualified_name}: partition {values!r} needs "
                f"{len(self.partition_keys)} values"
            )
        parts = [
            check_partition_value(v, k.name)
            if self.partition_style == "values"
            else f"{k.name}={check_partition_value(v, k.name)}"
            for k, v in zip(self.partition_keys, values, strict=True)
        ]
        return self.location + "/".join(parts) + "/"
