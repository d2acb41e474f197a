"""Columnar Avro binary encoding of Arrow columns, and decoding of MoR log data blocks.

fastavro encodes one Python dict per call and resolves every `["null", T]` union per value; a
log block of 100k updates, or a CDC batch of change records, would spend most of its time
building dicts. Here each column is encoded at once with numpy (zigzag varints, little-endian
floats, length-prefixed strings, union branch bytes) and the columns are joined row-wise with
Arrow, producing exactly the bytes fastavro produces (tests/hudi/test_avro_encoder.py checks
that). This is the one encoder: the Hudi log writer and the CDC sink's container files
(`lakehouse.cdc.avro`) both use it. Nested types are not covered: `encode_rows` returns None
and the caller falls back to fastavro.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT32 = struct.Struct(">i")

# The Avro primitives the encoder writes (and the decoder reads), as Arrow types.
ARROW_TYPES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "bytes": pa.binary(),
}


def _binary(lengths: np.ndarray, data: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def varints(values: np.ndarray) -> pa.Array:
    """One binary value per int64: its Avro int/long encoding (zigzag, 7 bits per byte, low
    group first, high bit set on every byte but the last)."""
    v = np.asarray(values, dtype=np.int64)
    zigzag = ((v << 1) ^ (v >> 63)).view(np.uint64)
    if not len(v) or zigzag.max() < 0x80:  # one byte each: the common case for lengths
        return _binary(np.ones(len(v), dtype=np.int64), zigzag.astype(np.uint8))
    counts = np.searchsorted(_VARINT_LIMITS, zigzag, side="right") + 1
    width = int(counts.max())
    groups = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width):
        groups[:, k] = (zigzag >> np.uint64(7 * k)).astype(np.uint8) & 0x7F
        groups[:, k] |= (counts > k + 1).astype(np.uint8) << 7
    keep = np.arange(width)[None, :] < counts[:, None]
    return _binary(counts, groups[keep])


def varint_bytes(values) -> bytes:
    """The Avro encodings of a few longs, one after another."""
    return varints(np.asarray(values, dtype=np.int64)).buffers()[2].to_pybytes()


def union_branch(index: int) -> bytes:
    """The bytes that select branch `index` of a union."""
    return varint_bytes([index])


def _fixed(values: np.ndarray) -> pa.Array:
    raw = np.ascontiguousarray(values)
    return _binary(np.full(len(raw), raw.itemsize, dtype=np.int64), raw.view(np.uint8))


def value_bytes(column: pa.Array, avro_type: str) -> pa.Array:
    """The encodings of a column's values as the Avro primitive `avro_type` (nulls are encoded
    as zero values; the caller drops them)."""
    if avro_type in ("int", "long"):
        return varints(column.fill_null(0).to_numpy(zero_copy_only=False))
    if avro_type in ("string", "bytes"):
        data = column.cast(pa.binary()).fill_null(b"")
        lengths = pc.binary_length(data).to_numpy(zero_copy_only=False)
        return pc.binary_join_element_wise(varints(lengths), data, b"")
    if avro_type == "boolean":
        return _fixed(column.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8))
    if avro_type == "float":
        return _fixed(column.fill_null(0).to_numpy(zero_copy_only=False).astype("<f4"))
    if avro_type == "double":
        return _fixed(column.fill_null(0).to_numpy(zero_copy_only=False).astype("<f8"))
    raise ValueError(f"Avro type {avro_type!r} is not supported by the column encoder")


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


def _primitive(col: pa.Array) -> tuple[pa.Array, str] | None:
    """A column as the values of the Avro primitive its Hudi schema writes it as (dates as days
    and timestamps as microseconds in a long), or None for a type the encoder does not cover."""
    t = col.type
    if pa.types.is_timestamp(t):
        return col.cast(pa.timestamp("us", tz=t.tz)).view(pa.int64()), "long"
    if pa.types.is_date32(t):
        return col.view(pa.int32()), "long"
    if pa.types.is_integer(t):
        return col.cast(pa.int64()), "long"
    if pa.types.is_float64(t):
        return col, "double"
    if pa.types.is_float32(t):
        return col, "float"
    if pa.types.is_boolean(t):
        return col, "boolean"
    if pa.types.is_string(t) or pa.types.is_binary(t):
        return col, "bytes"
    return None


def encode_rows(table: pa.Table) -> list | None:
    """Pieces (see `join_rows`) of the per-row Avro datums of a table whose Avro schema makes
    every field ["null", T] in column order; None if a column type needs fastavro."""
    pieces = []
    for column in table.columns:
        typed = _primitive(column.combine_chunks())
        if typed is None:
            return None
        pieces += field_pieces(*typed, null_branch=0)
    return pieces


def block_records(table: pa.Table) -> bytes | None:
    """The records part of an Avro data block (version 3): for each row, a big-endian int32
    length then the datum. None if the table needs fastavro."""
    pieces = encode_rows(table)
    if pieces is None:
        return None
    datums = join_rows(pieces, table.num_rows)
    lengths = pc.binary_length(datums).to_numpy(zero_copy_only=False).astype(">i4")
    prefixed = pc.binary_join_element_wise(_fixed(lengths), datums, b"")
    offsets = np.frombuffer(prefixed.buffers()[1], dtype=np.int32, count=len(prefixed) + 1,
                            offset=prefixed.offset * 4)  # fmt: skip
    data = prefixed.buffers()[2]
    if data is None:
        return b""
    return data.to_pybytes()[offsets[0] : offsets[-1]]


# -- decoding ------------------------------------------------------------------------------------

_LOGICAL = {("int", "date"), ("long", "timestamp-micros"), ("long", "timestamp-millis"),
            ("long", "local-timestamp-micros")}  # fmt: skip
_UTC_MICROS = pa.timestamp("us", tz="UTC")


def _flat_field(avro_type) -> tuple[str, str | None, bool] | None:
    """(primitive, logical type, nullable) of a field this decoder reads, or None."""
    nullable = False
    if isinstance(avro_type, list):
        if len(avro_type) != 2 or avro_type[0] != "null":
            return None
        avro_type, nullable = avro_type[1], True
    logical = None
    if isinstance(avro_type, dict):
        logical, avro_type = avro_type.get("logicalType"), avro_type.get("type")
        if logical is not None and (avro_type, logical) not in _LOGICAL:
            return None
    if avro_type not in ARROW_TYPES:
        return None
    return avro_type, logical, nullable


def _varints(buf: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zigzag varints starting at each position: (values as int64, byte widths)."""
    window = buf[at[:, None] + np.arange(10)]
    more = (window & 0x80) != 0
    if more.all(axis=1).any():
        raise ValueError("a varint is longer than 10 bytes")
    width = np.argmin(more, axis=1) + 1
    parts = (window & 0x7F).astype(np.uint64) << (np.arange(10, dtype=np.uint64) * np.uint64(7))
    parts[np.arange(10)[None, :] >= width[:, None]] = 0
    raw = np.bitwise_or.reduce(parts, axis=1)
    values = (raw >> np.uint64(1)).astype(np.int64) ^ -(raw & np.uint64(1)).astype(np.int64)
    return values, width


