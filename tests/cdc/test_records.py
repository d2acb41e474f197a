"""The Avro form of change events against real Debezium output (../shared/fixtures/debezium)."""

import io
import json

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.cdc.records import (
    CONNECTOR_VERSION,
    ChangeBatch,
    decode_container,
    encode_batch,
    envelope_schema,
    row_values,
    value_schema,
)
from lakehouse.cdc.sink import object_key, parse_object_key
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, CdcError, Column, Table


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


def unwrapped_batch(records, table):
    batch = ChangeBatch()
    for r in records:
        batch.rows.append([r[c.name] for c in table.columns])
        batch.ops.append(r["__op"])
        batch.lsns.append(r["__lsn"])
        batch.ts_ms.append(r["__source_ts_ms"])
    return batch


def envelope_batch(envelopes, table):
    """The changes behind Debezium envelopes, as the capture would have buffered them."""
    batch = ChangeBatch()
    for e in envelopes:
        src = e["source"]
        image = e["before"] if e["op"] == "d" else e["after"]
        batch.rows.append([image[c.name] for c in table.columns])
        batch.ops.append(e["op"])
        batch.lsns.append(src["lsn"])
        batch.ts_ms.append(src["ts_ms"])
        batch.tx_ids.append(src["txId"])
        batch.snapshots.append(src["snapshot"])
        prev = json.loads(src["sequence"])[0]
        batch.last_commits.append(None if prev is None else int(prev))
        batch.processed_ms.append(e["ts_ms"])
    return batch


def test_reencoding_the_fixtures_gives_their_exact_bytes(fixtures_dir):
    """The same changes and sync marker give the sink's files bit for bit (header, metadata,
    codec, block boundaries, every field of every record)."""
    for name, table in [
        ("moma.public.artists+0+0000000000.avro", ARTISTS),
        ("moma.public.artworks+0+0000000000.avro", ARTWORKS),
    ]:
        data = fixture(fixtures_dir, "unwrapped", name)
        _, records = decode_container(data)
        assert {(r["__db"], r["__schema"], r["__table"]) for r in records} == {
            ("moma", "public", table.name)
        }
        batch = unwrapped_batch(records, table)
        assert encode_batch("unwrapped", table, "moma", "moma", batch, data[-16:]) == data, name
    data = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro")
    _, envelopes = decode_container(data)
    version = envelopes[0]["source"]["version"]  # 1.6.1.Final; ours is CONNECTOR_VERSION
    batch = envelope_batch(envelopes, ARTISTS)
    assert encode_batch("envelope", ARTISTS, "moma", "moma", batch, data[-16:], version) == data


