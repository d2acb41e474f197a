"""A real PostgreSQL 15 server (Debian package) with wal_level=logical, for tests of the CDC path.

The server lives in a temp dir on a free loopback port and is stopped (and the dir removed) on
exit. initdb refuses to run as root, so as root the server runs as the `postgres` user.
Connections over TCP need the superuser's password (scram), so wrong-password cases are real.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.ports import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
# Test-only password of a throwaway server on loopback; never used elsewhere.
SUPERUSER_PASSWORD = "test-only-password"


@dataclass(frozen=True)
class PostgresServer:
    port: int
    data_dir: Path

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None):
        password = SUPERUSER_PASSWORD if password is None else password
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={password}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True, **kwargs)

    def create_database(self, name: str) -> str:
        """A fresh database; returns its DSN."""
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


def _server_user() -> dict:
    """Popen arguments that run a command as `postgres` when we are root."""
    if os.geteuid() == 0:
        return {"user": "postgres", "group": "postgres", "extra_groups": []}
    return {}


@contextmanager
def postgres_server(**settings: str) -> Iterator[PostgresServer]:
    """Starts PostgreSQL 15 with logical decoding; extra settings are passed as `-c k=v`."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"{PG_BIN}/initdb not found: install the Debian package postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    port = free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "wal_level": "logical",
        "max_replication_slots": "20",
        "max_wal_senders": "20",
        "fsync": "off",  # a throwaway test server; the capture's own durability is tested apart
        "full_page_writes": "off",
        **settings,
    }
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
         "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
        check=True,
        capture_output=True,
        cwd=root,
        **_server_user(),
    )  # fmt: skip
    cmd = [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
    for key, value in options.items():
        cmd += ["-c", f"{key}={value}"]
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, **_server_user())
    server = PostgresServer(port=port, data_dir=data)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.connect().close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not start on port {port}:\n"
                        + (root / "server.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)  # "fast" shutdown: does not wait for clients
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
