"""Bad input gets a clear error naming what is wrong, and nothing already written is lost."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lakehouse.cdc import source
from lakehouse.cdc.capture import CaptureSettings, capture, connect
from lakehouse.cdc.cli import main
from lakehouse.cdc.simulator import SimulatorSettings, simulate
from lakehouse.cdc.source_tables import CdcError
from lakehouse.storage import LocalObjectStore
from tests.support.postgres import SUPERUSER_PASSWORD, postgres_server

TABLES = (("public", "artists"), ("public", "artworks"))
CLI = str(Path(sys.executable).with_name("lakehouse-cdc"))
SMALL = SimulatorSettings(artists=20, artworks=30, batch_size=5)


def run(dsn, target, slot="cdc", tables=TABLES, **kw):
    settings = CaptureSettings(dsn=dsn, slot=slot, server="moma", tables=tables, once=True, **kw)
    return capture(settings, LocalObjectStore(root=str(target)))


def snapshot_of(path):
    return {p: p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}


@pytest.fixture
def captured(moma_dsn, tmp_path):
    """A target with a completed capture (snapshot + one change)."""
    with connect(moma_dsn, autocommit=True) as conn:
        source.load_generated(conn, 20, 20, 3)
    run(moma_dsn, tmp_path)
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("UPDATE artists SET name = 'x' WHERE artist_id = 1")
    run(moma_dsn, tmp_path)
    return tmp_path


def test_wrong_password_names_the_server_not_the_password(pg, moma_dsn, captured):
    before = snapshot_of(captured)
    bad = moma_dsn.replace(f"password={SUPERUSER_PASSWORD}", "password=wrong-secret")
    with pytest.raises(CdcError) as e:
        run(bad, captured)
    msg = str(e.value)
    assert msg.startswith(f"cannot connect to PostgreSQL (host=127.0.0.1 port={pg.port} dbname=")
    assert "password authentication failed" in msg and "wrong-secret" not in msg
    assert snapshot_of(captured) == before


def test_nothing_listening_and_malformed_dsn(tmp_path):
    from tests.support.ports import free_port

    with pytest.raises(CdcError, match=r"cannot connect to PostgreSQL \(host=127.0.0.1 port=\d+"):
        run(f"host=127.0.0.1 port={free_port()} dbname=moma user=x", tmp_path)
    with pytest.raises(CdcError, match="--dsn is not a valid libpq connection string"):
        run("host=127.0.0.1 port", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_role_without_replication_privilege(pg, moma_dsn, captured):
    before = snapshot_of(captured)
    with pg.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS reader")
        conn.execute("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
    dbname = moma_dsn.split("dbname=")[1].split()[0]
    with pytest.raises(CdcError, match=r"role 'reader' lacks the REPLICATION privilege"):
        run(pg.dsn(dbname, user="reader", password="reader-pw"), captured)
    assert snapshot_of(captured) == before


def test_wal_level_not_logical(tmp_path):
    simulate(LocalObjectStore(root=str(tmp_path)), batches=1, settings=SMALL)  # already written
    before = snapshot_of(tmp_path)
    with postgres_server(wal_level="replica", max_replication_slots="0", max_wal_senders="0") as pg:
        with pytest.raises(
            CdcError,
            match=r"wal_level is 'replica' on host=127.0.0.1 .*needs "
            r"wal_level=logical",
        ):
            run(pg.dsn(), tmp_path)
    assert snapshot_of(tmp_path) == before


@pytest.mark.parametrize(
    ("ddl", "tables", "message"),
    [
        (
            "CREATE TABLE nokey (x int)",
            (("public", "nokey"),),
            "table public.nokey has no primary key",
        ),
        (
            "CREATE TABLE priced (id int PRIMARY KEY, price numeric(8,2))",
            (("public", "priced"),),
            r"table public.priced: column price has type numeric\(8,2\), which the capture does "
            "not support",
        ),
        (
            "CREATE TABLE stamped (id int PRIMARY KEY, at timestamptz)",
            (("public", "stamped"),),
            "column at has type timestamp with time zone",
        ),
        (
            None,
            (("public", "artists"), ("public", "nosuch")),
            r"table public.nosuch does not exist in database moma_\d+",
        ),
        (
            "CREATE TABLE silent (id int PRIMARY KEY); ALTER TABLE silent REPLICA IDENTITY NOTHING",
            (("public", "silent"),),
            "has REPLICA IDENTITY NOTHING",
        ),
    ],
)
def test_tables_that_cannot_be_captured(moma_dsn, captured, tmp_path, ddl, tables, message):
    """Refused before anything is created: no slot, no object, in an empty target or one that
    already holds a capture."""
    if ddl:
        with connect(moma_dsn, autocommit=True) as conn:
            conn.execute(ddl)
    before = snapshot_of(captured)
    for target in (captured, tmp_path / "empty"):
        with pytest.raises(CdcError, match=message):
            run(moma_dsn, target, slot="other", tables=tables)
    assert snapshot_of(captured) == before and not (tmp_path / "empty").exists()
    with connect(moma_dsn, autocommit=True) as conn:
        slots = conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
    assert slots == [("cdc",)]


def test_unwritable_target(moma_dsn, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(
        CdcError, match=f"cannot read target {blocker}/_cdc_offsets/moma.json: .*Not a directory"
    ):
        run(moma_dsn, blocker)
    assert blocker.read_text() == "not a directory"


def test_continuing_a_target_with_another_format_or_slot_is_refused(moma_dsn, captured):
    before = snapshot_of(captured)
    with pytest.raises(CdcError, match="cannot continue it with --format envelope"):
        run(moma_dsn, captured, fmt="envelope")
    with pytest.raises(CdcError, match=r"continues postgres slot 'cdc', not slot 'other'"):
        run(moma_dsn, captured, slot="other")
    with pytest.raises(CdcError, match=r"--slot 'Bad-Name' is not a valid replication slot"):
        run(moma_dsn, captured, slot="Bad-Name")
    assert snapshot_of(captured) == before


def test_a_lost_slot_is_reported_not_papered_over(moma_dsn, captured):
    before = snapshot_of(captured)
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot('cdc')")
    with pytest.raises(
        CdcError,
        match=r"replication slot 'cdc' no longer exists.*changes since "
        r"then are lost",
    ):
        run(moma_dsn, captured)
    assert snapshot_of(captured) == before


def test_a_foreign_slot_is_not_taken_over(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('theirs', 'test_decoding')")
        conn.execute("SELECT pg_create_logical_replication_slot('mine', 'wal2json')")
    with pytest.raises(CdcError, match="slot 'theirs' uses plugin 'test_decoding', not pgoutput"):
        run(moma_dsn, tmp_path, slot="theirs")
    with pytest.raises(CdcError, match="slot 'mine' uses plugin 'wal2json', not pgoutput"):
        run(moma_dsn, tmp_path, slot="mine")
    with pytest.raises(
        CdcError, match="slot 'mine' already exists but this target has no snapshot from it"
    ):
        run(moma_dsn, tmp_path / "t", slot="mine", plugin="wal2json")


def test_cli_reports_errors_with_exit_code_2(capsys, tmp_path):
    assert main(["--target", str(tmp_path), "--tables", "public.Bad Name", "--dsn", "x=1"]) == 2
    assert "lakehouse-cdc: error: table name 'Bad Name' is not a plain" in capsys.readouterr().err
    assert main(["--target", "ftp://host/x", "--dsn", "host=x"]) == 2
    assert "--target: ftp://host/x: unsupported scheme; use a local path or s3://" in (
        capsys.readouterr().err
    )


def test_the_installed_command(moma_dsn, tmp_path):
    """The console script itself: a capture with --once, then a wrong password."""
    with connect(moma_dsn, autocommit=True) as conn:
        source.load_generated(conn, 10, 5, 1)
    args = [
        CLI,
        "--slot",
        "cli",
        "--server-name",
        "moma",
        "--tables",
        "public.artists,public.artworks",
        "--target",
        str(tmp_path),
        "--once",
    ]
    ok = subprocess.run(
        args,
        env={"MOMA_SOURCE_DSN": moma_dsn, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "lakehouse-cdc: wrote 2 objects, 15 records to" in ok.stderr
    bad = moma_dsn.replace(SUPERUSER_PASSWORD, "nope-secret")
    failed = subprocess.run([*args, "--dsn", bad], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2
    assert "lakehouse-cdc: error: cannot connect to PostgreSQL" in failed.stderr
    assert "nope-secret" not in failed.stderr + failed.stdout


def test_a_slot_streamed_by_another_capture_is_reported_in_use(moma_dsn, captured, monkeypatch):
    """While one capture streams the slot, another gives up after a short wait, naming the
    slot, and writes nothing; the first goes on."""
    monkeypatch.setattr("lakehouse.cdc.capture.SLOT_BUSY_WAIT_S", 0.5)
    stop, failure = threading.Event(), []
    settings = CaptureSettings(dsn=moma_dsn, slot="cdc", server="moma", tables=TABLES,
                               poll_interval_ms=50)  # fmt: skip

    def stream():
        try:
            capture(settings, LocalObjectStore(root=str(captured)), stop)
        except Exception as e:  # surfaced below
            failure.append(e)

    first = threading.Thread(target=stream)
    first.start()
    try:
        with connect(moma_dsn, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while not conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'cdc'"
            ).fetchone()[0]:
                assert time.monotonic() < deadline, "the first capture never started streaming"
                time.sleep(0.05)
        before = snapshot_of(captured)
        with pytest.raises(CdcError, match=r"replication slot 'cdc' is in use: .*active for PID"):
            run(moma_dsn, captured)
        assert snapshot_of(captured) == before
    finally:
        stop.set()
        first.join(30)
    assert not first.is_alive() and not failure
