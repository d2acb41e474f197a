"""Hudi log files (log format version 1): Avro data blocks, delete blocks and command blocks.

Byte layout (hudi_format.md section 6), all integers big-endian:
    "#HUDI#" | int64 blockLength | int32 1 | int32 type | header | int64 len | content | footer
    | int64 blockLength + 6
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.hudi.avro_columns import block_records, decode_records

MAGIC = b"#HUDI#"
COMMAND_BLOCK, DELETE_BLOCK, CORRUPT_BLOCK, AVRO_DATA_BLOCK = 0, 1, 2, 3
PARQUET_DATA_BLOCK = 5
INSTANT_TIME, TARGET_INSTANT_TIME, SCHEMA, COMMAND_BLOCK_TYPE = 0, 1, 2, 3
ROLLBACK_COMMAND = "0"

DELETE_RECORD_LIST = fastavro.parse_schema(
    {
        "type": "record",
        "name": "HoodieDeleteRecordList",
        "namespace": "org.apache.hudi.avro.model",
        "fields": [
            {
                "name": "deleteRecordList",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "HoodieDeleteRecord",
                        "fields": [
                            {"name": "recordKey", "type": ["null", "string"], "default": None},
                            {"name": "partitionPath", "type": ["null", "string"], "default": None},
                            {
                                "name": "orderingVal",
                                "type": [
                                    "null",
                                    "int",
                                    "long",
                                    "float",
                                    "double",
                                    "bytes",
                                    "string",
                                    {
                                        "type": "bytes",
                                        "logicalType": "decimal",
                                        "precision": 30,
                                        "scale": 15,
                                    },
                                    {"type": "int", "logicalType": "date"},
                                    {"type": "int", "logicalType": "time-millis"},
                                    {"type": "long", "logicalType": "time-micros"},
                                    {"type": "long", "logicalType": "timestamp-millis"},
                                    {"type": "long", "logicalType": "timestamp-micros"},
                                ],
                                "default": None,
                            },
                        ],
                    },
                },
            }
        ],
    }
)
# Union branch names fastavro accepts as (name, value) tuples to pick an exact branch.
ORDERING_BRANCH = {"int": "int", "long": "long", "float": "float", "double": "double",
                   "string": "string"}  # fmt: skip


class LogFormatError(Exception):
    pass


@dataclass
class Block:
    type: int
    header: dict[int, str]
    content: bytes

    @property
    def instant(self) -> str | None:
        return self.header.get(INSTANT_TIME)


def _kv(entries: dict[int, str]) -> bytes:
    out = [struct.pack(">i", len(entries))]
    for key, value in entries.items():
        data = value.encode("utf-8")
        out.append(struct.pack(">ii", key, len(data)))
        out.append(data)
    return b"".join(out)


def encode_block(block_type: int, header: dict[int, str], content: bytes) -> bytes:
    head = _kv(header)
    foot = _kv({})
    length = 4 + 4 + len(head) + 8 + len(content) + len(foot) + 8
    return b"".join(
        [
            MAGIC,
            struct.pack(">qii", length, 1, block_type),
            head,
            struct.pack(">q", len(content)),
            content,
            foot,
            struct.pack(">q", length + 6),
        ]
    )


def avro_data_block(instant: str, schema_json: str, rows: pa.Table) -> bytes:
    """An Avro data block of full records (rows in the schema's field order)."""
    records = block_records(rows)
    if records is None:  # nested types: fastavro, one record at a time
        records = _fastavro_records(schema_json, rows.to_pylist(maps_as_pydicts="strict"))
    header = {INSTANT_TIME: instant, SCHEMA: schema_json}
    content = struct.pack(">ii", 3, rows.num_rows) + records
    return encode_block(AVRO_DATA_BLOCK, header, content)


def _fastavro_records(schema_json: str, records: list[dict]) -> bytes:
    parsed = fastavro.parse_schema(json.loads(schema_json))
    buf = io.BytesIO()
    ends = []
    for record in records:
        fastavro.schemaless_writer(buf, parsed, record)
        ends.append(buf.tell())
    data = buf.getvalue()
    parts = []
    start = 0
    for end in ends:
        parts.append(struct.pack(">i", end - start))
        parts.append(data[start:end])
        start = end
    return b"".join(parts)


def delete_block(instant: str, schema_json: str, deletes: list[dict]) -> bytes:
    """deletes: {recordKey, partitionPath, orderingVal} with orderingVal a (branch, value) tuple
    or None."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, DELETE_RECORD_LIST, {"deleteRecordList": deletes})
    data = buf.getvalue()
    content = struct.pack(">ii", 3, len(data)) + data
    return encode_block(DELETE_BLOCK, {INSTANT_TIME: instant, SCHEMA: schema_json}, content)


def rollback_block(instant: str, target: str) -> bytes:
    header = {INSTANT_TIME: instant, TARGET_INSTANT_TIME: target, COMMAND_BLOCK_TYPE: "0"}
    return encode_block(COMMAND_BLOCK, header, b"")


def _read_kv(data: bytes, pos: int) -> tuple[dict[int, str], int]:
    (count,) = struct.unpack_from(">i", data, pos)
    pos += 4
    out = {}
    for _ in range(count):
        key, size = struct.unpack_from(">ii", data, pos)
        pos += 8
        out[key] = data[pos : pos + size].decode("utf-8")
        pos += size
    return out, pos


def read_blocks(data: bytes, name: str) -> list[Block]:
    """All blocks of a log file; a corrupt block (bad length) ends the file, as in Java."""
    blocks = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 6] != MAGIC:
            raise LogFormatError(f"{name}: no block magic at byte {pos}")
        (length,) = struct.unpack_from(">q", data, pos + 6)
        end = pos + 14 + length
        if end > len(data) or struct.unpack_from(">q", data, end - 8)[0] != length + 6:
            raise LogFormatError(f"{name}: corrupt block at byte {pos}")
        version, block_type = struct.unpack_from(">ii", data, pos + 14)
        if version != 1:
            raise LogFormatError(f"{name}: log format version {version} is not supported")
        header, p = _read_kv(data, pos + 22)
        (content_len,) = struct.unpack_from(">q", data, p)
        p += 8
        blocks.append(Block(block_type, header, data[p : p + content_len]))
        pos = end
    return blocks


def decode_avro_records(block: Block, reader_schema: dict | None = None) -> list[dict]:
    writer = fastavro.parse_schema(json.loads(block.header[SCHEMA]))
    reader = fastavro.parse_schema(reader_schema) if reader_schema else None
    content = block.content
    version, count = struct.unpack_from(">ii", content, 0)
    if version != 3:
        raise LogFormatError(f"Avro data block content version {version} is not supported")
    buf = io.BytesIO(content)
    buf.seek(8)
    records = []
    for _ in range(count):
        (size,) = struct.unpack(">i", buf.read(4))
        start = buf.tell()
        records.append(fastavro.schemaless_reader(buf, writer, reader))
        buf.seek(start + size)
    return records


def decode_avro_columns(block: Block, columns: list[str] | None = None) -> pa.Table | None:
    """An Avro data block's records as Arrow columns (the writer schema's fields and types),
    decoded field by field for all records at once; None for schemas that need fastavro."""
    writer = json.loads(block.header[SCHEMA])
    try:
        return decode_records(block.content, writer, columns)
    except (ValueError, IndexError, struct.error) as e:
        raise LogFormatError(f"Avro data block at instant {block.instant}: {e}") from None


def decode_parquet_block(block: Block) -> pa.Table:
    return pq.read_table(pa.BufferReader(block.content))


def decode_deletes(block: Block) -> list[dict]:
    version, size = struct.unpack_from(">ii", block.content, 0)
    if version != 3:
        raise LogFormatError(f"delete block version {version} is not supported")
    buf = io.BytesIO(block.content[8 : 8 + size])
    return fastavro.schemaless_reader(buf, DELETE_RECORD_LIST, None)["deleteRecordList"]
