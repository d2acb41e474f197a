"""pgoutput against a real PostgreSQL 15: the same changes give byte-identical objects through
either plugin, unchanged TOASTed values follow Debezium's placeholder, and the publication is
created or checked as Debezium's `publication.autocreate.mode` says."""

import random
import string
from pathlib import Path

import pytest

from lakehouse.cdc.capture import UNAVAILABLE, CaptureSettings, capture, connect
from lakehouse.cdc.source_tables import CdcError
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_records as records_of

TABLES = (("public", "artists"), ("public", "artworks"))
TYPED = (("public", "typed"),)
# Every type tables.PG_TO_AVRO maps, at the edges of its range.
TYPED_DDL = """CREATE TABLE typed (
    id bigint PRIMARY KEY, s smallint, i integer, b bigint, t text, v varchar(12), c char(3),
    f boolean, r real, d double precision, big text)"""
TYPED_ROWS = [
    (1, -32768, -(2**31), -(2**63), "", "", "", False, 1e-45, -1.7976931348623157e308, None),
    (2, 32767, 2**31 - 1, 2**63 - 1, "Zürich ✓ 'q' \"dq\" \\ \n\t", "varchar", "ab", True,
     3.4028234e38, 5e-324, "x"),
    (3, None, None, None, None, None, None, None, None, None, None),
    (4, 0, 0, 0, "{\"json\": [1]}", "0", "a", True, 0.1, 0.1, "y"),
]  # fmt: skip


def run(dsn, target, slot, plugin, tables=TABLES, **kw):
    settings = CaptureSettings(dsn=dsn, slot=slot, server="moma", tables=tables, once=True,
                               plugin=plugin, **kw)  # fmt: skip
    return capture(settings, LocalObjectStore(root=str(target)))


def topic_records(root: Path, topic: str) -> list[dict]:
    return records_of(LocalObjectStore(root=str(root)), topic)


def objects(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.avro"))}


def moma_changes(conn):
    """Inserts, updates (several rows in one statement, a key change, a no-op), deletes, NULLs
    and non-ASCII text, across several transactions."""
    with conn.transaction():
        for i in range(1, 31):
            conn.execute(
                "INSERT INTO artists VALUES (%s, %s, %s, %s, %s, %s)",
                [i, f"Artist {i} ☃", ["French", None, "Japanese"][i % 3], "Male", 1900 + i,
                 None if i % 4 else 1990],
            )  # fmt: skip
            conn.execute(
                "INSERT INTO artworks (artwork_id, title, artist_id, date, classification) "
                "VALUES (%s, %s, %s, %s, %s)",
                [100 + i, f'Work "{i}"', i, 1950 + i, "Print" if i % 2 else "Video"],
            )
    conn.execute("UPDATE artists SET nationality = 'German' WHERE artist_id <= 10")
    conn.execute("UPDATE artists SET artist_id = 1000 WHERE artist_id = 11")
    conn.execute("UPDATE artists SET name = name WHERE artist_id = 12")
    conn.execute("UPDATE artworks SET artwork_id = 500 WHERE artwork_id = 110")  # a key change
    with conn.transaction():
        conn.execute("DELETE FROM artworks WHERE artwork_id IN (101, 102, 103)")
        conn.execute("UPDATE artworks SET title = NULL, date = NULL WHERE artist_id = 20")
    conn.execute("DELETE FROM artists WHERE artist_id > 25")


@pytest.mark.parametrize("fmt", ["unwrapped", "envelope"])
def test_both_plugins_write_byte_identical_objects(moma_dsn, tmp_path, fmt):
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute(TYPED_DDL)
        # Old rows whole ('O' tuples) for artworks, the key only ('K') for the others.
        conn.execute("ALTER TABLE artworks REPLICA IDENTITY FULL")
    for plugin in ("pgoutput", "wal2json"):  # both slots start before the first change
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TABLES + TYPED, fmt=fmt, flush_size=7)
    with connect(moma_dsn, autocommit=True) as conn:
        moma_changes(conn)
        for row in TYPED_ROWS:
            conn.execute(f"INSERT INTO typed VALUES ({', '.join(['%s'] * 11)})", list(row))
        conn.execute("UPDATE typed SET r = -r, d = -d, f = NOT f, c = 'xyz' WHERE id <> 3")
        conn.execute("DELETE FROM typed WHERE id = 1")
    for plugin in ("pgoutput", "wal2json"):
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TABLES + TYPED, fmt=fmt, flush_size=7)
    ours, theirs = objects(tmp_path / "pgoutput"), objects(tmp_path / "wal2json")
    assert sorted(ours) == sorted(theirs) and len(ours) > 10
    if fmt == "unwrapped":
        for key in ours:
            assert ours[key] == theirs[key], key
    else:  # the envelope's own ts_ms is the time it was processed; the rest is the same
        for topic in ("moma.public.artists", "moma.public.artworks", "moma.public.typed"):
            a, b = (
                topic_records(tmp_path / "pgoutput", topic),
                topic_records(tmp_path / "wal2json", topic),
            )
            assert [{**r, "ts_ms": 0} for r in a] == [{**r, "ts_ms": 0} for r in b]
    typed = topic_records(tmp_path / "pgoutput", "moma.public.typed")
    if fmt == "unwrapped":
        assert [r["b"] for r in typed[:4]] == [-(2**63), 2**63 - 1, None, 0]
        assert [r["f"] for r in typed[:4]] == [False, True, None, True]
        assert typed[1]["t"] == TYPED_ROWS[1][4] and typed[1]["c"] == "ab "
        artworks = topic_records(tmp_path / "pgoutput", "moma.public.artworks")
        deleted = [(r["artwork_id"], r["title"]) for r in artworks if r["__op"] == "d"]
        assert deleted == [(110, 'Work "10"'), (101, 'Work "1"'), (102, 'Work "2"'),
                           (103, 'Work "3"')]  # fmt: skip
        artists = topic_records(tmp_path / "pgoutput", "moma.public.artists")
        assert [(r["artist_id"], r["name"]) for r in artists if r["__op"] == "d"][0] == (11, None)


