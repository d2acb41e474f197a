"""What a Hudi table's timeline says about its latest ingest, read the same way whichever engine
(the Python writer or HoodieDeltaStreamer on EMR) made the commit."""

from dataclasses import dataclass

from lakehouse.hudi import HudiTable, NotAHudiTableError
from lakehouse.storage import filesystem


@dataclass(frozen=True)
class CommitSummary:
    instant: str
    action: str
    operation: str
    inserted: int
    updated: int
    deleted: int
    records_written: int
    files: int
    bytes: int
    partitions: tuple[str, ...]
    checkpoint: str | None


def last_ingest(base_uri: str) -> CommitSummary | None:
    """The newest completed write carrying a source checkpoint (compactions carry none).

    Counts are the commit metadata's (CommitMetadata), where a partition move the Python writer
    recorded counts as the update it is. None when there is no such commit (or no table yet:
    a first run that found no source files creates none)."""
    try:
        timeline = HudiTable.open(base_uri, filesystem=filesystem).timeline()
    except NotAHudiTableError:
        return None
    for instant in reversed(timeline.completed_writes()):
        meta = timeline.commit_metadata(instant)
        if meta.checkpoint is None:
            continue
        return CommitSummary(
            instant=instant.timestamp,
            action=instant.action,
            operation=meta.operation,
            inserted=meta.inserted,
            updated=meta.updated,
            deleted=meta.deleted,
            records_written=meta.records_written,
            files=meta.files_written,
            bytes=meta.bytes_written,
            partitions=meta.partitions,
            checkpoint=meta.checkpoint,
        )
    return None
