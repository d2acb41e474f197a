"""Apache Hudi on Spark (the real engine, local[2]) reads and checks the Python writer's tables.

One JVM for the whole module. Each table goes through the same history (bulk insert, updates,
inserts, partition moves, soft or hard deletes by flag, deletes by key, a crashed write rolled
back, compaction for MoR, clean), and Spark's Hudi datasource must return what the in-memory
model and hudi-rs return: snapshot, read-optimized, incremental and time travel. Hudi's Java
timeline classes must then parse every instant and metadata file the writer left.
"""

from __future__ import annotations

import os
from functools import partial

import pyarrow as pa
import pytest

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions
from tests.hudi import support
from tests.hudi.crash import Crash, crash_before
from tests.support.moto import moto_lake

SCHEMA = pa.schema(
    [("id", pa.int64()), ("id2", pa.int64()), ("ts", pa.int64()), ("part", pa.string()),
     ("part2", pa.string()), ("v", pa.string()), ("__deleted", pa.string())]
)  # fmt: skip
# id2 and part2 are functions of id, so the model's one-key-per-id view stays exact while the
# table really uses a composite key and a second partition level.
COLUMNS = ("id", "id2", "ts", "part", "part2", "v", "__deleted")

LAYOUTS = {
    # name: (record key fields, partition fields, delete mode)
    "one-field": (("id",), ("part",), "soft"),
    "two-fields": (("id", "id2"), ("part", "part2"), "hard"),
    "unpartitioned": (("id", "id2"), (), "hard"),
}
TABLE_TYPES = ("COPY_ON_WRITE", "MERGE_ON_READ")


def _row(i: int, ts: int, part: str, v: str, deleted: str = "false") -> dict:
    return {"id": i, "id2": i % 3, "ts": ts, "part": part, "part2": str(i % 2), "v": v,
            "__deleted": deleted}  # fmt: skip


def _rows(table) -> list[tuple]:
    """Sorted data tuples of an Arrow table or a Spark DataFrame (meta fields dropped)."""
    if hasattr(table, "toPandas"):
        items = [r.asDict() for r in table.select(*COLUMNS).collect()]
    else:
        items = table.select(list(COLUMNS)).to_pylist() if table.num_rows else []
    return sorted(tuple(r[c] for c in support.DATA) for r in items)


class Built:
    """A table the Python writer built, with the model of what it must hold."""

    def __init__(self, base: str, table_type: str, layout: str, filesystem=None):
        keys, parts, delete_mode = LAYOUTS[layout]
        self.base, self.table_type = base, table_type
        config = HudiConfig(
            TableConfig("spark_check", keys, "ts", parts, table_type=table_type),
            WriteOptions(delete_mode=delete_mode, max_file_size=4 << 20),
        )
        self.table = HudiTable.open_or_create(base, config, filesystem)
        self.model = support.Model(event_time=True, hard_deletes=delete_mode == "hard")
        self.instants: list[str] = []
        self.ro_expected: list[tuple] | None = None
        self.clean_instant: str | None = None

    def write(self, op: str, batch: list[dict]) -> str:
        data = pa.Table.from_pylist(batch, schema=SCHEMA)
        if op == "DELETE":
            data = data.select(["id", "id2", "part", "part2"])
        result = self.table.write(data, op)
        self.model.apply(op, batch, result.instant)
        self.instants.append(result.instant)
        return result.instant

    def build(self) -> Built:
        self.write("BULK_INSERT", [_row(i, 1, "abc"[i % 3], "x") for i in range(20)])
        moves = [_row(i, 2, "abc"[(i + 1) % 3], "moved") for i in (6, 7)]
        updates = [_row(i, 2, "abc"[i % 3], "u") for i in range(6)]
        self.write("UPSERT", updates + moves + [_row(i, 2, "c", "new") for i in range(20, 25)])
        # an older change loses to the stored one (event-time ordering)
        self.write("UPSERT", [_row(0, 0, "a", "stale"), _row(8, 3, "abc"[8 % 3], "", "true"),
                              _row(9, 3, "abc"[9 % 3], "", "true")])  # fmt: skip
        with pytest.raises(Crash), crash_before(7):
            self.table.write(pa.Table.from_pylist([_row(1, 9, "b", "lost")], schema=SCHEMA))
        assert self.table.rollback_pending()
        self.write("DELETE", [_row(i, 4, "abc"[i % 3], "") for i in (10, 11)])
        if self.table_type == "MERGE_ON_READ":
            assert self.table.compact()
        self.ro_expected = self.model.expected()
        # after compaction, updates only: MoR keeps them in log files, so read-optimized
        # still shows the compacted rows
        self.write("UPSERT", [_row(i, 5, "abc"[i % 3], "late") for i in (1, 2, 12)])
        self.clean_instant, _ = self.table.clean(commits_retained=3)
        return self


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[tuple[str, str], Built]:
    root = tmp_path_factory.mktemp("spark_tables")
    return {
        (tt, layout): Built(str(root / f"{tt}_{layout}"), tt, layout).build()
        for tt in TABLE_TYPES
        for layout in LAYOUTS
    }


