"""Manifest-scoped loads inside a write transaction of the warehouse resource (DuckLake
locally, Redshift in AWS: `Warehouse.transaction`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from lakehouse.iot.landing import encode
from lakehouse.iot.warehouse_tables import REDSHIFT, Table
from lakehouse.storage import ObjectStore
from lakehouse.warehouse import LOCK_WAIT_S, Session, Warehouse


class LoadError(RuntimeError):
    pass


def copy_role(session: Session) -> str:
    """The IAM role Redshift assumes to read the lake (COPY): the warehouse resource's field."""
    if session.copy_role_arn:
        return session.copy_role_arn
    raise LoadError(
        "Redshift COPY needs an IAM role: set REDSHIFT_COPY_ROLE_ARN "
        "(or REDSHIFT_SPECTRUM_ROLE_ARN, which it falls back to)"
    )


@contextmanager
def transaction(warehouse: Warehouse, lock_wait_s: float = LOCK_WAIT_S) -> Iterator[Session]:
    """Commits if the block returns, rolls back if it raises: all of it or nothing is visible.
    The warehouse resource owns how (DuckLake's writer turn, Redshift's transaction)."""
    with warehouse.transaction(lock_wait_s) as session:
        yield session


def ensure_tables(session: Session, tables: Sequence[Table]) -> None:
    for table in tables:
        for statement in table.create(session.dialect):
            session.execute(statement)


# -- files to load, and their manifests -----------------------------------------------------


def hour_path(hour: dt.datetime) -> str:
    return f"{hour:%Y/%m/%d/%H}"


@dataclass(frozen=True)
class Part:
    manifest_key: str
    files: int
    bytes: int


def write_part(lake: ObjectStore, prefix: str, hour: dt.datetime, rows: list[dict]) -> Part:
    """One partition's rows as a gzip JSON-lines object, and the manifest that lists exactly
    it (no entries when there are no rows). Fixed names: a re-run replaces both."""
    manifest_key = f"{prefix}/manifests/{hour:%Y-%m-%d-%H}.manifest"
    entries, size = [], 0
    if rows:
        key = f"{prefix}/{hour_path(hour)}/part-00000.json.gz"
        data = encode(rows)
        lake.put_bytes(key, data)
        entries.append({"url": lake.uri(key), "mandatory": True})
        size = len(data)
    lake.put_bytes(manifest_key, json.dumps({"entries": entries}).encode())
    return Part(manifest_key, len(entries), size)


def manifest_urls(lake: ObjectStore, manifest_key: str) -> list[str]:
    return [e["url"] for e in json.loads(lake.get_bytes(manifest_key))["entries"]]


def replace_partition(
    session: Session, table: Table, lake: ObjectStore, manifest_key: str, value: object
) -> None:
    """Delete the partition's rows, then load exactly the manifest's files."""
    session.execute(table.delete_partition(session.dialect), [value])
    append_manifest(session, table, lake, manifest_key)


def append_manifest(session: Session, table: Table, lake: ObjectStore, manifest_key: str) -> None:
    """Adds exactly the manifest's files to the table (`COPY ... MANIFEST` on Redshift)."""
    urls = manifest_urls(lake, manifest_key)
    if not urls:
        return
    if session.dialect == REDSHIFT:
        session.execute(table.copy_json(lake.uri(manifest_key), copy_role(session)))
    else:
        session.execute(table.insert_json(), [urls])


def replace_all_from_csv(session: Session, table: Table, lake: ObjectStore, key: str) -> None:
    """Full refresh of a table from one CSV object, inside the caller's transaction."""
    session.execute(table.delete_all())
    if session.dialect == REDSHIFT:
        session.execute(table.copy_csv(lake.uri(key), copy_role(session)))
    else:
        session.execute(table.insert_csv(), [lake.uri(key)])
