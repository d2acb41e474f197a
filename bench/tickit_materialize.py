"""TICKIT: what Dagster adds to a dbt run, as a fixed cost (scale 1) and a ratio (scale 20).

    uv run python bench/tickit_materialize.py [--repeat 3] [--scales 1 20]

For each scale, in a fresh temporary LAKEHOUSE_HOME and DAGSTER_HOME (the committed dagster.yaml):
  setup    `dagster asset materialize --select 'raw_tickit_data*'` (generate, validate, stage,
           build: the README's command), timed once, then `make manifest`'s parse for this home
  models   `dagster job execute -j tickit_models_job` (the dbt models and their 75 tests)
  dbt      `dbt build --select tag:tickit` on the same target: the peer
Reports the medians, Dagster's fixed cost per dbt run (models - dbt), the ratio models / dbt, and
where a Dagster run's time goes, from its own event log:
  load       process start -> RUN_START (imports, the code location, the instance)
  to step    RUN_START -> STEP_START (the plan, resources, planned-asset events)
  dbt        the dbt subprocess, start to exit (`Running dbt command` -> `Finished dbt command`)
  events     dbt's exit -> STEP_SUCCESS (outputs, materializations, check results written)
  exit       STEP_SUCCESS -> process exit (RUN_SUCCESS, shutdown)
Targets: fixed cost <= 6 s at scale 1, ratio <= 1.15x at scale 20.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lakehouse.settings import child_environment

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHASES = ["load", "to step", "dbt", "events", "exit"]


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, epoch start, epoch end) of a command that must succeed."""
    start, wall = time.time(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - wall
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, start, start + elapsed


def run_phases(dagster_home: Path, started: float, ended: float) -> dict[str, float]:
    """Where the latest run's time went, from the timestamps of its own events."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(limit=1)
        logs = instance.all_logs(run.run_id)

    def first(event_type: DagsterEventType) -> float:
        return next(e.timestamp for e in logs if e.dagster_event_type == event_type)

    def message(prefix: str) -> float:
        return next(e.timestamp for e in logs if e.user_message.startswith(prefix))

    run_start, step_start = first(DagsterEventType.RUN_START), first(DagsterEventType.STEP_START)
    dbt_start, dbt_end = message("Running dbt command"), message("Finished dbt command")
    step_end = first(DagsterEventType.STEP_SUCCESS)
    return {
        "load": run_start - started,
        "to step": step_start - run_start,
        "dbt": dbt_end - dbt_start,
        "events": step_end - dbt_end,
        "exit": ended - step_end,
        "events written": len(logs),
    }


def bench_scale(scale: float, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-tickit-") as tmp:
        home = Path(tmp) / "lakehouse"
        dagster_home = Path(tmp) / "dagster"
        dagster_home.mkdir(parents=True)
        (dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        # The home's own dbt target path: the deploy step's parse (`make manifest`), which the
        # Dagster runs' dbt starts from, and plain dbt's state from one build to the next.
        env = child_environment(LAKEHOUSE_ENV="local", LAKEHOUSE_HOME=str(home),
                                DAGSTER_HOME=str(dagster_home),
                                DBT_TARGET_PATH=str(Path(tmp) / "target"))  # fmt: skip
        dagster = [str(BIN / "dagster")]
        config = json.dumps({"ops": {"raw_tickit_data": {"config": {"scale": scale}}}})
        materialize = [*dagster, "asset", "materialize", "--select", "raw_tickit_data*",
                       "-m", "lakehouse.definitions", "--config-json", config]  # fmt: skip
        setup, _, _ = timed(materialize, env, REPO)
        timed([str(BIN / "python"), "-m", "lakehouse.dbt.manifest"], env, REPO)
        lake_vars = json.dumps({"lake_root": str(home / "lake")})
        runs: dict[str, list[float]] = {"models": [], "dbt": []}
        phases: dict[str, list[float]] = {}
        for _ in range(repeat):
            wall, started, ended = timed(
                [*dagster, "job", "execute", "-j", "tickit_models_job", "-m",
                 "lakehouse.definitions"], env, REPO)  # fmt: skip
            runs["models"].append(wall)
            for name, seconds in run_phases(dagster_home, started, ended).items():
                phases.setdefault(name, []).append(seconds)
            runs["dbt"].append(timed(
                [str(BIN / "dbt"), "build", "--select", "tag:tickit", "--vars", lake_vars,
                 "--target", "local"], env, REPO / "dbt_project")[0])  # fmt: skip
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "scale": scale,
        "setup_s": setup,
        "runs": runs,
        "median_s": med,
        "fixed_cost_s": med["models"] - med["dbt"],
        "ratio_models_vs_dbt": med["models"] / med["dbt"],
        "phases": phases,
        "median_phases": {k: statistics.median(v) for k, v in phases.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 20])
    args = parser.parse_args()
    load = os.getloadavg()
    results = [bench_scale(scale, args.repeat) for scale in args.scales]
    load_end = os.getloadavg()
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = {"cores": os.cpu_count(), "loadavg_at_start": load, "loadavg_at_end": load_end,
              "scales": results}  # fmt: skip
    (out / "tickit_materialize.json").write_text(json.dumps(report, indent=1))
    print(f"load average at start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; "
          f"at end: {load_end[0]:.2f}, {load_end[1]:.2f}, {load_end[2]:.2f}")  # fmt: skip
    print("| scale | setup (raw_tickit_data*) | tickit_models_job | dbt build | "
          "fixed cost | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in results:
        m = r["median_s"]
        print(f"| {r['scale']:g} | {r['setup_s']:.1f} s | {m['models']:.1f} s | "
              f"{m['dbt']:.1f} s | {r['fixed_cost_s']:.1f} s | "
              f"{r['ratio_models_vs_dbt']:.2f}x |")  # fmt: skip
    print()
    print(f"| scale | {' | '.join(PHASES)} | events written |")
    print(f"|---|{'---|' * (len(PHASES) + 1)}")
    for r in results:
        p = r["median_phases"]
        cells = " | ".join(f"{p[name]:.1f} s" for name in PHASES)
        print(f"| {r['scale']:g} | {cells} | {p['events written']:.0f} |")


if __name__ == "__main__":
    main()
