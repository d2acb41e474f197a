"""Which file slices the cleaner deletes, per hoodie.cleaner.policy (Hudi's CleanPlanner).

    KEEP_LATEST_COMMITS        keep every slice a query at or after the N-th latest commit can
                               read (hoodie.cleaner.commits.retained, default 10)
    KEEP_LATEST_BY_HOURS       the same, with the earliest commit to retain being the first one
                               made within the last N hours (hoodie.cleaner.hours.retained, 24)
    KEEP_LATEST_FILE_VERSIONS  keep the newest N slices of each file group
                               (hoodie.cleaner.fileversions.retained, default 3)

The newest slice of a file group is never deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lakehouse.hudi.config import CLEANER_POLICIES
from lakehouse.hudi.files import FileSystemView
from lakehouse.hudi.timeline import Instant

KEEP_LATEST_COMMITS, KEEP_LATEST_FILE_VERSIONS, KEEP_LATEST_BY_HOURS = CLEANER_POLICIES


@dataclass(frozen=True)
class CleanPlan:
    policy: str
    files: dict[str, list[str]]  # partition -> paths relative to the table
    earliest_to_retain: Instant | None  # None for KEEP_LATEST_FILE_VERSIONS


def earliest_to_retain(
    writes: list[Instant], policy: str, commits: int, hours: int, now: dt.datetime
) -> Instant | None:
    """The earliest completed write the plan keeps readable, or None to clean nothing (for the
    commit-based policies)."""
    if policy == KEEP_LATEST_COMMITS:
        return writes[-commits] if len(writes) > commits else None
    cutoff = (now - dt.timedelta(hours=hours)).strftime("%Y%m%d%H%M%S%f")[:17]
    return next((w for w in writes if w.timestamp >= cutoff), None)


def plan(
    view: FileSystemView,
    writes: list[Instant],
    policy: str,
    commits: int,
    versions: int,
    hours: int,
    now: dt.datetime | None = None,
) -> CleanPlan:
    files: dict[str, list[str]] = {}
    if policy == KEEP_LATEST_FILE_VERSIONS:
        for (partition, fid), _ in sorted(view.groups.items()):
            slices = view.slices(partition, fid)
            for old in slices[: max(len(slices) - versions, 0)]:
                files.setdefault(partition, []).extend(old.paths())
        return CleanPlan(policy, files, None)
    earliest = earliest_to_retain(writes, policy, commits, hours, now or dt.datetime.now(dt.UTC))
    if earliest is None:
        return CleanPlan(policy, {}, None)
    for (partition, fid), _ in sorted(view.groups.items()):
        slices = view.slices(partition, fid)
        for older, newer in zip(slices, slices[1:], strict=False):
            # `older` is needed only by queries before `newer`, which start before `earliest`
            if newer.base_instant <= earliest.timestamp:
                files.setdefault(partition, []).extend(older.paths())
    return CleanPlan(policy, files, earliest)
