"""lakehouse-materialize: the whole graph, including the telemetry partitions that exist.

`dagster asset materialize --select '*'` cannot run hourly-partitioned assets without a
partition, so this runs, in order and recorded in $DAGSTER_HOME like any run:

1. every unpartitioned asset that does not read a partitioned one (TICKIT, CDC, the dimensions);
2. the telemetry partition assets, once per hour that has landed objects;
3. the unpartitioned assets downstream of them (the IoT marts).

Partitioned assets of other partition sets are left to their own jobs (they are listed).
The runs' logs go to $LAKEHOUSE_HOME/logs/materialize.log (--verbose prints them); what is
printed is a one-screen summary: assets and rows per group, failures, and where to look.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg

from lakehouse.iot.landing import LANDING_PREFIX, partition_of
from lakehouse.settings import dagster_home


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


@contextmanager
def output_to(log_path: Path | None) -> Iterator[TextIO]:
    """Sends everything the runs print (Dagster's and dbt's logs) to log_path; yields the
    terminal for this command's own lines. None keeps the logs on the terminal."""
    if log_path is None:
        yield sys.stdout
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = open(saved[0], "w", closefd=False)  # noqa: SIM115 - closed in finally
    try:
        with open(log_path, "a") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield terminal
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        terminal.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


@dataclass
class Outcome:
    """What the runs did, for the summary."""

    runs: int = 0
    failed: list[str] = field(default_factory=list)  # "what (run id): first error line"
    assets: dict[str, set] = field(default_factory=lambda: defaultdict(set))  # group -> keys
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # group -> rows

    def add(self, result, what: str, graph) -> None:
        self.runs += 1
        for event in result.get_asset_materialization_events():
            m = event.event_specific_data.materialization
            group = graph.get(m.asset_key).group_name
            self.assets[group].add(m.asset_key)
            count = m.metadata.get("dagster/row_count")
            self.rows[group] += count.value if count else 0
        if not result.success:
            failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
            lines = (
                failures[0].event_specific_data.error.message.strip().splitlines()
                if failures
                else []
            )
            # "<exception class>: <what failed>", then (dbt) the first failed node
            first = " / ".join(line.split(": ", 1)[-1] for line in lines[:2]) or "see the log"
            self.failed.append(f"{what} (run {result.run_id}): {first[:300]}")


def summary(outcome: Outcome, seconds: float, where: dict[str, str]) -> str:
    total = sum(len(keys) for keys in outcome.assets.values())
    lines = [
        f"lakehouse-materialize: {total} assets in {outcome.runs} runs, "
        f"{len(outcome.failed)} failed, {seconds:.0f} s",
        "",
        f"  {'group':<22}{'assets':>7}{'rows':>12}",
    ]
    for group in sorted(outcome.assets):
        lines.append(f"  {group:<22}{len(outcome.assets[group]):>7}{outcome.rows[group]:>12,}")
    lines += ["", *(f"  FAILED {f}" for f in outcome.failed)]
    lines += [f"  {k + ':':<11}{v}" for k, v in where.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lakehouse-materialize", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--partitions-only", action="store_true",
                        help="only the telemetry partitions and what reads them")  # fmt: skip
    parser.add_argument("--verbose", action="store_true",
                        help="print the runs' logs here instead of into the log file")  # fmt: skip
    args = parser.parse_args(argv)

    from lakehouse.definitions import defs
    from lakehouse.defs.iot.assets import HOURLY
    from lakehouse.settings import lakehouse_home
    from lakehouse.warehouse import local_warehouse

    started = time.monotonic()
    home = lakehouse_home()
    log_path = None if args.verbose else home / "logs" / "materialize.log"
    before, telemetry, after, skipped = plan(defs, HOURLY)
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    lake = defs.resources["lake"]
    landed = landed_partitions(lake)
    first = HOURLY.get_first_partition_key()
    partitions = [p for p in landed if p >= first]  # same fixed-width format: sortable
    if len(partitions) < len(landed):
        print(f"lakehouse-materialize: {len(landed) - len(partitions)} landed hours before "
              f"{first} skipped (set LAKEHOUSE_TELEMETRY_START earlier to load them)")  # fmt: skip
    if dagster_home():
        instance = dg.DagsterInstance.get()
    else:
        print("lakehouse-materialize: DAGSTER_HOME is not set; runs are not recorded")
        instance = dg.DagsterInstance.ephemeral()
    outcome = Outcome()
    with instance, output_to(log_path) as terminal:

        def run(keys: set, partition: str | None, what: str) -> bool:
            if not keys:
                return True
            print(f"lakehouse-materialize: {what} ({len(keys)} assets)", file=terminal, flush=True)
            result = job.get_subset(asset_selection=keys).execute_in_process(
                instance=instance, partition_key=partition, raise_on_error=False
            )
            outcome.add(result, what, graph)
            return result.success

        ok = args.partitions_only or run(before, None, "unpartitioned assets")
        for partition in partitions:
            ok = run(telemetry, partition, f"telemetry partition {partition}") and ok
        if not partitions:
            print(f"lakehouse-materialize: no telemetry under {lake.uri(LANDING_PREFIX + '/')}",
                  file=terminal)  # fmt: skip
        ok = run(after, None, "assets downstream of telemetry") and ok
    for key in sorted(skipped, key=lambda k: k.to_user_string()):
        print(f"lakehouse-materialize: skipped {key.to_user_string()} (other partitions)")
    where = {
        "log": str(log_path) if log_path else "(printed above)",
        "lake": lake.root_uri,
        "warehouse": f"{local_warehouse(home).catalog} "
        "(DuckLake; `uv run lakehouse-sql` queries it)",
        "runs": f"DAGSTER_HOME={dagster_home() or '(not recorded)'}; "
        "`make ui` shows them at http://127.0.0.1:3000",
    }
    print(summary(outcome, time.monotonic() - started, where))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
