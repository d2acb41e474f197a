"""Crash injection for the writer: stop it just before its n-th change to storage.

Every change the writer makes goes through one of Storage's mutating methods, so counting their
calls enumerates the steps of a commit (instant files, partition metadata, markers, data files,
the commit file, compaction, clean, marker removal). `python -m tests.hudi.crash BASE TYPE N`
runs the scenario's write in a child process that SIGKILLs itself at step N.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager

import pyarrow as pa

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions
from lakehouse.hudi.table_storage import Storage

MUTATIONS = ("write", "write_new", "open_output", "delete", "delete_dir")


class Crash(Exception):
    pass


@contextmanager
def crash_before(step: int | None, kill: bool = False):
    """Raise Crash (or SIGKILL the process) instead of the step-th storage change."""
    count = {"n": 0}
    originals = {name: getattr(Storage, name) for name in MUTATIONS}

    def wrap(name, original):
        def wrapper(self, *args, **kwargs):
            count["n"] += 1
            if step is not None and count["n"] == step:
                if kill:
                    os.kill(os.getpid(), signal.SIGKILL)
                raise Crash(f"crash before {name}{args[:1]} (step {step})")
            return original(self, *args, **kwargs)

        return wrapper

    for name, original in originals.items():
        setattr(Storage, name, wrap(name, original))
    try:
        yield count
    finally:
        for name, original in originals.items():
            setattr(Storage, name, original)


SCHEMA = pa.schema(
    [("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string()), ("v", pa.string()),
     ("__deleted", pa.string())]
)  # fmt: skip


def config(table_type: str) -> HudiConfig:
    return HudiConfig(
        TableConfig("crash", ("id",), "ts", ("city",), table_type=table_type),
        WriteOptions(
            delete_mode="hard",
            compaction_delta_commits=3,
            commits_retained=1 if table_type == "MERGE_ON_READ" else 2,
            max_file_size=8,
            record_size_estimate=1,
            small_file_limit=6,
        ),
    )


def setup(base: str, table_type: str) -> None:
    """Two commits: a bulk insert, then updates (so the next write compacts and cleans)."""
    table = HudiTable.open_or_create(base, config(table_type))
    rows = [
        {"id": i, "ts": 1, "city": "abc"[i % 3], "v": f"v{i}", "__deleted": "false"}
        for i in range(12)
    ]
    table.bulk_insert(pa.Table.from_pylist(rows, schema=SCHEMA))
    updates = [{"id": i, "ts": 2, "city": "abc"[i % 3], "v": f"u{i}", "__deleted": "false"}
               for i in (0, 1, 2)]  # fmt: skip
    table.upsert(pa.Table.from_pylist(updates, schema=SCHEMA))


def batch() -> pa.Table:
    rows = [
        {"id": 3, "ts": 3, "city": "a", "v": "u3", "__deleted": "false"},  # update
        {"id": 4, "ts": 3, "city": "c", "v": "moved", "__deleted": "false"},  # b -> c
        {"id": 5, "ts": 3, "city": "c", "v": None, "__deleted": "true"},  # hard delete
        {"id": 20, "ts": 3, "city": "d", "v": "new", "__deleted": "false"},  # new partition
        {"id": 21, "ts": 3, "city": "a", "v": "new", "__deleted": "false"},  # insert
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def run(base: str, table_type: str):
    return HudiTable.open_or_create(base, config(table_type)).upsert(batch())


if __name__ == "__main__":
    base, table_type, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with crash_before(step, kill=True):
        run(base, table_type)
    sys.exit(3)  # the step was never reached
