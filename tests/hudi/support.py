"""Reading tables back with hudi-rs (the `hudi` package, the official reader) and an in-memory
model of what a table must contain after a sequence of writes."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import hudi
import pyarrow as pa

DATA = ("id", "ts", "part", "v", "__deleted")
# The data columns as written (the model's rows)
SCHEMA = pa.schema(
    [("id", pa.int64()), ("ts", pa.int64()), ("part", pa.string()), ("v", pa.string()),
     ("__deleted", pa.string())]
)  # fmt: skip


def read(base: str, storage_options: dict | None = None, **options: str) -> pa.Table:
    builder = hudi.HudiTableBuilder.from_base_uri(base)
    if storage_options:
        builder = builder.with_storage_options(storage_options)
    table = builder.build()
    opts = hudi.HudiReadOptions()
    for key, value in options.items():
        opts = opts.with_hudi_option(key, value)
    batches = table.read(opts)
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def snapshot(base: str, **kw) -> pa.Table:
    return read(base, **kw)


def read_optimized(base: str, **kw) -> pa.Table:
    return read(base, **{"hoodie.read.use.read_optimized.mode": "true"}, **kw)


def as_of(base: str, instant: str, **kw) -> pa.Table:
    return read(base, **{"hoodie.read.as.of.timestamp": instant}, **kw)


def incremental(base: str, start: str, end: str, **kw) -> pa.Table:
    return read(
        base,
        **{
            "hoodie.read.query.type": "incremental",
            "hoodie.read.start.timestamp": start,
            "hoodie.read.end.timestamp": end,
        },
        **kw,
    )


def rows(table: pa.Table, columns=DATA) -> list[tuple]:
    """Sorted tuples of the given columns (the data, without meta fields)."""
    if table.num_rows == 0:
        return []
    return sorted(tuple(r[c] for c in columns) for r in table.to_pylist())


@dataclass
class Model:
    """What the table must hold: one row per key (a global index), with the instant that last
    wrote it. Mirrors the writer's documented semantics, not its code."""

    event_time: bool
    hard_deletes: bool
    state: dict[int, tuple[dict, str]] = field(default_factory=dict)
    history: list[tuple[str, dict]] = field(default_factory=list)

    @staticmethod
    def precombine(batch: list[dict]) -> list[dict]:
        best: dict[int, tuple[int, int, dict]] = {}
        for pos, row in enumerate(batch):
            key = (row["ts"], pos)
            if row["id"] not in best or key >= best[row["id"]][:2]:
                best[row["id"]] = (*key, row)
        return [v[2] for v in best.values()]

    def apply(self, op: str, batch: list[dict], instant: str | None, filter_dupes=False) -> None:
        if op == "DELETE":
            for row in batch:
                self.state.pop(row["id"], None)
        elif op in ("INSERT", "BULK_INSERT"):
            for row in self.precombine(batch):
                if filter_dupes and row["id"] in self.state:
                    continue
                self.state[row["id"]] = (row, instant)
        else:
            for row in self.precombine(batch):
                old = self.state.get(row["id"])
                if old and self.event_time and row["ts"] < old[0]["ts"]:
                    continue
                if self.hard_deletes and row["__deleted"] == "true":
                    self.state.pop(row["id"], None)
                else:
                    self.state[row["id"]] = (row, instant)
        if instant is not None:
            self.history.append((instant, copy.deepcopy(self.state)))

    @staticmethod
    def rows_of(state: dict) -> list[tuple]:
        return sorted(tuple(row[c] for c in DATA) for row, _ in state.values())

    def expected(self) -> list[tuple]:
        return self.rows_of(self.state)

    def at(self, instant: str) -> list[tuple]:
        state = {}
        for ts, snap in self.history:
            if ts <= instant:
                state = snap
        return self.rows_of(state)

    def changed_between(self, start: str, end: str) -> list[tuple]:
        state = {}
        for ts, snap in self.history:
            if ts <= end:
                state = snap
        return sorted(tuple(row[c] for c in DATA) for row, t in state.values() if start < t <= end)
