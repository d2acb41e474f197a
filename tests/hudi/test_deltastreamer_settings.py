"""lakehouse-deltastreamer settings: every hoodie.* key it reads is honoured or refused by name,
unknown ones are listed in one warning, --source-limit never splits files of one modification
time, and a missing source root is an error."""

from __future__ import annotations

import datetime as dt
import logging
import os
import struct
from pathlib import Path

import fastavro
import pyarrow.parquet as pq
import pytest

from lakehouse.hudi.bloom import BloomSizing, b64decode, might_contain
from tests.hudi import support
from tests.hudi.test_cli import _args, _props, _run, _source

ARTISTS = "moma.public.artists+0+0000000000.avro"


def _split_source(fixtures_dir: Path, tmp_path: Path, parts: int) -> tuple[Path, list[Path]]:
    """The artists fixture as `parts` files of equal record counts."""
    root = _source(fixtures_dir, tmp_path, "artists")
    whole = root / ARTISTS
    with whole.open("rb") as f:
        reader = fastavro.reader(f)
        schema, records = reader.writer_schema, list(reader)
    whole.unlink()
    size = len(records) // parts
    files = []
    for i in range(parts):
        path = root / f"moma.public.artists+0+{i * size:010d}.avro"
        with path.open("wb") as f:
            fastavro.writer(f, schema, records[i * size : (i + 1) * size])
        files.append(path)
    return root, files


def _touch(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


def test_source_limit_never_splits_files_with_one_mtime(fixtures_dir, tmp_path, capsys):
    root, files = _split_source(fixtures_dir, tmp_path, 3)
    t = 1_700_000_000
    _touch(files[0], t)
    _touch(files[1], t)  # the same modification time as the first
    _touch(files[2], t + 10)
    base = tmp_path / "lake" / "artists"
    limit = str(files[0].stat().st_size)  # room for one file only
    code, out = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root, "--source-limit", limit))
    assert code == 0, out
    assert out["files"] == [str(files[0]), str(files[1])]
    assert out["checkpoint"] == str(t * 1000)
    code, out = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root, "--source-limit", limit))
    assert code == 0, out
    assert out["files"] == [str(files[2])]
    assert support.snapshot(str(base)).num_rows == 300  # no file left behind


def test_missing_source_root_is_an_error(fixtures_dir, tmp_path, capsys):
    base = tmp_path / "lake" / "artists"
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", base, tmp_path / "typo"))
    assert code == 2
    assert f"hoodie.deltastreamer.source.dfs.root={tmp_path / 'typo'} does not exist" in err
    assert not base.exists()


