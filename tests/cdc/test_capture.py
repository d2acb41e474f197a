"""The capture against a real PostgreSQL 15: snapshot, streaming, layout and both formats."""

import io
import json
import threading
import time

import fastavro
from psycopg import sql

from lakehouse.cdc import source
from lakehouse.cdc.capture import CaptureSettings, capture, connect, describe_table
from lakehouse.cdc.generator import generate_rows
from lakehouse.cdc.records import value_schema
from lakehouse.cdc.sink import checkpoint_key
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, MOMA_TABLES
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_objects, topic_records

TABLES = (("public", "artists"), ("public", "artworks"))
A, W = "moma.public.artists", "moma.public.artworks"


def settings(dsn, slot="cdc", **kw):
    return CaptureSettings(dsn=dsn, slot=slot, server="moma", tables=TABLES, once=True, **kw)


def confirmed_lsn(conn, slot) -> int:
    return conn.execute(
        "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    ).fetchone()[0]


def data(record, table):
    return {c.name: record[c.name] for c in table.columns}


def load(dsn, artists=60, artworks=90, seed=1):
    rows = generate_rows(artists, artworks, seed)
    with connect(dsn, autocommit=True) as conn:
        for name, table_rows in rows.items():
            source.load_rows(conn, MOMA_TABLES[name], table_rows)
    return rows


def test_schema_from_the_catalog_is_the_fixture_schema(moma_dsn, fixtures_dir):
    with connect(moma_dsn, autocommit=True) as conn:
        for t in (ARTISTS, ARTWORKS):
            described = describe_table(conn, t.schema, t.name, "moma")
            avsc = fixtures_dir / "debezium/unwrapped" / f"moma.public.{t.name}-value.avsc"
            assert value_schema(described, "moma") == avsc.read_text()


class Script:
    """Runs statements in transactions and records, from RETURNING, the change events the
    capture must produce for them, in commit order."""

    def __init__(self, dsn):
        self.conn = connect(dsn, autocommit=True)
        self.expected = {A: [], W: []}

    def tx(self, *statements):
        with self.conn.transaction():
            for stmt, params, op in statements:
                table = ARTISTS if " artists" in stmt else ARTWORKS
                topic = table.topic("moma")
                for row in self.conn.execute(stmt + " RETURNING *", params).fetchall():
                    row = dict(zip(table.column_names, row, strict=True))
                    if op == "d":
                        key = {k: None for k in table.column_names} | {
                            table.key[0]: row[table.key[0]]
                        }
                        if table is ARTWORKS:
                            key["artist_id"] = 0
                        self.expected[topic].append(("d", key))
                    elif op == "key":  # primary key change: delete of the old key + create
                        old = {k: None for k in table.column_names} | {table.key[0]: params[-1]}
                        self.expected[topic] += [("d", old), ("c", row)]
                    else:
                        self.expected[topic].append((op, row))


def test_snapshot_then_streaming_decodes_to_the_exact_change_sequence(moma_dsn, tmp_path,
                                                                      plugin):  # fmt: skip
    rows = load(moma_dsn)
    store = LocalObjectStore(root=str(tmp_path))
    capture(settings(moma_dsn, flush_size=25, plugin=plugin), store)

    snap = json.loads(store.get_bytes(checkpoint_key("moma")))["source"]
    for topic, table in ((A, ARTISTS), (W, ARTWORKS)):
        records = topic_records(store, topic)
        assert [data(r, table) for r in records] == rows[table.qualified]  # physical order
        assert {(r["__op"], r["__deleted"], r["__lsn"]) for r in records} == {
            ("r", "false", snap["snapshot_lsn"])
        }
        assert [r["__source_ts_ms"] for r in records] == sorted(
            r["__source_ts_ms"] for r in records
        )
    assert [len(r) for _, _, r, _ in topic_objects(store, A)] == [25, 25, 10]

    print_id = next(
        w["artwork_id"] for w in rows[ARTWORKS.qualified] if w["classification"] == "Print"
    )
    s = Script(moma_dsn)
    s.tx(
        ("UPDATE artworks SET date = %s WHERE artwork_id = %s", [1959, print_id], "u"),
        (
            "UPDATE artworks SET acquisition_date = %s WHERE artwork_id = %s",
            ["2009-04-15", print_id],
            "u",
        ),
    )
    s.tx(
        (
            "UPDATE artists SET birth_year = %s, death_year = %s WHERE artist_id = %s",
            [1907, 1989, 299],
            "u",
        )
    )
    s.tx(("UPDATE artists SET nationality = %s WHERE artist_id = %s", ["German", 299], "u"))
    s.tx(("DELETE FROM artists WHERE artist_id = %s", [441], "d"))
    s.tx(
        (
            "INSERT INTO artists VALUES (%s, %s, %s, %s, %s, %s)",
            [70001, "Eve Sussman | Rufus Corporation", "American", "", None, None],
            "c",
        ),
        (
            "INSERT INTO artworks (artwork_id, title, artist_id, classification) "
            "VALUES (%s, %s, %s, %s)",
            [300001, 'The "Rape"', 70001, "Video"],
            "c",
        ),
    )
    with s.conn.transaction(force_rollback=True):
        s.conn.execute("DELETE FROM artists")  # rolled back: never captured
    s.conn.execute("CREATE TABLE other (x int primary key)")
    s.conn.execute("INSERT INTO other VALUES (1)")  # not a captured table
    s.tx(
        (
            "UPDATE artists SET nationality = %s, gender = %s WHERE artist_id = %s",
            ["Japanese", "Male", 201],
            "u",
        )
    )  # a no-op update still emits u
    s.tx(("UPDATE artists SET artist_id = %s WHERE artist_id = %s", [70568, 568], "key"))
    s.tx(
        (
            "UPDATE artworks SET classification = %s WHERE artist_id = %s",
            ["Print", 4609],
            "u",
        ),  # several rows in one statement
        ("DELETE FROM artworks WHERE artwork_id = %s", [300001], "d"),
    )
    s.conn.close()

    report = capture(settings(moma_dsn, flush_size=25, plugin=plugin), store)
    assert {o.topic for o in report.objects} == {A, W}
    for topic, table in ((A, ARTISTS), (W, ARTWORKS)):
        records = topic_records(store, topic)[len(rows[table.qualified]) :]
        assert [(r["__op"], data(r, table)) for r in records] == s.expected[topic]
        assert all(r["__deleted"] == ("true" if r["__op"] == "d" else "false") for r in records)
        assert {(r["__db"], r["__schema"], r["__table"]) for r in records} == {
            ("moma_" + moma_dsn.split("dbname=moma_")[1].split()[0], "public", table.name)
        }
        assert all(r["__lsn"] > snap["snapshot_lsn"] for r in records)
    # Commit order across transactions: LSNs and commit times never go back.
    artists = topic_records(store, A)[60:]
    assert [r["__lsn"] for r in artists] == sorted(r["__lsn"] for r in artists)
    ts = [r["__source_ts_ms"] for r in artists]
    assert ts == sorted(ts)

    # The slot was confirmed past the last transaction written, so nothing is pending.
    with connect(moma_dsn, autocommit=True) as conn:
        deadline = time.monotonic() + 10
        while (confirmed := confirmed_lsn(conn, "cdc")) < artists[-1]["__lsn"]:
            assert time.monotonic() < deadline, (confirmed, artists[-1]["__lsn"])
            time.sleep(0.05)  # the server applies the final status update on its own time
    assert capture(settings(moma_dsn, flush_size=25, plugin=plugin), store).objects == []


def test_captured_objects_and_the_fixtures_share_one_reader_schema(moma_dsn, tmp_path,
                                                                   fixtures_dir):  # fmt: skip
    """Every object a capture writes (snapshot, creates, updates, partition moves, deletes)
    embeds the schema Debezium embedded in the fixture files, byte for byte, and fastavro reads
    both with the fixture's .avsc as reader schema, giving the records as written."""
    load(moma_dsn, 30, 40)
    store = LocalObjectStore(root=str(tmp_path))
    capture(settings(moma_dsn, flush_size=20), store)
    with connect(moma_dsn, autocommit=True) as conn:
        source.apply_changes(conn, batches=4, batch_size=10, seed=8)
        for table in (ARTISTS, ARTWORKS):  # at least one delete each, whatever was generated
            key = table.key[0]
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} = (SELECT max({}) FROM {})").format(
                    table.ident(), sql.Identifier(key), sql.Identifier(key), table.ident()
                )
            )
    capture(settings(moma_dsn, flush_size=20), store)
    for table in (ARTISTS, ARTWORKS):
        topic = table.topic("moma")
        unwrapped = fixtures_dir / "debezium" / "unwrapped"
        avsc = fastavro.parse_schema(json.loads((unwrapped / f"{topic}-value.avsc").read_text()))
        theirs = (unwrapped / f"{topic}+0+0000000000.avro").read_bytes()
        embedded = fastavro.reader(io.BytesIO(theirs)).metadata["avro.schema"]
        assert len(list(fastavro.reader(io.BytesIO(theirs), reader_schema=avsc))) == 300
        ops = set()
        for _, key, records, reader in topic_objects(store, topic):
            assert reader.metadata["avro.schema"] == embedded, key
            as_fixture = list(fastavro.reader(io.BytesIO(store.get_bytes(key)), avsc))
            assert as_fixture == records, key
            ops |= {r["__op"] for r in records}
        assert ops == {"r", "c", "u", "d"}


