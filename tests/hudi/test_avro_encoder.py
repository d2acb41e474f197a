"""The columnar Avro encoder (shared by the Hudi log writer and the CDC sink) writes exactly
fastavro's bytes, field by field and row by row (property-based)."""

import io

import fastavro
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.hudi import avro_columns

INT32_EDGES = [0, -1, 1, -(2**31), 2**31 - 1]
INT64_EDGES = [0, -1, 1, -(2**63), 2**63 - 1, 2**62, -(2**62) - 1]
int32 = st.integers(-(2**31), 2**31 - 1) | st.sampled_from(INT32_EDGES)
int64 = st.integers(-(2**63), 2**63 - 1) | st.sampled_from(INT64_EDGES)


def fastavro_datum(schema, value) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), value)
    return buf.getvalue()


@given(st.lists(int64, max_size=50))
def test_varints_are_avro_longs(values):
    encoded = avro_columns.varints(np.array(values, dtype=np.int64)).to_pylist()
    assert encoded == [fastavro_datum("long", v) for v in values]


def test_varints_at_every_width_boundary():
    edges = [0, -1, 1, 2**63 - 1, -(2**63)]
    for k in range(1, 10):
        edges += [
            2 ** (7 * k - 1) - 1,
            2 ** (7 * k - 1),
            -(2 ** (7 * k - 1)),
            -(2 ** (7 * k - 1)) - 1,
        ]
    expected = b"".join(fastavro_datum("long", v) for v in edges)
    assert avro_columns.varint_bytes(edges) == expected


TYPES = {
    "int": int32,
    "long": int64,
    # Any code point UTF-8 can carry: multi-byte lengths differ from character counts.
    "string": st.text(st.characters(codec="utf-8"), max_size=30),
    "bytes": st.binary(max_size=30),
    "boolean": st.booleans(),
    "float": st.floats(width=32) | st.just(float("nan")),
    "double": st.floats() | st.sampled_from([float("nan"), float("inf"), -0.0]),
}


@st.composite
def columns(draw):
    """A record schema of random fields (plain, ["null", T] or [T, "null"]) and rows for it."""
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(TYPES)), st.sampled_from([None, 0, 1])),
            min_size=1,
            max_size=7,
        )
    )
    n = draw(st.integers(0, 30))
    cols = []
    for avro_type, null_branch in specs:
        values = st.none() | TYPES[avro_type] if null_branch is not None else TYPES[avro_type]
        cols.append(draw(st.lists(values, min_size=n, max_size=n)))
    return specs, cols, n


def schema_of(specs):
    fields = []
    for i, (avro_type, null_branch) in enumerate(specs):
        t = avro_type
        if null_branch == 0:
            t = ["null", avro_type]
        elif null_branch == 1:
            t = [avro_type, "null"]
        fields.append({"name": f"f{i}", "type": t})
    return {"type": "record", "name": "R", "fields": fields}


@settings(max_examples=300, deadline=None)
@given(columns())
def test_rows_of_any_supported_fields_are_fastavros_bytes(data):
    specs, cols, n = data
    pieces = []
    for (avro_type, null_branch), values in zip(specs, cols, strict=True):
        array = pa.array(values, avro_columns.ARROW_TYPES[avro_type])
        pieces += avro_columns.field_pieces(array, avro_type, null_branch)
    datums = avro_columns.join_rows(pieces, n).to_pylist()
    schema = schema_of(specs)
    rows = [{f"f{i}": col[r] for i, col in enumerate(cols)} for r in range(n)]
    assert datums == [fastavro_datum(schema, row) for row in rows]


def test_null_in_a_required_field_is_refused():
    with pytest.raises(ValueError, match="null in a field that is not nullable"):
        avro_columns.field_pieces(pa.array([1, None], pa.int32()), "int", None)


def test_an_unsupported_type_is_named():
    with pytest.raises(ValueError, match="Avro type 'fixed' is not supported"):
        avro_columns.value_bytes(pa.array([b"ab"], pa.binary()), "fixed")
