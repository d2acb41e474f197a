"""The sink's Avro object container files, written a column at a time.

fastavro encodes one Python dict per call and resolves every `["null", T]` union per value,
about 12 µs for a 13-field change record, which made encoding the capture's bottleneck. The
records are encoded with the Hudi package's columnar encoder (`lakehouse.hudi.avro_columns`,
the one Avro encoder of the project; its names are re-exported here for the record builders)
and framed here into container files with the blocks fastavro's writer would make
(tests/cdc/test_avro.py compares them on generated records and the fixtures).

Supported field types are the ones the capture maps PostgreSQL columns to: int, long, string,
boolean, float and double, each optionally as `["null", T]` (or `[T, "null"]`).
"""

from __future__ import annotations

import io

import fastavro
import numpy as np
import pyarrow as pa
from fastavro.read import HEADER_SCHEMA, MAGIC

from lakehouse.hudi import avro_columns

# Avro's Java DataFileWriter (used by the S3 sink) ends a block once it holds 64,000 bytes.
SYNC_INTERVAL = 64_000

ARROW_TYPES = avro_columns.ARROW_TYPES
varints = avro_columns.varints
varint_bytes = avro_columns.varint_bytes
union_branch = avro_columns.union_branch
value_bytes = avro_columns.value_bytes
field_pieces = avro_columns.field_pieces
join_rows = avro_columns.join_rows


def _header(schema_text: str, marker: bytes) -> bytes:
    buf = io.BytesIO()
    header = {
        "magic": MAGIC,
        "meta": {"avro.schema": schema_text.encode(), "avro.codec": b"null"},
        "sync": marker,
    }
    fastavro.schemaless_writer(buf, HEADER_SCHEMA, header)
    return buf.getvalue()


def container(schema_text: str, datums: pa.Array, marker: bytes,
              sync_interval: int = SYNC_INTERVAL) -> bytes:  # fmt: skip
    """An object container file (codec null) holding `datums` (encoded records), whose embedded
    schema is `schema_text` byte for byte. Blocks end where fastavro's writer ends them: after
    the record that brings the block to `sync_interval` bytes or more."""
    out = [_header(schema_text, marker)]
    n = len(datums)
    if n:
        datums = datums.combine_chunks() if isinstance(datums, pa.ChunkedArray) else datums
        offsets = np.frombuffer(datums.buffers()[1], dtype=np.int32, count=n + 1,
                                offset=datums.offset * 4).astype(np.int64)  # fmt: skip
        data = memoryview(datums.buffers()[2]) if datums.buffers()[2] is not None else b""
        ends = offsets[1:]
        start = 0
        while start < n:
            base = offsets[start]
            end = int(np.searchsorted(ends, base + sync_interval, side="left"))
            end = min(end, n - 1) + 1  # the block includes the record that reaches the size
            lo, hi = int(base), int(offsets[end])
            out.append(varint_bytes([end - start, hi - lo]))
            out.append(bytes(data[lo:hi]))
            out.append(marker)
            start = end
    return b"".join(out)
