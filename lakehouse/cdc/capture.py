"""Change data capture from PostgreSQL: an initial snapshot, then logical decoding of a slot.

The slot is created over a replication connection with CREATE_REPLICATION_SLOT ... (SNAPSHOT
'export'), and the snapshot is read in a transaction that imports that exported snapshot, so it
is exactly the database state at the slot's consistent point: no change is missed or seen twice
at the seam. Changes are then streamed with START_REPLICATION through an output plugin, which the
server decodes while the capture writes: `pgoutput` (built into PostgreSQL, Debezium's default;
decoded by `pgoutput.py`, streaming the publication `publication` names, which is created or
checked here as Debezium's `publication.autocreate.mode` says) or `wal2json` (Debian package
postgresql-15-wal2json). Both give the same values, so the objects are the same bytes. psycopg 3
has no client for the streaming replication protocol, so this part uses psycopg2's. The slot's
confirmed position is reported (standby status feedback) only up to transactions whose changes
are all in committed objects; after a crash the server sends the rest again and the sink skips
what its checkpoint already holds.

`--once` stops at a barrier. With wal2json it is a non-transactional logical message written to
the WAL at the start: transactions that committed before it are decoded before it. With pgoutput
(protocol version 1 has no such message before PostgreSQL 14) it is the server's WAL insert
position at the start: every transaction that committed before has a Commit whose end LSN is at
most that, so the stream stops at the first Commit that reaches it or, when no such Commit comes
(nothing committed since, or only in tables not published), once a keepalive the capture asks
for reports that the server has decoded past it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import select
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from lakehouse.cdc import pgoutput
from lakehouse.cdc.records import row_values
from lakehouse.cdc.sink import CaptureReport, CdcSink, TopicState
from lakehouse.cdc.source_tables import CdcError, Column, Table, check_identifier, parse_table_list
from lakehouse.storage import ObjectStore

try:  # parses wal2json's output about twice as fast; present through dagster-dbt and trino
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover - the standard library does the same, slower
    json_loads = json.loads

log = logging.getLogger(__name__)

SLOT_NAME = re.compile(r"^[a-z0-9_]{1,63}$")
SNAPSHOT_NAME = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")
PLUGINS = ("pgoutput", "wal2json")
# Debezium's publication.autocreate.mode values.
AUTOCREATE_MODES = ("all_tables", "disabled", "filtered")
BARRIER_PREFIX = "lakehouse-cdc"
SLOT_BUSY_WAIT_S = 15
# Placeholder Debezium writes for an unchanged TOASTed value an update does not carry.
UNAVAILABLE = "__debezium_unavailable_value"


def parse_lsn(text: str) -> int:
    hi, _, lo = text.partition("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp_ms(text: str) -> int:
    """wal2json's commit timestamp ('2026-11-23 06:13:15.202346+00') in epoch milliseconds,
    truncated as Debezium does (in integers: a float product can round a millisecond up)."""
    return (datetime.fromisoformat(text) - UNIX_EPOCH) // timedelta(milliseconds=1)


def describe_dsn(dsn: str) -> str:
    """The DSN without secrets, for messages."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as e:
        raise CdcError(f"--dsn is not a valid libpq connection string: {e}") from None
    keys = ("host", "port", "dbname", "user")
    return " ".join(f"{k}={info[k]}" for k in keys if info.get(k)) or "(libpq defaults)"


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    where = describe_dsn(dsn)
    try:
        return psycopg.connect(dsn, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CdcError(f"cannot connect to PostgreSQL ({where}): {detail}") from None


@dataclass(frozen=True)
class CaptureSettings:
    dsn: str
    slot: str
    server: str
    tables: tuple[tuple[str, str], ...]
    flush_size: int = 10_000
    rotate_interval_ms: int = 60_000
    fmt: str = "unwrapped"
    once: bool = False
    poll_interval_ms: int = 500
    plugin: str = "pgoutput"  # Debezium's plugin.name
    publication: str = "dbz_publication"  # publication.name (pgoutput only)
    publication_autocreate: str = "all_tables"  # publication.autocreate.mode

    @classmethod
    def from_options(cls, options, once: bool, poll_interval_ms: int = 500) -> CaptureSettings:
        """From the options as `lakehouse-cdc` and the `moma_source` resource both name them
        (dsn, slot, server_name, tables as `schema.table,...`, flush_size, rotate_interval_ms,
        format, plugin, publication, publication_autocreate_mode)."""
        return cls(
            dsn=options.dsn,
            slot=options.slot,
            server=options.server_name,
            tables=tuple(parse_table_list(options.tables)),
            flush_size=options.flush_size,
            rotate_interval_ms=options.rotate_interval_ms,
            fmt=options.format,
            once=once,
            poll_interval_ms=poll_interval_ms,
            plugin=options.plugin,
            publication=options.publication,
            publication_autocreate=options.publication_autocreate_mode,
        )


def check_server(conn: psycopg.Connection, where: str) -> None:
    wal_level = conn.execute("SHOW wal_level").fetchone()[0]
    if wal_level != "logical":
        raise CdcError(
            f"wal_level is {wal_level!r} on {where}; logical decoding needs wal_level=logical "
            "(set it in postgresql.conf and restart the server)"
        )
    user, superuser, replication = conn.execute(
        "SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if not (superuser or replication):
        raise CdcError(
            f"role {user!r} lacks the REPLICATION privilege needed to create and read a "
            f"replication slot on {where} (ALTER ROLE {user} REPLICATION)"
        )


def describe_table(conn: psycopg.Connection, schema: str, name: str, db: str) -> Table:
    qualified = f"{schema}.{name}"
    row = conn.execute(
        "SELECT c.oid, c.relkind, c.relreplident, has_table_privilege(c.oid, 'SELECT') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    ).fetchone()
    if row is None or row[1] not in ("r", "p"):
        raise CdcError(f"table {qualified} does not exist in database {db}")
    oid, _, replident, can_select = row
    if not can_select:
        raise CdcError(f"no SELECT privilege on table {qualified} (needed for the snapshot)")
    if replident == "n":
        raise CdcError(
            f"table {qualified} has REPLICA IDENTITY NOTHING, so its deletes carry no key "
            "(ALTER TABLE ... REPLICA IDENTITY DEFAULT)"
        )
    columns = tuple(
        Column(attname, pg_type, nullable=not notnull)
        for attname, pg_type, notnull in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [oid],
        )
    )
    key = tuple(
        r[0]
        for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)",
            [oid],
        )
    )
    return Table(schema, name, columns, key).check()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def ensure_publication(conn: psycopg.Connection, name: str, mode: str,
                       tables: list[Table]) -> None:  # fmt: skip
    """Creates or narrows the publication as Debezium's publication.autocreate.mode says, then
    checks that it publishes every row and column of every captured table."""
    ident = sql.Identifier(check_identifier(name, "publication name"))
    listed = sql.SQL(", ").join(t.ident() for t in tables)
    captured = {(t.schema, t.name) for t in tables}

    def published() -> set[tuple[str, str]]:
        return set(
            conn.execute(
                "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                [name],
            ).fetchall()
        )

    query = "SELECT puballtables, pubinsert, pubupdate, pubdelete FROM pg_publication " \
            "WHERE pubname = %s"  # fmt: skip
    row = conn.execute(query, [name]).fetchone()
    statement = None
    if row is None:
        if mode == "disabled":
            raise CdcError(
                f"publication {name!r} does not exist and publication.autocreate.mode is "
                f"disabled; create it (CREATE PUBLICATION {name} FOR TABLE ...) or use "
                "all_tables or filtered"
            )
        if mode == "all_tables":
            statement = sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(ident)
        else:
            statement = sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(ident, listed)
    elif mode == "filtered":
        if row[0]:
            raise CdcError(
                f"publication {name!r} is FOR ALL TABLES, which publication.autocreate.mode="
                "filtered cannot narrow to the captured tables; use all_tables or another "
                "publication name"
            )
        if published() != captured:
            statement = sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(ident, listed)
    if statement is not None:
        try:
            conn.execute(statement)
        except psycopg.Error as e:
            detail = _first_line(e)
            raise CdcError(f"cannot create or alter publication {name!r}: {detail}") from None
        log.info("publication %s: %s", name, statement.as_string(conn))
        row = conn.execute(query, [name]).fetchone()
    missing = [op for op, on in zip(("insert", "update", "delete"), row[1:], strict=True) if not on]
    if missing:
        raise CdcError(
            f"publication {name!r} does not publish {', '.join(missing)}, so those changes "
            f"would be lost (ALTER PUBLICATION {name} SET (publish = 'insert, update, delete'))"
        )
    uncovered = sorted(f"{s}.{t}" for s, t in captured - published())
    if uncovered:
        raise CdcError(
            f"publication {name!r} does not cover table(s) {', '.join(uncovered)} "
            f"(ALTER PUBLICATION {name} ADD TABLE ..., or publication.autocreate.mode=filtered)"
        )
    if conn.info.server_version >= 150000:  # row filters and column lists came in 15
        for schema, table, attnames, rowfilter in conn.execute(
            "SELECT schemaname, tablename, attnames, rowfilter FROM pg_publication_tables "
            "WHERE pubname = %s",
            [name],
        ):
            t = next((t for t in tables if (t.schema, t.name) == (schema, table)), None)
            if t is None:
                continue
            if rowfilter is not None:
                raise CdcError(
                    f"publication {name!r} publishes only some rows of table {t.qualified} "
                    f"(WHERE {rowfilter}); the capture needs every row"
                )
            left_out = [c for c in t.column_names if c not in (attnames or ())]
            if left_out:
                raise CdcError(
                    f"publication {name!r} leaves column(s) {', '.join(left_out)} of table "
                    f"{t.qualified} out of its column list; the capture needs every column"
                )


