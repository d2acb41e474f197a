"""The column-at-a-time Avro encoder against fastavro, value by value and block by block."""

import io
import json

import fastavro
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.cdc import avro

int64 = st.integers(-(2**63), 2**63 - 1)


def fastavro_datum(schema, value) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), value)
    return buf.getvalue()


@given(st.lists(int64, max_size=50))
def test_varints_are_avro_longs(values):
    encoded = avro.varints(np.array(values, dtype=np.int64)).to_pylist()
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
    assert avro.varint_bytes(edges) == b"".join(fastavro_datum("long", v) for v in edges)


TYPES = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": int64,
    "string": st.text(max_size=30),
    "boolean": st.booleans(),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
}


@st.composite
def columns(draw):
    """A record schema of random fields (plain, ["null", T] or [T, "null"]) and rows for it."""
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(TYPES)), st.sampled_from([None, 0, 1])),
            min_size=1,
            max_size=6,
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


@settings(max_examples=200, deadline=None)
@given(columns())
def test_rows_of_any_supported_fields_are_fastavros_bytes(data):
    specs, cols, n = data
    pieces = []
    for (avro_type, null_branch), values in zip(specs, cols, strict=True):
        array = pa.array(values, avro.ARROW_TYPES[avro_type])
        pieces += avro.field_pieces(array, avro_type, null_branch)
    datums = avro.join_rows(pieces, n).to_pylist()
    schema = schema_of(specs)
    rows = [{f"f{i}": col[r] for i, col in enumerate(cols)} for r in range(n)]
    assert datums == [fastavro_datum(schema, row) for row in rows]


def test_container_blocks_end_where_fastavros_do():
    """Records of varying size over many 64,000-byte blocks: the same blocks, the same bytes
    after the header (whose schema text is ours, not fastavro's rendering)."""
    rng = np.random.default_rng(3)
    texts = ["x" * int(k) for k in rng.integers(0, 400, 3_000)]
    schema = {"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}
    marker = bytes(range(16))
    ours = avro.container(json.dumps(schema), avro.join_rows(
        avro.field_pieces(pa.array(texts), "string", None), len(texts)), marker)  # fmt: skip
    buf = io.BytesIO()
    fastavro.writer(buf, schema, [{"s": t} for t in texts], sync_interval=avro.SYNC_INTERVAL,
                    sync_marker=marker)  # fmt: skip
    theirs = buf.getvalue()
    blocks = [b.num_records for b in fastavro.block_reader(io.BytesIO(theirs))]
    assert len(blocks) > 5
    assert [b.num_records for b in fastavro.block_reader(io.BytesIO(ours))] == blocks
    assert ours[ours.index(marker) + 16 :] == theirs[theirs.index(marker) + 16 :]


def test_an_empty_container_is_just_the_header():
    data = avro.container('"string"', pa.array([], pa.binary()), b"m" * 16)
    reader = fastavro.reader(io.BytesIO(data))
    assert list(reader) == [] and reader.metadata == {
        "avro.schema": '"string"',
        "avro.codec": "null",
    }


def test_null_in_a_required_field_is_refused():
    with pytest.raises(ValueError, match="null in a field that is not nullable"):
        avro.field_pieces(pa.array([1, None], pa.int32()), "int", None)
