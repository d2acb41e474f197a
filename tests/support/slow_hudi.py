"""A code location whose Hudi ingests take a while and log when they run, to watch two runs that
target one table: `dagster asset materialize -m tests.support.slow_hudi ...`."""

import os
import time

import dagster as dg

from lakehouse.defs.moma.assets import hudi_table_assets
from lakehouse.moma.resources import IngestOutcome, LocalHudiIngest
from lakehouse.storage import LocalObjectStore


class SlowHudiIngest(LocalHudiIngest):
    """The real ingest, held open for `hold_seconds` while the writer would be committing."""

    journal: str
    hold_seconds: float = 3.0

    def ingest(self, table, lake, log) -> IngestOutcome:
        with open(self.journal, "a") as f:
            f.write(f"start {table.qualified} {time.time()} {os.getpid()}\n")
        outcome = super().ingest(table, lake, log)
        time.sleep(self.hold_seconds)
        with open(self.journal, "a") as f:
            f.write(f"end {table.qualified} {time.time()} {os.getpid()}\n")
        return outcome


defs = dg.Definitions(
    assets=hudi_table_assets,
    resources={
        "lake": LocalObjectStore(root=os.environ.get("SLOW_HUDI_LAKE", "lake")),
        "hudi": SlowHudiIngest(journal=os.environ.get("SLOW_HUDI_JOURNAL", "journal.txt")),
    },
    executor=dg.in_process_executor,  # as lakehouse.definitions
)
