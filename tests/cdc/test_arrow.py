"""Reading CDC objects of both formats into one unwrapped Arrow table."""

import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.cdc.arrow import cdc_arrow_schema, read_cdc_objects
from lakehouse.cdc.records import ChangeBatch, decode_container, encode_batch, row_values
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, CdcError


def fixture(fixtures_dir, kind, name):
    return fixtures_dir / "debezium" / kind / name


def test_unwrapped_fixtures_read_as_written(fixtures_dir):
    for table in (ARTISTS, ARTWORKS):
        path = fixture(fixtures_dir, "unwrapped", f"{table.topic('moma')}+0+0000000000.avro")
        got = read_cdc_objects([path], table)
        assert got.schema == cdc_arrow_schema(table)
        assert got.to_pylist() == decode_container(path.read_bytes())[1]


def test_the_envelope_fixture_reads_as_its_unwrapped_form(fixtures_dir):
    data = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro").read_bytes()
    _, envelopes = decode_container(data)
    got = read_cdc_objects([data], ARTISTS)
    assert got.schema == cdc_arrow_schema(ARTISTS)
    assert got.to_pylist() == [
        {
            **e["after"],
            "__op": "r",
            "__db": "moma",
            "__table": "artists",
            "__schema": "public",
            "__lsn": e["source"]["lsn"],
            "__source_ts_ms": e["source"]["ts_ms"],
            "__deleted": "false",
        }
        for e in envelopes
    ]


int32 = st.integers(-(2**31), 2**31 - 1)
text = st.text(max_size=20)
artworks_rows = st.fixed_dictionaries(
    {c.name: (int32 if c.primitive == "int" else text) if not c.nullable else
     st.none() | (int32 if c.primitive == "int" else text) for c in ARTWORKS.columns}
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(artworks_rows, st.sampled_from("rcud")), min_size=1, max_size=40),
    st.integers(1, 15),
)
def test_both_formats_read_to_the_same_rows_in_object_order(changes, per_object):
    """Changes split over several objects, written in both formats: each batch of objects
    reads to the unwrapped rows, in order; a delete carries the key-only before-image."""
    objects = {"unwrapped": [], "envelope": []}
    expected = []
    for start in range(0, len(changes), per_object):
        batch = ChangeBatch()
        for i, (row, op) in enumerate(changes[start : start + per_object], start):
            image = {"artwork_id": row["artwork_id"]} if op == "d" else row
            values = row_values(ARTWORKS, op, image)
            batch.rows.append(values)
            batch.ops.append(op)
            batch.lsns.append(1000 + i)
            batch.ts_ms.append(2000 + i)
            batch.tx_ids.append(7)
            batch.snapshots.append("true" if op == "r" else "false")
            batch.last_commits.append(None)
            batch.processed_ms.append(3000 + i)
            expected.append(
                dict(zip(ARTWORKS.column_names, values, strict=True))
                | {"__op": op, "__db": "db1", "__table": "artworks", "__schema": "public",
                   "__lsn": 1000 + i, "__source_ts_ms": 2000 + i,
                   "__deleted": "true" if op == "d" else "false"}
            )  # fmt: skip
        for fmt in objects:
            objects[fmt].append(encode_batch(fmt, ARTWORKS, "srv", "db1", batch, b"m" * 16))
    for fmt, datas in objects.items():
        assert read_cdc_objects(datas, ARTWORKS).to_pylist() == expected, fmt
    mixed = [d if i % 2 else e for i, (d, e) in enumerate(zip(*objects.values(), strict=True))]
    assert read_cdc_objects(mixed, ARTWORKS).to_pylist() == expected


def test_paths_and_bytes_mix_and_no_objects_is_an_empty_table(tmp_path, fixtures_dir):
    path = fixture(fixtures_dir, "unwrapped", "moma.public.artists+0+0000000000.avro")
    copy = tmp_path / "copy.avro"
    copy.write_bytes(path.read_bytes())
    both = read_cdc_objects([str(path), copy.read_bytes(), copy], ARTISTS)
    assert both.num_rows == 900
    assert both.slice(0, 300).equals(both.slice(300, 300))
    empty = read_cdc_objects([], ARTISTS)
    assert empty.num_rows == 0 and empty.schema == cdc_arrow_schema(ARTISTS)


def test_unreadable_or_foreign_objects_are_named(fixtures_dir, tmp_path):
    with pytest.raises(CdcError, match=r"object 1 of the batch \(bytes\): not a readable Avro"):
        read_cdc_objects([encode_batch("unwrapped", ARTISTS, "m", "d", ChangeBatch(), b"x" * 16),
                          b"not avro"], ARTISTS)  # fmt: skip
    artworks = fixture(fixtures_dir, "unwrapped", "moma.public.artworks+0+0000000000.avro")
    with pytest.raises(
        CdcError,
        match=re.escape(str(artworks))
        + r": neither a Debezium envelope nor an unwrapped public.artists value: "
        r"no field\(s\) nationality, gender, birth_year, death_year",
    ):
        read_cdc_objects([artworks], ARTISTS)
    envelope = fixture(fixtures_dir, "envelope", "moma.public.artists+0+0000000000.avro")
    with pytest.raises(CdcError, match=r"row has no column\(s\) artwork_id, title, date"):
        read_cdc_objects([envelope], ARTWORKS)
    with pytest.raises(CdcError, match=r"missing\.avro: not a readable Avro"):
        read_cdc_objects([tmp_path / "missing.avro"], ARTISTS)


def test_schema_types_follow_the_columns():
    schema = cdc_arrow_schema(ARTWORKS)
    assert schema.field("artwork_id").type == pa.int32() and not schema.field("artwork_id").nullable
    assert schema.field("artist_id").nullable is False
    assert schema.field("title").type == pa.string() and schema.field("title").nullable
    assert schema.names[-7:] == [
        "__op", "__db", "__table", "__schema", "__lsn", "__source_ts_ms", "__deleted",
    ]  # fmt: skip
    assert schema.field("__lsn").type == pa.int64()
