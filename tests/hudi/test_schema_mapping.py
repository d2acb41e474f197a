"""Arrow <-> Avro table schemas (lakehouse/hudi/schema.py): every type a Hudi table accepts
goes to the Avro schema Spark would write and back to the same Arrow type."""

import fastavro
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.hudi import HudiSchemaError
from lakehouse.hudi.schema import arrow_from_avro, avro_schema, normalize_schema

PRIMITIVES = {
    pa.bool_(): "boolean",
    pa.int32(): "int",
    pa.int64(): "long",
    pa.float32(): "float",
    pa.float64(): "double",
    pa.string(): "string",
    pa.binary(): "bytes",
}
LEAVES = st.sampled_from(
    [*PRIMITIVES, pa.date32(), pa.timestamp("us", tz="UTC"), pa.decimal128(12, 3)]
)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


def _nested(children):
    fields = st.lists(st.tuples(NAMES, children), min_size=1, max_size=3, unique_by=lambda f: f[0])
    return st.one_of(
        children.map(lambda t: pa.list_(pa.field("element", t))),
        children.map(lambda t: pa.map_(pa.string(), t)),
        fields.map(lambda fs: pa.struct([pa.field(n, t) for n, t in fs])),
    )


TYPES = st.recursive(LEAVES, _nested, max_leaves=6)


@pytest.mark.parametrize(("arrow", "avro"), PRIMITIVES.items())
def test_each_primitive_is_its_avro_primitive(arrow, avro):
    schema = avro_schema(pa.schema([pa.field("v", arrow)]), "t")
    assert schema["fields"] == [{"name": "v", "type": ["null", avro], "default": None}]


@given(st.lists(st.tuples(NAMES, TYPES), min_size=1, max_size=4, unique_by=lambda f: f[0]))
def test_a_supported_schema_goes_to_avro_and_back(fields):
    schema = normalize_schema(pa.schema([pa.field(n, t) for n, t in fields]))
    avro = avro_schema(schema, "t")
    fastavro.parse_schema(avro)  # a valid Avro schema
    assert arrow_from_avro(avro) == schema


@pytest.mark.parametrize(
    ("arrow", "normalized"),
    [
        (pa.int8(), pa.int32()),
        (pa.uint16(), pa.int32()),
        (pa.uint32(), pa.int64()),
        (pa.large_string(), pa.string()),
        (pa.large_binary(), pa.binary()),
        (pa.float16(), pa.float32()),
        (pa.timestamp("ms"), pa.timestamp("us", tz="UTC")),
        (pa.dictionary(pa.int32(), pa.string()), pa.string()),
    ],
)
def test_wider_or_other_encodings_are_normalized(arrow, normalized):
    assert normalize_schema(pa.schema([pa.field("v", arrow)])).field("v").type == normalized


def test_a_type_without_an_avro_mapping_is_named():
    with pytest.raises(HudiSchemaError, match="field v: unsigned 64-bit integers"):
        normalize_schema(pa.schema([pa.field("v", pa.uint64())]))
    with pytest.raises(HudiSchemaError, match=r"field v: type time64\[us\] is not supported"):
        normalize_schema(pa.schema([pa.field("v", pa.time64("us"))]))
