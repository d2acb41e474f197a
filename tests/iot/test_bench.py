"""bench/telemetry_latency.py on a fresh clone: it creates its results folder (a missing one
crashed it at the end and lost the figures)."""

import importlib.util
import json

from tests.support.paths import REPO_ROOT


def test_telemetry_bench_creates_its_results_folder(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "telemetry_latency", REPO_ROOT / "bench/telemetry_latency.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "REPO", tmp_path)  # a checkout without bench/results/
    assert bench.main(["--skip-latency", "--skip-throughput"]) == 0
    written = json.loads((tmp_path / "bench/results/telemetry_latency.json").read_text())
    assert written["original"] == bench.ORIGINAL
