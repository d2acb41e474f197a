"""The shipped row generator, the extract reader and the change script."""

import zipfile
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.cdc.generator import SHOWCASE_ARTISTS, ChangeScript, generate_rows
from lakehouse.cdc.source import read_extract
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, CdcError


def test_rows_are_a_function_of_the_seed():
    a, b, c = generate_rows(50, 80, 7), generate_rows(50, 80, 7), generate_rows(50, 80, 8)
    assert a == b
    assert a != c


def test_rows_follow_the_moma_domains():
    rows = generate_rows(500, 1500, 3)
    artists, artworks = rows[ARTISTS.qualified], rows[ARTWORKS.qualified]
    assert len(artists) == 500 and len(artworks) == 1500
    assert [tuple(r.values()) for r in artists[: len(SHOWCASE_ARTISTS)]] == SHOWCASE_ARTISTS
    assert len({r["artist_id"] for r in artists}) == 500
    assert len({r["artwork_id"] for r in artworks}) == 1500
    by_id = {r["artist_id"]: r for r in artists}
    for table, table_rows in rows.items():
        columns = (ARTISTS if table == ARTISTS.qualified else ARTWORKS).columns
        for r in table_rows:
            assert list(r) == [c.name for c in columns]
            for c in columns:  # missing text is '', never NULL; integers are int or NULL
                assert r[c.name] is not None if c.primitive == "string" else True
    for w in artworks:
        assert by_id[w["artist_id"]]["name"] == w["name"]
        assert " " not in w["classification"] and w["classification"]
        if w["department"] == "":
            assert w["classification"] == "Not_Assigned" and w["object_number"] == ""
    nationalities = Counter(r["nationality"] for r in artists)
    assert nationalities.most_common(1)[0][0] == "American" and "" in nationalities
    assert all(" " not in n for n in nationalities)


def test_too_few_artists_is_an_error():
    with pytest.raises(CdcError, match="artists must be at least 8"):
        generate_rows(3, 0, 1)


def test_change_script_is_deterministic_and_covers_every_kind():
    rows = generate_rows(100, 200, 1)
    one, two = ChangeScript(rows, 5), ChangeScript(rows, 5)
    batches = [one.batch(n, 25) for n in range(1, 21)]
    assert batches == [two.batch(n, 25) for n in range(1, 21)]
    kinds = Counter((op.kind, op.table.name) for ops in batches for op in ops)
    assert {k for k, _ in kinds} == {"insert", "update", "delete"}
    moves = [
        op
        for ops in batches
        for op in ops
        if op.kind == "update" and {"nationality", "classification"} & set(op.values)
    ]
    assert moves, "no partition-moving update"
    assert one.state == two.state
    # The after-image of every insert/update is the row as it stood right after the change.
    replay = ChangeScript(rows, 5)
    for ops in batches:
        for op in ops:
            replay.apply(op)
            if op.after is not None:
                assert replay.state[op.table.qualified][op.key] == op.after


def test_the_fixture_extracts_load_as_the_reference_says(fixtures_dir):
    table, rows = read_extract(fixtures_dir / "moma" / "moma_public_artists.txt.zip")
    artists = list(rows)
    assert table is ARTISTS and len(artists) == 15_089
    by_id = {r["artist_id"]: r for r in artists}
    assert by_id[27624]["name"] == "Eve Sussman | Rufus Corporation"
    assert by_id[2519]["name"] == 'George Overbury ("Pop") Hart'
    assert by_id[525] == {
        "artist_id": 525,
        "name": "Palme Berthold",
        "nationality": "",
        "gender": "",
        "birth_year": None,
        "death_year": None,
    }
    assert sum(r["nationality"] == "" for r in artists) == 2_486
    table, rows = read_extract(fixtures_dir / "moma" / "moma_public_artworks_small.txt.zip")
    artworks = list(rows)
    assert table is ARTWORKS and len(artworks) == 5_000
    assert sum(r["classification"] == "Print" for r in artworks) == 1_019


def write_zip(path, text):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(path.name.removesuffix(".zip"), text)
    return path


def test_bad_extracts_name_file_line_and_field(tmp_path):
    header = "artist_id|name|nationality|gender|birth_year|death_year\n"
    bad_int = write_zip(
        tmp_path / "moma_public_artists.txt.zip", header + "1|A|B|C|1930|1992\n2|X|Y|Z|nineteen|\n"
    )
    with pytest.raises(
        CdcError,
        match=r"moma_public_artists.txt.zip, line 3, field birth_year: "
        r"'nineteen' is not an integer",
    ):
        list(read_extract(bad_int)[1])
    (tmp_path / "h").mkdir()
    bad_header = write_zip(tmp_path / "h" / "moma_public_artists.txt.zip", "id|name\n1|A\n")
    with pytest.raises(CdcError, match=r"line 1: header \['id', 'name'\]"):
        list(read_extract(bad_header)[1])
    short = tmp_path / "moma_public_artists_small.txt"
    short.write_text(header + "1|A|B\n")
    with pytest.raises(CdcError, match=r"moma_public_artists_small.txt, line 2: 3 fields"):
        list(read_extract(short)[1])
    with pytest.raises(CdcError, match="not a MoMA extract name"):
        read_extract(tmp_path / "artists.csv")


@settings(max_examples=30, deadline=None)
@given(
    names=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20),
        min_size=1,
        max_size=10,
    )
)
def test_extract_quoting_round_trips_any_name(tmp_path_factory, names):
    """CSV quoting with '|' and '"' inside values, as the original extracts use it."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, delimiter="|", quotechar='"', lineterminator="\n")
    w.writerow(ARTISTS.column_names)
    for i, name in enumerate(names):
        w.writerow([i, name, "", "", "", ""])
    path = tmp_path_factory.mktemp("x") / "moma_public_artists.txt"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    rows = list(read_extract(path)[1])
    assert [r["name"] for r in rows] == names
    assert all(r["birth_year"] is None and r["gender"] == "" for r in rows)
