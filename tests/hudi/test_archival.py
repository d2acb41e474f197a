"""Timeline archival (hoodie.keep.min.commits / max.commits): instants move to
.hoodie/archived as HoodieArchivedMetaEntry records in Hudi log blocks, readers (hudi-rs and
the writer's own) still see every row, and nothing the cleaner, a pending compaction trigger or
an incremental reader still needs is archived."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.hudi import HudiTable
from lakehouse.hudi.archival import ARCHIVED_META_ENTRY, read_archive
from lakehouse.hudi.config import HudiConfig, HudiConfigError, TableConfig, WriteOptions
from lakehouse.hudi.logfile import SCHEMA, read_blocks
from lakehouse.hudi.table_storage import Storage
from lakehouse.hudi.timeline import Timeline
from tests.hudi import support

SCHEMA_T = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string())])


def make(base: Path, table_type="COPY_ON_WRITE", **write) -> HudiTable:
    write.setdefault("commits_retained", 1)
    config = HudiConfig(TableConfig("t", "id", "ts", "city", table_type=table_type),
                        WriteOptions(**write))  # fmt: skip
    return HudiTable.open_or_create(str(base), config)


def batch(n: int, version: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"id": i, "ts": version, "city": ("sf", "ny")[i % 2]} for i in range(n)],
        schema=SCHEMA_T,
    )


def completed_commits(base: Path) -> list[str]:
    timeline = Timeline(Storage(str(base)))
    return [i.timestamp for i in timeline.completed_writes()]


@pytest.mark.parametrize("table_type", ["COPY_ON_WRITE", "MERGE_ON_READ"])
def test_archived_instants_leave_the_active_timeline_and_rows_stay(tmp_path, table_type):
    base = tmp_path / "t"
    table = make(base, table_type, keep_min_commits=2, keep_max_commits=3,
                 compaction_delta_commits=2)  # fmt: skip
    saved: dict[str, bytes] = {}
    archived = []
    for version in range(1, 9):
        result = table.upsert(batch(4 + version, version))
        for p in (base / ".hoodie").glob("*"):
            if p.is_file() and p.name[:17].isdigit():
                saved.setdefault(p.name, p.read_bytes())
        archived += result.archived
    assert archived, "nothing was archived"
    active = completed_commits(base)
    assert 2 <= len(active) <= 3 or table_type == "MERGE_ON_READ"
    assert not set(archived) & {p.name[:17] for p in (base / ".hoodie").glob("*")}
    # every state file of an archived instant is one record, its metadata carried over
    entries = read_archive(Storage(str(base)))
    assert {e["commitTime"] for e in entries} == set(archived)
    for e in entries:
        assert e["actionState"] in ("REQUESTED", "INFLIGHT", "COMPLETED")
        assert e["version"] == 1
        if e["actionType"] in ("commit", "deltacommit") and e["actionState"] == "COMPLETED":
            original = json.loads(saved[f"{e['commitTime']}.{e['actionType']}"])
            got = e["hoodieCommitMetadata"]
            assert got["operationType"] == original["operationType"]
            assert got["extraMetadata"] == original["extraMetadata"]
            assert {p: [s["path"] for s in g] for p, g in got["partitionToWriteStats"].items()} == {
                p: [s["path"] for s in g] for p, g in original["partitionToWriteStats"].items()
            }
        if e["actionType"] == "clean" and e["actionState"] == "COMPLETED":
            assert e["hoodieCleanMetadata"]["startCleanTime"] == e["commitTime"]
        if e["actionType"] == "compaction":
            assert e["hoodieCompactionPlan"]["operations"]
    # the archive file: a Hudi log file of Avro data blocks whose header schema is
    # HoodieArchivedMetaEntry
    (archive_dir,) = [base / ".hoodie" / "archived"]
    files = sorted(p.name for p in archive_dir.iterdir())
    assert files[0] == ".commits_.archive.1_1-0-1"
    blocks = read_blocks((archive_dir / files[0]).read_bytes(), files[0])
    assert json.loads(blocks[0].header[SCHEMA])["name"] == "HoodieArchivedMetaEntry"
    # hudi-rs and the writer's own reader see every row, in its latest version
    want = sorted((i, 8) for i in range(12))
    assert sorted(support.rows(support.snapshot(str(base)), ("id", "ts"))) == want
    assert sorted((r["id"], r["ts"]) for r in table.snapshot().to_pylist()) == want
    # and the next write still updates in place
    result = table.upsert(batch(12, 9))
    assert (result.inserted, result.updated) == (0, 12)


def test_never_past_the_last_clean_or_a_reader_checkpoint(tmp_path):
    base = tmp_path / "t"
    table = make(base, auto_clean=False, keep_min_commits=2, keep_max_commits=3)
    for version in range(1, 4):
        table.upsert(batch(4, version))
    clean, _ = table.clean()
    assert clean is not None
    retained = completed_commits(base)[-1]  # the last clean keeps the third commit readable
    for version in range(4, 11):
        table.upsert(batch(4, version))
    active = completed_commits(base)
    assert active[0] == retained
    # a reader's checkpoint holds archival back the same way
    base2 = tmp_path / "t2"
    table = make(base2, keep_min_commits=2, keep_max_commits=3)
    for version in range(1, 5):
        table.upsert(batch(4, version))
    checkpoint = completed_commits(base2)[1]
    table = make(base2, keep_min_commits=2, keep_max_commits=3, reader_checkpoints=(checkpoint,))
    for version in range(5, 11):
        table.upsert(batch(4, version))
    assert completed_commits(base2)[0] == checkpoint


def test_mor_keeps_the_delta_commits_since_the_last_compaction(tmp_path):
    base = tmp_path / "t"
    table = make(base, "MERGE_ON_READ", keep_min_commits=2, keep_max_commits=3,
                 compaction_delta_commits=5)  # fmt: skip
    for version in range(1, 5):
        table.upsert(batch(4, version))
    # four delta commits, no compaction yet: all are needed to trigger it
    assert len(completed_commits(base)) == 4
    assert not (base / ".hoodie" / "archived").exists() or not list(
        (base / ".hoodie" / "archived").iterdir()
    )


def test_settings_are_checked():
    with pytest.raises(HudiConfigError, match="hoodie.keep.max.commits=3 must be greater"):
        WriteOptions(keep_min_commits=3, keep_max_commits=3)
    with pytest.raises(HudiConfigError, match="hoodie.keep.min.commits=5 must be greater than "
                       "hoodie.cleaner.commits.retained=10"):  # fmt: skip
        WriteOptions(keep_min_commits=5, keep_max_commits=8)


def test_schema_names_are_hudis():
    """Java resolves the block with its own HoodieArchivedMetaEntry class schema: the record
    names must be the org.apache.hudi.avro.model ones."""
    names = set()

    def walk(s):
        if isinstance(s, dict):
            if s.get("type") == "record":
                names.add(s["name"])
                for f in s["fields"]:
                    walk(f["type"])
            walk(s.get("items"))
            walk(s.get("values"))
        elif isinstance(s, list):
            for x in s:
                walk(x)

    walk(ARCHIVED_META_ENTRY)
    assert ARCHIVED_META_ENTRY["namespace"] == "org.apache.hudi.avro.model"
    assert {"HoodieArchivedMetaEntry", "HoodieCommitMetadata", "HoodieWriteStat",
            "HoodieCleanMetadata", "HoodieCleanerPlan", "HoodieRollbackMetadata",
            "HoodieCompactionPlan"} <= names  # fmt: skip
