"""The `moma` source database: DDL, bulk loading (extract files or generated rows) and changes.

    python -m lakehouse.cdc.source --dsn DSN init                # database tables
    python -m lakehouse.cdc.source --dsn DSN load --generate [--artists N --artworks M --seed S]
    python -m lakehouse.cdc.source --dsn DSN load --extract moma_public_artists.txt.zip ...
    python -m lakehouse.cdc.source --dsn DSN changes [--batches N --batch-size K --seed S]

Extract files are the original's `moma_public_<table>[_small].txt` inside a same-named zip:
'|'-delimited, CSV quoting, header row in table order, empty = NULL for integers and '' for text.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from lakehouse.cdc.capture import connect
from lakehouse.cdc.generator import ChangeScript, Op, generate_rows
from lakehouse.cdc.source_tables import MOMA_DATABASE, MOMA_TABLES, CdcError, Table
from lakehouse.settings import moma_source_dsn


def create_database(admin_dsn: str, name: str = MOMA_DATABASE) -> None:
    """CREATE DATABASE `name` unless it exists (admin_dsn names any other database)."""
    with connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def create_tables(conn: psycopg.Connection, tables: Iterable[Table] = MOMA_TABLES.values()):
    with conn.transaction():
        for t in tables:
            conn.execute(t.ddl())


def _table_for_extract(path: Path) -> Table:
    stem = path.name.removesuffix(".zip").removesuffix(".txt").removesuffix("_small")
    for t in MOMA_TABLES.values():
        if stem == f"moma_{t.schema}_{t.name}":
            return t
    raise CdcError(f"{path}: not a MoMA extract name (moma_public_<table>[_small].txt[.zip])")


def read_extract(path: str | Path) -> tuple[Table, Iterator[dict]]:
    """(table, rows) of an extract (.txt, or a .zip holding one .txt)."""
    path = Path(path)
    table = _table_for_extract(path)

    def lines() -> Iterator[str]:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                members = z.namelist()
                if len(members) != 1:
                    raise CdcError(f"{path}: expected one member, found {members}")
                with z.open(members[0]) as f:
                    yield from io.TextIOWrapper(f, encoding="utf-8", newline="")
        else:
            with open(path, encoding="utf-8", newline="") as f:
                yield from f

    def rows() -> Iterator[dict]:
        reader = csv.reader(lines(), delimiter="|", quotechar='"', strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise CdcError(f"{path}: empty file, expected a header line") from None
        if header != table.column_names:
            raise CdcError(
                f"{path}, line 1: header {header} is not the columns of {table.qualified}: "
                f"{table.column_names}"
            )
        for values in reader:
            if len(values) != len(header):
                raise CdcError(
                    f"{path}, line {reader.line_num}: {len(values)} fields, expected {len(header)}"
                )
            row = {}
            for col, value in zip(table.columns, values, strict=True):
                if col.primitive in ("int", "long"):
                    if value == "":
                        row[col.name] = None
                        continue
                    try:
                        row[col.name] = int(value)
                    except ValueError:
                        raise CdcError(
                            f"{path}, line {reader.line_num}, field {col.name}: {value!r} is "
                            "not an integer"
                        ) from None
                else:
                    row[col.name] = value
            yield row

    return table, rows()


def load_rows(conn: psycopg.Connection, table: Table, rows: Iterable[dict]) -> int:
    """Bulk-loads rows with COPY in one transaction; returns how many."""
    names = table.column_names
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        table.ident(), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    n = 0
    with conn.transaction(), conn.cursor() as cur, cur.copy(copy) as out:
        for row in rows:
            out.write_row([row[c] for c in names])
            n += 1
    return n


def load_generated(conn: psycopg.Connection, artists: int, artworks: int, seed: int) -> dict:
    rows = generate_rows(artists, artworks, seed)
    return {name: load_rows(conn, MOMA_TABLES[name], r) for name, r in rows.items()}


def read_rows(conn: psycopg.Connection, table: Table) -> list[dict]:
    names = table.column_names
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, names)), table.ident()
    )
    return [dict(zip(names, r, strict=True)) for r in conn.execute(query)]


def apply_op(conn: psycopg.Connection, op: Op) -> None:
    t = op.table
    key = sql.Identifier(t.key[0])
    if op.kind == "insert":
        names = list(op.values)
        conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                t.ident(),
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
            ),
            [op.values[n] for n in names],
        )
    elif op.kind == "update":
        names = list(op.values)
        conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                t.ident(),
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in names),
                key,
            ),
            [*(op.values[n] for n in names), op.key],
        )
    else:
        conn.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(t.ident(), key), [op.key])


def apply_changes(conn: psycopg.Connection, batches: int, batch_size: int, seed: int) -> list:
    """Runs `batches` generated batches against the database's current rows, one transaction
    per batch; returns the batches of ops applied."""
    script = ChangeScript({name: read_rows(conn, t) for name, t in MOMA_TABLES.items()}, seed)
    applied = []
    for number in range(1, batches + 1):
        ops = script.batch(number, batch_size)
        with conn.transaction():
            for op in ops:
                apply_op(conn, op)
        applied.append(ops)
    return applied


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lakehouse.cdc.source", description=__doc__)
    p.add_argument("--dsn", default=moma_source_dsn())
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the moma tables (the database must exist)")
    load = sub.add_parser("load", help="bulk-load extract files or generated rows")
    load.add_argument("--extract", nargs="*", default=[])
    load.add_argument("--generate", action="store_true")
    load.add_argument("--artists", type=int, default=1_000)
    load.add_argument("--artworks", type=int, default=2_000)
    load.add_argument("--seed", type=int, default=42)
    changes = sub.add_parser("changes", help="apply generated change batches")
    changes.add_argument("--batches", type=int, default=1)
    changes.add_argument("--batch-size", type=int, default=25)
    changes.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    try:
        if not args.dsn:
            raise CdcError("no database: pass --dsn or set MOMA_SOURCE_DSN")
        with connect(args.dsn, autocommit=True) as conn:
            if args.command == "init":
                create_tables(conn)
            elif args.command == "load":
                create_tables(conn)
                counts = {}
                for path in args.extract:
                    table, rows = read_extract(path)
                    counts[table.qualified] = load_rows(conn, table, rows)
                if args.generate:
                    counts.update(load_generated(conn, args.artists, args.artworks, args.seed))
                print(counts)
            else:
                applied = apply_changes(conn, args.batches, args.batch_size, args.seed)
                print(f"applied {sum(map(len, applied))} changes in {len(applied)} transactions")
    except CdcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
