"""lakehouse-deltastreamer: the real Debezium files load into CoW and MoR tables, reruns are
idempotent, only files newer than the checkpoint are read, and bad input changes nothing."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from lakehouse.hudi.cli import main
from lakehouse.hudi.emr import PROPS_DIR
from tests.hudi import support
from tests.support.paths import REPO_ROOT

TABLES = {
    "artists": ("artist_id", "nationality"),
    "artworks": ("artwork_id", "classification"),
}


def _source(fixtures_dir: Path, tmp: Path, table: str) -> Path:
    root = tmp / "topics" / f"moma.public.{table}" / "partition=0"
    root.mkdir(parents=True)
    name = f"moma.public.{table}+0+0000000000.avro"
    shutil.copy(fixtures_dir / "debezium" / "unwrapped" / name, root / name)
    return root


def _args(table, table_type, base, root, *extra, props=None, op="UPSERT"):
    return [
        "--table-type", table_type,
        "--op", op,
        "--source-ordering-field", "__source_ts_ms",
        "--props", str(props or PROPS_DIR / f"moma_{table}.properties"),
        "--source-class", "org.apache.hudi.utilities.sources.AvroDFSSource",
        "--target-base-path", str(base),
        "--target-table", f"moma_{'cow' if table_type == 'COPY_ON_WRITE' else 'mor'}.{table}",
        "--hoodie-conf", f"hoodie.deltastreamer.source.dfs.root={root}",
        *extra,
    ]  # fmt: skip


def _run(capsys, argv) -> tuple[int, dict | str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("table_type", ["COPY_ON_WRITE", "MERGE_ON_READ"])
@pytest.mark.parametrize("table", sorted(TABLES))
def test_debezium_fixtures_load(fixtures_dir, tmp_path, capsys, table, table_type):
    key, partition = TABLES[table]
    root = _source(fixtures_dir, tmp_path, table)
    avro = root / f"moma.public.{table}+0+0000000000.avro"
    records = list(fastavro.reader(avro.open("rb")))
    base = tmp_path / "lake" / table
    code, out = _run(capsys, _args(table, table_type, base, root, "--filter-dupes",
                                   op="BULK_INSERT"))  # fmt: skip
    assert code == 0, out
    assert out["commit"]["inserted"] == 300
    assert out["checkpoint"] == str(int(avro.stat().st_mtime * 1000))
    snap = support.snapshot(str(base))
    assert snap.num_rows == 300
    assert sorted(snap.column(key).to_pylist()) == sorted(r[key] for r in records)
    assert snap.column("_hoodie_record_key").to_pylist() == [
        str(k) for k in snap.column(key).to_pylist()
    ]
    expected = collections.Counter(f"{partition}={r[partition]}" for r in records)
    assert collections.Counter(snap.column("_hoodie_partition_path").to_pylist()) == expected
    dirs = {p.name for p in base.iterdir() if p.is_dir() and p.name != ".hoodie"}
    assert dirs == set(expected)
    # the first record, field for field
    first = records[0]
    row = next(r for r in snap.to_pylist() if r[key] == first[key])
    assert {k: row[k] for k in first} == first

    # a rerun with no new files commits nothing
    instants = sorted(p.name for p in (base / ".hoodie").iterdir() if p.is_file())
    code, out = _run(capsys, _args(table, table_type, base, root))
    assert code == 0 and out["commit"] is None and out["files"] == []
    assert sorted(p.name for p in (base / ".hoodie").iterdir() if p.is_file()) == instants


def test_only_new_files_are_read_and_deletes_are_soft(fixtures_dir, tmp_path, capsys):
    root = _source(fixtures_dir, tmp_path, "artists")
    first = root / "moma.public.artists+0+0000000000.avro"
    base = tmp_path / "lake" / "artists_mor"
    assert _run(capsys, _args("artists", "MERGE_ON_READ", base, root))[0] == 0
    with first.open("rb") as f:
        reader = fastavro.reader(f)
        schema, records = reader.writer_schema, list(reader)
    by_id = {r["artist_id"]: r for r in records}
    later = max(r["__source_ts_ms"] for r in records) + 1000
    mover = next(
        r for r in records if r["nationality"] not in ("German", None) and r["artist_id"] != 1
    )
    update = {**mover, "nationality": "German", "__op": "u", "__source_ts_ms": later}
    delete = {k: None for k in by_id[1]} | {
        "artist_id": 1, "__op": "d", "__db": "moma", "__table": "artists", "__schema": "public",
        "__lsn": 1, "__source_ts_ms": later, "__deleted": "true",
    }  # fmt: skip
    second = root / "moma.public.artists+0+0000000300.avro"
    with second.open("wb") as f:
        fastavro.writer(f, schema, [update, delete])
    mtime = first.stat().st_mtime + 5
    os.utime(second, (mtime, mtime))
    code, out = _run(capsys, _args("artists", "MERGE_ON_READ", base, root))
    assert code == 0, out
    assert out["files"] == [str(second)]
    assert out["commit"]["updated"] == 2 and out["commit"]["inserted"] == 0
    snap = {r["artist_id"]: r for r in support.snapshot(str(base)).to_pylist()}
    assert len(snap) == 300  # the soft delete keeps the row
    assert snap[mover["artist_id"]]["_hoodie_partition_path"] == "nationality=German"
    assert snap[1]["__deleted"] == "true" and snap[1]["name"] is None
    assert snap[1]["_hoodie_partition_path"] == "nationality=__HIVE_DEFAULT_PARTITION__"
    ro = support.read_optimized(str(base)).column("artist_id").to_pylist()
    assert ro.count(mover["artist_id"]) == 2  # the old base row, and the new one in German


def _props(tmp_path: Path, text: str) -> Path:
    shutil.copy(PROPS_DIR / "base.properties", tmp_path / "base.properties")
    path = tmp_path / "bad.properties"
    path.write_text("include=base.properties\n" + text)
    return path


def test_bad_input_is_refused_and_changes_nothing(fixtures_dir, tmp_path, capsys):
    root = _source(fixtures_dir, tmp_path, "artists")
    base = tmp_path / "lake" / "artists"
    assert _run(capsys, _args("artists", "COPY_ON_WRITE", base, root))[0] == 0
    before = _tree(base)

    # a corrupt Avro file among the new ones
    corrupt = root / "moma.public.artists+0+0000000300.avro"
    corrupt.write_bytes(b"Obj\x01 not really avro")
    t = (root / "moma.public.artists+0+0000000000.avro").stat().st_mtime + 5
    os.utime(corrupt, (t, t))
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root))
    assert code == 2 and str(corrupt) in err and "not a readable Avro file" in err
    corrupt.unlink()

    # a new source file whose schema lacks the record key, then one lacking the ordering field
    with (root / "moma.public.artists+0+0000000000.avro").open("rb") as f:
        reader = fastavro.reader(f)
        schema, records = reader.writer_schema, list(reader)[:2]
    roles = {"artist_id": "record key field",
             "__source_ts_ms": "ordering field (--source-ordering-field)"}  # fmt: skip
    for field, role in roles.items():
        lacking = {**schema, "fields": [f for f in schema["fields"] if f["name"] != field]}
        rows = [{k: v for k, v in r.items() if k != field} for r in records]
        bad = root / "moma.public.artists+0+0000000300.avro"
        with bad.open("wb") as f:
            fastavro.writer(f, fastavro.parse_schema(lacking), rows)
        os.utime(bad, (t, t))
        code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root))
        assert code == 2 and f"{bad}: the source schema has no {role} {field!r}" in err, err
        assert _tree(base) == before
        bad.unlink()

    # the source schema lacks the ordering field (a new table: it is not even created)
    argv = _args("artists", "COPY_ON_WRITE", tmp_path / "fresh", root)
    argv[argv.index("__source_ts_ms")] = "updated_at"
    code, err = _run(capsys, argv)
    assert code == 2 and "ordering field (--source-ordering-field) 'updated_at'" in err
    assert not (tmp_path / "fresh").exists()
    # ... and against the existing table, the stored ordering field wins
    argv = _args("artists", "COPY_ON_WRITE", base, root)
    argv[argv.index("__source_ts_ms")] = "updated_at"
    code, err = _run(capsys, argv)
    assert code == 2 and "hoodie.table.precombine.field is '__source_ts_ms'" in err

    # the record key is not in the source schema
    props = _props(tmp_path, "hoodie.datasource.write.recordkey.field=id\n"
                   "hoodie.datasource.write.partitionpath.field=nationality\n")  # fmt: skip
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", tmp_path / "other", root,
                                   props=props))  # fmt: skip
    assert code == 2 and "record key field 'id'" in err and "moma.public.artists+0" in err
    assert not (tmp_path / "other").exists()

    # a properties value of the wrong type names the file and line
    props = _props(tmp_path, "hoodie.datasource.write.recordkey.field=artist_id\n"
                   "hoodie.parquet.small.file.limit=lots\n")  # fmt: skip
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root, props=props))
    assert code == 2 and f"{props}:3: hoodie.parquet.small.file.limit='lots'" in err

    # the base path is a directory of something else
    other = tmp_path / "not_hudi"
    other.mkdir()
    (other / "data.csv").write_text("a,b\n")
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", other, root))
    assert code == 2 and "is not a Hudi table" in err
    assert [p.name for p in other.iterdir()] == ["data.csv"]

    assert _tree(base) == before


def test_console_script_runs(fixtures_dir, tmp_path):
    root = _source(fixtures_dir, tmp_path, "artworks")
    base = tmp_path / "lake" / "artworks"
    exe = Path(sys.executable).with_name("lakehouse-deltastreamer")
    proc = subprocess.run([str(exe), *_args("artworks", "MERGE_ON_READ", base, root)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["commit"]["inserted"] == 300