def test_fixture_extracts_give_the_sinks_object_layout(moma_dsn, fixtures_dir, tmp_path):
    """§7.3: flush 300 gives 51 artists objects (last +0000015000 with 89 records) and 17
    artworks objects (last +0000004800 with 200), and the rows in table order."""
    extracts = {}
    with connect(moma_dsn, autocommit=True) as conn:
        for name in ("moma_public_artists.txt.zip", "moma_public_artworks_small.txt.zip"):
            table, rows = source.read_extract(fixtures_dir / "moma" / name)
            extracts[table.qualified] = list(rows)
            source.load_rows(conn, table, extracts[table.qualified])
    store = LocalObjectStore(root=str(tmp_path))
    capture(settings(moma_dsn, flush_size=300), store)
    for topic, table, count, last in (
        (A, ARTISTS, 51, (15000, 89)),
        (W, ARTWORKS, 17, (4800, 200)),
    ):
        objects = topic_objects(store, topic)
        assert len(objects) == count
        assert (objects[-1][0], len(objects[-1][2])) == last
        assert objects[-1][1] == f"topics/{topic}/partition=0/{topic}+0+{last[0]:010d}.avro"
        reader = objects[0][3]
        assert reader.codec == "null"
        assert reader.metadata["avro.schema"] == value_schema(table, "moma")
        captured = [data(r, table) for _, _, rs, _ in objects for r in rs]
        with connect(moma_dsn, autocommit=True) as conn:  # a snapshot reads in heap order
            assert captured == source.read_rows(conn, table)
        key = table.key[0]
        assert sorted(captured, key=lambda r: r[key]) == sorted(
            extracts[table.qualified], key=lambda r: r[key]
        )


