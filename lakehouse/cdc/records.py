"""Change events and their Avro form, as Debezium + the Confluent S3 sink would write them.

Two value formats:
- `unwrapped`: what `ExtractNewRecordState` produces with `add.fields=op,db,table,schema,lsn,
  source.ts_ms` and `delete.handling.mode=rewrite` (the row plus `__op` ... `__deleted`);
- `envelope`: the raw Debezium envelope (`before`, `after`, `source`, `op`, `ts_ms`,
  `transaction`).

Schemas are rendered as the compact JSON Kafka Connect's AvroData embeds, so the container
header is byte-identical to Debezium's for the same table; container files use codec null and
hold only `avro.schema` and `avro.codec` in their metadata, like the sink's.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache

import fastavro
from fastavro.read import HEADER_SCHEMA, MAGIC

from lakehouse.cdc.tables import ZERO, Table

FORMATS = ("unwrapped", "envelope")
CDC_FIELDS = ("__op", "__db", "__table", "__schema", "__lsn", "__source_ts_ms", "__deleted")
CONNECTOR_VERSION = "lakehouse-cdc-0.1.0"
# Avro's Java DataFileWriter (used by the S3 sink) ends a block once it holds 64,000 bytes.
SYNC_INTERVAL = 64_000


@dataclass(slots=True)
class Change:
    """One row-level change in commit order. `row` is the after-image (r/c/u) or, for d, the
    before-image as the source sends it (the key only, under REPLICA IDENTITY DEFAULT)."""

    op: str  # r, c, u, d
    table: Table
    row: dict
    lsn: int
    ts_ms: int
    # (commit LSN of the transaction, index of the change in it); orders changes across scans.
    position: tuple[int, int]
    tx_id: int | None = None
    snapshot: str = "false"  # "true", "last" (final snapshot record) or "false"
    last_commit_lsn: int | None = None


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _fields(table: Table) -> list[dict]:
    out = []
    for c in table.columns:
        if c.nullable:
            out.append({"name": c.name, "type": ["null", c.avro_type], "default": None})
        else:
            out.append({"name": c.name, "type": c.avro_type})
    return out


def _value_record(table: Table, server: str, *, namespace: bool, cdc_fields: bool) -> dict:
    ns = table.topic(server)
    fields = _fields(table)
    if cdc_fields:
        for name in CDC_FIELDS:
            t = "long" if name in ("__lsn", "__source_ts_ms") else "string"
            fields.append({"name": name, "type": ["null", t], "default": None})
    record: dict = {"type": "record", "name": "Value"}
    if namespace:
        record["namespace"] = ns
    record["fields"] = fields
    record["connect.name"] = f"{ns}.Value"
    return record


@lru_cache(maxsize=64)
def value_schema(table: Table, server: str) -> str:
    """The flattened value schema (`<topic>-value` in the registry), as compact JSON."""
    return _dumps(_value_record(table, server, namespace=True, cdc_fields=True))


SOURCE_SCHEMA = {
    "type": "record",
    "name": "Source",
    "namespace": "io.debezium.connector.postgresql",
    "fields": [
        {"name": "version", "type": "string"},
        {"name": "connector", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "ts_ms", "type": "long"},
        {
            "name": "snapshot",
            "type": [
                {
                    "type": "string",
                    "connect.version": 1,
                    "connect.parameters": {"allowed": "true,last,false"},
                    "connect.default": "false",
                    "connect.name": "io.debezium.data.Enum",
                },
                "null",
            ],
            "default": "false",
        },
        {"name": "db", "type": "string"},
        {"name": "sequence", "type": ["null", "string"], "default": None},
        {"name": "schema", "type": "string"},
        {"name": "table", "type": "string"},
        {"name": "txId", "type": ["null", "long"], "default": None},
        {"name": "lsn", "type": ["null", "long"], "default": None},
        {"name": "xmin", "type": ["null", "long"], "default": None},
    ],
    "connect.name": "io.debezium.connector.postgresql.Source",
}

TRANSACTION_SCHEMA = {
    "type": "record",
    "name": "ConnectDefault",
    "namespace": "io.confluent.connect.avro",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "total_order", "type": "long"},
        {"name": "data_collection_order", "type": "long"},
    ],
}


@lru_cache(maxsize=64)
def envelope_schema(table: Table, server: str) -> str:
    """The raw Debezium envelope schema (`before`/`after`/`source`/`op`/`ts_ms`/`transaction`)."""
    ns = table.topic(server)
    return _dumps(
        {
            "type": "record",
            "name": "Envelope",
            "namespace": ns,
            "fields": [
                {
                    "name": "before",
                    "type": [
                        "null",
                        _value_record(table, server, namespace=False, cdc_fields=False),
                    ],
                    "default": None,
                },
                {"name": "after", "type": ["null", "Value"], "default": None},
                {"name": "source", "type": SOURCE_SCHEMA},
                {"name": "op", "type": "string"},
                {"name": "ts_ms", "type": ["null", "long"], "default": None},
                {"name": "transaction", "type": ["null", TRANSACTION_SCHEMA], "default": None},
            ],
            "connect.name": f"{ns}.Envelope",
        }
    )


def schema_for(fmt: str, table: Table, server: str) -> str:
    return value_schema(table, server) if fmt == "unwrapped" else envelope_schema(table, server)


def _image(change: Change) -> dict:
    """The row with every column; a delete's missing columns are NULL, or the type's zero
    value for NOT NULL columns (Avro cannot hold NULL there)."""
    row = change.row
    columns = change.table.columns
    if change.op != "d" and len(row) == len(columns):
        return row.copy()  # complete already; fastavro looks fields up by name
    if change.op != "d":
        return {c.name: row.get(c.name) for c in columns}
    return {c.name: row.get(c.name, None if c.nullable else ZERO[c.primitive]) for c in columns}


def unwrapped_record(change: Change, db: str) -> dict:
    record = _image(change)
    record["__op"] = change.op
    record["__db"] = db
    record["__table"] = change.table.name
    record["__schema"] = change.table.schema
    record["__lsn"] = change.lsn
    record["__source_ts_ms"] = change.ts_ms
    record["__deleted"] = "true" if change.op == "d" else "false"
    return record


def envelope_record(change: Change, db: str, server: str, ts_ms: int) -> dict:
    image = _image(change)
    prev = None if change.last_commit_lsn is None else str(change.last_commit_lsn)
    return {
        "before": image if change.op == "d" else None,
        "after": None if change.op == "d" else image,
        "source": {
            "version": CONNECTOR_VERSION,
            "connector": "postgresql",
            "name": server,
            "ts_ms": change.ts_ms,
            "snapshot": change.snapshot,
            "db": db,
            "sequence": _dumps([prev, str(change.lsn)]),
            "schema": change.table.schema,
            "table": change.table.name,
            "txId": change.tx_id,
            "lsn": change.lsn,
            "xmin": None,
        },
        "op": change.op,
        "ts_ms": ts_ms,
        "transaction": None,
    }


@lru_cache(maxsize=64)
def parsed_schema(schema_text: str):
    return fastavro.parse_schema(json.loads(schema_text))


def sync_marker(name: str) -> bytes:
    """A marker derived from the object's name, so rewriting an object gives the same bytes."""
    return hashlib.md5(name.encode()).digest()


def encode_container(schema_text: str, records, marker: bytes) -> bytes:
    """An Avro object container file (codec null) whose embedded schema is `schema_text`
    byte for byte: the header is written with Avro's own header schema, then fastavro appends
    the data blocks to it."""
    buf = io.BytesIO()
    header = {
        "magic": MAGIC,
        "meta": {"avro.schema": schema_text.encode(), "avro.codec": b"null"},
        "sync": marker,
    }
    fastavro.schemaless_writer(buf, HEADER_SCHEMA, header)
    fastavro.writer(buf, parsed_schema(schema_text), records, sync_interval=SYNC_INTERVAL)
    return buf.getvalue()


def decode_container(data: bytes) -> tuple[str, list[dict]]:
    """(embedded schema text, records) of an Avro container file."""
    reader = fastavro.reader(io.BytesIO(data))
    return reader.metadata["avro.schema"], list(reader)
