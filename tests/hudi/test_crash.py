"""Crash safety: stop the writer before each step of a commit (in-process, and by SIGKILL in a
child process); readers never see a half-written commit, and a rerun gives the same table as an
uninterrupted run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.hudi import HudiTable
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import Timeline
from tests.hudi import crash, support
from tests.support.paths import REPO_ROOT

COLUMNS = ("id", "ts", "city", "v", "__deleted")
TYPES = ["COPY_ON_WRITE", "MERGE_ON_READ"]


def _data(base: str) -> list[tuple]:
    return support.rows(support.snapshot(base), COLUMNS)


@pytest.fixture(scope="module", params=TYPES)
def scenario(request, tmp_path_factory):
    """(table type, a prepared table, the rows before and after the write, its step count)."""
    table_type = request.param
    root = tmp_path_factory.mktemp(table_type)
    prepared = str(root / "prepared")
    crash.setup(prepared, table_type)
    before = _data(prepared)
    clean_run = str(root / "uninterrupted")
    shutil.copytree(prepared, clean_run)
    with crash.crash_before(None) as count:
        result = crash.run(clean_run, table_type)
    if table_type == "MERGE_ON_READ":
        assert result.compaction_instant, "the scenario must compact"
    assert result.clean_instant, "the scenario must clean"
    after = _data(clean_run)
    assert after != before
    return table_type, prepared, before, after, count["n"]


def _check_recovered(base: str, table_type: str, before, after) -> None:
    seen = _data(base)
    assert seen in (before, after), "a half-written commit is visible"
    crash.run(base, table_type)  # the rerun
    assert _data(base) == after
    timeline = Timeline(Storage(base))
    assert not timeline.pending(), [i for i in timeline.pending()]
    # nothing is left that no committed instant accounts for
    assert HudiTable.open(base).snapshot().num_rows == len(after)
    assert _data_files(base) <= _committed_files(base)


def _data_files(base: str) -> set[str]:
    root = Path(base)
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".hoodie" not in p.relative_to(root).parts[:1]
        and p.name != ".hoodie_partition_metadata"
    }  # fmt: skip


def _committed_files(base: str) -> set[str]:
    """Every file a completed commit, delta commit or compaction wrote (its write stats)."""
    files = set()
    for meta in Path(base, ".hoodie").glob("*"):
        if meta.suffix in (".commit", ".deltacommit", ".replacecommit"):
            stats = json.loads(meta.read_text())["partitionToWriteStats"]
            files |= {s["path"] for group in stats.values() for s in group}
    return files


def test_crash_before_every_step_then_rerun(scenario, tmp_path):
    table_type, prepared, before, after, steps = scenario
    assert steps > 10
    for step in range(1, steps + 1):
        base = str(tmp_path / f"step{step}")
        shutil.copytree(prepared, base)
        with pytest.raises(crash.Crash), crash.crash_before(step):
            crash.run(base, table_type)
        _check_recovered(base, table_type, before, after)


def test_sigkill_at_every_other_step_then_rerun(scenario, tmp_path):
    table_type, prepared, before, after, steps = scenario
    for step in range(1, steps + 1, 2):
        base = str(tmp_path / f"kill{step}")
        shutil.copytree(prepared, base)
        proc = subprocess.run(
            [sys.executable, "-m", "tests.hudi.crash", base, table_type, str(step)],
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -9, proc.stderr.decode()[-2000:]
        _check_recovered(base, table_type, before, after)