def test_envelope_capture_flattens_to_the_unwrapped_capture(moma_dsn, tmp_path, plugin):
    load(moma_dsn, 20, 30)
    flat = LocalObjectStore(root=str(tmp_path / "flat"))
    env = LocalObjectStore(root=str(tmp_path / "env"))
    capture(settings(moma_dsn, slot="flat", plugin=plugin), flat)
    capture(settings(moma_dsn, slot="env", fmt="envelope", plugin=plugin), env)
    with connect(moma_dsn, autocommit=True) as conn:
        source.apply_changes(conn, batches=3, batch_size=15, seed=4)
    capture(settings(moma_dsn, slot="flat", plugin=plugin), flat)
    capture(settings(moma_dsn, slot="env", fmt="envelope", plugin=plugin), env)
    for topic in (A, W):
        envelopes, flats = topic_records(env, topic), topic_records(flat, topic)
        assert len(envelopes) == len(flats) > 0
        for e, f in zip(envelopes, flats, strict=True):
            image = e["before"] if e["op"] == "d" else e["after"]
            assert {
                **image,
                "__op": e["op"],
                "__deleted": "true" if e["op"] == "d" else "false",
            } == {k: v for k, v in f.items() if k in image or k in ("__op", "__deleted")}
            src = e["source"]
            assert (src["connector"], src["name"], src["schema"], src["table"]) == (
                "postgresql",
                "moma",
                "public",
                topic.split(".")[-1],
            )
            if e["op"] == "r":
                assert e["before"] is None and src["snapshot"] in ("true", "last")
            else:  # streamed events carry the same LSN and commit time in both formats
                assert (src["lsn"], src["ts_ms"]) == (f["__lsn"], f["__source_ts_ms"])
                assert src["snapshot"] == "false" and src["txId"] > 0
                assert json.loads(src["sequence"])[1] == str(src["lsn"])
        schema = fastavro.reader(
            __import__("io").BytesIO(env.get_bytes(topic_objects(env, topic)[0][1]))
        ).metadata["avro.schema"]
        assert json.loads(schema)["name"] == "Envelope"
    snapshots = [
        e["source"]["snapshot"] for t in (A, W) for e in topic_records(env, t) if e["op"] == "r"
    ]
    assert snapshots.count("last") == 1 and snapshots[-1] == "last"


