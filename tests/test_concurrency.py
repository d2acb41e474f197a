"""Two runs that both target one Hudi table are serialized by the table's pool, with the
instance configuration `make dagster-home` writes; without it they overlap."""

import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.support.paths import REPO_ROOT

POOL_CONFIG = "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"


def makefile_instance_config() -> str:
    """The dagster.yaml that `make dagster-home` writes, so the test checks what users get."""
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "print-dagster-yaml"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def two_runs(tmp_path, instance_yaml: str) -> list[tuple[float, float]]:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(instance_yaml)
    journal = tmp_path / "journal.txt"
    # The raw topic exists but holds nothing yet; a missing source folder is an error.
    (tmp_path / "lake" / "topics" / "moma.public.artists" / "partition=0").mkdir(parents=True)
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLOW_HUDI_LAKE": str(tmp_path / "lake"),
           "SLOW_HUDI_JOURNAL": str(journal)}  # fmt: skip
    cmd = [sys.executable, "-m", "dagster", "asset", "materialize",
           "-m", "tests.support.slow_hudi", "--select", "moma_cow/artists"]  # fmt: skip
    # As `make dagster-home` does: create the instance and register the pools.
    subprocess.run([sys.executable, "-m", "lakehouse.operations.pools"], cwd=REPO_ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    procs = []
    for i in range(2):
        # Logs go to files: a blocked run logs while it waits, and must never block on a pipe.
        log = tmp_path / f"run{i}.log"
        with open(log, "w") as out:
            procs.append((subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out,
                                           stderr=subprocess.STDOUT), log))  # fmt: skip
        time.sleep(0.3)
    for p, log in procs:
        p.wait(timeout=240)
        assert p.returncode == 0, log.read_text()[-3000:]
    starts, ends = {}, {}
    for line in journal.read_text().splitlines():
        what, _, at, pid = line.split()
        (starts if what == "start" else ends)[pid] = float(at)
    assert len(starts) == len(ends) == 2
    return sorted((starts[p], ends[p]) for p in starts)


def test_makefile_instance_gives_every_pool_one_slot():
    config = yaml.safe_load(makefile_instance_config())
    assert config["concurrency"]["pools"]["default_limit"] == 1


@pytest.mark.timeout(600)
def test_writers_of_one_table_never_overlap(tmp_path):
    (first, second) = two_runs(tmp_path / "pooled", makefile_instance_config())
    assert second[0] >= first[1], f"the second writer started at {second[0]}, before {first[1]}"


@pytest.mark.timeout(600)
def test_without_the_pool_limit_they_do_overlap(tmp_path):
    # The control: the same two runs with no pool limit run at the same time, so the test above
    # is what the pool does, not an accident of timing.
    (first, second) = two_runs(tmp_path / "free", "telemetry:\n  enabled: false\n")
    assert second[0] < first[1]


def test_the_code_location_pools_are_the_hudi_tables_and_the_telemetry_loads():
    from lakehouse.definitions import defs
    from lakehouse.operations.pools import code_location_pools

    assert code_location_pools(defs) == {
        "hudi/moma_cow.artists",
        "hudi/moma_cow.artworks",
        "hudi/moma_mor.artists",
        "hudi/moma_mor.artworks",
        "iot_warehouse_loads",  # deduplication across partitions relies on one load at a time
    }
