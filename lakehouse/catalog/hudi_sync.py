"""Hudi tables in the catalog: their specs as Hudi's hive sync registers them, and what a table's
timeline and latest file slices say (files a view reads, live partitions, partitions changed).

A Copy-on-Write table is one catalog table; a Merge-on-Read table is two: `<name>_ro` (the
latest base files) and `<name>_rt` (base files merged with their logs), as in the original.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog.spec import CatalogError, Column, Format, TableSpec, check_partition_value
from lakehouse.hudi import COPY_ON_WRITE, FileSlice, HudiTable, schema_with_meta_fields

SNAPSHOT, READ_OPTIMIZED, REALTIME = "snapshot", "read_optimized", "realtime"
LAST_SYNC = "last_commit_time_sync"  # the table property Hudi's hive sync keeps
# Hudi's hoodie.datasource.hive_sync.schema_string_length_thresh: Spark's schema JSON is split
# into table properties of at most this many characters.
SCHEMA_PART_LENGTH = 4000

# (Hive type, Spark SQL type) of each Arrow type a Hudi table can hold at the top level.
_PRIMITIVES = {
    pa.bool_(): ("boolean", "boolean"),
    pa.int8(): ("tinyint", "byte"),
    pa.int16(): ("smallint", "short"),
    pa.int32(): ("int", "integer"),
    pa.int64(): ("bigint", "long"),
    pa.float32(): ("float", "float"),
    pa.float64(): ("double", "double"),
    pa.string(): ("string", "string"),
    pa.large_string(): ("string", "string"),
    pa.binary(): ("binary", "binary"),
    pa.date32(): ("date", "date"),
}


def hive_type(t: pa.DataType, column: str) -> tuple[str, str]:
    """(Hive type, Spark type) of an Arrow type; CatalogError for types the catalog can't hold."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if t in _PRIMITIVES:
        return _PRIMITIVES[t]
    if pa.types.is_timestamp(t):
        return "timestamp", "timestamp"
    if pa.types.is_decimal(t) and t.precision <= 38:
        return f"decimal({t.precision},{t.scale})", f"decimal({t.precision},{t.scale})"
    raise CatalogError(f"column {column!r}: unsupported Hive type for Arrow type {t}")


@dataclass(frozen=True)
class HudiCatalogTable:
    """One catalog table over a Hudi table, and which query type it answers."""

    spec: TableSpec
    query: str  # SNAPSHOT (CoW), READ_OPTIMIZED (MoR _ro) or REALTIME (MoR _rt)


