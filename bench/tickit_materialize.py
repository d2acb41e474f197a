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
  to step    RUN_START -> STEP_START (the plan, resources, planned-asset events); load + to step
             is the run's launch -> first step
  dbt        the dbt subprocess, start to exit (`Running dbt command` -> `Finished dbt command`)
  events     dbt's exit -> STEP_SUCCESS (outputs, materializations, check results written)
  exit       STEP_SUCCESS -> process exit (RUN_SUCCESS, shutdown)
and where its CPU goes (the machine may be shared: CPU seconds say what wall time cannot):
  run CPU    the run process (and its log tailers), everything but dbt
  dbt CPU    the dbt subprocess inside the run, against plain dbt's CPU
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
import threading
import time
from pathlib import Path

from lakehouse.settings import child_environment

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHASES = ["load", "to step", "dbt", "events", "exit"]


TICK = os.sysconf("SC_CLK_TCK")


def children_cpu(pid: int, names: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each process below pid, with its command's name (Linux /proc; names
    remembers them, as an exited child's command line reads empty until it is reaped)."""
    found: dict[int, tuple[str, float]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            for kid in kids:
                try:
                    stat = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
                    argv = Path(f"/proc/{kid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if argv[0]:  # empty once exited; a python script goes by its script
                    script = [a for a in argv[1:] if a and not a.startswith(b"-")]
                    command = script[0] if b"python" in argv[0] and script else argv[0]
                    names[kid] = Path(command.decode()).name
                found[kid] = (names.get(kid, ""), (int(stat[11]) + int(stat[12])) / TICK)
                todo.append(kid)
    return found


def timed(
    cmd: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, float, float, dict[str, float]]:
    """(wall seconds, epoch start, epoch end, CPU seconds with children, CPU seconds by child
    command) of a command that must succeed. A child's CPU is its last sample (every 50 ms)."""
    before = os.times()
    start, wall = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    seen: dict[int, tuple[str, float]] = {}
    names: dict[int, str] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            seen.update(children_cpu(proc.pid, names))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    elapsed = time.perf_counter() - wall
    done.set()
    sampler.join()
    after = os.times()
    cpu = sum(after[2:4]) - sum(before[2:4])  # children_user, children_system
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{output[-6000:]}")
    by_command: dict[str, float] = {}
    for name, seconds in seen.values():
        by_command[name] = by_command.get(name, 0.0) + seconds
    return elapsed, start, start + elapsed, cpu, by_command


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
        setup = timed(materialize, env, REPO)[0]
        timed([str(BIN / "python"), "-m", "lakehouse.dbt.manifest"], env, REPO)
        lake_vars = json.dumps({"lake_root": str(home / "lake")})
        runs: dict[str, list[float]] = {"models": [], "dbt": []}
        phases: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {"run": [], "dbt in run": [], "dbt": []}
        for _ in range(repeat):
            wall, started, ended, total_cpu, by_command = timed(
                [*dagster, "job", "execute", "-j", "tickit_models_job", "-m",
                 "lakehouse.definitions"], env, REPO)  # fmt: skip
            runs["models"].append(wall)
            cpu["dbt in run"].append(by_command.get("dbt", 0.0))
            cpu["run"].append(total_cpu - by_command.get("dbt", 0.0))
            for name, seconds in run_phases(dagster_home, started, ended).items():
                phases.setdefault(name, []).append(seconds)
            wall, _, _, dbt_cpu, _ = timed(
                [str(BIN / "dbt"), "build", "--select", "tag:tickit", "--vars", lake_vars,
                 "--target", "local"], env, REPO / "dbt_project")  # fmt: skip
            runs["dbt"].append(wall)
            cpu["dbt"].append(dbt_cpu)
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
        "cpu_s": cpu,
        "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items()},
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
    print(f"| scale | {' | '.join(PHASES)} | launch -> first step | events written |")
    print(f"|---|{'---|' * (len(PHASES) + 2)}")
    for r in results:
        p = r["median_phases"]
        cells = " | ".join(f"{p[name]:.1f} s" for name in PHASES)
        print(f"| {r['scale']:g} | {cells} | {p['load'] + p['to step']:.1f} s | "
              f"{p['events written']:.0f} |")  # fmt: skip
    print()
    print("| scale | run process CPU | dbt CPU in the run | plain dbt CPU |")
    print("|---|---|---|---|")
    for r in results:
        c = r["median_cpu_s"]
        print(f"| {r['scale']:g} | {c['run']:.1f} s | {c['dbt in run']:.1f} s | {c['dbt']:.1f} s |")


if __name__ == "__main__":
    main()
