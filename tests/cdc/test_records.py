"""The Avro form of change events against real Debezium output (../shared/fixtures/debezium)."""

import io
import json

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.cdc.records import (
    Change,
    decode_container,
    encode_container,
    envelope_record,
    envelope_schema,
    unwrapped_record,
    value_schema,
)
from lakehouse.cdc.sink import object_key, parse_object_key
from lakehouse.cdc.tables import ARTISTS, ARTWORKS, Column, Table


def fixture(fixtures_dir, kind, name):
    return (fixtures_dir / "debezium" / kind / name).read_bytes()


def test_value_schemas_are_the_fixture_schemas_byte_for_byte(fixtures_dir):
    for table in (ARTISTS, ARTWORKS):
        avsc = fixture(fixtures_dir, "unwrapped", f"moma.public.{table.name}-value.avsc").decode()
        assert value_schema(table, "moma") == avsc


def test_envelope_schema_is_the_one_debezium_embedded(fixtures_dir):
    data = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro")
    embedded = fastavro.reader(io.BytesIO(data)).metadata["avro.schema"]
    assert envelope_schema(ARTISTS, "moma") == embedded


def test_reencoding_the_fixtures_gives_their_exact_bytes(fixtures_dir):
    """Same records, same sync marker: the writer reproduces the sink's files bit for bit
    (header, metadata, codec, block boundaries)."""
    for kind, name, table in [
        ("unwrapped", "moma.public.artists+0+0000000000.avro", ARTISTS),
        ("unwrapped", "moma.public.artworks+0+0000000000.avro", ARTWORKS),
        ("envelope", "moma.public.artists+0+0000000000.avro", ARTISTS),
    ]:
        data = fixture(fixtures_dir, kind, name)
        schema_text, records = decode_container(data)
        ours = (
            value_schema(table, "moma") if kind == "unwrapped" else envelope_schema(table, "moma")
        )
        assert encode_container(ours, records, data[-16:]) == data, name


def test_fixture_reader_schema_reads_our_objects(fixtures_dir):
    """fastavro parses fixture files and ours with the same reader schema (the .avsc)."""
    avsc = fastavro.parse_schema(
        json.loads(fixture(fixtures_dir, "unwrapped", "moma.public.artists-value.avsc"))
    )
    row = {
        "artist_id": 441,
        "name": None,
        "nationality": None,
        "gender": None,
        "birth_year": None,
        "death_year": None,
    }
    change = Change("d", ARTISTS, {"artist_id": 441}, 3692866569488, 1640814436010, (1, 0))
    ours = encode_container(
        value_schema(ARTISTS, "moma"), [unwrapped_record(change, "moma")], b"0" * 16
    )
    theirs = fixture(fixtures_dir, "unwrapped", "moma.public.artists+0+0000000000.avro")
    [read_ours] = fastavro.reader(io.BytesIO(ours), reader_schema=avsc)
    assert read_ours == {
        **row,
        "__op": "d",
        "__db": "moma",
        "__table": "artists",
        "__schema": "public",
        "__lsn": 3692866569488,
        "__source_ts_ms": 1640814436010,
        "__deleted": "true",
    }
    assert len(list(fastavro.reader(io.BytesIO(theirs), reader_schema=avsc))) == 300


def test_container_metadata_holds_only_schema_and_codec():
    data = encode_container(value_schema(ARTISTS, "moma"), [], b"1" * 16)
    reader = fastavro.reader(io.BytesIO(data))
    assert reader.metadata == {"avro.schema": value_schema(ARTISTS, "moma"), "avro.codec": "null"}