@dataclass
class _Tx:
    commit_lsn: int
    end_lsn: int
    xid: int | None
    ts_ms: int
    index: int = 0


class PostgresCapture:
    def __init__(self, settings: CaptureSettings, store: ObjectStore, stop=None):
        if not SLOT_NAME.match(settings.slot):
            raise CdcError(
                f"--slot {settings.slot!r} is not a valid replication slot name "
                "(lower-case letters, digits and _; at most 63)"
            )
        if settings.plugin not in PLUGINS:
            raise CdcError(f"--plugin {settings.plugin!r} is not one of {', '.join(PLUGINS)}")
        if settings.publication_autocreate not in AUTOCREATE_MODES:
            raise CdcError(
                f"publication autocreate mode {settings.publication_autocreate!r} is not one of "
                f"{', '.join(AUTOCREATE_MODES)}"
            )
        check_identifier(settings.publication, "publication name")
        self.s = settings
        self.store = store
        self.stop = stop or threading.Event()
        self.where = describe_dsn(settings.dsn)

    # -- setup -----------------------------------------------------------------------------

    def run(self) -> CaptureReport:
        # Millions of short-lived change objects pass through; without this, each full
        # collection would also rescan everything imported so far (Dagster included), which
        # cost a sixth of the capture's time.
        gc.freeze()
        try:
            return self._run()
        finally:
            gc.unfreeze()

    def _run(self) -> CaptureReport:
        with connect(self.s.dsn, autocommit=True) as conn:
            check_server(conn, self.where)
            self.db = conn.execute("SELECT current_database()").fetchone()[0]
            tables = [describe_table(conn, schema, name, self.db) for schema, name in self.s.tables]
            self.by_name = {(t.schema, t.name): t for t in tables}
            sink = CdcSink(
                self.store,
                server=self.s.server,
                db=self.db,
                tables=tables,
                fmt=self.s.fmt,
                flush_size=self.s.flush_size,
                rotate_interval_ms=self.s.rotate_interval_ms,
            )
            self.sink = sink
            # Per captured table, what the hot path needs: the table, its topic, the column
            # names wal2json must send, and the positions of the key columns in a row.
            self.targets = {
                (t.schema, t.name): (
                    t, sink.topics[t.qualified], t.column_names,
                    {k: t.column_names.index(k) for k in t.key},
                )
                for t in tables
            }  # fmt: skip
            source = sink.source
            if source and (source.get("kind") != "postgres" or source.get("slot") != self.s.slot):
                raise CdcError(
                    f"target {self.store.uri(sink.checkpoint_key)} continues "
                    f"{source.get('kind')} slot {source.get('slot')!r}, not slot "
                    f"{self.s.slot!r}; use that slot or another target"
                )
            if not source:
                sink.check_writable()
            slot = conn.execute(
                "SELECT plugin, database FROM pg_replication_slots WHERE slot_name = %s",
                [self.s.slot],
            ).fetchone()
            if slot is not None and slot[0] != self.s.plugin:
                raise CdcError(
                    f"replication slot {self.s.slot!r} uses plugin {slot[0]!r}, not {self.s.plugin}"
                )
            if self.s.plugin == "pgoutput":
                # Before the slot: pgoutput reads the publication as of each change's WAL
                # position, so it must exist before the first change the slot decodes.
                ensure_publication(conn, self.s.publication, self.s.publication_autocreate,
                                   tables)  # fmt: skip
            if slot is not None and slot[1] != self.db:
                raise CdcError(
                    f"replication slot {self.s.slot!r} belongs to database {slot[1]!r}, "
                    f"not {self.db!r}"
                )
            if source.get("snapshot") == "done":
                if slot is None:
                    raise CdcError(
                        f"replication slot {self.s.slot!r} no longer exists, but the target's "
                        f"offsets ({self.store.uri(sink.checkpoint_key)}) say capture was under "
                        "way: changes since then are lost. Capture into a new target."
                    )
            else:
                if slot is not None:
                    if source.get("snapshot") not in ("starting", "running"):
                        raise CdcError(
                            f"replication slot {self.s.slot!r} already exists but this target "
                            "has no snapshot from it; drop the slot or use another --slot"
                        )
                    # Our own snapshot was interrupted: its exported snapshot is gone, so the
                    # slot is recreated and the snapshot redone over the same offsets.
                    conn.execute("SELECT pg_drop_replication_slot(%s)", [self.s.slot])
                self._snapshot(conn, sink)
            self.advanced = parse_lsn(
                conn.execute(
                    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    [self.s.slot],
                ).fetchone()[0]
            )
            barrier = barrier_lsn = None
            if self.s.once and self.s.plugin == "pgoutput":
                barrier_lsn = parse_lsn(
                    conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
                )
            elif self.s.once:
                barrier = f"once {os.getpid()} {time.time_ns()}"
                conn.execute(
                    "SELECT pg_logical_emit_message(false, %s, %s)", [BARRIER_PREFIX, barrier]
                )
            self._stream(sink, barrier, barrier_lsn)
            return sink.report()

    # -- snapshot --------------------------------------------------------------------------

    def _snapshot(self, conn: psycopg.Connection, sink: CdcSink) -> None:
        start_offsets = sink.source.get("start_offsets") or {
            q: t.committed_offset for q, t in sink.topics.items()
        }
        sink.restart_topics(start_offsets)
        sink.source = {
            "kind": "postgres",
            "slot": self.s.slot,
            "snapshot": "starting",
            "start_offsets": start_offsets,
        }
        sink.save()  # before the slot exists, so a crash leaves a slot we know is ours
        with connect(self.s.dsn, autocommit=True, replication="database") as repl:
            try:
                plugin = self.s.plugin  # one of PLUGINS
                row = repl.execute(
                    f"CREATE_REPLICATION_SLOT {self.s.slot} LOGICAL {plugin} (SNAPSHOT 'export')"
                ).fetchone()
            except psycopg.Error as e:
                msg = str(e).strip()
                if plugin in msg and ("could not access" in msg or "No such file" in msg):
                    msg = f"output plugin {plugin} is not installed on the server " \
                          "(Debian: postgresql-15-wal2json; or use --plugin pgoutput)"  # fmt: skip
                raise CdcError(f"cannot create replication slot {self.s.slot!r}: {msg}") from None
            consistent_lsn, snapshot_name = parse_lsn(row[1]), row[2]
            if not SNAPSHOT_NAME.match(snapshot_name):
                raise CdcError(f"unexpected exported snapshot name {snapshot_name!r}")
            snap = connect(self.s.dsn)
            snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snap.read_only = True
            snap.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_name}'")
        sink.source = {**sink.source, "snapshot": "running", "snapshot_lsn": consistent_lsn}
        sink.save()
        log.info("snapshot at %s from slot %s", format_lsn(consistent_lsn), self.s.slot)
        with snap:
            xmin = snap.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())").fetchone()[0]
            tx_id = int(xmin)
            # Each row is added once the next is read, so the very last can be marked "last".
            pending: tuple | None = None
            last_ts = 0
            i = 0
            for table in self.by_name.values():
                topic = sink.topics[table.qualified]
                query = sql.SQL("SELECT {} FROM {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, table.column_names)), table.ident()
                )
                with snap.cursor(name=f"snapshot_{table.name}") as cur:
                    cur.itersize = 2000
                    cur.execute(query)
                    for values in cur:
                        last_ts = max(last_ts, time.time_ns() // 1_000_000)
                        if pending is not None:
                            sink.add_row(*pending, tx_id, "true")
                        pending = (topic, "r", values, consistent_lsn, last_ts, (0, i))
                        i += 1
            if pending is not None:
                sink.add_row(*pending, tx_id, "last")
            sink.flush_all()
            snap.rollback()
        sink.source = {
            "kind": "postgres",
            "slot": self.s.slot,
            "snapshot": "done",
            "snapshot_lsn": consistent_lsn,
            "snapshot_records": i,
        }
        sink.save()

    # -- streaming -------------------------------------------------------------------------

    def _options(self) -> dict[str, str]:
        if self.s.plugin == "pgoutput":
            return {"proto_version": "1", "publication_names": self.s.publication}
        tables = ",".join(f"{t.schema}.{t.name}" for t in self.by_name.values())
        return {
            "format-version": "2", "include-lsn": "1", "include-timestamp": "1",
            "include-transaction": "1", "include-types": "0", "add-tables": tables,
            # The transaction id only feeds the envelope's source.txId.
            "include-xids": "1" if self.s.fmt == "envelope" else "0",
        }  # fmt: skip

    def _advance(self) -> None:
        """Confirms the slot past every transaction whose changes are all in committed objects
        (a status update at once: at most one per object written)."""
        oldest = self.sink.oldest_buffered()
        target = None
        while self.completed and (oldest is None or self.completed[0][0] < oldest[0]):
            target = self.completed.popleft()[1]
        if target is not None and target > self.advanced:
            self.replication.send_feedback(flush_lsn=target, force=True)
            self.advanced = target

    def _start_replication(self):
        """A replication connection streaming the slot. A capture that was just killed may
        still hold the slot for a moment, so "in use" is retried for a while."""
        deadline = time.monotonic() + SLOT_BUSY_WAIT_S
        while True:
            conn = None
            try:
                conn = psycopg2.connect(
                    self.s.dsn,
                    connection_factory=psycopg2.extras.LogicalReplicationConnection,
                    connect_timeout=10,
                )
                cur = conn.cursor()
                cur.start_replication(slot_name=self.s.slot, decode=False,
                                      options=self._options())  # fmt: skip
                return conn, cur
            except psycopg2.errors.ObjectInUse as e:
                conn.close()
                if time.monotonic() > deadline:
                    raise CdcError(f"replication slot {self.s.slot!r} is in use: {e}") from None
                time.sleep(0.2)
            except psycopg2.Error as e:
                if conn is not None:
                    conn.close()
                detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                raise CdcError(
                    f"cannot stream replication slot {self.s.slot!r} ({self.where}): {detail}"
                ) from None

    def _stream(self, sink: CdcSink, barrier: str | None, barrier_lsn: int | None) -> None:
        """Streams changes into the sink until the stop event or, with --once, the barrier:
        the logical message `barrier` (wal2json) or the WAL position `barrier_lsn` (pgoutput)."""
        self.completed: deque[tuple[int, int]] = deque()
        self.last_commit: int | None = None
        self.tx: _Tx | None = None
        self.in_tx = False
        self.barrier = barrier
        self.barrier_lsn = barrier_lsn
        # pgoutput: relation OID -> what the hot path needs (see _relation), or None when the
        # relation is not captured.
        self.relations: dict[int, tuple | None] = {}
        conn, cur = self._start_replication()
        self.replication = cur
        sink.on_commit = self._advance
        log.info("streaming from slot %s (%s)", self.s.slot, self.s.plugin)
        read = cur.read_message
        if self.s.plugin == "pgoutput":
            handle = self._handle_pgoutput
        else:
            handle_json, loads = self._handle, json_loads

            def handle(payload, lsn):
                return handle_json(loads(payload), lsn)

        try:
            while True:
                msg = read()
                if msg is not None:
                    if handle(msg.payload, msg.data_start):
                        break
                    continue
                if self.stop.is_set():
                    break
                if barrier_lsn is not None and not self.in_tx:
                    # read() has taken every message sent before the last keepalive, whose
                    # wal_end is how far the server has decoded.
                    if cur.wal_end >= barrier_lsn:
                        break
                    cur.send_feedback(reply=True)  # a keepalive at once, not in 30 s
                sink.rotate()
                self._advance()
                select.select([cur], [], [], self.s.poll_interval_ms / 1000)
            sink.flush_all()
            self._advance()
            cur.send_feedback(flush_lsn=self.advanced, force=True)
        except psycopg2.Error as e:
            raise CdcError(
                f"replication stream of slot {self.s.slot!r} ({self.where}) broke off: {e}; "
                "what was written is committed, and a new run continues from there"
            ) from None
        finally:
            conn.close()

    @staticmethod
    def _complete_row(table: Table, columns: list[dict]) -> list:
        """The row of a message that does not carry exactly the captured columns."""
        row = {c["name"]: c["value"] for c in columns}
        unknown = row.keys() - set(table.column_names)
        if unknown:
            raise CdcError(
                f"table {table.qualified} changed while captured: column(s) "
                f"{', '.join(sorted(unknown))} are not in its captured schema; restart the "
                "capture into a new target to take the new schema"
            )
        for c in table.columns:
            if c.name not in row:  # an unchanged TOASTed value the update does not carry
                row[c.name] = UNAVAILABLE if c.primitive == "string" else None
        return [row[name] for name in table.column_names]

    def _handle(self, msg: dict, lsn: int) -> bool:
        """Takes one wal2json message (`lsn`: where its change is in the WAL). True when the
        stream is to end here: at the barrier, or at a commit once the stop event is set."""
        action = msg["action"]
        if action == "U" or action == "I":
            target = self.targets.get((msg["schema"], msg["table"]))
            if target is None:
                return False
            table, topic, names, key_index = target
            columns = msg["columns"]
            values = [c["value"] for c in columns]
            if len(values) != len(names) or [c["name"] for c in columns] != names:
                values = self._complete_row(table, columns)
            op = "c" if action == "I" else "u"
            if action == "U" and (identity := msg.get("identity")):
                for c in identity:
                    at = key_index.get(c["name"])
                    if at is not None and c["value"] != values[at]:
                        # A key change is a delete of the old key and a create of the new, as
                        # Debezium emits it.
                        old = {i["name"]: i["value"] for i in identity}
                        self._add(topic, "d", row_values(table, "d", old), lsn)
                        op = "c"
                        break
            self._add(topic, op, values, lsn)
        elif action == "D":
            target = self.targets.get((msg["schema"], msg["table"]))
            if target is not None:
                before = {c["name"]: c["value"] for c in msg["identity"]}
                self._add(target[1], "d", row_values(target[0], "d", before), lsn)
        elif action == "B":
            self.tx = _Tx(
                parse_lsn(msg["lsn"]),
                parse_lsn(msg["nextlsn"]),
                msg.get("xid"),
                parse_timestamp_ms(msg["timestamp"]),
            )
        elif action == "C":
            return self._commit()
        elif action == "M":
            return msg.get("prefix") == BARRIER_PREFIX and msg.get("content") == self.barrier
        elif action == "T":
            log.warning("ignoring TRUNCATE of %s.%s", msg.get("schema"), msg.get("table"))
        return False

    def _commit(self) -> bool:
        tx = self.tx
        # A restarted stream repeats transactions not yet confirmed; each is queued once.
        if not self.completed or tx.commit_lsn > self.completed[-1][0]:
            if tx.end_lsn > self.advanced:
                self.completed.append((tx.commit_lsn, tx.end_lsn))
        self.last_commit = tx.commit_lsn
        self.sink.rotate()  # topics this stream of changes does not touch, too
        return self.stop.is_set()

    # -- pgoutput --------------------------------------------------------------------------

    def _relation(self, rel: pgoutput.Relation) -> None:
        """Remembers how to turn a relation's tuples into row values: per column the text
        converter, and the key columns of its old tuples (the replica identity)."""
        target = self.targets.get((rel.namespace, rel.name))
        if target is None:
            self.relations[rel.oid] = None
            return
        table, topic, names, key_index = target
        if [c.name for c in rel.columns] != names:
            raise CdcError(
                f"table {table.qualified} changed while captured: its columns are now "
                f"{', '.join(c.name for c in rel.columns)}, not the captured "
                f"{', '.join(names)}; restart the capture into a new target to take the new schema"
            )
        converters = []
        for column, sent in zip(table.columns, rel.columns, strict=True):
            expected = pgoutput.TYPE_OIDS.get(column.pg_type.split("(")[0].strip())
            if sent.type_oid != expected:
                known = sent.type_oid in pgoutput.CONVERTERS
                raise CdcError(
                    f"table {table.qualified}, column {column.name}: pgoutput sends type OID "
                    f"{sent.type_oid}, "
                    + (f"not {column.pg_type} as captured (the table changed while captured)"
                       if known else "which the capture does not support")
                )  # fmt: skip
            unchanged = UNAVAILABLE if column.primitive == "string" else None
            converters.append((pgoutput.CONVERTERS[sent.type_oid], unchanged))
        identity = [c.name for c in rel.columns if c.flags & 1]
        self.relations[rel.oid] = (table, topic, tuple(converters), identity, key_index)

    @staticmethod
    def _values(converters: tuple, tup: tuple) -> list:
        """Row values of a tuple; `converters` pairs each column's text converter with what
        its unchanged TOASTed value becomes (wal2json omits such a value; see _complete_row)."""
        return [
            (value if convert is None else convert(value))
            if value.__class__ is str
            else (None if value is None else unchanged)
            for (convert, unchanged), value in zip(converters, tup, strict=True)
        ]

    def _old_row(self, target: tuple, tup: tuple) -> dict:
        """An old tuple ('K' or 'O') as the dict wal2json's identity gives: its replica
        identity columns. Under REPLICA IDENTITY FULL the Relation flags every column, so an
        'O' tuple gives the whole row; a 'K' tuple holds NULL placeholders for the others."""
        table, _, converters, identity, _ = target
        row = dict(zip(table.column_names, self._values(converters, tup), strict=True))
        return {name: row[name] for name in identity}

    def _change(self, target: tuple, msg, lsn: int) -> None:
        table, topic, converters, _, key_index = target
        if msg.__class__ is pgoutput.Delete:
            before = self._old_row(target, msg.old)
            self._add(topic, "d", row_values(table, "d", before), lsn)
            return
        values = self._values(converters, msg.new)
        op = "c" if msg.__class__ is pgoutput.Insert else "u"
        if op == "u" and msg.old is not None:
            old = self._old_row(target, msg.old)
            for name, at in key_index.items():
                if name in old and old[name] != values[at]:
                    # A key change: a delete of the old key and a create of the new, as
                    # Debezium emits it.
                    self._add(topic, "d", row_values(table, "d", old), lsn)
                    op = "c"
                    break
        self._add(topic, op, values, lsn)

    def _handle_pgoutput(self, payload: bytes, lsn: int) -> bool:
        """Takes one pgoutput message; like `_handle`."""
        try:
            msg = pgoutput.decode(payload)
        except pgoutput.PgoutputError as e:
            raise CdcError(f"{e} (WAL position {format_lsn(lsn)})") from None
        kind = msg.__class__
        if kind is pgoutput.Insert or kind is pgoutput.Update or kind is pgoutput.Delete:
            try:
                target = self.relations[msg.relation]
            except KeyError:
                raise CdcError(
                    f"pgoutput sent a change of relation OID {msg.relation} before its Relation "
                    f"message (WAL position {format_lsn(lsn)})"
                ) from None
            if target is not None:
                try:
                    self._change(target, msg, lsn)
                except ValueError as e:  # a tuple that does not fit its Relation message
                    raise CdcError(
                        f"pgoutput {kind.__name__} of table {target[0].qualified} at WAL "
                        f"position {format_lsn(lsn)}: {e}"
                    ) from None
        elif kind is pgoutput.Begin:
            self.tx = _Tx(msg.final_lsn, 0, msg.xid, pgoutput.commit_ts_ms(msg.commit_ts))
            self.in_tx = True
        elif kind is pgoutput.Commit:
            self.tx.end_lsn = msg.end_lsn
            self.in_tx = False
            stop = self._commit()
            return stop or (self.barrier_lsn is not None and msg.end_lsn >= self.barrier_lsn)
        elif kind is pgoutput.Relation:
            self._relation(msg)
        elif kind is pgoutput.Truncate:
            for oid in msg.relations:
                if (target := self.relations.get(oid)) is not None:
                    log.warning("ignoring TRUNCATE of %s", target[0].qualified)
        return False  # Origin and Type messages change nothing captured

    def _add(self, topic: TopicState, op: str, values: list, lsn: int) -> None:
        tx = self.tx
        position = (tx.commit_lsn, tx.index)
        tx.index += 1
        self.sink.add_row(topic, op, values, lsn, tx.ts_ms, position, tx.xid, "false",
                          self.last_commit)  # fmt: skip


def capture(settings: CaptureSettings, store: ObjectStore, stop=None) -> CaptureReport:
    return PostgresCapture(settings, store, stop).run()