@pytest.fixture(scope="module")
def s3():
    """moto_server on loopback, its credentials in the environment before the JVM starts."""
    with moto_lake() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def spark(s3):
    """The module's one JVM: Hudi's bundle, spark-avro and s3a (hadoop-aws) onto moto."""
    from lakehouse import hudi_spark

    session = hudi_spark.session(s3a_endpoint=s3, region=os.environ.get("AWS_REGION"))
    yield session
    session.stop()


def _load(spark, base: str, **options: str):
    reader = spark.read.format("hudi")
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load(base)


CASES = [(tt, layout) for tt in TABLE_TYPES for layout in LAYOUTS]
IDS = [f"{'cow' if tt.startswith('COPY') else 'mor'}-{layout}" for tt, layout in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_spark_reads_what_the_model_and_hudi_rs_hold(spark, built, case):
    t = built[case]
    expected = t.model.expected()
    assert _rows(_load(spark, t.base)) == expected == _rows(support.snapshot(t.base))

    ro = _rows(_load(spark, t.base, **{"hoodie.datasource.query.type": "read_optimized"}))
    assert ro == _rows(support.read_optimized(t.base))
    assert ro == (expected if t.table_type == "COPY_ON_WRITE" else t.ro_expected)

    # the clean kept the last three commits: time travel and incremental reach back there
    for start, end in zip(t.instants[-3:], t.instants[-2:], strict=False):
        at = _rows(_load(spark, t.base, **{"as.of.instant": end}))
        assert at == t.model.at(end) == _rows(support.as_of(t.base, end)), end
        inc = _rows(
            _load(
                spark,
                t.base,
                **{
                    "hoodie.datasource.query.type": "incremental",
                    "hoodie.datasource.read.begin.instanttime": start,
                    "hoodie.datasource.read.end.instanttime": end,
                },
            )
        )
        assert inc == t.model.changed_between(start, end), (start, end)
        assert inc == _rows(support.incremental(t.base, start, end))


def _meta_client(spark, base: str):
    jvm = spark._jvm
    conf = jvm.org.apache.hudi.hadoop.fs.HadoopFSUtils.getStorageConfWithCopy(
        spark._jsc.hadoopConfiguration()
    )
    return (
        jvm.org.apache.hudi.common.table.HoodieTableMetaClient.builder()
        .setConf(conf)
        .setBasePath(base)
        .setLoadActiveTimelineOnLoad(True)
        .build()
    )


def _parse(jvm, timeline, instant) -> str:
    """Deserialize an instant's file with the class Hudi itself uses for it."""
    details = timeline.getInstantDetails(instant).get()
    action, state = instant.getAction(), instant.getState().toString()
    meta = jvm.org.apache.hudi.common.table.timeline.TimelineMetadataUtils
    model = jvm.org.apache.hudi.common.model
    if state == "COMPLETED" and action in ("commit", "deltacommit"):
        parsed = model.HoodieCommitMetadata.fromBytes(
            details, model.HoodieCommitMetadata._java_lang_class
        )
        return parsed.getOperationType().toString()
    if state == "COMPLETED" and action == "replacecommit":
        cls = model.HoodieReplaceCommitMetadata._java_lang_class
        return (
            model.HoodieReplaceCommitMetadata.fromBytes(details, cls).getOperationType().toString()
        )
    if action == "compaction":
        return str(meta.deserializeCompactionPlan(details).getOperations().size())
    if action == "clean":
        if state == "COMPLETED":
            return str(meta.deserializeHoodieCleanMetadata(details).getTotalFilesDeleted())
        return str(meta.deserializeCleanerPlan(details).getPolicy())
    if action == "rollback":
        if state == "COMPLETED":
            return str(meta.deserializeHoodieRollbackMetadata(details).getTotalFilesDeleted())
        return str(meta.deserializeHoodieRollbackPlan(details).getInstantToRollback())
    if state == "INFLIGHT" and action in ("commit", "deltacommit") and details.length:
        parsed = model.HoodieCommitMetadata.fromBytes(
            details, model.HoodieCommitMetadata._java_lang_class
        )
        return parsed.getOperationType().toString()
    return f"{action}.{state}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hudi_timeline_apis_accept_every_instant(spark, built, case):
    t = built[case]
    client = _meta_client(spark, t.base)
    assert client.getTableConfig().getTableVersion().versionCode() == 6
    assert client.getTableType().toString() == t.table_type
    timeline = client.getActiveTimeline()
    instants = list(timeline.getInstants())
    assert len(instants) == len(list(client.getActiveTimeline().getInstantsAsStream().iterator()))
    completed = [i.getTimestamp() for i in instants if i.isCompleted()]
    assert set(t.instants) <= set(completed)
    parsed = {
        (i.getTimestamp(), i.getAction(), i.getState().toString()): _parse(spark._jvm, timeline, i)
        for i in instants
    }
    # every action the history produced is on the timeline Hudi loaded
    actions = {action for _, action, _ in parsed}
    assert "rollback" in actions
    if t.table_type == "MERGE_ON_READ":
        assert {"deltacommit", "commit"} <= actions  # a compaction completes as a commit
    else:  # CoW rewrote files, so the clean had something to delete
        assert t.clean_instant is not None
    if t.clean_instant:
        assert parsed[(t.clean_instant, "clean", "COMPLETED")] != "0"
    # the last commit's metadata, as Hudi reads it, names the writer's own files
    last = timeline.getCommitsTimeline().filterCompletedInstants().lastInstant().get()
    meta = spark._jvm.org.apache.hudi.common.model.HoodieCommitMetadata.fromBytes(
        timeline.getInstantDetails(last).get(),
        spark._jvm.org.apache.hudi.common.model.HoodieCommitMetadata._java_lang_class,
    )
    assert last.getTimestamp() == t.instants[-1]
    assert meta.fetchTotalRecordsWritten() > 0


# --- HudiTable's read API agrees with Hudi's own timeline and file-system view -----------------


def _java_view(spark, base: str):
    client = _meta_client(spark, base)
    completed = client.getActiveTimeline().getCommitsTimeline().filterCompletedInstants()
    view = spark._jvm.org.apache.hudi.common.table.view.HoodieTableFileSystemView
    return client, view(client, completed)


def _java_slices(spark, base: str, as_of: str | None = None) -> list[tuple]:
    """(partition, file id, base file, log files) of the latest slices Hudi's Java view sees."""
    from pathlib import Path

    root = Path(base)
    found = [
        p.parent.relative_to(root).as_posix() for p in root.rglob(".hoodie_partition_metadata")
    ]
    partitions = sorted("" if p == "." else p for p in found)
    _, view = _java_view(spark, base)
    out = []
    for partition in partitions:
        if as_of is None:
            slices = view.getLatestFileSlices(partition)
        else:
            slices = view.getLatestFileSlicesBeforeOrOn(partition, as_of, False)
        for s in slices.iterator():
            base_file = s.getBaseFile()
            name = base_file.get().getFileName() if base_file.isPresent() else None
            logs = tuple(sorted(log.getFileName() for log in s.getLogFiles().iterator()))
            out.append((partition, s.getFileId(), name, logs))
    return sorted(out)


def _check_read_api(spark, base: str) -> None:
    """Timeline, commit metadata, file slices (latest and as of each write), schema and
    partition fields of HudiTable against Apache Hudi's Java classes on the same table."""
    import json

    jvm = spark._jvm
    table = HudiTable.open(base)
    timeline = table.timeline()
    client, _ = _java_view(spark, base)
    # a completed compaction is a commit to Java
    ours = {(i.timestamp, "commit" if i.action == "compaction" and i.is_completed else i.action,
             i.state) for i in timeline.instants()}  # fmt: skip
    java = {(i.getTimestamp(), i.getAction(), i.getState().toString())
            for i in client.getActiveTimeline().getInstants()}  # fmt: skip
    assert ours == java
    model = jvm.org.apache.hudi.common.model
    java_timeline = client.getActiveTimeline()
    completed = java_timeline.getCommitsTimeline().filterCompletedInstants()
    java_writes = {i.getTimestamp(): i for i in completed.getInstants()}
    for inst in timeline.completed_writes():
        meta = timeline.commit_metadata(inst)
        jm = model.HoodieCommitMetadata.fromBytes(
            java_timeline.getInstantDetails(java_writes[inst.timestamp]).get(),
            model.HoodieCommitMetadata._java_lang_class,
        )
        assert meta.operation == jm.getOperationType().toString()
        assert meta.records_written == jm.fetchTotalRecordsWritten()
        assert meta.inserted + meta.partition_moves == jm.fetchTotalInsertRecordsWritten()
        assert set(meta.partitions) == set(jm.getPartitionToWriteStats().keySet())
        assert meta.checkpoint == jm.getMetadata("deltastreamer.checkpoint.key")
        ours_as_of = sorted(
            (s.partition, s.file_id, s.base_name, tuple(sorted(log.name for log in s.logs)))
            for s in table.file_slices(as_of=inst.timestamp)
        )
        assert ours_as_of == _java_slices(spark, base, inst.timestamp), inst
    latest = sorted(
        (s.partition, s.file_id, s.base_name, tuple(sorted(log.name for log in s.logs)))
        for s in table.file_slices()
    )
    assert latest == _java_slices(spark, base)
    resolver = jvm.org.apache.hudi.common.table.TableSchemaResolver(client)
    java_schema = json.loads(resolver.getTableAvroSchema(False).toString())
    assert [f["name"] for f in table.avro_schema["fields"]] == [
        f["name"] for f in java_schema["fields"]
    ]
    assert table.schema.names == [f["name"] for f in java_schema["fields"]]
    fields = client.getTableConfig().getPartitionFields()
    assert table.partition_fields == (tuple(fields.get()) if fields.isPresent() else ())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_read_api_agrees_with_hudis_timeline_and_file_system_view(spark, built, case):
    _check_read_api(spark, built[case].base)


# --- Both writers continue each other's tables, checkpoint and all ---------------------------
# HoodieDeltaStreamer itself (hudi-utilities-slim-bundle) is not served by Maven Central, so
# Spark's side of a cycle is what DeltaStreamer's AvroDFSSource does, spelled out: take the
# checkpoint from the table's last commit through Hudi's own classes, read the Avro objects
# modified after it, upsert them with the infra/hudi properties and commit the new checkpoint.

ARTIST_SCHEMA = {
    "type": "record",
    "name": "Value",
    "fields": [
        {"name": "artist_id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "nationality", "type": "string"},
        {"name": "__source_ts_ms", "type": "long"},
        {"name": "__deleted", "type": "string"},
    ],
}
ARTIST_COLUMNS = [f["name"] for f in ARTIST_SCHEMA["fields"]]


def _artists(batch: int) -> list[dict]:
    """Inserts, updates, partition moves and soft deletes; every change later than the last."""
    ts = 1_000 * batch
    nat = ("American", "French", "Dutch")
    if batch == 1:
        return [
            {"artist_id": i, "name": f"a{i}", "nationality": nat[i % 3], "__source_ts_ms": ts + i,
             "__deleted": "false"}
            for i in range(12)
        ]  # fmt: skip
    return [
        {"artist_id": i, "name": f"a{i}.{batch}", "nationality": nat[(i + batch) % 3],
         "__source_ts_ms": ts + i, "__deleted": "true" if i % 5 == batch % 5 else "false"}
        for i in range(batch, 12 + 2 * batch, 2)
    ]  # fmt: skip


def _mtime(batch: int) -> int:
    """Each object strictly later than the last (batch 30 lands just after batch 3)."""
    return 1_700_000_000 + (35 if batch == 30 else 10 * batch)


def _land(root, batch: int) -> None:
    import os

    import fastavro

    path = root / f"moma.public.artists+0+{batch:010d}.avro"
    with path.open("wb") as out:
        fastavro.writer(out, fastavro.parse_schema(ARTIST_SCHEMA), _artists(batch))
    os.utime(path, (_mtime(batch), _mtime(batch)))


def _checkpoint(spark, base: str) -> str | None:
    from pathlib import Path

    if not (Path(base) / ".hoodie").is_dir():
        return None
    timeline = _meta_client(spark, base).getActiveTimeline()
    last = timeline.getCommitsTimeline().filterCompletedInstants().lastInstant()
    if not last.isPresent():
        return None
    meta = spark._jvm.org.apache.hudi.common.model.HoodieCommitMetadata.fromBytes(
        timeline.getInstantDetails(last.get()).get(),
        spark._jvm.org.apache.hudi.common.model.HoodieCommitMetadata._java_lang_class,
    )
    return meta.getMetadata("deltastreamer.checkpoint.key")


def _spark_cycle(spark, base: str, table_type: str, dfs_root) -> list[str]:
    """One DeltaStreamer cycle on Spark; returns the objects it read."""
    from lakehouse.hudi.deltastreamer import load_properties
    from lakehouse.moma.hudi_tables import PROPS_DIR

    after = int(_checkpoint(spark, base) or -1)
    new = sorted(
        (p.stat().st_mtime_ns // 1_000_000, p) for p in dfs_root.iterdir() if p.suffix == ".avro"
    )
    new = [(mtime, p) for mtime, p in new if mtime > after]
    if not new:
        return []
    props = load_properties(str(PROPS_DIR / "moma_artists.properties"))
    options = {k: v for k, v in props.values.items() if k.startswith("hoodie.")}
    options.update(
        {
            "hoodie.table.name": "artists",
            "hoodie.datasource.write.table.type": table_type,
            "hoodie.datasource.write.operation": "upsert",
            "hoodie.datasource.write.precombine.field": "__source_ts_ms",
            "hoodie.datasource.write.commitmeta.key.prefix": "deltastreamer.",
            "deltastreamer.checkpoint.key": str(new[-1][0]),
        }
    )
    df = spark.read.format("avro").load([str(p) for _, p in new])
    writer = df.write.format("hudi").mode("append")
    for key, value in options.items():
        writer = writer.option(key, value)
    writer.save(base)
    return [p.name for _, p in new]


def _python_cycle(base: str, table_type: str, dfs_root) -> list[str]:
    from lakehouse.hudi.deltastreamer import DFS_ROOT, DeltaStreamerArgs, run
    from lakehouse.moma.hudi_tables import PROPS_DIR

    result = run(
        DeltaStreamerArgs(
            table_type=table_type,
            target_base_path=base,
            target_table="moma.artists",
            props=str(PROPS_DIR / "moma_artists.properties"),
            source_ordering_field="__source_ts_ms",
            hoodie_conf=[f"{DFS_ROOT}={dfs_root}"],
        )
    )
    return [f.rsplit("/", 1)[-1] for f in result.files]


@pytest.mark.parametrize("table_type", TABLE_TYPES, ids=["cow", "mor"])
@pytest.mark.parametrize("first", ["spark", "python"])
def test_spark_and_python_continue_each_others_tables(spark, tmp_path, table_type, first):
    dfs_root = tmp_path / "topics"
    dfs_root.mkdir()
    base = str(tmp_path / "artists")
    engines = ["spark", "python"] if first == "spark" else ["python", "spark"]
    latest: dict[int, dict] = {}
    for batch in range(1, 5):
        _land(dfs_root, batch)
        if batch == 3:
            _land(dfs_root, 30)  # two objects in one cycle
        engine = engines[(batch - 1) % 2]
        if engine == "spark":
            read = _spark_cycle(spark, base, table_type, dfs_root)
        else:
            read = _python_cycle(base, table_type, dfs_root)
        # exactly the objects that landed since the other engine's checkpoint: no loss, no
        # reprocessing
        landed = [batch, 30] if batch == 3 else [batch]
        assert read == [f"moma.public.artists+0+{b:010d}.avro" for b in landed], engine
        for b in landed:
            for record in _artists(b):
                latest[record["artist_id"]] = record
        expected_checkpoint = str(_mtime(landed[-1]) * 1000)
        assert _checkpoint(spark, base) == expected_checkpoint
        assert HudiTable.open(base).last_checkpoint() == expected_checkpoint
    expected = sorted(tuple(r[c] for c in ARTIST_COLUMNS) for r in latest.values())
    got = _load(spark, base).select(*ARTIST_COLUMNS).collect()
    assert sorted(tuple(r) for r in got) == expected
    rs = support.snapshot(base).select(ARTIST_COLUMNS).to_pylist()
    assert sorted(tuple(r[c] for c in ARTIST_COLUMNS) for r in rs) == expected
    # half the commits are Spark's (the first too, when Spark starts): the read API on them
    _check_read_api(spark, base)


@pytest.mark.parametrize("table_type", TABLE_TYPES, ids=["cow", "mor"])
def test_spark_reads_the_writers_table_on_s3_through_s3a(spark, s3, table_type):
    from lakehouse.hudi_spark import spark_uri

    uri = f"s3://lake/spark/{table_type.lower()}"
    from lakehouse.storage import S3Connection, filesystem

    s3_filesystem = partial(filesystem, s3=S3Connection(endpoint_url=s3, region="us-east-1"))
    t = Built(uri, table_type, "two-fields", s3_filesystem)
    t.write("BULK_INSERT", [_row(i, 1, "abc"[i % 3], "x") for i in range(9)])
    t.write("UPSERT", [_row(i, 2, "abc"[(i + 1) % 3], "moved") for i in range(0, 9, 2)])
    got = _rows(_load(spark, spark_uri(uri)))
    options = {"aws_endpoint_url": s3, "aws_allow_http": "true", "aws_region": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # fmt: skip
    assert got == t.model.expected() == _rows(support.snapshot(uri, storage_options=options))
    timeline = _meta_client(spark, spark_uri(uri)).getActiveTimeline()
    assert [
        i.getTimestamp() for i in timeline.filterCompletedInstants().getInstants()
    ] == t.instants


def test_spark_reads_the_four_moma_tables_the_assets_build(spark, tmp_path):
    """The MoMA tables as the assets build them from simulated CDC (two cycles: a snapshot,
    then updates, deletes and partition moves), partition values with spaces and all."""
    from lakehouse.cdc.resources import SimulatedMomaSource
    from lakehouse.moma.hudi_tables import HUDI_TABLES
    from lakehouse.storage import LocalObjectStore
    from tests.moma.test_assets import COLUMNS as MOMA_COLUMNS
    from tests.moma.test_assets import expected_rows, run, table_rows

    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    sim = SimulatedMomaSource(artists=60, artworks=100, batch_size=30, batches_per_run=3)
    run(lake, sim)
    run(lake, sim)
    assert len(HUDI_TABLES) == 4
    for table in HUDI_TABLES:
        base = lake.uri(table.base_key)
        expected = expected_rows(lake, table)
        columns = list(MOMA_COLUMNS[table.name])
        assert table_rows(support.snapshot(base), table) == expected

        # An empty partition value is stored under __HIVE_DEFAULT_PARTITION__ with the nulls, as
        # Hudi's key generators store it. Spark's Hudi reader returns null or '' there
        # depending on the file layout (partition values from the path or from the file; the
        # same for Java-written tables); hudi-rs reads the files. So for Spark '' == null there.
        def as_spark_reads(rows, part=2):  # nationality / classification in COLUMNS
            return sorted((r[:part] + (r[part] or None,) + r[part + 1 :] for r in rows), key=repr)

        got = _load(spark, base).select(*columns).collect()
        assert as_spark_reads(tuple(r) for r in got) == as_spark_reads(expected)
        ro = _load(spark, base, **{"hoodie.datasource.query.type": "read_optimized"})
        ro_rows = as_spark_reads(tuple(r) for r in ro.select(*columns).collect())
        assert ro_rows == as_spark_reads(table_rows(support.read_optimized(base), table))


def test_a_recorded_payload_class_must_match_an_absent_one_is_taken_as_configured(tmp_path):
    """No JVM: the check Spark's tables (no payload class in hoodie.properties) led to."""
    from lakehouse.hudi import COMMIT_TIME_PAYLOAD, EVENT_TIME_PAYLOAD, HudiConfigError

    def config(payload):
        return HudiConfig(TableConfig("t", ("id",), "ts", ("part",), payload_class=payload))

    base = str(tmp_path / "t")
    HudiTable.open_or_create(base, config(EVENT_TIME_PAYLOAD)).write(
        pa.Table.from_pylist([_row(1, 1, "a", "x")], schema=SCHEMA), "BULK_INSERT"
    )
    with pytest.raises(HudiConfigError, match="hoodie.compaction.payload.class is"):
        HudiTable.open_or_create(base, config(COMMIT_TIME_PAYLOAD))
    props = tmp_path / "t" / ".hoodie" / "hoodie.properties"
    lines = props.read_text().splitlines()
    props.write_text("\n".join(x for x in lines if "payload.class" not in x) + "\n")
    HudiTable.open_or_create(base, config(EVENT_TIME_PAYLOAD))


def test_an_upsert_with_a_composite_key_precombines_its_batch(tmp_path):
    """No JVM: composite-key upserts crashed before Spark's tables needed them."""
    base = str(tmp_path / "t")
    t = Built(base, "COPY_ON_WRITE", "two-fields")
    t.write("UPSERT", [_row(1, 1, "a", "old"), _row(1, 2, "a", "new"), _row(2, 1, "b", "x")])
    assert _rows(support.snapshot(base)) == t.model.expected()
    assert [r[3] for r in t.model.expected()] == ["new", "x"]


# (num_entries, fpp, max_entries, key count): one row under capacity; rows added until
# max_entries, then keys round-robin over them; max_entries below num_entries (one row, then
# round-robin at once); and a product num_entries * rows that stops exactly at max_entries.
BLOOM_SIZINGS = [(500, 1e-4, 2000, 120), (100, 0.01, 350, 1000), (50, 1e-6, 20, 90),
                 (64, 0.05, 192, 400)]  # fmt: skip


@pytest.mark.parametrize(("num_entries", "fpp", "max_entries", "count"), BLOOM_SIZINGS)
def test_a_configured_bloom_filter_is_byte_identical_to_hudis(
    spark, num_entries, fpp, max_entries, count
):
    """BloomFilterFactory.createBloomFilter(num_entries, fpp, max_entries, DYNAMIC_V0) in Hudi's
    bundle, fed the same keys in the same order, serializes to exactly our text."""
    from lakehouse.hudi.bloom import BloomSizing, dynamic_bloom_filter, might_contain

    # Keys of every UTF-8 length mod 4, some non-ASCII.
    keys = [f"k{i}" + "é" * (i % 3) + "x" * (i % 4) for i in range(count)]
    java = spark._jvm.org.apache.hudi.common.bloom.BloomFilterFactory.createBloomFilter(
        num_entries, fpp, max_entries, "DYNAMIC_V0"
    )
    for key in keys:
        java.add(key)
    ours = dynamic_bloom_filter(pa.array(keys), BloomSizing(num_entries, fpp, max_entries))
    assert ours == java.serializeToString()
    assert all(might_contain(ours, k) for k in keys)