def test_flattening_the_envelope_fixture_gives_the_flat_record(fixtures_dir):
    """§3.3's mapping, applied to the envelope fixture, through our two record builders."""
    data = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro")
    _, envelopes = decode_container(data)
    first = envelopes[0]
    change = Change(
        first["op"],
        ARTISTS,
        first["after"],
        first["source"]["lsn"],
        first["source"]["ts_ms"],
        (0, 0),
        tx_id=first["source"]["txId"],
        snapshot=first["source"]["snapshot"],
    )
    flat = unwrapped_record(change, first["source"]["db"])
    assert flat == {
        **first["after"],
        "__op": "r",
        "__db": "moma",
        "__table": "artists",
        "__schema": "public",
        "__lsn": 2146409906992,
        "__source_ts_ms": 1633899967483,
        "__deleted": "false",
    }
    rebuilt = envelope_record(change, "moma", "moma", first["ts_ms"])
    for field in ("before", "after", "op", "ts_ms", "transaction"):
        assert rebuilt[field] == first[field]
    for field in (
        "connector",
        "name",
        "ts_ms",
        "snapshot",
        "db",
        "sequence",
        "schema",
        "table",
        "txId",
        "lsn",
        "xmin",
    ):
        assert rebuilt["source"][field] == first["source"][field], field


def test_delete_of_a_row_with_a_required_non_key_column_uses_the_zero_value():
    change = Change("d", ARTWORKS, {"artwork_id": 128447}, 5, 6, (1, 0))
    record = unwrapped_record(change, "moma")
    assert record["artwork_id"] == 128447
    assert record["artist_id"] == 0  # NOT NULL in the schema, absent from the key-only image
    assert record["classification"] is None and record["__deleted"] == "true"


def test_smallint_carries_connect_type_and_bigint_is_long():
    t = Table("s", "t", (Column("id", "bigint", False), Column("n", "smallint")), ("id",))
    assert value_schema(t, "srv").startswith(
        '{"type":"record","name":"Value","namespace":"srv.s.t","fields":[{"name":"id",'
        '"type":"long"},{"name":"n","type":["null",{"type":"int","connect.type":"int16"}],'
        '"default":null},{"name":"__op"'
    )


int32 = st.integers(-(2**31), 2**31 - 1)
text = st.text(max_size=40)
artists_rows = st.fixed_dictionaries(
    {
        "artist_id": int32,
        "name": st.none() | text,
        "nationality": st.none() | text,
        "gender": st.none() | text,
        "birth_year": st.none() | int32,
        "death_year": st.none() | int32,
    }
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    rows=st.lists(artists_rows, max_size=20),
    op=st.sampled_from("rcu"),
    lsn=st.integers(0, 2**63 - 1),
)
def test_any_rows_round_trip_through_both_formats(rows, op, lsn):
    changes = [Change(op, ARTISTS, row, lsn, 1, (0, i)) for i, row in enumerate(rows)]
    flat = [unwrapped_record(c, "moma") for c in changes]
    schema_text, decoded = decode_container(
        encode_container(value_schema(ARTISTS, "moma"), flat, b"2" * 16)
    )
    assert schema_text == value_schema(ARTISTS, "moma") and decoded == flat
    env = [envelope_record(c, "moma", "moma", 2) for c in changes]
    _, decoded = decode_container(
        encode_container(envelope_schema(ARTISTS, "moma"), env, b"3" * 16)
    )
    assert [e["after"] for e in decoded] == rows


@given(
    topic=st.from_regex(r"[a-z][a-z0-9_]{0,10}\.[a-z]{1,8}\.[a-z_]{1,12}", fullmatch=True),
    offset=st.integers(0, 9_999_999_999),
)
def test_object_keys_round_trip(topic, offset):
    key = object_key(topic, offset)
    assert key == f"topics/{topic}/partition=0/{topic}+0+{offset:010d}.avro"
    assert parse_object_key(key) == (topic, offset)


def test_foreign_keys_are_not_sink_objects():
    for key in [
        "topics/a.b.c/partition=0/a.b.c+1+0000000000.avro",
        "topics/a.b.c/partition=0/x.b.c+0+0000000000.avro",
        "topics/a.b.c/partition=0/a.b.c+0+000000000.avro",
        "topics/a.b.c/a.b.c+0+0000000000.avro",
        "_cdc_offsets/moma.json",
    ]:
        assert parse_object_key(key) is None, key