def test_an_unchanged_toasted_value_is_debeziums_placeholder(moma_dsn, tmp_path):
    big = "".join(random.Random(3).choices(string.ascii_letters, k=40_000))  # stored out of line
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute(TYPED_DDL)  # REPLICA IDENTITY DEFAULT
    for plugin in ("pgoutput", "wal2json"):
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TYPED)
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO typed (id, i, big) VALUES (1, 1, %s)", [big])
        conn.execute("UPDATE typed SET i = 2 WHERE id = 1")  # big is not carried
        conn.execute("UPDATE typed SET big = 'small' WHERE id = 1")
    for plugin in ("pgoutput", "wal2json"):
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TYPED)
    records = topic_records(tmp_path / "pgoutput", "moma.public.typed")
    assert [(r["__op"], r["i"], r["big"]) for r in records] == [
        ("c", 1, big),
        ("u", 2, UNAVAILABLE),
        ("u", 2, "small"),
    ]
    assert objects(tmp_path / "pgoutput") == objects(tmp_path / "wal2json")


def publication(conn, name="dbz_publication"):
    row = conn.execute(
        "SELECT puballtables FROM pg_publication WHERE pubname = %s", [name]
    ).fetchone()
    tables = conn.execute(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = %s "
        "ORDER BY 1",
        [name],
    ).fetchall()
    return None if row is None else (row[0], [t[0] for t in tables])


