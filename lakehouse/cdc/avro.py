"""Avro binary encoding a column at a time, for the sink's object container files.

fastavro encodes one Python dict per call and resolves every `["null", T]` union per value,
about 12 µs for a 13-field change record, which made encoding the capture's bottleneck. Here
each column of a batch is encoded at once (zigzag varints with numpy, strings and union branch
bytes with Arrow) and the columns are joined row-wise into datums, giving exactly the bytes
fastavro writes (tests/cdc/test_avro.py compares them on generated records and the fixtures).

Supported field types are the ones the capture maps PostgreSQL columns to: int, long, string,
boolean, float and double, each optionally as `["null", T]` (or `[T, "null"]`).
"""

from __future__ import annotations

import io

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastavro.read import HEADER_SCHEMA, MAGIC

# Avro's Java DataFileWriter (used by the S3 sink) ends a block once it holds 64,000 bytes.
SYNC_INTERVAL = 64_000

ARROW_TYPES = {
    "int": pa.int32(),
    "long": pa.int64(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "float": pa.float32(),
    "double": pa.float64(),
}


def _binary_from_lengths(lengths: np.ndarray, data: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def varint_bytes(values) -> bytes:
    """The Avro encodings of a few longs, one after another."""
    return varints(np.asarray(values, dtype=np.int64)).buffers()[2].to_pybytes()


_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def varints(values: np.ndarray) -> pa.Array:
    """One binary value per int64: its Avro int/long encoding (zigzag, 7 bits per byte, low
    group first, high bit set on every byte but the last)."""
    v = np.asarray(values, dtype=np.int64)
    zigzag = ((v << 1) ^ (v >> 63)).view(np.uint64)
    if not len(v) or zigzag.max() < 0x80:  # one byte each: the common case for lengths
        return _binary_from_lengths(np.ones(len(v), dtype=np.int64), zigzag.astype(np.uint8))
    counts = np.searchsorted(_VARINT_LIMITS, zigzag, side="right") + 1
    width = int(counts.max())
    groups = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width):
        groups[:, k] = (zigzag >> np.uint64(7 * k)).astype(np.uint8) & 0x7F
        groups[:, k] |= (counts > k + 1).astype(np.uint8) << 7
    keep = np.arange(width)[None, :] < counts[:, None]
    return _binary_from_lengths(counts, groups[keep])


def _fixed_width(values: np.ndarray) -> pa.Array:
    raw = np.ascontiguousarray(values)
    return _binary_from_lengths(np.full(len(raw), raw.itemsize, dtype=np.int64), raw.view(np.uint8))


def value_bytes(column: pa.Array, avro_type: str) -> pa.Array:
    """The encodings of a column's values (nulls are encoded as zero values; the caller
    drops them)."""
    if avro_type in ("int", "long"):
        return varints(column.fill_null(0).to_numpy(zero_copy_only=False))
    if avro_type == "string":
        data = column.cast(pa.binary()).fill_null(b"")
        lengths = pc.binary_length(data).to_numpy(zero_copy_only=False)
        return pc.binary_join_element_wise(varints(lengths), data, b"")
    if avro_type == "boolean":
        return _fixed_width(column.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8))
    if avro_type == "float":
        return _fixed_width(column.fill_null(0).to_numpy(zero_copy_only=False).astype("<f4"))
    if avro_type == "double":
        return _fixed_width(column.fill_null(0).to_numpy(zero_copy_only=False).astype("<f8"))
    raise ValueError(f"Avro type {avro_type!r} is not supported by the column encoder")


def union_branch(index: int) -> bytes:
    return varint_bytes([index])


def field_pieces(column: pa.Array, avro_type: str, null_branch: int | None) -> list:
    """Encoded pieces of one field for every row: the union branch (when the field is a union
    with null at `null_branch`) followed by the value. Pieces are arrays or constant bytes."""
    values = value_bytes(column, avro_type)
    if null_branch is None:
        if column.null_count:
            raise ValueError("null in a field that is not nullable")
        return [values]
    null, value = union_branch(null_branch), union_branch(1 - null_branch)
    if not column.null_count:
        return [value, values]
    valid = pc.is_valid(column)
    return [
        pc.if_else(valid, pa.scalar(value, pa.binary()), pa.scalar(null, pa.binary())),
        pc.if_else(valid, values, pa.scalar(b"", pa.binary())),
    ]


def join_rows(pieces: list, n: int) -> pa.Array:
    """Per-row concatenation of pieces (arrays of n binary values, or constant bytes)."""
    merged: list = []
    for p in pieces:  # adjacent constants become one
        if isinstance(p, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += p
        else:
            merged.append(p)
    args = [pa.scalar(p, pa.binary()) if isinstance(p, bytes) else p for p in merged]
    if not any(isinstance(p, pa.Array) for p in args):
        return pa.array([b"".join(merged)] * n, pa.binary())
    if len(args) == 1:
        return args[0]
    return pc.binary_join_element_wise(*args, pa.scalar(b"", pa.binary()))


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
