import itertools

import pytest

from lakehouse.cdc import source
from lakehouse.cdc.capture import connect
from tests.support.postgres import postgres_server

_names = itertools.count()


@pytest.fixture(scope="session")
def pg():
    """One PostgreSQL 15 server (wal_level=logical) for the CDC tests; each test gets its own
    database from `moma_dsn`."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["pgoutput", "wal2json"])
def plugin(request):
    """Both output plugins, for the tests whose guarantees must hold under each."""
    return request.param


@pytest.fixture
def moma_dsn(pg):
    """DSN of a fresh database with the moma tables (empty)."""
    dsn = pg.create_database(f"moma_{next(_names)}")
    with connect(dsn, autocommit=True) as conn:
        source.create_tables(conn)
    yield dsn
    with pg.connect() as conn:  # slots pin WAL and block DROP DATABASE
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE database = %s AND NOT active",
            [dsn.split("dbname=")[1].split()[0]],
        )
