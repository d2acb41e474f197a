"""TICKIT: what Dagster adds to a dbt run, as a fixed cost (scale 1) and a ratio (scale 20).

    uv run python bench/tickit_materialize.py [--repeat 3] [--scales 1 20]

For each scale, in a fresh temporary LAKEHOUSE_HOME and DAGSTER_HOME (the committed dagster.yaml):
  setup    `dagster asset materialize --select 'raw_tickit_data*'` (generate, validate, stage,
           build: the README's command), timed once
  models   `dagster job execute -j tickit_models_job` (the dbt models and their 75 tests)
  dbt      `dbt build --select tag:tickit` on the same target: the peer
Reports the medians, Dagster's fixed cost per dbt run (models - dbt) and the ratio models / dbt.
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def bench_scale(scale: float, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-tickit-") as tmp:
        home = Path(tmp) / "lakehouse"
        dagster_home = Path(tmp) / "dagster"
        dagster_home.mkdir(parents=True)
        (dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        env = {**os.environ, "LAKEHOUSE_ENV": "local", "LAKEHOUSE_HOME": str(home),
               "DAGSTER_HOME": str(dagster_home)}  # fmt: skip
        dagster = [str(BIN / "dagster")]
        config = json.dumps({"ops": {"raw_tickit_data": {"config": {"scale": scale}}}})
        materialize = [*dagster, "asset", "materialize", "--select", "raw_tickit_data*",
                       "-m", "lakehouse.definitions", "--config-json", config]  # fmt: skip
        setup = timed(materialize, env, REPO)
        lake_vars = json.dumps({"lake_root": str(home / "lake")})
        runs: dict[str, list[float]] = {"models": [], "dbt": []}
        for _ in range(repeat):
            runs["models"].append(timed(
                [*dagster, "job", "execute", "-j", "tickit_models_job", "-m",
                 "lakehouse.definitions"], env, REPO))  # fmt: skip
            runs["dbt"].append(timed(
                [str(BIN / "dbt"), "build", "--select", "tag:tickit", "--vars", lake_vars,
                 "--target", "local"], env, REPO / "dbt_project"))  # fmt: skip
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "scale": scale,
        "setup_s": setup,
        "runs": runs,
        "median_s": med,
        "fixed_cost_s": med["models"] - med["dbt"],
        "ratio_models_vs_dbt": med["models"] / med["dbt"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 20])
    args = parser.parse_args()
    load = os.getloadavg()
    results = [bench_scale(scale, args.repeat) for scale in args.scales]
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = {"cores": os.cpu_count(), "loadavg_at_start": load, "scales": results}
    (out / "tickit_materialize.json").write_text(json.dumps(report, indent=1))
    print(f"load average at start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    print("| scale | setup (raw_tickit_data*) | tickit_models_job | dbt build | "
          "fixed cost | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in results:
        m = r["median_s"]
        print(f"| {r['scale']:g} | {r['setup_s']:.1f} s | {m['models']:.1f} s | "
              f"{m['dbt']:.1f} s | {r['fixed_cost_s']:.1f} s | "
              f"{r['ratio_models_vs_dbt']:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
