"""Cleaner policies (hoodie.cleaner.policy) on a real table's file groups: what each keeps."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from lakehouse.hudi import HudiTable, cleaner
from lakehouse.hudi.config import HudiConfig, TableConfig, WriteOptions
from lakehouse.hudi.timeline import Timeline

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string())])


def _table(tmp_path, versions: int) -> HudiTable:
    config = HudiConfig(TableConfig("t", "id", "ts", "city"), WriteOptions(auto_clean=False))
    table = HudiTable.create(str(tmp_path / "t"), config)
    for v in range(1, versions + 1):
        rows = [{"id": i, "ts": v, "city": ("sf", "ny")[i % 2]} for i in range(4)]
        table.upsert(pa.Table.from_pylist(rows, schema=SCHEMA))
    return table


def _time(instant: str) -> dt.datetime:
    return dt.datetime.strptime(instant, "%Y%m%d%H%M%S%f").replace(tzinfo=dt.UTC)


def _kept(table: HudiTable, plan: cleaner.CleanPlan) -> dict[str, int]:
    """Slices left per file group once the plan's files are gone."""
    gone = {p for files in plan.files.values() for p in files}
    view = table.file_system_view()
    return {fid: sum(1 for sl in view.slices(part, fid) if not set(sl.paths()) & gone)
            for part, fid in view.groups}  # fmt: skip


def test_file_versions_keeps_the_newest_n_slices(tmp_path):
    table = _table(tmp_path, 5)
    timeline = Timeline(table.storage)
    for versions in (1, 2, 3, 5, 9):
        plan = cleaner.plan(table.file_system_view(), timeline.completed_writes(),
                            "KEEP_LATEST_FILE_VERSIONS", 10, versions, 24)  # fmt: skip
        assert set(_kept(table, plan).values()) == {min(versions, 5)}
        assert plan.earliest_to_retain is None


def test_by_hours_retains_the_commits_of_the_last_n_hours(tmp_path):
    table = _table(tmp_path, 4)
    writes = Timeline(table.storage).completed_writes()
    view = table.file_system_view()
    last = _time(writes[-1].timestamp)
    # all four commits within the hour: nothing to clean
    plan = cleaner.plan(view, writes, "KEEP_LATEST_BY_HOURS", 10, 3, 1, now=last)
    assert plan.earliest_to_retain == writes[0] and plan.files == {}
    # two hours later none is: only the latest slice of each file group stays (the first
    # commit newer than the cutoff does not exist, so nothing is retained beyond the latest)
    plan = cleaner.plan(view, writes, "KEEP_LATEST_BY_HOURS", 10, 3, 1,
                        now=last + dt.timedelta(hours=2))  # fmt: skip
    assert plan.earliest_to_retain is None and plan.files == {}
    # a cutoff between the second and third commit keeps what queries from the third need
    cutoff = _time(writes[2].timestamp) - dt.timedelta(microseconds=500)
    plan = cleaner.plan(view, writes, "KEEP_LATEST_BY_HOURS", 10, 3, 1,
                        now=cutoff + dt.timedelta(hours=1))  # fmt: skip
    assert plan.earliest_to_retain == writes[2]
    assert set(_kept(table, plan).values()) == {2}
