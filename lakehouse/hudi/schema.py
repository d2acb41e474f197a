"""Table schemas: Arrow for the data, Avro (Spark's naming convention) for the timeline and logs.

Every data field is nullable, as Spark's Avro path writes it (`["null", T]`, default null).
"""

from __future__ import annotations

import json

import pyarrow as pa

from lakehouse.hudi.avro_columns import ARROW_TYPES
from lakehouse.hudi.config import HudiSchemaError

META_FIELDS = (
    "_hoodie_commit_time",
    "_hoodie_commit_seqno",
    "_hoodie_record_key",
    "_hoodie_partition_path",
    "_hoodie_file_name",
)
META_SCHEMA = pa.schema([pa.field(name, pa.string()) for name in META_FIELDS])
UTC_MICROS = pa.timestamp("us", tz="UTC")
# The Avro primitive of each Arrow type that has one (the reverse of the reader's mapping).
AVRO_PRIMITIVES = {arrow: avro for avro, arrow in ARROW_TYPES.items()}


def _normalize_type(t: pa.DataType, where: str) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _normalize_type(t.value_type, where)
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t):
        return pa.int64()
    if pa.types.is_uint64(t):
        raise HudiSchemaError(f"{where}: unsigned 64-bit integers have no Avro/Hudi type")
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_timestamp(t):
        return UTC_MICROS
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_decimal(t):
        if t.precision > 38:
            raise HudiSchemaError(f"{where}: decimal precision {t.precision} is above 38")
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(pa.field("element", _normalize_type(t.value_type, where + "[]")))
    if pa.types.is_map(t):
        if not pa.types.is_string(t.key_type) and not pa.types.is_large_string(t.key_type):
            raise HudiSchemaError(f"{where}: map keys must be strings for Avro")
        return pa.map_(pa.string(), _normalize_type(t.item_type, where + "{}"))
    if pa.types.is_struct(t):
        return pa.struct(
            [pa.field(f.name, _normalize_type(f.type, f"{where}.{f.name}")) for f in t]
        )
    if t in AVRO_PRIMITIVES or pa.types.is_date32(t):
        return t
    raise HudiSchemaError(f"{where}: type {t} is not supported in a Hudi table")


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """The table schema for incoming data: supported types, all fields nullable, no metadata."""
    fields = []
    for f in schema:
        if f.name in META_FIELDS:
            continue
        if f.name.startswith("_hoodie_") and f.name != "_hoodie_is_deleted":
            raise HudiSchemaError(f"field {f.name}: names starting with _hoodie_ are reserved")
        fields.append(pa.field(f.name, _normalize_type(f.type, f"field {f.name}")))
    return pa.schema(fields)


def _decimal_size(precision: int) -> int:
    size = 1
    while 2 ** (8 * size - 1) < 10**precision:
        size += 1
    return size


def _avro_type(t: pa.DataType, name: str, namespace: str) -> object:
    if t in AVRO_PRIMITIVES:
        return AVRO_PRIMITIVES[t]
    if pa.types.is_date32(t):
        return {"type": "int", "logicalType": "date"}
    if pa.types.is_timestamp(t):
        return {"type": "long", "logicalType": "timestamp-micros"}
    if pa.types.is_decimal(t):
        return {
            "type": "fixed",
            "name": "fixed",
            "namespace": f"{namespace}.{name}",
            "size": _decimal_size(t.precision),
            "logicalType": "decimal",
            "precision": t.precision,
            "scale": t.scale,
        }
    if pa.types.is_list(t):
        return {"type": "array", "items": _nullable(_avro_type(t.value_type, name, namespace))}
    if pa.types.is_map(t):
        return {"type": "map", "values": _nullable(_avro_type(t.item_type, name, namespace))}
    if pa.types.is_struct(t):
        return {
            "type": "record",
            "name": name,
            "namespace": namespace,
            "fields": [_avro_field(f, f"{namespace}.{name}") for f in t],
        }
    raise HudiSchemaError(f"field {name}: type {t} has no Avro mapping")


def _nullable(avro: object) -> list:
    return ["null", avro]


def _avro_field(f: pa.Field, namespace: str) -> dict:
    return {
        "name": f.name,
        "type": _nullable(_avro_type(f.type, f.name, namespace)),
        "default": None,
    }


def avro_schema(schema: pa.Schema, table_name: str, with_meta: bool = False) -> dict:
    """Avro record schema named as Spark names it: `<table>_record` in `hoodie.<table>`."""
    namespace = f"hoodie.{table_name}"
    record = f"{table_name}_record"
    fields = [_avro_field(f, f"{namespace}.{record}") for f in schema]
    if with_meta:
        fields = meta_avro_fields() + fields
    return {"type": "record", "name": record, "namespace": namespace, "fields": fields}


def meta_avro_fields() -> list[dict]:
    return [
        {"name": name, "type": ["null", "string"], "doc": "", "default": None}
        for name in META_FIELDS
    ]


def with_meta_fields(avro: dict) -> dict:
    """An Avro table schema (without meta fields) with the five meta fields first."""
    fields = [f for f in avro["fields"] if f["name"] not in META_FIELDS]
    return {**avro, "fields": meta_avro_fields() + fields}


def avro_json(avro: dict) -> str:
    return json.dumps(avro, separators=(",", ":"))


def _arrow_from_avro(t: object, where: str) -> pa.DataType:
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        if len(branches) != 1:
            raise HudiSchemaError(f"{where}: union {t} is not a nullable single type")
        return _arrow_from_avro(branches[0], where)
    if isinstance(t, str):
        if t in ARROW_TYPES:
            return ARROW_TYPES[t]
        raise HudiSchemaError(f"{where}: Avro type {t!r} is not supported")
    logical = t.get("logicalType")
    kind = t.get("type")
    if logical == "date":
        return pa.date32()
    if logical in ("timestamp-micros", "timestamp-millis", "local-timestamp-micros"):
        return UTC_MICROS
    if logical == "decimal":
        return pa.decimal128(t["precision"], t.get("scale", 0))
    if kind == "array":
        return pa.list_(pa.field("element", _arrow_from_avro(t["items"], where + "[]")))
    if kind == "map":
        return pa.map_(pa.string(), _arrow_from_avro(t["values"], where + "{}"))
    if kind == "record":
        return pa.struct(
            [
                pa.field(f["name"], _arrow_from_avro(f["type"], f"{where}.{f['name']}"))
                for f in t["fields"]
            ]
        )
    if kind in ("enum",):
        return pa.string()
    if isinstance(kind, str | list | dict):
        return _arrow_from_avro(kind, where)
    raise HudiSchemaError(f"{where}: Avro type {t} is not supported")


def arrow_from_avro(avro: dict) -> pa.Schema:
    """The Arrow data schema (no meta fields) of an Avro record schema."""
    return pa.schema(
        [
            pa.field(f["name"], _arrow_from_avro(f["type"], f"field {f['name']}"))
            for f in avro["fields"]
            if f["name"] not in META_FIELDS
        ]
    )


def data_schema_with_meta(schema: pa.Schema) -> pa.Schema:
    return pa.schema(list(META_SCHEMA) + list(schema))
