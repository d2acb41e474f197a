"""Raw CDC objects as Arrow tables in the unwrapped shape, whichever format they were written in.

`read_cdc_objects` reads a batch of sink objects (paths or bytes) into one table: the row
columns in table order, then `__op, __db, __table, __schema, __lsn, __source_ts_ms,
__deleted`, in the order the objects are given and, within each, record order. Unwrapped
objects are read as they are. An envelope's row is `after` for r/c/u and `before` for d, and
its CDC fields come from `source`, which is what ExtractNewRecordState (add.fields=op,db,
table,schema,lsn,source.ts_ms, delete.handling.mode=rewrite) makes of it. For a consumer the
Debezium semantics are: r/c/u upsert the row, d (`__deleted = "true"`) deletes its key. Kafka
tombstones (null values) never reach the Avro objects; the S3 sink drops them.

Decoding is DuckDB's Avro reader (duckdb-extension-avro, loaded from its PyPI package, never
downloaded), a column at a time rather than a dict per record.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.cdc.avro import ARROW_TYPES
from lakehouse.cdc.records import CDC_FIELDS
from lakehouse.cdc.source_tables import CdcError, Table
from lakehouse.duckdb_extensions import ExtensionError, load_extension

CDC_TYPES = {
    "__op": pa.string(),
    "__db": pa.string(),
    "__table": pa.string(),
    "__schema": pa.string(),
    "__lsn": pa.int64(),
    "__source_ts_ms": pa.int64(),
    "__deleted": pa.string(),
}
ENVELOPE_FIELDS = {"before", "after", "source", "op"}
# envelope source field -> unwrapped CDC field (__op and __deleted come from `op`)
FROM_SOURCE = {"__db": "db", "__table": "table", "__schema": "schema", "__lsn": "lsn",
               "__source_ts_ms": "ts_ms"}  # fmt: skip


def cdc_arrow_schema(table: Table) -> pa.Schema:
    """The unwrapped value schema in Arrow: NOT NULL columns are non-nullable fields."""
    fields = [pa.field(c.name, ARROW_TYPES[c.primitive], c.nullable) for c in table.columns]
    return pa.schema(fields + [pa.field(name, CDC_TYPES[name]) for name in CDC_FIELDS])


@functools.cache
def _avro_database() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the Avro extension; readers are cursors on it (one per call,
    so calls from several threads do not share a connection)."""
    con = duckdb.connect()
    try:
        load_extension(con, "duckdb_extension_avro", "avro")
    except ExtensionError as e:
        raise CdcError(str(e)) from None
    return con


def _column(data: pa.Table | pa.ChunkedArray, name: str, type_: pa.DataType, where: str):
    column = data.column(name) if isinstance(data, pa.Table) else pc.struct_field(data, name)
    try:
        return column.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise CdcError(f"{where}: field {name} ({column.type}) is not {type_}: {e}") from None


def _unwrapped(raw: pa.Table, table: Table, schema: pa.Schema, where: str) -> pa.Table:
    missing = [f.name for f in schema if f.name not in raw.column_names]
    if missing:
        raise CdcError(
            f"{where}: neither a Debezium envelope nor an unwrapped {table.qualified} value: "
            f"no field(s) {', '.join(missing)}"
        )
    return pa.table([_column(raw, f.name, f.type, where) for f in schema], schema=schema)


def _from_envelope(raw: pa.Table, table: Table, schema: pa.Schema, where: str) -> pa.Table:
    op = _column(raw, "op", pa.string(), where)
    deleted = pc.equal(op, "d")
    before, after, source = raw.column("before"), raw.column("after"), raw.column("source")
    image_fields = {f.name for f in after.type} if pa.types.is_struct(after.type) else set()
    missing = [c.name for c in table.columns if c.name not in image_fields]
    if missing:
        raise CdcError(
            f"{where}: the envelope's row has no column(s) {', '.join(missing)} of "
            f"{table.qualified}"
        )
    columns = []
    for f in schema:
        if f.name in FROM_SOURCE:
            columns.append(_column(source, FROM_SOURCE[f.name], f.type, where))
        elif f.name == "__op":
            columns.append(op)
        elif f.name == "__deleted":
            columns.append(pc.if_else(deleted, "true", "false"))
        else:
            old = _column(before, f.name, f.type, where)
            new = _column(after, f.name, f.type, where)
            columns.append(pc.if_else(deleted, old, new))
    return pa.Table.from_arrays(
        [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns],
        schema=schema,
    )


def read_cdc_objects(objects: Iterable[str | os.PathLike | bytes], table: Table) -> pa.Table:
    """The records of CDC objects (unwrapped or envelope, given as paths or as their bytes) of
    `table`, in the unwrapped shape (`cdc_arrow_schema(table)`), objects in the given order.
    Raises CdcError naming the object and field when an object cannot be read as one of
    `table`'s formats."""
    schema = cdc_arrow_schema(table)
    parts = []
    with tempfile.TemporaryDirectory(prefix="cdc-arrow-") as tmp:
        con = _avro_database().cursor()
        try:
            for i, obj in enumerate(objects):
                if isinstance(obj, bytes | bytearray | memoryview):
                    where = f"object {i} of the batch (bytes)"
                    path = Path(tmp) / f"{i}.avro"
                    path.write_bytes(obj)
                else:
                    path = Path(obj)
                    where = str(path)
                try:
                    raw = con.execute("SELECT * FROM read_avro(?)", [str(path)]).to_arrow_table()
                except duckdb.Error as e:
                    raise CdcError(
                        f"{where}: not a readable Avro object container file: {e}"
                    ) from None
                if ENVELOPE_FIELDS <= set(raw.column_names):
                    parts.append(_from_envelope(raw, table, schema, where))
                else:
                    parts.append(_unwrapped(raw, table, schema, where))
                if path.parent == Path(tmp):
                    path.unlink()
        finally:
            con.close()
    return pa.concat_tables(parts) if parts else schema.empty_table()