def test_unknown_keys_are_listed_in_one_warning(fixtures_dir, tmp_path, capsys, caplog):
    root = _source(fixtures_dir, tmp_path, "artists")
    props = _props(tmp_path, "hoodie.datasource.write.recordkey.field=artist_id\n"
                   "hoodie.datasource.write.partitionpath.field=nationality\n"
                   "hoodie.write.concurrency.mode=optimistic_concurrency_control\n"
                   "hoodie.bloom.index.filter.type=SIMPLE\n")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="lakehouse.hudi.deltastreamer"):
        code, out = _run(capsys, _args("artists", "COPY_ON_WRITE", tmp_path / "t", root,
                                       props=props))  # fmt: skip
    assert code == 0, out
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "hoodie.bloom.index.filter.type" in warnings[0]
    assert "hoodie.write.concurrency.mode" in warnings[0]
    assert f"{props}:5" in warnings[0]
    # the project's own settings are all read
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lakehouse.hudi.deltastreamer"):
        assert _run(capsys, _args("artists", "COPY_ON_WRITE", tmp_path / "u", root))[0] == 0
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hoodie.cleaner.policy.failed.writes=LAZY", "hoodie.cleaner.policy.failed.writes=LAZY"),
        ("hoodie.cleaner.policy=KEEP_NOTHING", "hoodie.cleaner.policy=KEEP_NOTHING"),
        ("hoodie.datasource.write.keygenerator.consistent.logical.timestamp.enabled=true",
         "consistent.logical.timestamp.enabled"),
        ("hoodie.parquet.compression.codec=lzo", "hoodie.parquet.compression.codec=lzo"),
        ("hoodie.datasource.write.keygenerator.type=RANDOM",
         "hoodie.datasource.write.keygenerator.type='RANDOM'"),
        ("hoodie.cleaner.fileversions.retained=0", "hoodie.cleaner.fileversions.retained=0"),
        ("hoodie.index.bloom.fpp=often", "hoodie.index.bloom.fpp='often' is not a number"),
        ("hoodie.index.bloom.fpp=1.5", "hoodie.index.bloom.fpp=1.5 must be between 0 and 1"),
        ("hoodie.index.bloom.num_entries=0", "hoodie.index.bloom.num_entries=0 must be at least 1"),
        ("hoodie.bloom.index.filter.dynamic.max.entries=-5",
         "hoodie.bloom.index.filter.dynamic.max.entries=-5 must be at least 0"),
    ],
)  # fmt: skip
def test_refused_settings_name_the_key(fixtures_dir, tmp_path, capsys, line, message):
    root = _source(fixtures_dir, tmp_path, "artists")
    props = _props(
        tmp_path,
        "hoodie.datasource.write.recordkey.field=artist_id\n"
        f"hoodie.datasource.write.partitionpath.field=nationality\n{line}\n",
    )
    code, err = _run(capsys, _args("artists", "COPY_ON_WRITE", tmp_path / "t", root, props=props))
    assert code == 2 and message in err, err
    assert not (tmp_path / "t").exists()


def _ingest(fixtures_dir, tmp_path, capsys, settings: str):
    """One run over the artists fixture with these settings (key generator class unset)."""
    root = _source(fixtures_dir, tmp_path, "artists")
    props = _props(tmp_path, "hoodie.datasource.write.recordkey.field=artist_id\n"
                   f"hoodie.datasource.write.keygenerator.class=\n{settings}")  # fmt: skip
    base = tmp_path / "t"
    code, out = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root, props=props))
    assert code == 0, out
    return base, root, props, support.snapshot(str(base))


def test_timestamp_keygen_and_cleaner_policy_from_props(fixtures_dir, tmp_path, capsys):
    """keygenerator.type=TIMESTAMP with the older hoodie.deltastreamer.keygen.timebased.*
    spelling, and KEEP_LATEST_FILE_VERSIONS keeping one version."""
    base, root, props, snap = _ingest(
        fixtures_dir, tmp_path, capsys,
        "hoodie.datasource.write.partitionpath.field=__source_ts_ms\n"
        "hoodie.datasource.write.keygenerator.type=TIMESTAMP\n"
        "hoodie.deltastreamer.keygen.timebased.timestamp.type=EPOCHMILLISECONDS\n"
        "hoodie.deltastreamer.keygen.timebased.output.dateformat=yyyy/MM\n"
        "hoodie.cleaner.policy=KEEP_LATEST_FILE_VERSIONS\n"
        "hoodie.cleaner.fileversions.retained=1\n",
    )  # fmt: skip
    want = [
        "__source_ts_ms=" + dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y/%m")
        for ms in snap.column("__source_ts_ms").to_pylist()
    ]
    assert snap.column("_hoodie_partition_path").to_pylist() == want
    text = (base / ".hoodie" / "hoodie.properties").read_text()
    assert (
        "hoodie.table.keygenerator.class=org.apache.hudi.keygen.TimestampBasedKeyGenerator" in text
    )
    assert "hoodie.keygen.timebased.timestamp.type=EPOCHMILLISECONDS" in text
    # a second version of every file group: the cleaner keeps only the newest
    later = root / "moma.public.artists+0+0000000300.avro"
    with (root / ARTISTS).open("rb") as f:
        reader = fastavro.reader(f)
        schema, records = reader.writer_schema, list(reader)
    with later.open("wb") as f:
        fastavro.writer(f, schema, [{**r, "name": "x"} for r in records])
    t = (root / ARTISTS).stat().st_mtime + 5
    os.utime(later, (t, t))
    code, out = _run(capsys, _args("artists", "COPY_ON_WRITE", base, root, props=props))
    assert code == 0, out
    assert out["commit"]["clean_instant"] is not None
    parquet = [p for p in base.rglob("*.parquet")]
    ids = [p.name.split("_")[0] for p in parquet]
    assert len(ids) == len(set(ids))  # one base file per file group
    assert support.snapshot(str(base)).num_rows == 300


