"""The columnar Avro encoder produces exactly fastavro's bytes, and the columnar decoder
exactly fastavro's values (property-based)."""

from __future__ import annotations

import datetime as dt
import json
import struct

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.hudi import logfile
from lakehouse.hudi.avro_columns import block_records, decode_records
from lakehouse.hudi.schema import avro_json, avro_schema

SCHEMA = pa.schema([
    ("i", pa.int32()), ("l", pa.int64()), ("s", pa.string()), ("b", pa.binary()),
    ("f", pa.float32()), ("d", pa.float64()), ("t", pa.bool_()), ("day", pa.date32()),
    ("ts", pa.timestamp("us", tz="UTC")),
])  # fmt: skip
row = st.fixed_dictionaries({
    "i": st.none() | st.integers(-(2**31), 2**31 - 1),
    "l": st.none() | st.integers(-(2**63), 2**63 - 1),
    "s": st.none() | st.text(max_size=20),
    "b": st.none() | st.binary(max_size=20),
    "f": st.none() | st.floats(width=32, allow_nan=False),
    "d": st.none() | st.floats(allow_nan=False),
    "t": st.none() | st.booleans(),
    "day": st.none() | st.dates(),
    "ts": st.none() | st.datetimes(timezones=st.just(dt.UTC)),
})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(row, max_size=30))
def test_columnar_encoding_equals_fastavro(rows):
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    schema = avro_json(avro_schema(SCHEMA, "t"))
    expected = logfile._fastavro_records(schema, table.to_pylist())
    assert block_records(table) == expected
    block = logfile.avro_data_block("20250101000000000", schema, table)
    (decoded,) = logfile.read_blocks(block, "mem")
    assert logfile.decode_avro_records(decoded) == table.to_pylist()
    assert json.loads(decoded.header[logfile.SCHEMA]) == json.loads(schema)


@settings(max_examples=150, deadline=None)
@given(st.lists(row, max_size=30), st.sampled_from([None, ["l", "s"], ["ts"], []]))
def test_columnar_decoding_equals_fastavro(rows, columns):
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    schema = avro_json(avro_schema(SCHEMA, "t"))
    (block,) = logfile.read_blocks(
        logfile.avro_data_block("20250101000000000", schema, table), "mem"
    )
    decoded = logfile.decode_avro_columns(block, columns)
    expected = pa.Table.from_pylist(logfile.decode_avro_records(block), schema=SCHEMA)
    assert decoded.column_names == (SCHEMA.names if columns is None else columns)
    for name in decoded.column_names:
        assert decoded.column(name).type == SCHEMA.field(name).type
        assert decoded.column(name).to_pylist() == expected.column(name).to_pylist(), name


WRITER = {
    "type": "record",
    "name": "r",
    "fields": [
        {"name": "k", "type": "int"},
        {"name": "s", "type": "string"},
        {"name": "ms", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "flag", "type": ["null", "boolean"]},
        {"name": "x", "type": "double"},
    ],
}
plain = st.fixed_dictionaries({
    "k": st.integers(-(2**31), 2**31 - 1),
    "s": st.text(max_size=10),
    "ms": st.none() | st.datetimes(timezones=st.just(dt.UTC)).map(
        lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)
    ),
    "flag": st.none() | st.booleans(),
    "x": st.floats(allow_nan=False),
})  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(plain, max_size=20))
def test_decoding_non_null_fields_and_millisecond_timestamps(records):
    content = struct.pack(">ii", 3, len(records)) + logfile._fastavro_records(
        json.dumps(WRITER), records
    )
    decoded = decode_records(content, WRITER)
    assert decoded.schema.field("ms").type == pa.timestamp("us", tz="UTC")
    assert decoded.to_pylist() == records


def test_nested_schemas_are_left_to_fastavro_and_corrupt_blocks_are_refused():
    nested = {"type": "record", "name": "r", "fields": [
        {"name": "a", "type": ["null", {"type": "array", "items": "int"}]}]}  # fmt: skip
    assert decode_records(struct.pack(">ii", 3, 0), nested) is None
    one = logfile._fastavro_records(json.dumps(WRITER), [
        {"k": 1, "s": "abc", "ms": None, "flag": True, "x": 1.5}])  # fmt: skip
    good = struct.pack(">ii", 3, 1) + one
    assert decode_records(good, WRITER).num_rows == 1
    # a record whose length prefix claims one byte more than its fields take
    longer = struct.pack(">ii", 3, 1) + struct.pack(">i", len(one) - 4 + 1) + one[4:] + b"\0"
    with pytest.raises(ValueError, match="do not end where their lengths say"):
        decode_records(longer, WRITER)
    block = logfile.Block(logfile.AVRO_DATA_BLOCK, {logfile.INSTANT_TIME: "1",
                          logfile.SCHEMA: json.dumps(WRITER)}, longer)  # fmt: skip
    with pytest.raises(logfile.LogFormatError, match="Avro data block at instant 1"):
        logfile.decode_avro_columns(block)
