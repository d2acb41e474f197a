"""Commit accounting: what a write returns (the CLI prints it), what the asset metadata reads
back from the timeline (lakehouse.moma.commits) and the HoodieWriteStats agree with a model of
the batch, for CoW and MoR. A partition move is an update of the record."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.hudi import HudiTable
from lakehouse.hudi.config import HudiConfig, TableConfig, WriteOptions
from lakehouse.moma.commits import last_ingest

SCHEMA = pa.schema(
    [("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string()), ("__deleted", pa.string())]
)
CITIES = ("sf", "ny", "la")

change = st.tuples(
    st.integers(0, 11),  # key
    st.sampled_from(CITIES),
    st.booleans(),  # delete
)


@pytest.mark.parametrize("table_type", ["COPY_ON_WRITE", "MERGE_ON_READ"])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(initial=st.sets(st.integers(0, 11), max_size=8), changes=st.lists(change, max_size=12))
def test_counts_agree_with_the_model(tmp_path_factory, table_type, initial, changes):
    base = tmp_path_factory.mktemp("t") / "t"
    config = HudiConfig(TableConfig("t", "id", "ts", "city", table_type=table_type),
                        WriteOptions(delete_mode="hard"))  # fmt: skip
    table = HudiTable.create(str(base), config)
    stored = {k: CITIES[k % 3] for k in initial}
    first = [{"id": k, "ts": 1, "city": c, "__deleted": "false"} for k, c in stored.items()]
    table.upsert(pa.Table.from_pylist(first, schema=SCHEMA), source_checkpoint="1")
    # the batch, combined per key as the writer does (the last change of a key wins)
    batch = {}
    for key, city, delete in changes:
        batch[key] = (city, delete)
    want = {"inserted": 0, "updated": 0, "deleted": 0, "moved": 0}
    for key, (city, delete) in batch.items():
        if key not in stored:
            want["inserted"] += 0 if delete else 1
        elif delete:
            want["deleted"] += 1
        else:
            want["updated"] += 1
            want["moved"] += city != stored[key]
    rows = [{"id": k, "ts": 2, "city": c, "__deleted": "true" if d else "false"}
            for k, c, d in changes]  # fmt: skip
    result = table.upsert(pa.Table.from_pylist(rows, schema=SCHEMA), source_checkpoint="2")
    if result.instant is None:
        return
    got = (result.inserted, result.updated, result.deleted)
    assert got == (want["inserted"], want["updated"], want["deleted"])
    summary = last_ingest(str(base))
    assert summary.instant == result.instant
    assert (summary.inserted, summary.updated, summary.deleted) == got
    # the write stats hold each move as Hudi's global index writes it: a delete from the old
    # file group, an insert into the new one
    meta = json.loads((Path(base) / ".hoodie" / f"{result.instant}.{result.action}").read_text())
    stats = [s for group in meta["partitionToWriteStats"].values() for s in group]
    assert sum(s["numInserts"] for s in stats) == want["inserted"] + want["moved"]
    assert sum(s["numDeletes"] for s in stats) == want["deleted"] + want["moved"]
    assert sum(s["numUpdateWrites"] for s in stats) == want["updated"] - want["moved"]
    assert int(meta["extraMetadata"].get("lakehouse.partition.moves", 0)) == want["moved"]
