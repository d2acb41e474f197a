"""The durable outbox: every accepted reading is committed here before it is published, and
deleted only after the broker acknowledged it (PUBACK). SQLite in WAL mode.

Bounded: at most max_messages rows. When full, the policy decides: "drop-oldest" evicts the
oldest unacknowledged readings to make room (the newest data is usually the most useful after a
long outage), "drop-newest" refuses the new ones. Either way the count is logged and kept.

One process, one thread: the gateway's reading loop both adds and publishes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from gateway.intake import Accepted

POLICIES = ("drop-oldest", "drop-newest")
SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so a publish cursor can only advance
    msg_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts REAL NOT NULL,
    rssi INTEGER NOT NULL,
    snr INTEGER NOT NULL,
    spooled_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS depth (n INTEGER NOT NULL);
INSERT INTO depth SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM depth);
CREATE TRIGGER IF NOT EXISTS depth_up AFTER INSERT ON message
    BEGIN UPDATE depth SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS depth_down AFTER DELETE ON message
    BEGIN UPDATE depth SET n = n - 1; END;
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


class SpoolError(Exception):
    pass


class Spool:
    def __init__(
        self,
        path: str | Path,
        max_messages: int = 1_000_000,
        policy: str = "drop-oldest",
        synchronous: str = "FULL",
        log: logging.Logger | None = None,
    ):
        if policy not in POLICIES:
            raise SpoolError(f"spool policy {policy!r} is not one of {', '.join(POLICIES)}")
        if max_messages < 1:
            raise SpoolError(f"spool size {max_messages} must be at least 1")
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise SpoolError(f"spool sync {synchronous!r} is not FULL or NORMAL")
        self.path = Path(path)
        self.max_messages, self.policy = max_messages, policy
        self.log = log or logging.getLogger("gateway.spool")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss, not only a process crash.
            self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self.db.executescript(SCHEMA)
            # The highest id that may still be waiting; new ones are always higher.
            self.last_id = self.db.execute("SELECT coalesce(max(id), 0) FROM message").fetchone()[0]
        except sqlite3.Error as e:
            raise SpoolError(f"cannot open the spool {self.path}: {e}") from None

    def close(self) -> None:
        self.db.close()

    def depth(self) -> int:
        return self.db.execute("SELECT n FROM depth").fetchone()[0]

    def counter(self, name: str) -> int:
        row = self.db.execute("SELECT n FROM counter WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def add(self, messages: Iterable[Accepted]) -> int:
        """Commits the messages (one transaction); returns how many readings were dropped."""
        rows = [
            (m.msg_id, m.device_id, m.ts, m.rssi, m.snr, time.time(), m.payload) for m in messages
        ]
        if not rows:
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            free = self.max_messages - self.depth()
            dropped = 0
            if len(rows) > free:
                if self.policy == "drop-newest":
                    dropped = len(rows) - max(free, 0)
                    rows = rows[: max(free, 0)]
                else:
                    # A batch larger than the whole spool keeps only its newest readings.
                    overflow = max(len(rows) - self.max_messages, 0)
                    rows = rows[overflow:]
                    evict = len(rows) - free
                    self.db.execute(
                        "DELETE FROM message WHERE id IN "
                        "(SELECT id FROM message ORDER BY id LIMIT ?)",
                        (evict,),
                    )
                    dropped = overflow + evict
                self.db.execute(
                    "INSERT INTO counter VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET n = n + excluded.n",
                    (dropped,),
                )
            self.db.executemany(
                "INSERT INTO message (msg_id, device_id, ts, rssi, snr, spooled_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            last_id = self.db.execute("SELECT max(id) FROM message").fetchone()[0] or 0
            self.db.execute("COMMIT")
            self.last_id = max(self.last_id, last_id)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if dropped:
            self.log.warning(
                "spool full (%d messages): %s dropped %d reading(s)",
                self.max_messages,
                self.policy,
                dropped,
            )
        return dropped

    def pending(self, after_id: int, limit: int) -> list[tuple[int, bytes]]:
        """Unacknowledged messages with id > after_id, oldest first."""
        return self.db.execute(
            "SELECT id, payload FROM message WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()

    def get(self, ids: list[int]) -> list[tuple[int, bytes]]:
        """The messages among ids still in the spool (not evicted meanwhile)."""
        found = []
        for i in sorted(ids):
            row = self.db.execute("SELECT id, payload FROM message WHERE id = ?", (i,)).fetchone()
            if row:
                found.append(row)
        return found

    def ack(self, ids: list[int]) -> None:
        """Deletes acknowledged messages."""
        if not ids:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in ids])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