def test_payload_ordering_field_must_match_the_precombine_field(fixtures_dir, tmp_path, capsys):
    """Without --source-ordering-field, a payload ordering field other than the precombine
    field is refused; with the flag, the flag wins (as HoodieDeltaStreamer sets it)."""
    root = _source(fixtures_dir, tmp_path, "artists")
    props = _props(tmp_path, "hoodie.datasource.write.recordkey.field=artist_id\n"
                   "hoodie.datasource.write.partitionpath.field=nationality\n"
                   "hoodie.datasource.write.precombine.field=__source_ts_ms\n"
                   "hoodie.payload.ordering.field=updated_at\n")  # fmt: skip
    argv = _args("artists", "COPY_ON_WRITE", tmp_path / "t", root, props=props)
    flag = argv.index("--source-ordering-field")
    code, err = _run(capsys, argv[:flag] + argv[flag + 2 :])
    assert code == 2 and f"{props}:5: hoodie.payload.ordering.field=updated_at" in err, err
    assert _run(capsys, argv)[0] == 0


def test_custom_keygen_from_props(fixtures_dir, tmp_path, capsys):
    """field:SIMPLE,field:TIMESTAMP partition fields choose CustomKeyGenerator."""
    base, _, _, snap = _ingest(
        fixtures_dir, tmp_path, capsys,
        "hoodie.datasource.write.partitionpath.field="
        "nationality:SIMPLE,__source_ts_ms:TIMESTAMP\n"
        "hoodie.keygen.timebased.timestamp.type=EPOCHMILLISECONDS\n"
        "hoodie.keygen.timebased.output.dateformat=yyyy\n",
    )  # fmt: skip
    want = [
        f"nationality={n or '__HIVE_DEFAULT_PARTITION__'}/__source_ts_ms="
        + dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y")
        for n, ms in zip(snap.column("nationality").to_pylist(),
                         snap.column("__source_ts_ms").to_pylist(), strict=True)
    ]  # fmt: skip
    assert snap.column("_hoodie_partition_path").to_pylist() == want
    text = (base / ".hoodie" / "hoodie.properties").read_text()
    assert "hoodie.table.keygenerator.class=org.apache.hudi.keygen.CustomKeyGenerator" in text
    assert "hoodie.table.partition.fields=nationality,__source_ts_ms\n" in text


def test_bloom_sizing_from_props(fixtures_dir, tmp_path, capsys, caplog):
    """The three sizing keys are read (no unknown-key warning) and size every base file's
    filter: 300 keys at 100 per row, bounded at 250, make 3 rows of 480 bits."""
    with caplog.at_level(logging.WARNING, logger="lakehouse.hudi.deltastreamer"):
        base, *_ = _ingest(
            fixtures_dir, tmp_path, capsys,
            "hoodie.datasource.write.partitionpath.field=\n"
            "hoodie.index.bloom.num_entries=100\n"
            "hoodie.index.bloom.fpp=0.01\n"
            "hoodie.bloom.index.filter.dynamic.max.entries=250\n",
        )  # fmt: skip
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    (parquet,) = base.rglob("*.parquet")
    meta = pq.read_metadata(parquet).metadata
    raw = b64decode(meta[b"org.apache.hudi.bloomfilter"]).tobytes()
    sizing = BloomSizing(100, 0.01, 250)
    assert struct.unpack_from(">iibiiii", raw) == (-1, 7, 1, 959, 100, 300 - 200, 3)
    assert (sizing.nb_hash, sizing.vector_size) == (7, 959)
    keys = pq.read_table(parquet, columns=["_hoodie_record_key"]).column(0).to_pylist()
    assert all(might_contain(meta[b"org.apache.hudi.bloomfilter"].decode(), k) for k in keys)
