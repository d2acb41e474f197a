"""Columnar Avro binary encoding of Arrow rows, for the records of MoR log data blocks.

fastavro encodes one Python dict per call; a log block of 100k updates would spend most of its
time building dicts. For flat schemas (primitives, date, timestamp-micros) this module encodes
each column at once with numpy (zigzag varints, little-endian floats, length-prefixed strings,
union branch bytes) and joins the columns row-wise with Arrow, producing exactly the bytes
fastavro produces (tests/hudi/test_avro_columns.py checks that). Nested types return None and
the caller falls back to fastavro.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT32 = struct.Struct(">i")
_BRANCH_NULL = b"\x00"  # union branch 0 (null), zigzag varint
_BRANCH_VALUE = b"\x02"  # union branch 1


def _binary(lengths: np.ndarray, data: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def varints(values: np.ndarray) -> pa.Array:
    """Zigzag varints (Avro int/long) of int64 values, one binary value each."""
    v = values.astype(np.int64, copy=False)
    zz = ((v << 1) ^ (v >> 63)).view(np.uint64)
    count = np.ones(len(zz), dtype=np.int64)
    for k in range(1, 10):
        count += zz >= (np.uint64(1) << np.uint64(7 * k))
    width = int(count.max()) if len(count) else 1
    shifts = (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]
    groups = ((zz[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    position = np.arange(width)[None, :]
    groups |= np.where(position < (count[:, None] - 1), 0x80, 0).astype(np.uint8)
    return _binary(count, groups[position < count[:, None]])


def _fixed(values: np.ndarray, size: int) -> pa.Array:
    raw = np.ascontiguousarray(values).view(np.uint8)
    return _binary(np.full(len(values), size, dtype=np.int64), raw)


def _value_bytes(col: pa.Array) -> pa.Array | None:
    """Avro encoding of the non-null values (nulls give empty bytes)."""
    t = col.type
    n = len(col)
    if pa.types.is_integer(t) or pa.types.is_date32(t) or pa.types.is_timestamp(t):
        if pa.types.is_timestamp(t):
            ints = col.cast(pa.timestamp("us", tz=t.tz)).view(pa.int64())
        elif pa.types.is_date32(t):
            ints = col.view(pa.int32()).cast(pa.int64())
        else:
            ints = col.cast(pa.int64())
        return varints(ints.fill_null(0).to_numpy(zero_copy_only=False))
    if pa.types.is_float64(t):
        return _fixed(col.fill_null(0).to_numpy(zero_copy_only=False).astype("<f8"), 8)
    if pa.types.is_float32(t):
        return _fixed(col.fill_null(0).to_numpy(zero_copy_only=False).astype("<f4"), 4)
    if pa.types.is_boolean(t):
        return _fixed(col.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8), 1)
    if pa.types.is_string(t) or pa.types.is_binary(t):
        data = col.cast(pa.binary()).fill_null(b"")
        lengths = pc.binary_length(data).to_numpy(zero_copy_only=False)
        return pc.binary_join_element_wise(varints(lengths), data, b"")
    del n
    return None


def encode_rows(table: pa.Table) -> list[pa.Array] | None:
    """Per-row Avro datums (one binary value per row) of a table whose Avro schema makes every
    field ["null", T] in column order; None if a column type needs fastavro."""
    n = table.num_rows
    pieces = []
    for column in table.columns:
        col = column.combine_chunks()
        values = _value_bytes(col)
        if values is None:
            return None
        valid = pc.is_valid(col)
        branch = pc.if_else(valid, pa.scalar(_BRANCH_VALUE), pa.scalar(_BRANCH_NULL))
        values = pc.if_else(valid, values, pa.scalar(b""))
        pieces += [branch, values]
    if not pieces:
        return [pa.array([b""] * n, pa.binary())]
    return pieces


def block_records(table: pa.Table) -> bytes | None:
    """The records part of an Avro data block (version 3): for each row, a big-endian int32
    length then the datum. None if the table needs fastavro."""
    pieces = encode_rows(table)
    if pieces is None:
        return None
    datums = pc.binary_join_element_wise(*pieces, b"")
    lengths = pc.binary_length(datums).to_numpy(zero_copy_only=False).astype(">i4")
    prefixed = pc.binary_join_element_wise(_fixed(lengths, 4), datums, b"")
    offsets = np.frombuffer(prefixed.buffers()[1], dtype=np.int32, count=len(prefixed) + 1,
                            offset=prefixed.offset * 4)  # fmt: skip
    data = prefixed.buffers()[2]
    if data is None:
        return b""
    return data.to_pybytes()[offsets[0] : offsets[-1]]


# -- decoding ------------------------------------------------------------------------------------

_ARROW_TYPES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "bytes": pa.binary(),
}
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
    if avro_type not in _ARROW_TYPES:
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
                                     _ARROW_TYPES[avro_type], validity)  # fmt: skip
        if build:
            names.append(name)
            arrays.append(array)
    if (at != ends).any():
        raise ValueError("records do not end where their lengths say")
    return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
