"""A HoodieDeltaStreamer-compatible ingest: Avro files from a DFS root into a Hudi table.

It takes the flags and `.properties` keys users already know from HoodieDeltaStreamer, and
reads only source files modified after the checkpoint stored in the table's last commit
(`deltastreamer.checkpoint.key`, a modification time in epoch milliseconds, as AvroDFSSource's
path selector keeps it), so a rerun with no new files writes nothing.

Limitation shared with Hudi's path selector: a file whose modification time equals the
checkpoint but that appears after the run is not picked up.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
from dataclasses import dataclass, field

import fastavro
import pyarrow as pa

from lakehouse.hudi.config import (
    BLOOM_KEYS,
    CLEANER_POLICIES,
    COMMIT_TIME_PAYLOAD,
    GLOBAL_INDEXES,
    HIVE_DEFAULT_PARTITION,
    KEYGEN_PROPERTY_PREFIX,
    KEYGEN_TYPES,
    PAYLOADS,
    TABLE_TYPES,
    HudiConfig,
    HudiConfigError,
    HudiSchemaError,
    NotAHudiTableError,
    TableConfig,
    WriteOptions,
    parse_bloom_sizing,
    parse_bool,
    parse_int,
)
from lakehouse.hudi.props import Properties, PropertiesError
from lakehouse.hudi.props import parse as parse_properties
from lakehouse.hudi.schema import arrow_from_avro
from lakehouse.hudi.table import CommitResult, HudiTable
from lakehouse.hudi.table_storage import FileSystemFor, Storage

log = logging.getLogger(__name__)

AVRO_DFS_SOURCE = "org.apache.hudi.utilities.sources.AvroDFSSource"
FILE_SCHEMA_PROVIDER = "org.apache.hudi.utilities.schema.FilebasedSchemaProvider"
REGISTRY_SCHEMA_PROVIDER = "org.apache.hudi.utilities.schema.SchemaRegistryProvider"
DS_OPERATIONS = ("UPSERT", "INSERT", "BULK_INSERT")

DFS_ROOT = "hoodie.deltastreamer.source.dfs.root"
SCHEMA_FILE = "hoodie.deltastreamer.schemaprovider.source.schema.file"
REGISTRY_URL = "hoodie.deltastreamer.schemaprovider.registry.url"
TIMEBASED_ALT_PREFIX = "hoodie.deltastreamer.keygen.timebased."  # Hudi's older alternative

# Every hoodie.* key this ingest reads: each is honoured, or refused with an error naming it.
HONOURED_KEYS = frozenset({
    DFS_ROOT, SCHEMA_FILE, REGISTRY_URL,
    "hoodie.datasource.write.recordkey.field", "hoodie.datasource.write.partitionpath.field",
    "hoodie.datasource.write.precombine.field", "hoodie.datasource.write.keygenerator.class",
    "hoodie.datasource.write.keygenerator.type", "hoodie.datasource.write.hive_style_partitioning",
    "hoodie.datasource.write.partitionpath.urlencode", "hoodie.datasource.write.payload.class",
    "hoodie.datasource.write.drop.partition.columns",
    "hoodie.datasource.write.keygenerator.consistent.logical.timestamp.enabled",
    "hoodie.database.name", "hoodie.index.type", "hoodie.metadata.enable",
    "hoodie.table.timeline.timezone", "hoodie.bloom.index.update.partition.path",
    "hoodie.simple.index.update.partition.path", "hoodie.parquet.small.file.limit",
    "hoodie.parquet.max.file.size", "hoodie.copyonwrite.record.size.estimate",
    "hoodie.parquet.compression.codec", "hoodie.compact.inline",
    "hoodie.compact.inline.max.delta.commits", "hoodie.clean.automatic", "hoodie.cleaner.policy",
    "hoodie.cleaner.commits.retained", "hoodie.cleaner.fileversions.retained",
    "hoodie.cleaner.hours.retained", "hoodie.cleaner.policy.failed.writes",
    "hoodie.payload.ordering.field", "hoodie.archive.automatic", "hoodie.keep.min.commits",
    "hoodie.keep.max.commits", "hoodie.commits.archival.batch", *BLOOM_KEYS,
})  # fmt: skip
# Read elsewhere (Hive sync on EMR) or tuning hints with no meaning for one process.
KNOWN_PREFIXES = ("hoodie.datasource.hive_sync.", KEYGEN_PROPERTY_PREFIX, TIMEBASED_ALT_PREFIX)
KNOWN_SUFFIXES = (".shuffle.parallelism",)
PARQUET_CODECS = ("snappy", "gzip", "zstd", "lz4", "brotli", "uncompressed")


def load_properties(
    path: str, overrides: list[str] | None = None, filesystem: FileSystemFor | None = None
) -> Properties:
    """A DeltaStreamer props file (local path or s3://) with its `include=` files, then
    `--hoodie-conf key=value` overrides."""
    props = Properties()
    _load(path, props, set(), filesystem)
    for item in overrides or []:
        if "=" not in item:
            raise HudiConfigError(f"--hoodie-conf {item!r} is not key=value")
        key, value = item.split("=", 1)
        props.set(key.strip(), value.strip(), f"--hoodie-conf {key.strip()}")
    return props


def _read_text(uri: str, filesystem: FileSystemFor | None = None) -> str:
    parent, _, name = uri.rstrip("/").rpartition("/")
    try:
        return Storage(parent or ".", filesystem).read(name).decode("utf-8")
    except FileNotFoundError as e:
        raise HudiConfigError(f"cannot read properties file {uri}: {e}") from None
    except UnicodeDecodeError as e:
        raise HudiConfigError(f"{uri} is not UTF-8 text: {e}") from None


def _load(uri: str, into: Properties, seen: set[str], filesystem: FileSystemFor | None) -> None:
    if uri in seen:
        raise HudiConfigError(f"{uri} includes itself")
    seen.add(uri)
    try:
        props = parse_properties(_read_text(uri, filesystem), uri)
    except PropertiesError as e:
        raise HudiConfigError(str(e)) from None
    include = props.values.pop("include", None)
    if include:
        where = props.origins.pop("include")
        target = (
            include
            if "://" in include or include.startswith("/")
            else posixpath.join(uri.rpartition("/")[0] or ".", include)
        )
        try:
            _load(target, into, seen, filesystem)
        except HudiConfigError as e:
            raise HudiConfigError(f"{where}: include={include}: {e}") from None
    into.update(props)


@dataclass
class DeltaStreamerArgs:
    """The HoodieDeltaStreamer command line, as parsed by lakehouse.hudi.cli."""

    table_type: str
    target_base_path: str
    target_table: str
    props: str
    op: str = "UPSERT"
    source_ordering_field: str | None = None
    source_class: str = AVRO_DFS_SOURCE
    schemaprovider_class: str | None = None
    filter_dupes: bool = False
    hoodie_conf: list[str] = field(default_factory=list)
    payload_class: str | None = None
    source_limit: int | None = None
    # uri -> (filesystem, path) for s3:// and the like (this library reads no settings).
    filesystem: FileSystemFor | None = None
    enable_sync: bool = False


@dataclass
class Job:
    """Everything a run needs, validated before anything is read or written."""

    config: HudiConfig
    base_path: str
    operation: str
    dfs_root: str
    schema_file: str | None
    source_limit: int | None
    props: Properties
    unknown_keys: tuple[str, ...] = ()
    filesystem: FileSystemFor | None = None


def unknown_keys(props: Properties) -> tuple[str, ...]:
    """hoodie.* keys this ingest neither honours nor refuses (Hudi would read them; here they
    would silently do nothing, so they are named in a warning)."""
    return tuple(
        sorted(
            k
            for k in props.values
            if k.startswith("hoodie.")
            and k not in HONOURED_KEYS
            and not k.startswith(KNOWN_PREFIXES)
            and not k.endswith(KNOWN_SUFFIXES)
        )
    )


def _keygen_settings(props: Properties) -> tuple[str | None, dict[str, str]]:
    """The key generator class (from .class or .type) and the hoodie.keygen.timebased.*
    settings (the hoodie.deltastreamer.keygen.timebased.* spelling is accepted too)."""
    keygen = props.get("hoodie.datasource.write.keygenerator.class") or None
    kind = props.get("hoodie.datasource.write.keygenerator.type")
    if kind:
        wanted = KEYGEN_TYPES.get(kind.strip().upper())
        if wanted is None:
            raise HudiConfigError(
                f"{props.where('hoodie.datasource.write.keygenerator.type')}: "
                f"hoodie.datasource.write.keygenerator.type={kind!r} is not one of "
                + ", ".join(KEYGEN_TYPES)
            )
        if keygen and keygen.rpartition(".")[2] != wanted.rpartition(".")[2]:
            raise HudiConfigError(
                f"{props.where('hoodie.datasource.write.keygenerator.type')}: "
                f"keygenerator.type={kind} contradicts keygenerator.class={keygen}"
            )
        keygen = keygen or wanted
    timebased = {}
    for key, value in props.values.items():
        if key.startswith(TIMEBASED_ALT_PREFIX):
            timebased.setdefault(KEYGEN_PROPERTY_PREFIX + key[len(TIMEBASED_ALT_PREFIX) :], value)
    for key, value in props.values.items():
        if key.startswith(KEYGEN_PROPERTY_PREFIX):
            timebased[key] = value
    parser = timebased.pop(KEYGEN_PROPERTY_PREFIX + "datetime.parser.class", None)
    if parser and parser.rpartition(".")[2] != "HoodieDateTimeParser":
        raise HudiConfigError(f"hoodie.keygen.datetime.parser.class={parser} is not supported")
    return keygen, timebased


def build_job(args: DeltaStreamerArgs) -> Job:
    props = load_properties(args.props, args.hoodie_conf, args.filesystem)
    if args.table_type not in TABLE_TYPES:
        raise HudiConfigError(f"--table-type {args.table_type!r} is not one of {TABLE_TYPES}")
    op = args.op.upper()
    if op not in DS_OPERATIONS:
        raise HudiConfigError(f"--op {args.op!r} is not one of {', '.join(DS_OPERATIONS)}")
    if args.source_class.rpartition(".")[2] != "AvroDFSSource":
        raise HudiConfigError(
            f"--source-class {args.source_class} is not supported here; use {AVRO_DFS_SOURCE}"
        )

    def need(key: str) -> str:
        value = props.get(key)
        if not value:
            raise HudiConfigError(f"{args.props}: {key} is not set")
        return value

    index = (props.get("hoodie.index.type") or "GLOBAL_BLOOM").upper()
    if index not in GLOBAL_INDEXES:
        raise HudiConfigError(
            f"{props.where('hoodie.index.type')}: hoodie.index.type={index} is not supported; "
            f"this writer keeps record keys unique across partitions ({', '.join(GLOBAL_INDEXES)})"
        )
    if parse_bool(props, "hoodie.metadata.enable", False):
        raise HudiConfigError(
            f"{props.where('hoodie.metadata.enable')}: hoodie.metadata.enable=true: the metadata "
            "table is not written here, and Spark would stop seeing these commits"
        )
    if parse_bool(props, "hoodie.datasource.write.drop.partition.columns", False):
        raise HudiConfigError(
            f"{props.where('hoodie.datasource.write.drop.partition.columns')}: "
            "drop.partition.columns=true makes tables hudi-rs cannot read; keep the partition "
            "column in the data"
        )
    timezone = props.get("hoodie.table.timeline.timezone")
    if timezone and timezone != "UTC":
        raise HudiConfigError(
            f"{props.where('hoodie.table.timeline.timezone')}: timeline timezone must be UTC"
        )
    for key in list(props.values):
        if key.endswith(".shuffle.parallelism"):
            parse_int(props, key, 1, minimum=1)
    consistent = "hoodie.datasource.write.keygenerator.consistent.logical.timestamp.enabled"
    if parse_bool(props, consistent, False):
        raise HudiConfigError(
            f"{props.where(consistent)}: {consistent}=true is not supported: Hudi then makes "
            "keys from java.sql.Timestamp in the JVM's zone; keys here use the Avro long, "
            "Hudi's default"
        )
    failed = (props.get("hoodie.cleaner.policy.failed.writes") or "EAGER").upper()
    if failed != "EAGER":
        raise HudiConfigError(
            f"{props.where('hoodie.cleaner.policy.failed.writes')}: "
            f"hoodie.cleaner.policy.failed.writes={failed}: this writer rolls failed writes back "
            "eagerly (EAGER), before the next write"
        )
    policy = (props.get("hoodie.cleaner.policy") or "KEEP_LATEST_COMMITS").upper()
    if policy not in CLEANER_POLICIES:
        raise HudiConfigError(
            f"{props.where('hoodie.cleaner.policy')}: hoodie.cleaner.policy={policy} is not one "
            f"of {', '.join(CLEANER_POLICIES)}"
        )
    codec = (props.get("hoodie.parquet.compression.codec") or "snappy").lower()
    if codec not in PARQUET_CODECS:
        raise HudiConfigError(
            f"{props.where('hoodie.parquet.compression.codec')}: "
            f"hoodie.parquet.compression.codec={codec} is not one of {', '.join(PARQUET_CODECS)}"
        )
    payload = (
        args.payload_class
        or props.get("hoodie.datasource.write.payload.class")
        or COMMIT_TIME_PAYLOAD
    )
    if payload not in PAYLOADS:
        raise HudiConfigError(f"payload class {payload} is not supported")
    database, _, name = args.target_table.rpartition(".")
    ordering = (
        args.source_ordering_field or props.get("hoodie.datasource.write.precombine.field") or "ts"
    )
    payload_ordering = props.get("hoodie.payload.ordering.field")
    if payload_ordering and payload_ordering != ordering and args.source_ordering_field:
        # HoodieDeltaStreamer sets the payload ordering field from --source-ordering-field.
        log.info("--source-ordering-field %s overrides hoodie.payload.ordering.field=%s",
                 ordering, payload_ordering)  # fmt: skip
    elif payload_ordering and payload_ordering != ordering:
        raise HudiConfigError(
            f"{props.where('hoodie.payload.ordering.field')}: hoodie.payload.ordering.field="
            f"{payload_ordering} differs from the ordering field {ordering} "
            "(--source-ordering-field / hoodie.datasource.write.precombine.field); this writer "
            "orders both the batch and the merge with stored records by one field"
        )
    keygen, timebased = _keygen_settings(props)
    table = TableConfig(
        name=name,
        record_key_fields=need("hoodie.datasource.write.recordkey.field"),
        precombine_field=ordering,
        partition_fields=props.get("hoodie.datasource.write.partitionpath.field") or "",
        table_type=args.table_type,
        hive_style_partitioning=parse_bool(
            props, "hoodie.datasource.write.hive_style_partitioning", False
        ),
        urlencode_partition=parse_bool(
            props, "hoodie.datasource.write.partitionpath.urlencode", False
        ),
        keygenerator_class=keygen,
        payload_class=payload,
        database=props.get("hoodie.database.name") or database or "default",
        keygen_props=timebased,
    )
    delete_mode = props.get("lakehouse.hudi.delete.mode") or "soft"
    if delete_mode not in ("soft", "hard"):
        raise HudiConfigError(
            f"{props.where('lakehouse.hudi.delete.mode')}: lakehouse.hudi.delete.mode="
            f"{delete_mode!r} must be soft or hard"
        )
    update_path = parse_bool(props, "hoodie.bloom.index.update.partition.path", True)
    update_path = parse_bool(props, "hoodie.simple.index.update.partition.path", update_path)
    write = WriteOptions(
        delete_mode=delete_mode,
        delete_field=props.get("lakehouse.hudi.delete.field") or "__deleted",
        filter_dupes=args.filter_dupes,
        update_partition_path=update_path,
        small_file_limit=parse_int(props, "hoodie.parquet.small.file.limit", 104_857_600),
        max_file_size=parse_int(props, "hoodie.parquet.max.file.size", 125_829_120, minimum=1),
        record_size_estimate=parse_int(
            props, "hoodie.copyonwrite.record.size.estimate", 1024, minimum=1
        ),
        inline_compaction=parse_bool(props, "hoodie.compact.inline", True),
        compaction_delta_commits=parse_int(
            props, "hoodie.compact.inline.max.delta.commits", 5, minimum=1
        ),
        auto_clean=parse_bool(props, "hoodie.clean.automatic", True),
        commits_retained=parse_int(props, "hoodie.cleaner.commits.retained", 10, minimum=1),
        cleaner_policy=policy,
        file_versions_retained=parse_int(
            props, "hoodie.cleaner.fileversions.retained", 3, minimum=1
        ),
        hours_retained=parse_int(props, "hoodie.cleaner.hours.retained", 24, minimum=1),
        auto_archive=parse_bool(props, "hoodie.archive.automatic", True),
        keep_min_commits=parse_int(props, "hoodie.keep.min.commits", 20, minimum=1),
        keep_max_commits=parse_int(props, "hoodie.keep.max.commits", 30, minimum=2),
        archival_batch=parse_int(props, "hoodie.commits.archival.batch", 10, minimum=1),
        parquet_compression="none" if codec == "uncompressed" else codec,
        bloom=parse_bloom_sizing(props),
        # Where null/empty partition values go; Hudi 0.9 (the original) wrote "default".
        default_partition=props.get("lakehouse.hudi.partition.default") or HIVE_DEFAULT_PARTITION,
    )
    provider = (args.schemaprovider_class or "").rpartition(".")[2]
    schema_file = props.get(SCHEMA_FILE) or None
    if provider == "FilebasedSchemaProvider" and not schema_file:
        raise HudiConfigError(f"{args.props}: {SCHEMA_FILE} is not set (FilebasedSchemaProvider)")
    if provider == "SchemaRegistryProvider":
        log.info("no schema registry locally: using each Avro file's own writer schema")
        schema_file = None
    elif provider not in ("", "FilebasedSchemaProvider"):
        raise HudiConfigError(
            f"--schemaprovider-class {args.schemaprovider_class} is not supported"
        )
    if args.enable_sync:
        log.info("--enable-sync: Hive sync runs on EMR only; locally the catalog is not touched")
    unknown = unknown_keys(props)
    if unknown:
        log.warning(
            "%s: settings this writer does not read, ignored: %s",
            args.props,
            ", ".join(f"{k} ({props.where(k)})" for k in unknown),
        )
    return Job(
        config=HudiConfig(table, write),
        base_path=args.target_base_path,
        operation=op,
        dfs_root=need(DFS_ROOT),
        schema_file=schema_file,
        source_limit=args.source_limit,
        props=props,
        unknown_keys=unknown,
        filesystem=args.filesystem,
    )


@dataclass(frozen=True)
class SourceBatch:
    files: list[str]
    data: pa.Table | None
    checkpoint: str | None


def read_source(job: Job, after: str | None) -> SourceBatch:
    """Avro files under the DFS root modified after the checkpoint, in modification order,
    decoded into one Arrow table (all of them, or none on any error)."""
    try:
        last = int(after) if after else -1
    except ValueError:
        raise HudiConfigError(
            f"the table's checkpoint {after!r} is not a modification time in milliseconds"
        ) from None
    root = Storage(job.dfs_root, job.filesystem)
    if not root.is_dir(""):
        # Hudi's DFSPathSelector fails on a missing root too; an empty run would hide a typo.
        raise HudiConfigError(
            f"{job.props.where(DFS_ROOT)}: {DFS_ROOT}={job.dfs_root} "
            + ("is not a directory" if root.exists("") else "does not exist")
        )
    entries = [
        e
        for e in root.list("", recursive=True)
        if not any(part.startswith((".", "_")) for part in e.path.split("/")) and e.mtime_ms > last
    ]
    entries.sort(key=lambda e: (e.mtime_ms, e.path))
    if job.source_limit is not None:
        chosen, total = [], 0
        for e in entries:
            # As DFSPathSelector: stop only before a strictly newer file, so files sharing a
            # modification time are never split (the checkpoint is that time).
            if chosen and total + e.size > job.source_limit and e.mtime_ms > chosen[-1].mtime_ms:
                break
            chosen.append(e)
            total += e.size
        entries = chosen
    if not entries:
        return SourceBatch([], None, after)
    reader_schema = None
    if job.schema_file:
        text = _read_text(job.schema_file, job.filesystem)
        try:
            reader_schema = fastavro.parse_schema(json.loads(text))
        except (ValueError, fastavro.schema.SchemaParseException) as e:
            raise HudiSchemaError(f"{job.schema_file}: not a valid Avro schema: {e}") from None
    tables = []
    for e in entries:
        uri = root.uri_of(e.path)
        try:
            reader = fastavro.reader(io.BytesIO(root.read(e.path)), reader_schema=reader_schema)
            schema = reader_schema or reader.writer_schema
            arrow_schema = arrow_from_avro(schema)
            _check_fields(job, arrow_schema, uri)
            records = list(reader)
        except HudiSchemaError:
            raise
        except Exception as err:  # fastavro raises many types for corrupt input
            raise HudiSchemaError(f"{uri}: not a readable Avro file: {err}") from None
        tables.append(pa.Table.from_pylist(records, schema=arrow_schema))
    try:
        data = pa.concat_tables(tables, promote_options="default")
    except pa.ArrowInvalid as e:
        raise HudiSchemaError(
            f"source files under {job.dfs_root} have clashing schemas: {e}"
        ) from None
    files = [root.uri_of(e.path) for e in entries]
    return SourceBatch(files, data, str(entries[-1].mtime_ms))


def _check_fields(job: Job, schema: pa.Schema, uri: str) -> None:
    table = job.config.table
    roles = [(f, "record key field") for f in table.record_key_fields]
    roles.append((table.precombine_field, "ordering field (--source-ordering-field)"))
    roles += [(f, "partition field") for f in table.partition_fields]
    for name, role in roles:
        if name not in schema.names:
            raise HudiSchemaError(
                f"{uri}: the source schema has no {role} {name!r} (fields: "
                f"{', '.join(schema.names)})"
            )


@dataclass(frozen=True)
class RunResult:
    commit: CommitResult | None  # None when there were no new source files
    files: list[str]
    checkpoint: str | None


def run(args: DeltaStreamerArgs) -> RunResult:
    """One ingest cycle: new source files -> one commit. Validates settings, the table and all
    source files before writing anything."""
    job = build_job(args)
    try:
        table = HudiTable.open(job.base_path, job.config.write, job.filesystem,
                               keygen_props=dict(job.config.table.keygen_props))  # fmt: skip
        table._check_matches(job.config.table)
        previous = table.last_checkpoint()
    except NotAHudiTableError:
        table, previous = None, None
    batch = read_source(job, previous)
    if batch.data is None:
        return RunResult(None, [], previous)
    if table is None:
        # Created only once the source is known to be good (refuses a non-empty directory).
        table = HudiTable.create(job.base_path, job.config, job.filesystem)
    result = table.write(batch.data, job.operation, source_checkpoint=batch.checkpoint)
    return RunResult(result, batch.files, batch.checkpoint)