def test_all_tables_mode_creates_the_publication_once(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        assert publication(conn) is None
        run(moma_dsn, tmp_path, "a", "pgoutput")
        assert publication(conn) == (True, ["public.artists", "public.artworks"])
        conn.execute("INSERT INTO artists (artist_id, name) VALUES (1, 'x')")
        run(moma_dsn, tmp_path, "a", "pgoutput")  # the existing one is used
    assert [r["name"] for r in topic_records(tmp_path, "moma.public.artists")] == ["x"]


def test_filtered_mode_publishes_exactly_the_captured_tables(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        run(
            moma_dsn, tmp_path / "1", "f", "pgoutput", TABLES[:1], publication_autocreate="filtered"
        )
        assert publication(conn) == (False, ["public.artists"])
        conn.execute("CREATE TABLE other (x int PRIMARY KEY)")
        conn.execute("ALTER PUBLICATION dbz_publication ADD TABLE other")
        run(moma_dsn, tmp_path / "2", "g", "pgoutput", TABLES, publication_autocreate="filtered")
        assert publication(conn) == (False, ["public.artists", "public.artworks"])
        conn.execute("CREATE PUBLICATION everything FOR ALL TABLES")
    with pytest.raises(CdcError, match=r"^publication 'everything' is FOR ALL TABLES, which "):
        run(moma_dsn, tmp_path / "3", "h", "pgoutput", publication="everything",
            publication_autocreate="filtered")  # fmt: skip


def test_disabled_mode_and_an_unfit_publication_are_refused(moma_dsn, tmp_path):
    with pytest.raises(
        CdcError,
        match=r"^publication 'dbz_publication' does not exist and publication.autocreate.mode "
        r"is disabled; create it",
    ):
        run(moma_dsn, tmp_path, "d", "pgoutput", publication_autocreate="disabled")
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("CREATE PUBLICATION mine FOR TABLE artists")
        conn.execute("CREATE PUBLICATION inserts FOR TABLE artists, artworks "
                     "WITH (publish = 'insert')")  # fmt: skip
        conn.execute(
            "CREATE PUBLICATION somerows FOR TABLE artists WHERE (artist_id > 5), artworks"
        )
        conn.execute("CREATE PUBLICATION cols FOR TABLE artists (artist_id, name), artworks")
    cases = {
        "mine": r"^publication 'mine' does not cover table\(s\) public.artworks \(ALTER PUB",
        "inserts": r"^publication 'inserts' does not publish update, delete, so those",
        "somerows": r"^publication 'somerows' publishes only some rows of table "
        r"public.artists \(WHERE",
        "cols": r"^publication 'cols' leaves column\(s\) nationality, gender, birth_year, "
        r"death_year of table public.artists out of its column list",
    }
    for name, message in cases.items():
        for mode in ("disabled", "all_tables"):
            with pytest.raises(CdcError, match=message):
                run(moma_dsn, tmp_path, "d", "pgoutput", publication=name,
                    publication_autocreate=mode)  # fmt: skip
    with pytest.raises(CdcError, match=r"^publication name 'Bad;Name' is not a plain"):
        run(moma_dsn, tmp_path, "d", "pgoutput", publication="Bad;Name")
    assert not list(tmp_path.rglob("*.avro"))


def test_a_column_type_changed_under_the_slot_is_named(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        run(moma_dsn, tmp_path, "t", "pgoutput")
        conn.execute("INSERT INTO artists (artist_id, birth_year) VALUES (1, 1900)")
        conn.execute("ALTER TABLE artists ALTER COLUMN birth_year TYPE bigint")
    with pytest.raises(
        CdcError,
        match=r"^table public.artists, column birth_year: pgoutput sends type OID 23, not "
        r"bigint as captured \(the table changed while captured\)$",
    ):
        run(moma_dsn, tmp_path, "t", "pgoutput")


def test_the_command_line_passes_the_plugin_and_publication_settings(moma_dsn, tmp_path, capsys):
    from lakehouse.cdc.cli import main

    args = ["--dsn", moma_dsn, "--target", str(tmp_path), "--once", "--publication", "lake"]
    assert main([*args, "--publication-autocreate-mode", "disabled"]) == 2
    assert capsys.readouterr().err.startswith(
        "lakehouse-cdc: error: publication 'lake' does not exist and publication.autocreate.mode"
    )
    assert main([*args, "--tables", "public.artists", "--publication-autocreate-mode",
                 "filtered"]) == 0  # fmt: skip
    with connect(moma_dsn, autocommit=True) as conn:
        assert publication(conn, "lake") == (False, ["public.artists"])
        assert conn.execute(
            "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'lakehouse_cdc'"
        ).fetchone() == ("pgoutput",)
    assert (
        main([*args, "--slot", "w", "--plugin", "wal2json", "--target", str(tmp_path / "w")]) == 0
    )
    with connect(moma_dsn, autocommit=True) as conn:
        assert conn.execute(
            "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'w'"
        ).fetchone() == ("wal2json",)


def test_pgoutput_keeps_the_special_floats_wal2json_sends_as_null(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute(TYPED_DDL)
    for plugin in ("pgoutput", "wal2json"):
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TYPED)
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO typed (id, r, d) VALUES (1, 'NaN', 'Infinity'), "
                     "(2, '-Infinity', 'NaN')")  # fmt: skip
    for plugin in ("pgoutput", "wal2json"):
        run(moma_dsn, tmp_path / plugin, plugin, plugin, TYPED)
    ours = topic_records(tmp_path / "pgoutput", "moma.public.typed")
    assert [str(r["r"]) + " " + str(r["d"]) for r in ours] == ["nan inf", "-inf nan"]
    theirs = topic_records(tmp_path / "wal2json", "moma.public.typed")
    assert [(r["r"], r["d"]) for r in theirs] == [(None, None), (None, None)]
