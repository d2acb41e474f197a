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
from operator import itemgetter

import fastavro
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.cdc import avro
from lakehouse.cdc.source_tables import ZERO, CdcError, Table

FORMATS = ("unwrapped", "envelope")
CDC_FIELDS = ("__op", "__db", "__table", "__schema", "__lsn", "__source_ts_ms", "__deleted")
CONNECTOR_VERSION = "lakehouse-cdc-0.1.0"


@dataclass(slots=True)
class Change:
    """One row-level change in commit order. `row` is the after-image (r/c/u) or, for d, the
    before-image as the source sends it (the key only, under REPLICA IDENTITY DEFAULT)."""

    op: str  # r, c, u, d
    table: Table
    row: dict
    lsn: int
    ts_ms: int
    # (commit LSN of the transaction, index of the change in it); orders changes across runs.
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


def row_values(table: Table, op: str, row: dict) -> list:
    """The row as values in column order. Columns a change does not carry are NULL, except a
    delete's NOT NULL columns, which take the type's zero value (Avro cannot hold NULL there)."""
    if op != "d":
        return [row.get(c.name) for c in table.columns]
    return [row.get(c.name, None if c.nullable else ZERO[c.primitive]) for c in table.columns]


class ChangeBatch:
    """The changes of one object, a list per attribute, in commit order. `rows` holds each
    change's row values in column order: the after-image for r/c/u, the before-image for d.
    The lists after `ts_ms` feed only the envelope format (the unwrapped sink leaves them
    empty)."""

    __slots__ = ("rows", "ops", "lsns", "ts_ms", "tx_ids", "snapshots", "last_commits",
                 "processed_ms")  # fmt: skip

    def __init__(self) -> None:
        self.rows: list = []
        self.ops: list[str] = []
        self.lsns: list[int] = []
        self.ts_ms: list[int] = []
        self.tx_ids: list[int | None] = []
        self.snapshots: list[str] = []
        self.last_commits: list[int | None] = []
        self.processed_ms: list[int] = []

    def __len__(self) -> int:
        return len(self.ops)


def _string(text: str) -> bytes:
    data = text.encode()
    return avro.varint_bytes([len(data)]) + data


_SOME = avro.union_branch(1)  # ["null", T] holding a T
_NONE = avro.union_branch(0)  # ["null", T] holding null, or [T, "null"] holding a T


def _row_pieces(table: Table, rows: list) -> list:
    pieces = []
    for i, column in enumerate(table.columns):
        try:
            array = pa.array(list(map(itemgetter(i), rows)), avro.ARROW_TYPES[column.primitive])
            pieces += avro.field_pieces(array, column.primitive, 0 if column.nullable else None)
        except (pa.ArrowException, ValueError, OverflowError) as e:
            raise CdcError(
                f"table {table.qualified}, column {column.name}: a value does not fit its Avro "
                f"type {column.primitive}{'' if column.nullable else ' (NOT NULL)'}: {e}"
            ) from None
    return pieces


def _longs(values: list, nullable: bool = True) -> list:
    return avro.field_pieces(pa.array(values, pa.int64()), "long", 0 if nullable else None)


def encode_batch(fmt: str, table: Table, server: str, db: str, batch: ChangeBatch,
                 marker: bytes, version: str = CONNECTOR_VERSION) -> bytes:  # fmt: skip
    """The object container file of a batch: the unwrapped value records, or the envelopes
    (whose `source.version` is `version`)."""
    n = len(batch)
    ops = pa.array(batch.ops, pa.string())
    deleted = pc.equal(ops, "d")
    row = _row_pieces(table, batch.rows)
    if fmt == "unwrapped":
        pieces = [
            *row,
            _SOME, avro.value_bytes(ops, "string"),
            _SOME + _string(db), _SOME + _string(table.name), _SOME + _string(table.schema),
            *_longs(batch.lsns), *_longs(batch.ts_ms),
            pc.if_else(deleted, _SOME + _string("true"), _SOME + _string("false")),
        ]  # fmt: skip
        return avro.container(value_schema(table, server), avro.join_rows(pieces, n), marker)
    image = pc.binary_join_element_wise(_SOME, avro.join_rows(row, n), b"")
    sequences = [
        f'[null,"{lsn}"]' if prev is None else f'["{prev}","{lsn}"]'
        for prev, lsn in zip(batch.last_commits, batch.lsns, strict=True)
    ]
    pieces = [
        pc.if_else(deleted, image, _NONE),  # before
        pc.if_else(deleted, _NONE, image),  # after
        _string(version) + _string("postgresql") + _string(server),
        *_longs(batch.ts_ms, nullable=False),
        _NONE, avro.value_bytes(pa.array(batch.snapshots, pa.string()), "string"),
        _string(db),
        _SOME, avro.value_bytes(pa.array(sequences, pa.string()), "string"),
        _string(table.schema) + _string(table.name),
        *_longs(batch.tx_ids), *_longs(batch.lsns),
        _NONE,  # xmin
        avro.value_bytes(ops, "string"),
        *_longs(batch.processed_ms),
        _NONE,  # transaction
    ]  # fmt: skip
    return avro.container(envelope_schema(table, server), avro.join_rows(pieces, n), marker)


def sync_marker(name: str) -> bytes:
    """A marker derived from the object's name, so rewriting an object gives the same bytes."""
    return hashlib.md5(name.encode()).digest()


def decode_container(data: bytes) -> tuple[str, list[dict]]:
    """(embedded schema text, records) of an Avro container file."""
    reader = fastavro.reader(io.BytesIO(data))
    return reader.metadata["avro.schema"], list(reader)