def test_fixture_reader_schema_reads_our_objects(fixtures_dir):
    """fastavro parses fixture files and ours with the same reader schema (the .avsc)."""
    avsc = fastavro.parse_schema(
        json.loads(fixture(fixtures_dir, "unwrapped", "moma.public.artists-value.avsc"))
    )
    batch = ChangeBatch()
    batch.rows.append(row_values(ARTISTS, "d", {"artist_id": 441}))
    batch.ops.append("d")
    batch.lsns.append(3692866569488)
    batch.ts_ms.append(1640814436010)
    ours = encode_batch("unwrapped", ARTISTS, "moma", "moma", batch, b"0" * 16)
    theirs = fixture(fixtures_dir, "unwrapped", "moma.public.artists+0+0000000000.avro")
    [read_ours] = fastavro.reader(io.BytesIO(ours), reader_schema=avsc)
    assert read_ours == {
        "artist_id": 441,
        "name": None,
        "nationality": None,
        "gender": None,
        "birth_year": None,
        "death_year": None,
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
    for fmt, schema in (("unwrapped", value_schema), ("envelope", envelope_schema)):
        data = encode_batch(fmt, ARTISTS, "moma", "moma", ChangeBatch(), b"1" * 16)
        reader = fastavro.reader(io.BytesIO(data))
        assert reader.metadata == {"avro.schema": schema(ARTISTS, "moma"), "avro.codec": "null"}
        assert list(reader) == []


def test_flattening_the_envelope_fixture_gives_the_flat_record(fixtures_dir):
    """§3.3's mapping: the envelope fixture's changes written unwrapped are the `after` images
    plus the CDC fields taken from `source`."""
    data = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro")
    _, envelopes = decode_container(data)
    batch = envelope_batch(envelopes, ARTISTS)
    _, flat = decode_container(encode_batch("unwrapped", ARTISTS, "moma", "moma", batch, b"f" * 16))
    assert flat[0] == {
        **envelopes[0]["after"],
        "__op": "r",
        "__db": "moma",
        "__table": "artists",
        "__schema": "public",
        "__lsn": 2146409906992,
        "__source_ts_ms": 1633899967483,
        "__deleted": "false",
    }
    assert [{k: r[k] for k in ARTISTS.column_names} for r in flat] == [
        e["after"] for e in envelopes
    ]


def test_delete_of_a_row_with_a_required_non_key_column_uses_the_zero_value():
    batch = ChangeBatch()
    batch.rows.append(row_values(ARTWORKS, "d", {"artwork_id": 128447}))
    batch.ops.append("d")
    batch.lsns.append(5)
    batch.ts_ms.append(6)
    _, [record] = decode_container(
        encode_batch("unwrapped", ARTWORKS, "moma", "moma", batch, b"d" * 16)
    )
    assert record["artwork_id"] == 128447
    assert record["artist_id"] == 0  # NOT NULL in the schema, absent from the key-only image
    assert record["classification"] is None and record["__deleted"] == "true"


def test_a_value_that_does_not_fit_names_table_and_column():
    batch = ChangeBatch()
    batch.rows.append([1, "n", "x", "g", "not a year", None])
    batch.ops.append("u")
    batch.lsns.append(1)
    batch.ts_ms.append(1)
    with pytest.raises(CdcError, match="table public.artists, column birth_year: a value does"):
        encode_batch("unwrapped", ARTISTS, "moma", "moma", batch, b"e" * 16)


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
    ops=st.lists(st.sampled_from("rcud"), min_size=20, max_size=20),
    lsn=st.integers(0, 2**63 - 1),
    tx=st.none() | st.integers(0, 2**63 - 1),
)
def test_any_changes_round_trip_through_both_formats(rows, ops, lsn, tx):
    batch = ChangeBatch()
    for i, row in enumerate(rows):
        batch.rows.append(row_values(ARTISTS, ops[i], row))
        batch.ops.append(ops[i])
        batch.lsns.append(lsn)
        batch.ts_ms.append(i)
        batch.tx_ids.append(tx)
        batch.snapshots.append("true" if ops[i] == "r" else "false")
        batch.last_commits.append(None if i == 0 else lsn - 1)
        batch.processed_ms.append(i + 7)
    schema_text, flat = decode_container(
        encode_batch("unwrapped", ARTISTS, "moma", "moma", batch, b"2" * 16)
    )
    assert schema_text == value_schema(ARTISTS, "moma")
    assert flat == [
        {
            **row,
            "__op": op,
            "__db": "moma",
            "__table": "artists",
            "__schema": "public",
            "__lsn": lsn,
            "__source_ts_ms": i,
            "__deleted": "true" if op == "d" else "false",
        }
        for i, (row, op) in enumerate(zip(rows, ops, strict=False))
    ]
    _, envelopes = decode_container(
        encode_batch("envelope", ARTISTS, "moma", "moma", batch, b"3" * 16)
    )
    for i, (e, row, op) in enumerate(zip(envelopes, rows, ops, strict=False)):
        assert (e["before"], e["after"]) == ((row, None) if op == "d" else (None, row))
        assert (e["op"], e["ts_ms"], e["transaction"]) == (op, i + 7, None)
        assert e["source"] == {
            "version": CONNECTOR_VERSION,
            "connector": "postgresql",
            "name": "moma",
            "ts_ms": i,
            "snapshot": "true" if op == "r" else "false",
            "db": "moma",
            "sequence": f'[null,"{lsn}"]' if i == 0 else f'["{lsn - 1}","{lsn}"]',
            "schema": "public",
            "table": "artists",
            "txId": tx,
            "lsn": lsn,
            "xmin": None,
        }


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