def test_streaming_rotates_by_size_and_time_and_stops_cleanly(moma_dsn, tmp_path, plugin):
    load(moma_dsn, 10, 0)
    store = LocalObjectStore(root=str(tmp_path))
    stop = threading.Event()
    failure = []

    def run():
        try:
            capture(
                CaptureSettings(
                    dsn=moma_dsn,
                    slot="cont",
                    server="moma",
                    tables=TABLES,
                    flush_size=4,
                    rotate_interval_ms=300,
                    poll_interval_ms=50,
                    plugin=plugin,
                ),
                store,
                stop,
            )
        except Exception as e:  # surfaced below
            failure.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(topic_records(store, A)) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)  # the snapshot is written before streaming starts
        with connect(moma_dsn, autocommit=True) as conn:
            with conn.transaction():  # 6 changes in one transaction: one full object of 4
                for i in range(6):
                    conn.execute(
                        "INSERT INTO artists (artist_id, name) VALUES (%s, %s)",
                        [80000 + i, f"a{i}"],
                    )
            deadline = time.monotonic() + 30
            while len(topic_records(store, A)) < 16 and time.monotonic() < deadline:
                time.sleep(0.05)  # the remaining 2 arrive once the rotate interval passes
            # ...while the capture runs on: an idle stream still writes what it holds.
            assert len(topic_records(store, A)) == 16
            conn.execute("UPDATE artists SET name = 'late' WHERE artist_id = 80000")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not failure
    sizes = [len(r) for _, _, r, _ in topic_objects(store, A)]
    assert sizes[:3] == [4, 4, 2]  # the snapshot of 10 by flush size
    assert sizes[3:5] == [4, 2]  # then 4 by size and 2 by time
    # The last update is either written at stop or still in the slot for the next run.
    capture(settings(moma_dsn, slot="cont", plugin=plugin), store)
    assert [r["__op"] for r in topic_records(store, A)[10:]] == ["c"] * 6 + ["u"]


def test_once_stops_at_what_was_committed_when_it_started(moma_dsn, tmp_path, plugin):
    """--once captures every transaction committed before it started and then stops: also when
    the last ones touch only tables it does not capture (pgoutput sends no Commit for those),
    and while a transaction that began before it is still open (captured by the next run)."""
    store = LocalObjectStore(root=str(tmp_path))
    captured = (("public", "artists"),)
    once = CaptureSettings(dsn=moma_dsn, slot="b", server="moma", tables=captured, once=True,
                           plugin=plugin, publication_autocreate="filtered")  # fmt: skip
    with connect(moma_dsn, autocommit=True) as conn, connect(moma_dsn) as open_tx:
        conn.execute("CREATE TABLE other (x int PRIMARY KEY)")
        capture(once, store)
        conn.execute("INSERT INTO artists (artist_id, name) VALUES (1, 'one')")
        open_tx.execute("INSERT INTO artists (artist_id, name) VALUES (3, 'three')")
        conn.execute("INSERT INTO artists (artist_id, name) VALUES (2, 'two')")
        for x in range(5):
            conn.execute("INSERT INTO other VALUES (%s)", [x])
        capture(once, store)
        assert [r["name"] for r in topic_records(store, A)] == ["one", "two"]
        open_tx.commit()
    capture(once, store)
    assert [r["name"] for r in topic_records(store, A)] == ["one", "two", "three"]
