"""What a Hudi table's timeline says about its latest ingest, read the same way whichever engine
(the Python writer or HoodieDeltaStreamer on EMR) made the commit."""

from dataclasses import dataclass

from lakehouse.hudi.storage import Storage
from lakehouse.hudi.table import CHECKPOINT_KEY, MOVES_KEY
from lakehouse.hudi.timeline import Timeline


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
    """The newest completed write carrying a source checkpoint (compactions carry none)."""
    timeline = Timeline(Storage(base_uri))
    for instant in reversed(timeline.completed_writes()):
        meta = timeline.read_json(instant)
        checkpoint = (meta.get("extraMetadata") or {}).get(CHECKPOINT_KEY)
        if checkpoint is None:
            continue
        by_partition = meta.get("partitionToWriteStats") or {}
        stats = [s for group in by_partition.values() for s in group]
        # A partition move is in the stats as a delete plus an insert (Hudi's global index);
        # the Python writer records how many, so they count as the updates they are. Commits
        # by HoodieDeltaStreamer carry no count, and report Hudi's own figures.
        moves = int((meta.get("extraMetadata") or {}).get(MOVES_KEY) or 0)
        return CommitSummary(
            instant=instant.timestamp,
            action=instant.action,
            operation=meta.get("operationType") or "UNKNOWN",
            inserted=sum(s.get("numInserts", 0) for s in stats) - moves,
            updated=sum(s.get("numUpdateWrites", 0) for s in stats) + moves,
            deleted=sum(s.get("numDeletes", 0) for s in stats) - moves,
            records_written=sum(s.get("numWrites", 0) for s in stats),
            files=len(stats),
            bytes=sum(s.get("totalWriteBytes", 0) for s in stats),
            partitions=tuple(sorted(by_partition)),
            checkpoint=checkpoint,
        )
    return None
