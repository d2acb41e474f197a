"""`lakehouse-deltastreamer`: HoodieDeltaStreamer's command line, run by the local Hudi writer.

    lakehouse-deltastreamer --table-type COPY_ON_WRITE --op BULK_INSERT --filter-dupes \\
        --source-ordering-field __source_ts_ms --props infra/hudi/moma_artists.properties \\
        --source-class org.apache.hudi.utilities.sources.AvroDFSSource \\
        --target-base-path s3://bucket/moma/artists_cow/ --target-table moma_cow.artists \\
        --hoodie-conf hoodie.deltastreamer.source.dfs.root=s3://bucket/topics/moma.public.artists/partition=0/

Prints one JSON line describing the commit (or that there was nothing new). Exit status 2 means
bad settings or input (nothing was written), 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from lakehouse.hudi.config import HudiError
from lakehouse.hudi.deltastreamer import AVRO_DFS_SOURCE, DeltaStreamerArgs, run
from lakehouse.hudi.table_storage import FileSystemFor


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakehouse-deltastreamer",
        description="Ingest Avro files from a DFS root into a Hudi table (HoodieDeltaStreamer "
        "flags and .properties keys).",
    )
    p.add_argument("--table-type", required=True, choices=["COPY_ON_WRITE", "MERGE_ON_READ"])
    p.add_argument("--op", default="UPSERT", type=str.upper,
                   choices=["UPSERT", "INSERT", "BULK_INSERT"])  # fmt: skip
    p.add_argument("--source-ordering-field", default=None)
    p.add_argument("--target-base-path", required=True)
    p.add_argument("--target-table", required=True)
    p.add_argument("--props", required=True, help="DeltaStreamer .properties file")
    p.add_argument("--source-class", default=AVRO_DFS_SOURCE)
    p.add_argument("--schemaprovider-class", default=None)
    p.add_argument("--filter-dupes", action="store_true")
    p.add_argument("--hoodie-conf", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--payload-class", default=None)
    p.add_argument("--source-limit", type=int, default=None, help="max bytes of source files")
    p.add_argument("--enable-sync", action="store_true", help="accepted; Hive sync is EMR-only")
    p.add_argument("--continuous", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None, filesystem: FileSystemFor | None = None) -> int:
    """`filesystem`: uri -> (pyarrow filesystem, path) for s3:// URIs (the
    `lakehouse-deltastreamer` script passes lakehouse.storage.filesystem); local paths only
    without it."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ns = parser().parse_args(argv)
    if ns.continuous:
        print("lakehouse-deltastreamer: error: --continuous is not supported: run one cycle per "
              "invocation from a schedule or sensor", file=sys.stderr)  # fmt: skip
        return 2
    args = DeltaStreamerArgs(
        table_type=ns.table_type,
        target_base_path=ns.target_base_path,
        target_table=ns.target_table,
        props=ns.props,
        op=ns.op,
        source_ordering_field=ns.source_ordering_field,
        source_class=ns.source_class,
        schemaprovider_class=ns.schemaprovider_class,
        filter_dupes=ns.filter_dupes,
        hoodie_conf=ns.hoodie_conf,
        payload_class=ns.payload_class,
        source_limit=ns.source_limit,
        enable_sync=ns.enable_sync,
        filesystem=filesystem,
    )
    try:
        result = run(args)
    except HudiError as e:
        print(f"lakehouse-deltastreamer: error: {e}", file=sys.stderr)
        return 2
    summary = {"files": result.files, "checkpoint": result.checkpoint, "commit": None}
    if result.commit is not None:
        summary["commit"] = dataclasses.asdict(result.commit)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
