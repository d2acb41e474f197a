"""`lakehouse-cdc`: capture the `moma` database (or any tables) into Kafka Connect S3 sink objects.

    lakehouse-cdc --dsn DSN --slot NAME --server-name moma \\
        --tables public.artists,public.artworks --target DIR_OR_S3_URI \\
        [--flush-size N] [--rotate-interval-ms N] [--format unwrapped|envelope] [--once] \\
        [--plugin pgoutput|wal2json] [--publication NAME] \\
        [--publication-autocreate-mode all_tables|disabled|filtered]

Without --once it streams until SIGTERM/SIGINT, then writes what it holds and exits 0.
--simulate N writes N batches of the built-in change simulator instead (no database).
The DSN may come from MOMA_SOURCE_DSN (keeps a password out of the process list), and libpq's
PGPASSWORD / ~/.pgpass work as usual. An S3 target uses the AWS default credential chain and
AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL) for S3-compatible servers.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from lakehouse.cdc.records import FORMATS
from lakehouse.cdc.source_tables import CdcError, parse_table_list
from lakehouse.settings import moma_source_dsn

log = logging.getLogger("lakehouse.cdc")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakehouse-cdc",
        description="Capture PostgreSQL changes into Debezium-format Avro objects laid out as "
        "the Kafka Connect S3 sink writes them.",
    )
    p.add_argument(
        "--dsn",
        default=moma_source_dsn(),
        help="libpq connection string (default: $MOMA_SOURCE_DSN)",
    )
    p.add_argument("--slot", default="lakehouse_cdc", help="logical replication slot name")
    p.add_argument("--server-name", default="moma", help="topic prefix (Debezium server name)")
    p.add_argument(
        "--tables",
        default="public.artists,public.artworks",
        help="comma-separated schema.table list",
    )
    p.add_argument("--target", required=True, help="a directory or an s3://bucket/prefix URI")
    p.add_argument(
        "--flush-size",
        type=int,
        default=10_000,
        help="records per object before it is written (flush.size)",
    )
    p.add_argument(
        "--rotate-interval-ms",
        type=int,
        default=60_000,
        help="write an open object after this long (rotate.schedule.interval.ms; 0: by size only)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="unwrapped",
        help="unwrapped (ExtractNewRecordState) or the raw Debezium envelope",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="capture what was committed before it started (the snapshot first if the slot "
        "is new) and exit",
    )
    p.add_argument(
        "--poll-interval-ms",
        type=int,
        default=500,
        help="when the stream is idle, how often to write objects due by the rotate interval "
        "and to check for a stop",
    )
    p.add_argument(
        "--plugin",
        choices=("pgoutput", "wal2json"),
        default="pgoutput",
        help="logical decoding output plugin (Debezium's plugin.name); pgoutput is built into "
        "PostgreSQL, wal2json needs its package on the server",
    )
    p.add_argument(
        "--publication",
        default="dbz_publication",
        help="publication pgoutput streams (publication.name)",
    )
    p.add_argument(
        "--publication-autocreate-mode",
        choices=("all_tables", "disabled", "filtered"),
        default="all_tables",
        help="all_tables: create FOR ALL TABLES if missing; disabled: it must exist; filtered: "
        "create or alter it to exactly --tables (publication.autocreate.mode)",
    )
    p.add_argument(
        "--simulate",
        type=int,
        metavar="BATCHES",
        help="no database: write this many simulator batches (snapshot first)",
    )
    p.add_argument("--seed", type=int, default=42, help="simulator seed")
    return p


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    from lakehouse.storage import StorageError, store_for_uri

    try:
        store = store_for_uri(args.target)
    except StorageError as e:
        raise CdcError(f"--target: {e}") from None
    if args.simulate is not None:
        from lakehouse.cdc.simulator import SimulatorSettings, simulate

        report = simulate(
            store,
            batches=args.simulate,
            settings=SimulatorSettings(seed=args.seed),
            fmt=args.format,
            flush_size=args.flush_size,
            server=args.server_name,
            tables=parse_table_list(args.tables),
        )
    else:
        if not args.dsn:
            raise CdcError("no source database: pass --dsn or set MOMA_SOURCE_DSN")
        from lakehouse.cdc.capture import CaptureSettings, capture

        settings = CaptureSettings.from_options(args, args.once, args.poll_interval_ms)
        report = capture(settings, store, stop)
    records = sum(o.records for o in report.objects)
    log.info("wrote %d objects, %d records to %s", len(report.objects), records, report.root_uri)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="lakehouse-cdc: %(message)s", stream=sys.stderr)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args, stop)
    except CdcError as e:
        print(f"lakehouse-cdc: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
