"""Exactly-once across SIGKILL: the capture process is killed at random points while changes
stream in; the union of the objects it wrote holds every change exactly once, in order."""

import json
import multiprocessing
import os
import random
import signal
import sys
import threading
import time

from lakehouse.cdc import source
from lakehouse.cdc.capture import CaptureSettings, capture, connect
from lakehouse.cdc.generator import ChangeScript, generate_rows
from lakehouse.cdc.sink import checkpoint_key
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, MOMA_TABLES
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_objects, topic_records

TABLES = (("public", "artists"), ("public", "artworks"))
TOPIC = {ARTISTS.qualified: "moma.public.artists", ARTWORKS.qualified: "moma.public.artworks"}


def run_cli(argv):
    """The capture process: the real command-line entry point, in a fresh child process."""
    from lakehouse.cdc.cli import main

    sys.exit(main(argv))


def kill_context():
    # Children come from a clean, pre-imported server process: fast to start (importing dagster
    # takes seconds) and safe with the writer thread running here.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["lakehouse.cdc.cli", "lakehouse.cdc.capture", "tests.cdc.test_kill"]
    )
    return ctx


def committed_records(store) -> int:
    checkpoint = json.loads(store.get_bytes(checkpoint_key("moma")))
    return sum(t["next_offset"] for t in checkpoint["topics"].values())


def data(table, row):
    return {c.name: row[c.name] for c in table.columns}


class Writer(threading.Thread):
    """Applies generated changes one small transaction at a time and records, from RETURNING,
    the change event each must produce."""

    def __init__(self, dsn, rows):
        super().__init__(daemon=True)
        self.dsn, self.script = dsn, ChangeScript(rows, seed=77)
        self.expected = {t: [] for t in TOPIC.values()}
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            with connect(self.dsn, autocommit=True) as conn:
                number = 0
                while not self.stop.is_set():
                    number += 1
                    ops = self.script.batch(number, 1 + number % 3)
                    with conn.transaction():
                        events = []
                        for op in ops:
                            source.apply_op(conn, op)
                            kind = {"insert": "c", "update": "u", "delete": "d"}[op.kind]
                            row = op.after or {op.table.key[0]: op.key}
                            events.append((TOPIC[op.table.qualified], kind, op.table, row))
                    for topic, kind, table, row in events:
                        if kind == "d":
                            row = {c.name: None for c in table.columns} | row
                            if table is ARTWORKS:
                                row["artist_id"] = 0
                        self.expected[topic].append((kind, data(table, row)))
                    time.sleep(0.004)
        except Exception as e:  # reported by the test
            self.error = e


def test_sigkill_at_random_points_loses_and_duplicates_nothing(moma_dsn, tmp_path, plugin):
    rows = generate_rows(40, 60, 5)
    with connect(moma_dsn, autocommit=True) as conn:
        for name, table_rows in rows.items():
            source.load_rows(conn, MOMA_TABLES[name], table_rows)
    store = LocalObjectStore(root=str(tmp_path))
    settings = CaptureSettings(
        dsn=moma_dsn, slot="killed", server="moma", tables=TABLES, flush_size=4, once=True,
        plugin=plugin,
    )  # fmt: skip
    capture(settings, store)  # the snapshot; the stream below is what gets interrupted

    argv = [
        "--dsn",
        moma_dsn,
        "--slot",
        "killed",
        "--target",
        str(tmp_path),
        "--flush-size",
        "4",
        "--rotate-interval-ms",
        "60",
        "--poll-interval-ms",
        "20",
        "--plugin",
        plugin,
    ]
    ctx = kill_context()
    writer = Writer(moma_dsn, rows)
    writer.start()
    rng = random.Random(20)
    exit_codes, committed = [], [committed_records(store)]
    try:
        for _ in range(20):
            proc = ctx.Process(target=run_cli, args=(argv,))
            proc.start()
            time.sleep(rng.uniform(0.1, 0.9))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
            exit_codes.append(proc.exitcode)
            committed.append(committed_records(store))
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None
    assert exit_codes == [-signal.SIGKILL] * 20  # every run was killed, none had stopped
    # Kills land mid-stream, not only while starting: several runs had committed objects.
    progress = [after - before for before, after in zip(committed, committed[1:], strict=False)]
    assert sum(p > 0 for p in progress) >= 3
    capture(settings, store)  # the final resume

    for table in (ARTISTS, ARTWORKS):
        topic = TOPIC[table.qualified]
        records = topic_records(store, topic)  # gap-free offsets, checked while reading
        snapshot = len(rows[table.qualified])
        assert all(r["__op"] == "r" for r in records[:snapshot])
        streamed = [(r["__op"], data(table, r)) for r in records[snapshot:]]
        assert len(streamed) == len(writer.expected[topic]) > 50
        assert streamed == writer.expected[topic]
    checkpoint = json.loads(store.get_bytes(checkpoint_key("moma")))
    assert checkpoint["topics"]["moma.public.artists"]["next_offset"] == len(
        topic_records(store, "moma.public.artists")
    )


def test_sigkill_during_the_snapshot_redoes_it_over_the_same_offsets(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        source.load_generated(conn, 3000, 0, 9)
    argv = [
        "--dsn",
        moma_dsn,
        "--slot",
        "snap",
        "--target",
        str(tmp_path),
        "--flush-size",
        "50",
        "--once",
    ]
    store = LocalObjectStore(root=str(tmp_path))
    proc = kill_context().Process(target=run_cli, args=(argv,))
    proc.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once some, not all, snapshot objects exist
        written = list(store.list_objects("topics/moma.public.artists/"))
        if len(written) >= 3:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    assert 3 <= len(written) < 60, "the kill did not land inside the snapshot"
    with connect(moma_dsn, autocommit=True) as conn:  # changes before the redo...
        conn.execute(
            "DELETE FROM artists WHERE artist_id IN "
            "(SELECT artist_id FROM artists ORDER BY artist_id DESC LIMIT 120)"
        )
    capture(
        CaptureSettings(
            dsn=moma_dsn, slot="snap", server="moma", tables=TABLES, flush_size=50, once=True
        ),
        store,
    )
    # ...are part of the redone snapshot, which replaced the interrupted one object by object.
    objects = topic_objects(store, "moma.public.artists")
    assert sum(len(r) for _, _, r, _ in objects) == 2880
    assert {r["__op"] for _, _, rs, _ in objects for r in rs} == {"r"}
    assert len({r["__lsn"] for _, _, rs, _ in objects for r in rs}) == 1