def _bytes_array(buf: np.ndarray, start: np.ndarray, lengths: np.ndarray, rows: np.ndarray,
                 n: int, arrow_type: pa.DataType, validity) -> pa.Array:  # fmt: skip
    """A string/binary array of n values, the valid `rows` taking lengths[k] bytes at start[k]."""
    per_row = np.zeros(n, dtype=np.int64)
    per_row[rows] = lengths
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("a log block's strings exceed 2 GiB")
    total = int(offsets[-1])
    gather = np.repeat(start - offsets[rows], lengths) + np.arange(total)
    data = buf[gather]
    return pa.Array.from_buffers(
        arrow_type, n, [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    )


def decode_records(content: bytes, writer_schema: dict,
                   columns: list[str] | None = None) -> pa.Table | None:  # fmt: skip
    """The records of an Avro data block (content version 3: int32 count, then int32 length and
    datum per record) as Arrow columns, decoding each field for all records at once.

    Covers records of primitive, date and timestamp fields, nullable as ["null", T]; returns
    None for other schemas (the caller decodes those with fastavro). `columns` limits the
    arrays built; every field is still walked to find the next.
    """
    fields = []
    for f in writer_schema.get("fields", []):
        kind = _flat_field(f["type"])
        if kind is None:
            return None
        fields.append((f["name"], *kind))
    version, count = struct.unpack_from(">ii", content, 0)
    if version != 3:
        return None
    # Each record is prefixed by its length, so the starts chain from one to the next.
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    pos = 8
    unpack = _INT32.unpack_from
    for i in range(count):
        (size,) = unpack(content, pos)
        starts[i] = pos + 4
        pos += 4 + size
        ends[i] = pos
    buf = np.frombuffer(content + bytes(16), dtype=np.uint8)
    at = starts.copy()
    wanted = set(columns) if columns is not None else None
    names, arrays = [], []
    for name, avro_type, logical, nullable in fields:
        if nullable:
            branch = buf[at]
            if ((branch != 0) & (branch != 2)).any():
                raise ValueError(f"field {name}: a union branch is neither null nor value")
            valid = branch == 2
            at = at + 1
            rows = np.nonzero(valid)[0]
        else:
            valid = None
            rows = np.arange(count)
        p = at[rows]
        build = wanted is None or name in wanted
        validity = (
            pa.py_buffer(np.packbits(valid, bitorder="little")) if valid is not None else None
        )
        if avro_type in ("int", "long"):
            values, width = _varints(buf, p)
            at[rows] = p + width
            if build:
                full = np.zeros(count, dtype=np.int64)
                full[rows] = values
                mask = ~valid if valid is not None else None
                array = pa.array(full, pa.int64(), mask=mask)
                if avro_type == "int":
                    array = array.cast(pa.int32())
                if logical == "date":
                    array = array.cast(pa.int32()).view(pa.date32())
                elif logical == "timestamp-millis":
                    array = pc.multiply(array, 1000).view(_UTC_MICROS)
                elif logical is not None:
                    array = array.view(_UTC_MICROS)
        elif avro_type == "boolean":
            at[rows] = p + 1
            if build:
                full = np.zeros(count, dtype=bool)
                full[rows] = buf[p] != 0
                array = pa.array(full, mask=~valid if valid is not None else None)
        elif avro_type in ("float", "double"):
            size = 4 if avro_type == "float" else 8
            at[rows] = p + size
            if build:
                raw = np.ascontiguousarray(buf[p[:, None] + np.arange(size)])
                full = np.zeros(count, dtype="<f4" if size == 4 else "<f8")
                full[rows] = raw.view(full.dtype).ravel()
                array = pa.array(full, mask=~valid if valid is not None else None)
        else:  # string, bytes
            lengths, width = _varints(buf, p)
            if (lengths < 0).any():
                raise ValueError(f"field {name}: negative length")
            start = p + width
            at[rows] = start + lengths
            if build:
                array = _bytes_array(buf, start, lengths, rows, count,
                                     ARROW_TYPES[avro_type], validity)  # fmt: skip
        if build:
            names.append(name)
            arrays.append(array)
    if (at != ends).any():
        raise ValueError("records do not end where their lengths say")
    return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
