"""TICKIT at scale 1: the Dagster run against plain `dbt build` of the same models.

    uv run python bench/tickit_materialize.py [--repeat 3]

Measures, in a fresh temporary LAKEHOUSE_HOME:
  all      `dagster asset materialize --select '*'` (generate, validate, stage, dbt build)
  models   `dagster job execute -j tickit_models_job` (the dbt models and their 75 tests)
  dbt      `dbt build --select tag:tickit` on the same target: the peer
and prints wall-clock medians and the ratio models / dbt.
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tickit-") as tmp:
        home = Path(tmp) / "lakehouse"
        dagster_home = Path(tmp) / "dagster"
        dagster_home.mkdir(parents=True)
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "LAKEHOUSE_ENV": "local", "LAKEHOUSE_HOME": str(home),
               "DAGSTER_HOME": str(dagster_home)}  # fmt: skip
        dagster = [str(BIN / "dagster")]
        lake_vars = json.dumps({"lake_root": str(home / "lake")})
        runs: dict[str, list[float]] = {"all": [], "models": [], "dbt": []}
        for _ in range(args.repeat):
            runs["all"].append(timed(
                [*dagster, "asset", "materialize", "--select", "*", "-m", "lakehouse.definitions"],
                env, REPO))  # fmt: skip
            runs["models"].append(timed(
                [*dagster, "job", "execute", "-j", "tickit_models_job", "-m",
                 "lakehouse.definitions"], env, REPO))  # fmt: skip
            runs["dbt"].append(timed(
                [str(BIN / "dbt"), "build", "--select", "tag:tickit", "--vars", lake_vars,
                 "--target", "local"], env, REPO / "dbt_project"))  # fmt: skip
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "scale": 1,
        "cores": os.cpu_count(),
        "runs": runs,
        "median_s": med,
        "ratio_models_vs_dbt": med["models"] / med["dbt"],
        "ratio_all_vs_dbt": med["all"] / med["dbt"],
    }
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "tickit_materialize.json").write_text(json.dumps(result, indent=1))
    print("| run | median wall time (s) | runs |")
    print("|---|---|---|")
    for k, label in [("all", "dagster asset materialize --select '*'"),
                     ("models", "dagster job execute -j tickit_models_job"),
                     ("dbt", "dbt build --select tag:tickit (peer)")]:  # fmt: skip
        print(f"| {label} | {med[k]:.1f} | {', '.join(f'{x:.1f}' for x in runs[k])} |")
    print(f"\nratio models/dbt = {result['ratio_models_vs_dbt']:.2f}, "
          f"all/dbt = {result['ratio_all_vs_dbt']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
