"""lakehouse-materialize: the whole graph, including the telemetry partitions that exist.

`dagster asset materialize --select '*'` cannot run hourly-partitioned assets without a
partition, so this runs, in order and recorded in $DAGSTER_HOME like any run:

1. every unpartitioned asset that does not read a partitioned one (TICKIT, CDC, the dimensions);
2. the telemetry partition assets, once per hour that has landed objects;
3. the unpartitioned assets downstream of them (the IoT marts).

Partitioned assets of other partition sets are left to their own jobs (they are listed).
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg

from lakehouse.iot.landing import partition_of
from lakehouse.iot.pipeline import LANDING_PREFIX


def landed_partitions(lake) -> list[str]:
    return sorted(
        {p for o in lake.list_objects(f"{LANDING_PREFIX}/") if (p := partition_of(o.key))}
    )


def plan(defs: dg.Definitions, partitions_def) -> tuple[set, set, set, set]:
    """(before, telemetry, after, skipped) asset keys."""
    graph = defs.resolve_asset_graph()
    keys = set(graph.materializable_asset_keys)
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    telemetry = {k for k in partitioned if graph.get(k).partitions_def == partitions_def}
    skipped = partitioned - telemetry
    downstream = dg.AssetSelection.assets(*partitioned).downstream(include_self=False)
    after = (keys - partitioned) & set(downstream.resolve(graph))
    before = keys - partitioned - after
    return before, telemetry, after, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lakehouse-materialize", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--partitions-only", action="store_true",
                        help="only the telemetry partitions and what reads them")  # fmt: skip
    args = parser.parse_args(argv)

    from lakehouse.definitions import defs
    from lakehouse.iot.assets import HOURLY

    before, telemetry, after, skipped = plan(defs, HOURLY)
    job = defs.resolve_implicit_global_asset_job_def()
    lake = defs.resources["lake"]
    partitions = landed_partitions(lake)
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        print("lakehouse-materialize: DAGSTER_HOME is not set; runs are not recorded")
        instance = dg.DagsterInstance.ephemeral()
    with instance:

        def run(keys: set, partition: str | None, what: str) -> bool:
            if not keys:
                return True
            print(f"lakehouse-materialize: {what} ({len(keys)} assets)", flush=True)
            result = job.get_subset(asset_selection=keys).execute_in_process(
                instance=instance, partition_key=partition, raise_on_error=False
            )
            if not result.success:
                print(
                    f"lakehouse-materialize: {what} failed (run {result.run_id})", file=sys.stderr
                )
            return result.success

        ok = args.partitions_only or run(before, None, "unpartitioned assets")
        for partition in partitions:
            ok = run(telemetry, partition, f"telemetry partition {partition}") and ok
        if not partitions:
            print(f"lakehouse-materialize: no telemetry under {lake.uri(LANDING_PREFIX + '/')}")
        ok = run(after, None, "assets downstream of telemetry") and ok
    for key in sorted(skipped, key=lambda k: k.to_user_string()):
        print(f"lakehouse-materialize: skipped {key.to_user_string()} (other partitions)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