def _spark_schema_properties(
    columns: list[tuple[str, str]], partition_fields: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """spark.sql.sources.* as Hudi's hive sync writes them, so Spark reads the table as Hudi."""
    ordered = [c for c in columns if c[0] not in partition_fields] + [
        c for c in columns if c[0] in partition_fields
    ]
    schema = json.dumps(
        {
            "type": "struct",
            "fields": [
                {"name": n, "type": t, "nullable": True, "metadata": {}} for n, t in ordered
            ],
        },
        separators=(",", ":"),
    )
    parts = [schema[i : i + SCHEMA_PART_LENGTH] for i in range(0, len(schema), SCHEMA_PART_LENGTH)]
    props = [("spark.sql.sources.provider", "hudi"), ("spark.sql.sources.schema.numParts",
             str(len(parts)))]  # fmt: skip
    props += [(f"spark.sql.sources.schema.part.{i}", p) for i, p in enumerate(parts)]
    if partition_fields:
        props.append(("spark.sql.sources.schema.numPartCols", str(len(partition_fields))))
        props += [
            (f"spark.sql.sources.schema.partCol.{i}", f) for i, f in enumerate(partition_fields)
        ]
    return tuple(props)


def hudi_catalog_tables(
    database: str,
    name: str,
    table_type: str,
    schema: pa.Schema,
    partition_fields: tuple[str, ...],
    base_uri: str,
    description: str = "",
) -> list[HudiCatalogTable]:
    """The catalog tables of a Hudi table with data schema `schema` (without meta fields).

    Columns are the five `_hoodie_*` meta columns, then the data columns without the partition
    fields, which become string partition keys (Hudi's MultiPartKeysValueExtractor).
    """
    full = schema_with_meta_fields(schema)
    typed = [(f.name, *hive_type(f.type, f.name)) for f in full]
    missing = [f for f in partition_fields if f not in full.names]
    if missing:
        raise CatalogError(f"table {database}.{name}: partition fields {missing} are not columns")
    columns = tuple(Column(n, h) for n, h, _ in typed if n not in partition_fields)
    keys = tuple(Column(f, "string") for f in partition_fields)
    spark = _spark_schema_properties(
        [(n, "string" if n in partition_fields else s) for n, _, s in typed], partition_fields
    )
    location = base_uri.rstrip("/") + "/"

    def entry(table: str, fmt: Format, query: str) -> HudiCatalogTable:
        read_optimized = "true" if query == READ_OPTIMIZED else "false"
        serde = (("path", base_uri.rstrip("/")), ("hoodie.query.as.ro.table", read_optimized))
        spec = TableSpec(database, table, columns, location, fmt, keys, description, spark, serde)
        return HudiCatalogTable(spec, query)

    if table_type == COPY_ON_WRITE:
        return [entry(name, Format.HUDI_COW, SNAPSHOT)]
    return [
        entry(f"{name}_ro", Format.HUDI_COW, READ_OPTIMIZED),
        entry(f"{name}_rt", Format.HUDI_MOR_RT, REALTIME),
    ]


@dataclass(frozen=True)
class BaseFile:
    uri: str
    partition: str  # Hudi partition path, e.g. "nationality=Dutch"
    rows: int
    columns: frozenset[str]


class HudiState:
    """A Hudi table as of one read of its timeline: the latest committed file slices, the rows
    they hold per partition, and the partitions each commit changed."""

    def __init__(self, base_uri: str, filesystem=None):
        """filesystem: `lakehouse.storage.filesystem` or a store's; local paths without it."""
        self.table = HudiTable.open(base_uri, filesystem=filesystem)
        self.uri = self.table.base_path
        self.timeline = self.table.timeline()
        self.latest_instant: str | None = self.timeline.latest_commit_time()

    @property
    def config(self):
        return self.table.config

    def catalog_tables(self, database: str, name: str, description: str = ""):
        if self.table.schema is None:
            raise CatalogError(f"{self.uri} has no completed commit yet: no schema to register")
        return hudi_catalog_tables(database, name, self.config.table_type, self.table.schema,
                                   self.table.partition_fields, self.uri, description)  # fmt: skip

    def partition_values(self, path: str) -> tuple[str, ...]:
        """Partition path -> values, e.g. 'nationality=Dutch' -> ('Dutch',)."""
        if not path:
            return ()
        pieces = path.split("/")
        fields = self.table.partition_fields
        if len(pieces) != len(fields):
            raise CatalogError(
                f"{self.uri}: partition path {path!r} does not have one level per "
                f"partition field {list(fields)}"
            )
        values = []
        for field_name, piece in zip(fields, pieces, strict=True):
            if self.config.hive_style_partitioning:
                key, eq, piece = piece.partition("=")
                if not eq or key != field_name:
                    raise CatalogError(
                        f"{self.uri}: partition path {path!r} is not {field_name}=<value>"
                    )
            value = unquote(piece) if self.config.urlencode_partition else piece
            values.append(check_partition_value(value, field_name))
        return tuple(values)

    def latest_base_slices(self) -> list[FileSlice]:
        """Per file group, the latest slice with a base file: what read-optimized queries read."""
        return self.table.file_slices(as_of=self.latest_instant, base_file_only=True)

    @cached_property
    def base_files(self) -> list[BaseFile]:
        """The latest base files with their row counts and columns, from their footers."""
        if self.latest_instant is None:
            return []

        def footer(sl: FileSlice) -> BaseFile:
            meta = self.table.base_file_footer(sl)
            names = frozenset(meta.schema.to_arrow_schema().names)
            return BaseFile(self.table.uri_of(sl.base_path), sl.partition, meta.num_rows, names)

        slices = self.latest_base_slices()
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(footer, slices))

    @cached_property
    def snapshot(self) -> pa.Table:
        """Base files merged with their logs, by the project's Hudi reader."""
        return self.table.snapshot()

    def live_partitions(self, query: str) -> set[tuple[str, ...]]:
        """Partitions holding at least one row for this query type."""
        if not self.table.partition_fields:
            return set()
        if query == REALTIME:
            # The merged rows decide; two columns suffice unless the whole snapshot is read.
            rows = self.__dict__.get("snapshot")
            if rows is None:
                rows = self.table.snapshot(columns=["_hoodie_record_key", "_hoodie_partition_path"])
            paths = (
                pc.unique(rows.column("_hoodie_partition_path")).to_pylist() if len(rows) else []
            )
        else:
            paths = {f.partition for f in self.base_files if f.rows}
        return {self.partition_values(p) for p in paths if p is not None}

    def changed_partitions_since(self, instant: str | None) -> set[tuple[str, ...]] | None:
        """Partitions the completed writes after `instant` touched; None when that cannot be
        known from the active timeline (never synced, instant archived or unknown, or a
        rollback/restore since), so the caller compares full listings instead."""
        if instant is None:
            return None
        writes = self.timeline.completed_writes()
        if instant not in {i.timestamp for i in writes}:
            return None
        undone = [
            i for i in self.timeline.completed(("rollback", "restore")) if i.timestamp > instant
        ]
        if undone:
            return None
        changed: set[tuple[str, ...]] = set()
        for inst in writes:
            if inst.timestamp > instant:
                meta = self.timeline.commit_metadata(inst)
                changed.update(self.partition_values(p) for p in meta.partitions_changed)
        return changed
