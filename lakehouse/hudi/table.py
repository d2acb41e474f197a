"""A Hudi table (version 6) written in pure Python: Copy-on-Write and Merge-on-Read.

A write goes through the steps Hudi's own writers take, each visible in `.hoodie`:

    <t>.<action>.requested -> <t>.inflight -> markers + data files -> <t>.<action> (commit point)

then, for MoR, inline compaction after N delta commits, and the cleaner. Anything that dies
before the commit point leaves a pending instant; the next write rolls it back (deletes the files
its markers name, records a rollback instant) before doing anything else, so readers never see a
half-written commit.

Record keys are unique across the table (a global index, as GLOBAL_BLOOM): an update finds the
file group holding its key (lakehouse.hudi.index reads only the file groups whose footer's key
range and bloom filter admit it), and a changed partition value moves the record. A CoW rewrite
reuses the keys the lookup read, reads few-valued string columns as dictionaries and writes them
back as such, and extends the old bloom filter instead of rehashing every key. All row work is
vectorised with pyarrow/numpy; Python loops run over file groups, never over rows, except where
Avro log blocks are decoded record by record by fastavro (and encoded so for nested types).
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.hudi import archival, cleaner, logfile
from lakehouse.hudi.bloom import extend_filter, hash_positions
from lakehouse.hudi.config import (
    OPERATIONS,
    HudiConfig,
    HudiConfigError,
    HudiError,
    HudiSchemaError,
    NotAHudiTableError,
    TableConfig,
    WriteOptions,
)
from lakehouse.hudi.files import (
    LOG_FILE,
    MARKER_TYPE,
    MARKER_TYPE_FILE,
    MARKERS_FILE,
    PARTITION_METAFILE,
    TEMP,
    FileSlice,
    FileSystemView,
    base_file_name,
    join,
    log_file_name,
    marker_names,
    new_file_id,
    partition_metadata,
    write_base_file,
)
from lakehouse.hudi.index import Location, SliceKeys, locate
from lakehouse.hudi.keygen import KeyGenerator
from lakehouse.hudi.props import parse as parse_properties
from lakehouse.hudi.props import render as render_properties
from lakehouse.hudi.schema import (
    META_FIELDS,
    arrow_from_avro,
    avro_json,
    avro_schema,
    data_schema_with_meta,
    normalize_schema,
    with_meta_fields,
)
from lakehouse.hudi.storage import Storage
from lakehouse.hudi.timeline import (
    CLEAN_METADATA,
    CLEANER_PLAN,
    COMPACTION_PLAN,
    COMPLETED,
    INFLIGHT,
    META,
    REQUESTED,
    ROLLBACK_METADATA,
    ROLLBACK_PLAN,
    WRITE_ACTIONS,
    Instant,
    Timeline,
    avro_file,
    instant_file,
    new_instant_time,
    read_avro_file,
)

PROPERTIES = f"{META}/hoodie.properties"
CHECKPOINT_KEY = "deltastreamer.checkpoint.key"
# Partition moves in a commit. Hudi's write stats count each as a delete in the old file group
# and an insert in the new one; this count lets readers report them as the updates they are.
MOVES_KEY = "lakehouse.partition.moves"
SPARK_DIRS = (".aux/.bootstrap/.partitions", ".aux/.bootstrap/.fileids", ".temp", ".schema",
              "archived")  # fmt: skip


@dataclass(frozen=True)
class CommitResult:
    """What one write did. `instant` is None when there was nothing to commit."""

    instant: str | None
    action: str | None
    operation: str
    records_in: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0  # incoming records older than the stored ones (event-time ordering)
    records_written: int = 0
    files_created: int = 0  # new file groups
    files_updated: int = 0  # new versions of existing file groups (base or log files)
    log_files: int = 0
    bytes_written: int = 0
    partitions: tuple[str, ...] = ()
    checkpoint: str | None = None
    compaction_instant: str | None = None
    clean_instant: str | None = None
    rolled_back: tuple[str, ...] = ()
    files_cleaned: int = 0
    archived: tuple[str, ...] = ()  # instants moved to the archived timeline


@dataclass
class _Written:
    stats: dict[str, list[dict]] = field(default_factory=dict)
    files_created: int = 0
    files_updated: int = 0
    log_files: int = 0
    bytes: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    moved: int = 0  # records that changed partition: updates, though the stats hold a delete
    writes: int = 0  # and an insert for each (as Hudi's global index writes them)

    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, partition: str, stat: dict, kind: str) -> None:
        """Record one written file (kind: created, updated or log); called from worker threads."""
        with self.lock:
            self.stats.setdefault(partition, []).append(stat)
            self.stats[partition].sort(key=lambda s: s["fileId"])
            self.bytes += stat["totalWriteBytes"]
            self.writes += stat["numWrites"]
            if kind == "created":
                self.files_created += 1
            else:
                self.files_updated += 1
            if kind == "log":
                self.log_files += 1


def _stat(partition, file_id, path, prev, writes, deletes, updates, inserts, size, **extra):
    stat = {
        "fileId": file_id,
        "path": path,
        "cdcStats": None,
        "prevCommit": prev,
        "numWrites": writes,
        "numDeletes": deletes,
        "numUpdateWrites": updates,
        "numInserts": inserts,
        "totalWriteBytes": size,
        "totalWriteErrors": 0,
        "tempPath": None,
        "partitionPath": partition,
        "totalLogRecords": 0,
        "totalLogFilesCompacted": 0,
        "totalLogSizeCompacted": 0,
        "totalUpdatedRecordsCompacted": 0,
        "totalLogBlocks": 0,
        "totalCorruptLogBlock": 0,
        "totalRollbackBlocks": 0,
        "fileSizeInBytes": size,
        "minEventTime": None,
        "maxEventTime": None,
        "runtimeStats": None,
    }
    stat.update(extra)
    return stat


def _last_per_key(keys: pa.Array, order: list[pa.Array]) -> np.ndarray:
    """Positions (ascending) of the last row of each key when rows are ordered by `order`, then
    by position: the precombine rule (highest ordering value wins, later input breaks ties)."""
    n = len(keys)
    if n == 0 or pc.count_distinct(keys).as_py() == n:
        return np.arange(n)
    columns = {"k": keys}
    sort_keys = [("k", "ascending", "at_start")]
    for i, arr in enumerate(order):
        columns[f"o{i}"] = arr
        sort_keys.append((f"o{i}", "ascending", "at_start"))
    columns["pos"] = pa.array(np.arange(n))
    sort_keys.append(("pos", "ascending", "at_start"))
    t = pa.table(columns)
    idx = pc.sort_indices(t, sort_keys=sort_keys)
    sorted_keys = keys.take(idx)
    last = np.ones(n, dtype=bool)
    last[:-1] = pc.not_equal(sorted_keys[:-1], sorted_keys[1:]).to_numpy(zero_copy_only=False)
    return np.sort(idx.to_numpy()[last])


def _np_bool(arr) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _groups(codes: np.ndarray, mask: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions (ascending) per code, for rows where mask is set."""
    rows = np.nonzero(mask)[0]
    if not len(rows):
        return {}
    order = np.argsort(codes[rows], kind="stable")
    rows = rows[order]
    values = codes[rows]
    cuts = np.nonzero(np.diff(values))[0] + 1
    return {int(chunk_values[0]): chunk for chunk_values, chunk in
            zip(np.split(values, cuts), np.split(rows, cuts), strict=True)}  # fmt: skip


def _like(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """table's columns in schema's types: strings dictionary-encoded where schema has
    dictionaries (the carried-over rows' few-valued columns), so both go to one writer."""
    columns = []
    for f in schema:
        col = table.column(f.name)
        if pa.types.is_dictionary(f.type) and not pa.types.is_dictionary(col.type):
            col = col.dictionary_encode()
        columns.append(col if col.type == f.type else col.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


class HudiTable:
    """A Hudi table at a local path or s3:// URI."""

    def __init__(
        self,
        storage: Storage,
        table: TableConfig,
        write: WriteOptions | None = None,
    ):
        self.storage = storage
        self.config = table
        self.options = write or WriteOptions()
        self._avro: dict | None = None
        self._schema: pa.Schema | None = None
        self._target: pa.Schema | None = None
        self._load_schema()

    # -- opening and creating -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        base_path: str,
        write: WriteOptions | None = None,
        storage_options: dict[str, str] | None = None,
        keygen_props: dict[str, str] | None = None,
    ) -> HudiTable:
        """keygen_props: hoodie.keygen.timebased.* settings the table does not store (Spark
        SQL keeps timestamp.type out of hoodie.properties)."""
        storage = Storage(base_path, storage_options)
        if not storage.exists(PROPERTIES):
            raise NotAHudiTableError(
                f"{base_path} is not a Hudi table: {PROPERTIES} does not exist"
            )
        source = storage.uri_of(PROPERTIES)
        text = storage.read(PROPERTIES).decode("latin-1")
        table = TableConfig.from_properties(parse_properties(text, source), source)
        if keygen_props:
            table = table.with_keygen_props(keygen_props, source)
        return cls(storage, table, write)

    @classmethod
    def create(
        cls, base_path: str, config: HudiConfig, storage_options: dict[str, str] | None = None
    ) -> HudiTable:
        storage = Storage(base_path, storage_options)
        if storage.exists(PROPERTIES):
            raise HudiConfigError(f"{base_path} is already a Hudi table")
        leftovers = [
            e.path for e in storage.list("", recursive=True) if not e.path.startswith(".hoodie/")
        ]
        if leftovers or any(
            e.path for e in storage.list(META, recursive=True) if _is_timeline(e.path)
        ):
            raise NotAHudiTableError(
                f"{base_path} is not a Hudi table but is not empty (found {leftovers[:1]}); "
                "refusing to create a table over existing files"
            )
        for d in SPARK_DIRS:
            storage.mkdir(f"{META}/{d}")
        storage.write(PROPERTIES, render_properties(config.table.to_properties()))
        return cls(storage, config.table, config.write)

    @classmethod
    def open_or_create(
        cls, base_path: str, config: HudiConfig, storage_options: dict[str, str] | None = None
    ) -> HudiTable:
        storage = Storage(base_path, storage_options)
        if not storage.exists(PROPERTIES):
            return cls.create(base_path, config, storage_options)
        table = cls.open(base_path, config.write, storage_options,
                         keygen_props=dict(config.table.keygen_props))  # fmt: skip
        table._check_matches(config.table)
        return table

    def _check_matches(self, wanted: TableConfig) -> None:
        stored = self.config
        pairs = [
            ("hoodie.table.type", stored.table_type, wanted.table_type),
            ("hoodie.table.recordkey.fields", stored.record_key_fields, wanted.record_key_fields),
            ("hoodie.table.precombine.field", stored.precombine_field, wanted.precombine_field),
            ("hoodie.table.partition.fields", stored.partition_fields, wanted.partition_fields),
            ("hoodie.table.keygenerator.class", stored.keygenerator_class,
             wanted.keygenerator_class),
            ("hoodie.datasource.write.hive_style_partitioning", stored.hive_style_partitioning,
             wanted.hive_style_partitioning),
            ("hoodie.datasource.write.partitionpath.urlencode", stored.urlencode_partition,
             wanted.urlencode_partition),
            ("hoodie.datasource.write.partitionpath.field", stored.partition_types,
             wanted.partition_types),
        ]  # fmt: skip
        # Spark's datasource writes with its configured payload but records none in
        # hoodie.properties; like Hudi's own writers, continue such a table with ours.
        if self._properties().get("hoodie.compaction.payload.class"):
            pairs.append(
                ("hoodie.compaction.payload.class", stored.payload_class, wanted.payload_class)
            )
        for key, have, want in pairs:
            if have != want:
                raise HudiConfigError(
                    f"{self.storage.uri_of(PROPERTIES)}: {key} is {have!r} but the writer is "
                    f"configured with {want!r}"
                )

    # -- schema ----------------------------------------------------------------------------

    def _load_schema(self) -> None:
        timeline = Timeline(self.storage)
        for inst in reversed(timeline.completed_writes()):
            meta = timeline.read_json(inst)
            text = meta.get("extraMetadata", {}).get("schema")
            if text:
                self._set_schema(json.loads(text))
                return
        props = self._properties()
        text = props.get("hoodie.table.create.schema")
        if text:
            self._set_schema(json.loads(text))

    def _set_schema(self, avro: dict) -> None:
        self._avro = {**avro, "fields": [f for f in avro["fields"] if f["name"] not in META_FIELDS]}
        self._schema = arrow_from_avro(self._avro)
        self._target = data_schema_with_meta(self._schema)  # meta fields, then the data

    def _record_create_schema(self, avro: dict) -> None:
        """hoodie.table.create.schema, as Spark writes it when it creates a table: the first
        write's Avro schema without meta fields. Updated the way Java's HoodieTableConfig
        modifies the file (backup, rewrite, drop the backup)."""
        props = self._properties()
        if props.get("hoodie.table.create.schema"):
            return
        values = {**props.values, "hoodie.table.create.schema": avro_json(avro)}
        backup = f"{PROPERTIES}.backup"
        self.storage.write(backup, self.storage.read(PROPERTIES))
        self.storage.write(PROPERTIES, render_properties(values))
        self.storage.delete(backup)

    def _properties(self):
        text = self.storage.read(PROPERTIES).decode("latin-1")
        return parse_properties(text, self.storage.uri_of(PROPERTIES))

    @property
    def schema(self) -> pa.Schema | None:
        """The data schema (without meta fields), or None before the first commit."""
        return self._schema

    @property
    def base_path(self) -> str:
        return self.storage.uri

    # -- public write API ------------------------------------------------------------------

    def upsert(self, data, source_checkpoint: str | None = None, **kw) -> CommitResult:
        return self.write(data, "UPSERT", source_checkpoint=source_checkpoint, **kw)

    def insert(self, data, source_checkpoint: str | None = None, **kw) -> CommitResult:
        return self.write(data, "INSERT", source_checkpoint=source_checkpoint, **kw)

    def bulk_insert(self, data, source_checkpoint: str | None = None, **kw) -> CommitResult:
        return self.write(data, "BULK_INSERT", source_checkpoint=source_checkpoint, **kw)

    def delete(self, keys, source_checkpoint: str | None = None, **kw) -> CommitResult:
        """Hard-delete the records whose key fields are given (a table with the key columns)."""
        return self.write(keys, "DELETE", source_checkpoint=source_checkpoint, **kw)

    def write(
        self,
        data: pa.Table | pa.RecordBatch,
        operation: str = "UPSERT",
        source_checkpoint: str | None = None,
        extra_metadata: dict[str, str] | None = None,
    ) -> CommitResult:
        """Write one batch as one commit (plus any compaction and clean it triggers).

        The batch is validated completely before anything is written: bad input raises a
        HudiError and leaves the table as it was. With a source_checkpoint an empty batch still
        commits, so the checkpoint advances; without one it writes nothing.
        """
        operation = operation.upper()
        if operation not in OPERATIONS:
            raise HudiConfigError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if not isinstance(data, pa.Table):
            raise HudiSchemaError(f"expected a pyarrow Table, got {type(data).__name__}")
        batch, schema = self._prepare(data, operation)
        rolled_back = self.rollback_pending()
        timeline = Timeline(self.storage)
        if operation == "DELETE" and self._schema is None:
            # Nothing was ever written, so nothing can be deleted (and the key-only input
            # must not become the table schema).
            return CommitResult(None, None, operation, records_in=data.num_rows,
                                rolled_back=tuple(rolled_back))  # fmt: skip
        if batch.num_rows == 0 and source_checkpoint is None:
            return CommitResult(None, None, operation, rolled_back=tuple(rolled_back))
        view = self._view(timeline)
        action = "deltacommit" if self.config.is_mor else "commit"
        instant = new_instant_time(timeline.last_timestamp())
        avro = self._avro or avro_schema(schema, self.config.name)
        if self._avro is None:
            self._record_create_schema(avro)
        self._step_requested(instant, action)
        written, unchanged = self._apply(batch, operation, instant, view, timeline, schema, avro)
        extra = {"schema": avro_json(avro)}
        if source_checkpoint is not None:
            extra[CHECKPOINT_KEY] = source_checkpoint
        if written.moved:
            extra[MOVES_KEY] = str(written.moved)
        extra.update(extra_metadata or {})
        self._complete(instant, action, written.stats, operation, extra, compacted=False)
        if self._avro is None:
            self._set_schema(avro)
        compaction = self._maybe_compact()
        clean, cleaned = self._maybe_clean()
        archived = self.archive() if self.options.auto_archive else ()
        return CommitResult(
            instant=instant,
            action=action,
            operation=operation,
            records_in=data.num_rows,
            inserted=written.inserted,
            updated=written.updated,
            deleted=written.deleted,
            unchanged=unchanged,
            records_written=written.writes,
            files_created=written.files_created,
            files_updated=written.files_updated,
            log_files=written.log_files,
            bytes_written=written.bytes,
            partitions=tuple(sorted(written.stats)),
            checkpoint=source_checkpoint,
            compaction_instant=compaction,
            clean_instant=clean,
            rolled_back=tuple(rolled_back),
            files_cleaned=cleaned,
            archived=archived,
        )

    def last_checkpoint(self) -> str | None:
        """The newest `deltastreamer.checkpoint.key` in the completed commits."""
        timeline = Timeline(self.storage)
        for inst in reversed(timeline.completed(WRITE_ACTIONS)):
            value = timeline.read_json(inst).get("extraMetadata", {}).get(CHECKPOINT_KEY)
            if value is not None:
                return value
        return None

    def timeline(self) -> list[Instant]:
        return Timeline(self.storage).instants()

    # -- validation ------------------------------------------------------------------------

    def _prepare(self, data: pa.Table, operation: str) -> tuple[pa.Table, pa.Schema]:
        """Data columns in table order plus __key, __part and __del, one row per key."""
        cfg = self.config
        names = set(data.column_names)
        need = [(f, "record key field") for f in cfg.record_key_fields]
        if operation != "DELETE":
            if cfg.precombine_field:
                need.append((cfg.precombine_field, "ordering (precombine) field"))
            need += [(f, "partition field") for f in cfg.partition_fields]
        for name, role in need:
            if name not in names:
                raise HudiSchemaError(
                    f"the input has no {role} {name!r} (input fields: "
                    f"{', '.join(data.column_names)})"
                )
        incoming = normalize_schema(data.schema)
        schema = self._schema if self._schema is not None else incoming
        if operation != "DELETE":
            extra = [f.name for f in incoming if f.name not in schema.names]
            if extra:
                raise HudiSchemaError(
                    f"field {extra[0]!r} is not in the table schema of {self.base_path} "
                    "(schema evolution is not supported)"
                )
        n = data.num_rows
        columns = []
        for f in schema:
            if f.name in names:
                col = data.column(f.name)
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                    raise HudiSchemaError(
                        f"field {f.name!r}: cannot store {data.schema.field(f.name).type} as "
                        f"{f.type}: {e}"
                    ) from None
            else:
                col = pa.nulls(n, f.type)
            columns.append(col)
        table = pa.Table.from_arrays(columns, schema=schema)
        keys = self._record_keys(table)
        if operation == "DELETE":
            parts = pa.nulls(n, pa.string())
            deleted = pa.array(np.ones(n, dtype=bool))
        else:
            parts = self._partition_paths(table)
            deleted = self._delete_flags(table)
            if cfg.precombine_field:
                nulls = table.column(cfg.precombine_field).null_count
                if nulls:
                    raise HudiSchemaError(
                        f"ordering field {cfg.precombine_field!r} is null in {nulls} input rows"
                    )
        table = table.append_column("__key", keys).append_column("__part", parts)
        table = table.append_column("__del", deleted)
        if operation in ("UPSERT", "DELETE") or self.options.combine_before_insert:
            order = []
            if cfg.precombine_field and operation != "DELETE":
                order.append(table.column(cfg.precombine_field).combine_chunks())
            # A single key field's own values are as distinct as their strings, and integers
            # count and sort faster than strings.
            by = table.column("__key")
            if len(cfg.record_key_fields) == 1 and pa.types.is_integer(
                table.column(cfg.record_key_fields[0]).type
            ):
                by = table.column(cfg.record_key_fields[0])
            keep = _last_per_key(by.combine_chunks(), order)
            if len(keep) != n:
                table = table.take(pa.array(keep))
        return table, schema

    def _record_keys(self, table: pa.Table) -> pa.Array:
        return self._keygen().record_keys(table)

    def _partition_paths(self, table: pa.Table) -> pa.Array:
        return self._keygen().partition_paths(table)

    def _keygen(self) -> KeyGenerator:
        return KeyGenerator(self.config, self.options.default_partition)

    def _delete_flags(self, table: pa.Table) -> pa.Array:
        n = table.num_rows
        opts = self.options
        if opts.delete_mode == "hard" and opts.delete_field in table.column_names:
            col = table.column(opts.delete_field).combine_chunks()
            return pc.equal(col.cast(pa.string()), opts.delete_value).fill_null(False)
        return pa.array(np.zeros(n, dtype=bool))

    # -- reading the current state ---------------------------------------------------------

    def file_system_view(self, timeline: Timeline | None = None) -> FileSystemView:
        """The latest committed file slices (what readers see), for catalogs and tools."""
        return self._view(timeline or Timeline(self.storage))

    def _view(self, timeline: Timeline) -> FileSystemView:
        committed = timeline.committed_instants()
        replaced = set()
        for inst in timeline.completed(("replacecommit",)):
            meta = timeline.read_json(inst)
            for partition, ids in (meta.get("partitionToReplaceFileIds") or {}).items():
                replaced.update((partition, fid) for fid in ids)
        return FileSystemView(self.storage, committed, replaced)

    def _read_base(
        self,
        path: str,
        columns: list[str] | None = None,
        dictionary: tuple[str, ...] = (),
        opened: pq.ParquetFile | None = None,
        metadata: pq.FileMetaData | None = None,
    ) -> pa.Table:
        """A base file's rows in the table schema; `dictionary` columns stay dictionary-encoded.
        `opened` is the file already open, or `metadata` its footer, already parsed."""

        def read(parquet: pq.ParquetFile) -> pa.Table:
            present = set(parquet.schema_arrow.names)
            wanted = None if columns is None else [c for c in columns if c in present]
            # One file per thread already: no thread pool inside the read.
            return parquet.read(columns=wanted, use_threads=False)

        if opened is not None and not dictionary:
            t = read(opened)
        else:
            with self.storage.open_input(path) as f:
                parquet = pq.ParquetFile(f, metadata=metadata,
                                         read_dictionary=list(dictionary) or None)  # fmt: skip
                t = read(parquet)
        return self._conform(t, columns, keep_dictionary=bool(dictionary))

    def _conform(
        self, t: pa.Table, columns: list[str] | None, keep_dictionary: bool = False
    ) -> pa.Table:
        """Cast to the table schema (Spark files use other list/map field names)."""
        target = self._target if self._schema else None
        if target is None:
            return t
        fields = [target.field(c) for c in (columns or target.names)]
        present = {name: i for i, name in enumerate(t.column_names)}
        arrays = []
        for i, f in enumerate(fields):
            if f.name in present:
                col = t.column(present[f.name])
                if col.type == f.type or (
                    keep_dictionary
                    and pa.types.is_dictionary(col.type)
                    and col.type.value_type == f.type
                ):
                    arrays.append(col)
                    fields[i] = pa.field(f.name, col.type)
                else:
                    arrays.append(col.cast(f.type))
            else:
                arrays.append(pa.nulls(t.num_rows, f.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def _log_changes(self, sl: FileSlice, committed: set[str], columns: list[str] | None):
        """Data rows and deleted keys of a slice's committed log blocks, each with a block
        sequence number (1, 2, ...) in log order."""
        blocks = []
        for log in sl.logs:
            data = self.storage.read(log.path)
            blocks.extend(logfile.read_blocks(data, self.storage.uri_of(log.path)))
        rolled = {
            b.header.get(logfile.TARGET_INSTANT_TIME)
            for b in blocks
            if b.type == logfile.COMMAND_BLOCK
            and b.header.get(logfile.COMMAND_BLOCK_TYPE) == logfile.ROLLBACK_COMMAND
        }
        rows, deletes = [], []
        seq = 0
        target = self._target
        for b in blocks:
            if b.instant not in committed or b.instant in rolled:
                continue
            seq += 1
            if b.type == logfile.AVRO_DATA_BLOCK:
                t = logfile.decode_avro_columns(b, columns)
                if t is None:  # nested types: fastavro, record by record
                    t = pa.Table.from_pylist(logfile.decode_avro_records(b), schema=target)
                rows.append((self._conform(t, columns), seq))
            elif b.type == logfile.PARQUET_DATA_BLOCK:
                rows.append((self._conform(logfile.decode_parquet_block(b), columns), seq))
            elif b.type == logfile.DELETE_BLOCK:
                keys = [d["recordKey"] for d in logfile.decode_deletes(b)]
                deletes.append((pa.array(keys, pa.string()), seq))
        return rows, deletes

    def _read_slice(self, sl: FileSlice, committed: set[str], columns: list[str] | None = None):
        """The merged rows of a file slice: base file, then log blocks in order (later wins)."""
        base = self._read_base(sl.base_path, columns) if sl.base_path else None
        if not sl.logs:
            return base
        rows, deletes = self._log_changes(sl, committed, columns)
        if not rows and not deletes:
            return base
        tables = ([base] if base is not None else []) + [t for t, _ in rows]
        seqs = ([np.zeros(base.num_rows, np.int64)] if base is not None else []) + [
            np.full(t.num_rows, s, np.int64) for t, s in rows
        ]
        combined = pa.concat_tables(tables) if tables else None
        n_rows = combined.num_rows if combined is not None else 0
        keys = [combined.column("_hoodie_record_key").combine_chunks()] if combined else []
        keys += [k for k, _ in deletes]
        seqs += [np.full(len(k), s, np.int64) for k, s in deletes]
        all_keys = pa.concat_arrays(keys) if keys else pa.array([], pa.string())
        all_seq = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
        winners = _last_per_key(all_keys, [pa.array(all_seq)])
        winners = winners[winners < n_rows]  # rows beyond n_rows are deletes
        if combined is None:
            return pa.Table.from_arrays(
                [pa.array([], f.type) for f in self._target],
                schema=self._target,
            ).select(columns or META_FIELDS + tuple(self._schema.names))
        return combined.take(pa.array(winners))

    def _locate(
        self, keys: pa.Array, slices: list[FileSlice], timeline: Timeline, unique: bool
    ) -> Location:
        """Where the incoming keys are stored now (a global index over the latest slices)."""
        committed = timeline.committed_instants()

        def read_keys(sl: FileSlice, columns: list[str], opened) -> pa.Table:
            if sl.logs or not sl.base_path:
                return self._read_slice(sl, committed, columns)
            return self._read_base(sl.base_path, columns, opened=opened)

        return locate(keys, slices, self.storage, read_keys, self.config.precombine_field,
                      self._map, unique)  # fmt: skip

    def snapshot(self, columns: list[str] | None = None, read_optimized: bool = False) -> pa.Table:
        """The latest committed rows (merged with logs unless read_optimized), meta fields
        included. For checks inside the product; tests read with hudi-rs."""
        timeline = Timeline(self.storage)
        committed = timeline.committed_instants()
        view = self._view(timeline)
        if self._schema is None:
            return pa.table({})
        target = self._target
        # Merging log blocks needs the record key, whatever columns were asked for.
        read = columns
        if columns is not None and "_hoodie_record_key" not in columns and not read_optimized:
            read = ["_hoodie_record_key", *columns]
        parts = []
        for sl in view.latest_slices():
            if read_optimized:
                t = self._read_base(sl.base_path, read) if sl.base_path else None
            else:
                t = self._read_slice(sl, committed, read)
            if t is not None and t.num_rows:
                parts.append(t.select(columns) if columns is not None else t)
        if not parts:
            return target.empty_table().select(columns or target.names)
        return pa.concat_tables(parts)

    # -- the write itself ------------------------------------------------------------------

    def _step_requested(self, instant: str, action: str) -> None:
        self.storage.write_new(f"{META}/{instant_file(instant, action, REQUESTED)}", b"")
        self.storage.write_new(f"{META}/{instant_file(instant, action, INFLIGHT)}", b"")

    def _write_markers(self, instant: str, files: list[tuple[str, str]]) -> None:
        """Name every file this instant will write, before writing any: a rollback deletes
        them. Written as Hudi's timeline-server-based markers (MARKERS.type, then all names in
        MARKERS0), which Java's rollback reads from storage too; one file instead of one per
        data file."""
        if not files:
            return
        self.storage.write(f"{TEMP}/{instant}/{MARKER_TYPE_FILE}", MARKER_TYPE.encode())
        lines = "".join(f"{rel}.marker.{io_type}\n" for rel, io_type in files)
        self.storage.write(f"{TEMP}/{instant}/{MARKERS_FILE}", lines.encode("utf-8"))

    def _ensure_partition(self, view: FileSystemView, partition: str, instant: str) -> None:
        if partition in view.partitions:
            return
        rel = join(partition, PARTITION_METAFILE)
        if not self.storage.exists(rel):
            self.storage.write(rel, partition_metadata(instant, partition))
        view.partitions.add(partition)

    def _record_size(self, timeline: Timeline) -> int:
        """Average bytes per record from the latest large enough commit, as Hudi estimates it."""
        for inst in reversed(timeline.completed_writes()[-5:]):
            stats = timeline.read_json(inst).get("partitionToWriteStats") or {}
            total = sum(s.get("totalWriteBytes", 0) for v in stats.values() for s in v)
            records = sum(s.get("numWrites", 0) for v in stats.values() for s in v)
            if records and total > self.options.small_file_limit:
                return max(1, total // records)
        return max(1, self.options.record_size_estimate)

    def _meta_columns(self, rows: pa.Table, instant: str, task: int, file_name: str, start=0):
        """Rows with fresh meta fields for records written by this instant."""
        n = rows.num_rows
        seq = pc.binary_join_element_wise(
            f"{instant}_{task}_", pa.array(np.arange(start, start + n)).cast(pa.string()), ""
        )
        meta = [
            pa.repeat(instant, n),
            seq,
            rows.column("__key").combine_chunks(),
            rows.column("__part").combine_chunks(),
            pa.repeat(file_name, n),
        ]
        data = [rows.column(name) for name in self._schema_names]
        return pa.Table.from_arrays(meta + data, schema=self._with_meta)

    def _apply(self, batch, operation, instant, view, timeline, schema, avro):
        """Plan which records go where, then write base and log files. Returns what was
        written and how many incoming records were older than the stored ones."""
        self._schema_names = schema.names
        self._with_meta = data_schema_with_meta(schema)
        self._avro_meta = avro_json(with_meta_fields(avro))
        cfg, opts = self.config, self.options
        written = _Written()
        n = batch.num_rows
        keys = batch.column("__key").combine_chunks()
        parts = batch.column("__part").combine_chunks()
        is_del = _np_bool(batch.column("__del"))
        slices = view.latest_slices()
        slice_index = np.full(n, -1, dtype=np.int64)
        stale = np.zeros(n, dtype=bool)
        read_keys: dict = {}
        if (operation != "BULK_INSERT" or opts.filter_dupes) and self._schema is not None:
            # _prepare combined rows with equal keys for these operations
            unique = operation in ("UPSERT", "DELETE") or opts.combine_before_insert
            located = self._locate(keys, slices, timeline, unique)
            slice_index = located.slice_index
            read_keys = located.read
            if cfg.event_time_ordering and operation == "UPSERT" and located.ordering is not None:
                incoming = batch.column(cfg.precombine_field)
                stale = _np_bool(pc.less(incoming, located.ordering))
        exists = slice_index >= 0
        slice_parts = pa.array([sl.partition for sl in slices], pa.string())
        loc_part = slice_parts.take(pa.array(slice_index, mask=~exists))
        if operation == "DELETE":
            deletes = exists
            updates = moves = inserts = np.zeros(n, dtype=bool)
        elif operation in ("INSERT", "BULK_INSERT"):
            inserts = ~exists if opts.filter_dupes else np.ones(n, dtype=bool)
            deletes = updates = moves = np.zeros(n, dtype=bool)
        else:
            live = ~stale
            deletes = live & exists & is_del
            inserts = live & ~exists & ~is_del
            same = _np_bool(pc.equal(parts, loc_part))
            if not opts.update_partition_path:
                # The record stays where it is, whatever its new partition value says.
                parts = pc.if_else(pa.array(exists), loc_part, parts)
                batch = batch.set_column(batch.schema.get_field_index("__part"), "__part", parts)
                same = exists
            updates = live & exists & ~is_del & same
            moves = live & exists & ~is_del & ~same
        unchanged = int(stale.sum())

        fid_codes = slice_index
        fid_values = [sl.file_id for sl in slices]
        code_of = {fid: code for code, fid in enumerate(fid_values)}
        # incoming rows that replace or remove the stored record with their key
        applied = updates | deletes | moves
        by_file_update = _groups(fid_codes, updates)
        by_file_remove = _groups(fid_codes, deletes | moves)
        part_dict = parts.dictionary_encode()
        part_codes = part_dict.indices.to_numpy(zero_copy_only=False)
        part_values = part_dict.dictionary.to_pylist()
        by_part_insert = _groups(part_codes, inserts | moves)
        written.inserted = int((inserts | moves).sum())
        written.updated = int(updates.sum()) + int(moves.sum())
        written.deleted = int(deletes.sum())
        written.inserted -= int(moves.sum())
        written.moved = int(moves.sum())

        touched = {fid_values[c] for c in list(by_file_update) + list(by_file_remove)}
        latest = {sl.file_id: sl for sl in view.latest_slices()}
        task = 0
        record_size = self._record_size(timeline)
        per_file = max(1, opts.max_file_size // record_size)

        # Inserts: fill small files first (except for bulk insert), then new file groups.
        assigned: dict[str, list[np.ndarray]] = {}
        new_groups: list[tuple[str, np.ndarray]] = []
        for code, rows in sorted(by_part_insert.items()):
            partition = part_values[code]
            if operation == "BULK_INSERT":
                # Key order within a partition (Hudi's bulk insert sort); a partition that fits
                # one file is sorted by its own job, on the writer's threads.
                if len(rows) > per_file:
                    order = pc.sort_indices(keys.take(pa.array(rows))).to_numpy()
                    rows = rows[order]
            else:
                for sl in sorted(
                    (s for s in latest.values() if s.partition == partition and s.base_path),
                    key=lambda s: (s.base_size, s.file_id),
                ):
                    if not len(rows):
                        break
                    if sl.base_size >= opts.small_file_limit:
                        continue
                    if cfg.is_mor and (sl.logs or sl.file_id in touched):
                        continue
                    room = max(0, (opts.max_file_size - sl.base_size) // record_size)
                    if room:
                        assigned.setdefault(sl.file_id, []).append(rows[:room])
                        rows = rows[room:]
            for start in range(0, len(rows), per_file):
                new_groups.append((partition, rows[start : start + per_file]))

        # Existing file groups that change, then new ones: independent files, written in
        # parallel (Arrow, numpy and the Parquet writer release the GIL).
        changed = sorted(touched | set(assigned))
        # Bloom-filter bit positions of the keys inserted into existing files, hashed in one go.
        filling = np.concatenate([r for chunks in assigned.values() for r in chunks] or [[]])
        filling = filling.astype(np.int64)
        positions = hash_positions(keys.take(pa.array(filling)))
        position_row = np.full(n, -1, dtype=np.int64)
        position_row[filling] = np.arange(len(filling))
        planned = []  # (function, row arrays picked from the batch, other arguments)
        markers: list[tuple[str, str]] = []  # (file, IO type) of every file to be written
        empty = np.zeros(0, np.int64)
        for fid in changed:
            sl = latest[fid]
            code = code_of.get(fid)
            upd_rows = by_file_update.get(code, empty) if code is not None else empty
            rem_rows = by_file_remove.get(code, empty) if code is not None else empty
            ins_rows = np.concatenate(assigned[fid]) if fid in assigned else empty
            added = positions[position_row[ins_rows]] if len(ins_rows) else positions[:0]
            task += 1
            self._ensure_partition(view, sl.partition, instant)
            if cfg.is_mor and (len(upd_rows) or len(rem_rows)):
                # Never append to an existing log file: the next version of this slice's logs.
                version = 1 + max(
                    (log.version for log in sl.logs if log.base_instant == sl.base_instant),
                    default=0,
                )
                name = log_file_name(sl.file_id, sl.base_instant, version, f"{task}-1-{task}")
                rel = join(sl.partition, name)
                markers.append((rel, "APPEND"))
                args = (rel, sl, instant, task, written)
                planned.append((self._write_log, [upd_rows, rem_rows], args))
            else:
                rel = join(sl.partition, base_file_name(fid, f"{task}-1-{task}", instant))
                markers.append((rel, "MERGE"))
                planned.append((self._rewrite_base, [upd_rows, rem_rows, ins_rows],
                                (rel, sl, instant, task, timeline, written, read_keys.get(fid),
                                 applied, added)))  # fmt: skip
        sort = operation == "BULK_INSERT"
        for partition, rows in new_groups:
            task += 1
            self._ensure_partition(view, partition, instant)
            rel = join(partition, base_file_name(new_file_id(), f"{task}-1-{task}", instant))
            markers.append((rel, "CREATE"))
            args = (rel, partition, instant, task, written, sort and len(rows) <= per_file)
            planned.append((self._write_new_group, [rows], args))
        self._write_markers(instant, markers)

        if operation == "BULK_INSERT":
            # Every row goes somewhere: each file picks its rows on its own thread.
            def job(fn, row_arrays, args):
                fn(*(batch.take(pa.array(rows, pa.int64())) for rows in row_arrays), *args)

            self._map(lambda item: job(*item), planned)
            return written, unchanged
        # A change batch: one take for all files, each getting zero-copy slices of it.
        picks = [rows for _, row_arrays, _ in planned for rows in row_arrays]
        taken = batch.take(pa.array(np.concatenate(picks or [empty]).astype(np.int64)))
        jobs = []
        offset = 0
        for fn, row_arrays, args in planned:
            tables = []
            for rows in row_arrays:
                tables.append(taken.slice(offset, len(rows)))
                offset += len(rows)
            jobs.append((fn, (*tables, *args)))
        self._run(jobs)
        return written, unchanged

    def _map(self, fn, items) -> list:
        """fn over items on the writer's threads (Arrow, numpy and Parquet release the GIL)."""
        items = list(items)
        workers = min(len(items), self.options.parallelism or os.cpu_count() or 1)
        if workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(workers, thread_name_prefix="hudi-write") as pool:
            return list(pool.map(fn, items))

    def _run(self, jobs) -> None:
        self._map(lambda job: job[0](*job[1]), jobs)

    def _write_new_group(self, rows: pa.Table, rel, partition, instant, task, written,
                         sort: bool = False) -> None:  # fmt: skip
        if sort:
            rows = rows.take(pc.sort_indices(rows.column("__key")))
        name = rel.rpartition("/")[2]
        fid = name.split("_", 1)[0]
        table = self._meta_columns(rows, instant, task, name)
        size = write_base_file(
            self.storage, rel, table, self._avro_meta, self.options.parquet_compression
        )
        extra = self._delta_extra(name, []) if self.config.is_mor else {}
        stat = _stat(partition, fid, rel, "null", rows.num_rows, 0, 0, rows.num_rows, size, **extra)
        written.add(partition, stat, "created")

    def _delta_extra(self, base_name: str | None, logs: list[str], version: int = 0) -> dict:
        return {
            "logVersion": version,
            "logOffset": 0,
            "baseFile": base_name or "",
            "logFiles": logs,
            "recordsStats": {"val": None},
        }

    def _rewrite_base(self, upd: pa.Table, rem: pa.Table, ins: pa.Table, rel, sl, instant, task,
                      timeline, written, known: SliceKeys | None = None, applied=None,
                      inserted_positions=None):  # fmt: skip
        """A new version of a file group's base file: carried-over rows keep their meta fields
        (except the file name), updated and inserted rows get this instant's."""
        name = rel.rpartition("/")[2]
        use_dictionary: bool | list[str] = True
        bloom = None
        if known is not None and known.base_only and known.footer is not None:
            # The lookup read this file's keys and matched them to the incoming rows: read the
            # other columns only (few-valued strings as dictionaries, written straight back).
            skip = ("_hoodie_record_key", "_hoodie_file_name")
            columns = [c for c in self._with_meta.names if c not in skip]
            dictionary = tuple(c for c in known.footer.dictionary_columns if c not in skip)
            old = self._read_base(sl.base_path, columns, dictionary,
                                  metadata=known.footer.metadata)  # fmt: skip
            if old.num_rows != len(known.keys):
                raise HudiError(f"{self.storage.uri_of(sl.base_path)} changed during the write")
            old = old.add_column(2, "_hoodie_record_key", known.keys)
            old = old.add_column(4, "_hoodie_file_name", pa.nulls(old.num_rows, pa.string()))
            removed = np.zeros(old.num_rows, dtype=bool)
            hit = known.match >= 0
            removed[hit] = applied[known.match[hit]]
            use_dictionary = [f.name for f in old.schema if pa.types.is_dictionary(f.type)]
            if known.footer.bloom is not None and inserted_positions is not None:
                # Updated keys are in the old filter already; only inserted ones add bits.
                bloom = extend_filter(known.footer.bloom, inserted_positions)
        else:
            committed = timeline.committed_instants()
            old = self._read_slice(sl, committed) if sl.logs else self._read_base(sl.base_path)
            gone = pa.concat_arrays([upd.column("__key").combine_chunks(),
                                     rem.column("__key").combine_chunks()])  # fmt: skip
            removed = _np_bool(pc.is_in(old.column("_hoodie_record_key"), value_set=gone))
        kept = old.filter(pa.array(~removed)) if removed.any() else old
        fresh = self._meta_columns(pa.concat_tables([upd, ins]), instant, task, name)
        parts = [kept, _like(fresh, kept.schema)]  # carried-over rows, then this commit's
        rows = kept.num_rows + fresh.num_rows
        size = write_base_file(self.storage, rel, parts, self._avro_meta,
                               self.options.parquet_compression, use_dictionary,
                               bloom)  # fmt: skip
        deleted = int(removed.sum()) - upd.num_rows
        extra = self._delta_extra(name, []) if self.config.is_mor else {}
        written.add(sl.partition, _stat(sl.partition, sl.file_id, rel, sl.base_instant,
                                        rows, deleted, upd.num_rows, ins.num_rows,
                                        size, **extra), "updated")  # fmt: skip

    def _ordering_value(self, n: int) -> list:
        """orderingVal entries of a delete block.

        Hudi's "natural order" zero, written in union branch 2: Java 0.14 reads that branch as
        long 0 (an unconditional delete) and hudi-rs 0.5.0, whose delete schema wraps values in
        records (branch 2 = IntWrapper), reads int 0 (a delete that wins over earlier writes).
        Any other value breaks one of them: hudi-rs overflows on longs beyond 32 bits. The
        writer has already applied event-time ordering before deciding to delete.
        """
        return [("long", 0)] * n

    def _write_log(self, upd: pa.Table, rem: pa.Table, rel, sl, instant, task, written):
        """MoR: one new log file on the slice with a data block (updates) and a delete block."""
        name = rel.rpartition("/")[2]
        version = int(LOG_FILE.match(name)["ver"])
        blocks = []
        if upd.num_rows:
            rows = self._meta_columns(upd, instant, task, sl.file_id)
            blocks.append(logfile.avro_data_block(instant, self._avro_meta, rows))
        if rem.num_rows:
            keys = rem.column("__key").to_pylist()
            deletes = [
                {"recordKey": k, "partitionPath": sl.partition, "orderingVal": o}
                for k, o in zip(keys, self._ordering_value(len(keys)), strict=True)
            ]
            blocks.append(logfile.delete_block(instant, self._avro_meta, deletes))
        data = b"".join(blocks)
        self.storage.write(rel, data)
        logs = [log.name for log in sl.logs] + [name]
        extra = self._delta_extra(sl.base_name, logs, version)
        written.add(sl.partition, _stat(sl.partition, sl.file_id, rel, sl.base_instant,
                                        upd.num_rows, rem.num_rows, upd.num_rows, 0, len(data),
                                        **extra), "log")  # fmt: skip

    def _complete(self, instant, action, stats, operation, extra, compacted):
        meta = {
            "partitionToWriteStats": stats,
            "compacted": compacted,
            "extraMetadata": extra,
            "operationType": operation,
        }
        # Compact JSON: readers take any JSON, and json's C encoder skips indented output.
        data = json.dumps(meta).encode("utf-8")
        self.storage.write_new(f"{META}/{instant_file(instant, action, COMPLETED)}", data)
        self.storage.delete_dir(f"{TEMP}/{instant}")

    # -- compaction (MoR) ------------------------------------------------------------------

    def _maybe_compact(self) -> str | None:
        if not self.config.is_mor or not self.options.inline_compaction:
            return None
        timeline = Timeline(self.storage)
        last_compaction = max(
            (i.timestamp for i in timeline.completed(("compaction",))), default=""
        )
        deltas = [i for i in timeline.completed(("deltacommit",)) if i.timestamp > last_compaction]
        if len(deltas) < self.options.compaction_delta_commits:
            return None
        return self.compact()

    def compact(self) -> str | None:
        """Merge every file slice that has log files into a new base file (one compaction
        instant, completed as a commit). Returns the instant, or None if there was nothing."""
        if not self.config.is_mor:
            raise HudiConfigError("compaction applies to MERGE_ON_READ tables only")
        self.rollback_pending()
        timeline = Timeline(self.storage)
        view = self._view(timeline)
        slices = [sl for sl in view.latest_slices() if sl.logs]
        if not slices or self._schema is None:
            return None
        committed = timeline.committed_instants()
        instant = new_instant_time(timeline.last_timestamp())
        self._schema_names = self._schema.names
        self._with_meta = data_schema_with_meta(self._schema)
        avro_meta = avro_json(with_meta_fields(self._avro))
        operations = [
            {
                "baseInstantTime": sl.base_instant,
                "deltaFilePaths": [log.name for log in sl.logs],
                "dataFilePath": sl.base_name,
                "fileId": sl.file_id,
                "partitionPath": sl.partition,
                "metrics": {"TOTAL_LOG_FILES": float(len(sl.logs))},
                "externalDataFilePath": None,
            }
            for sl in slices
        ]
        plan = {"operations": operations, "extraMetadata": None, "version": 2}
        self.storage.write_new(
            f"{META}/{instant_file(instant, 'compaction', REQUESTED)}",
            avro_file(COMPACTION_PLAN, plan),
        )
        self.storage.write_new(f"{META}/{instant_file(instant, 'compaction', INFLIGHT)}", b"")
        stats: dict[str, list[dict]] = {}
        lock = threading.Lock()

        def rel_of(task: int, sl: FileSlice) -> str:
            return join(sl.partition, base_file_name(sl.file_id, f"{task}-2-{task}", instant))

        def compact_slice(task: int, sl: FileSlice) -> None:
            merged = self._read_slice(sl, committed)
            rel = rel_of(task, sl)
            size = write_base_file(self.storage, rel, merged, avro_meta,
                                   self.options.parquet_compression)  # fmt: skip
            log_size = sum(log.size for log in sl.logs)
            stat = _stat(sl.partition, sl.file_id, rel, sl.base_instant, merged.num_rows, 0, 0, 0,
                         size, totalLogFilesCompacted=len(sl.logs),
                         totalLogSizeCompacted=log_size)  # fmt: skip
            with lock:
                stats.setdefault(sl.partition, []).append(stat)
                stats[sl.partition].sort(key=lambda s: s["fileId"])

        numbered = list(enumerate(slices, start=1))
        self._write_markers(instant, [(rel_of(task, sl), "CREATE") for task, sl in numbered])
        self._run([(compact_slice, item) for item in numbered])
        extra = {"schema": avro_json(self._avro)}
        self._complete(instant, "compaction", stats, "COMPACT", extra, compacted=True)
        return instant

    # -- cleaner ---------------------------------------------------------------------------

    def archive(self) -> tuple[str, ...]:
        """Move the oldest instants to .hoodie/archived (lakehouse.hudi.archival); returns
        their times."""
        opts = self.options
        timeline = Timeline(self.storage)
        keep_from = min(opts.reader_checkpoints, default=None)
        chosen = archival.instants_to_archive(timeline, self.storage, opts.keep_min_commits,
                                              opts.keep_max_commits, self.config.is_mor,
                                              keep_from)  # fmt: skip
        if not chosen:
            return ()
        archival.archive(self.storage, timeline, chosen, opts.archival_batch)
        return tuple(i.timestamp for i in chosen)

    def _maybe_clean(self) -> tuple[str | None, int]:
        if not self.options.auto_clean:
            return None, 0
        return self.clean()

    def clean(self, commits_retained: int | None = None) -> tuple[str | None, int]:
        """Delete the file slices hoodie.cleaner.policy no longer keeps (lakehouse.hudi.cleaner).
        Returns (clean instant or None, files deleted)."""
        opts = self.options
        timeline = Timeline(self.storage)
        writes = timeline.completed_writes()
        if not writes:
            return None, 0
        chosen = cleaner.plan(self._view(timeline), writes, opts.cleaner_policy,
                              commits_retained or opts.commits_retained,
                              opts.file_versions_retained, opts.hours_retained)  # fmt: skip
        to_delete, earliest = chosen.files, chosen.earliest_to_retain
        if not to_delete:
            return None, 0
        instant = new_instant_time(timeline.last_timestamp())
        plan = {
            "earliestInstantToRetain": None if earliest is None else {
                "timestamp": earliest.timestamp,
                "action": "commit" if earliest.action == "compaction" else earliest.action,
                "state": COMPLETED,
            },
            "policy": chosen.policy,
            "filesToBeDeletedPerPartition": None,
            "version": 2,
            "filePathsToBeDeletedPerPartition": {
                p: [{"filePath": self.storage.uri_of(f), "isBootstrapBaseFile": False} for f in fs]
                for p, fs in to_delete.items()
            },
            "partitionsToBeDeleted": None,
        }  # fmt: skip
        data = avro_file(CLEANER_PLAN, plan)
        self.storage.write_new(f"{META}/{instant_file(instant, 'clean', REQUESTED)}", data)
        self.storage.write_new(f"{META}/{instant_file(instant, 'clean', INFLIGHT)}", data)
        return instant, self._execute_clean(instant, plan, writes[-1].timestamp)

    def _execute_clean(self, instant: str, plan: dict, last_completed: str) -> int:
        start = time.monotonic()
        partitions = {}
        total = 0
        prefix = self.storage.uri + "/"
        for partition, files in (plan.get("filePathsToBeDeletedPerPartition") or {}).items():
            done = []
            for info in files:
                path = info["filePath"]
                rel = path[len(prefix) :] if path.startswith(prefix) else path
                self.storage.delete(rel)
                done.append(path.rpartition("/")[2])
            total += len(done)
            partitions[partition] = {
                "partitionPath": partition,
                "policy": plan["policy"],
                "deletePathPatterns": done,
                "successDeleteFiles": done,
                "failedDeleteFiles": [],
                "isPartitionDeleted": False,
            }
        earliest = plan.get("earliestInstantToRetain") or {}
        metadata = {
            "policy": plan["policy"],
            "startCleanTime": instant,
            "timeTakenInMillis": int((time.monotonic() - start) * 1000),
            "totalFilesDeleted": total,
            "earliestCommitToRetain": earliest.get("timestamp", ""),
            "lastCompletedCommitTimestamp": last_completed,
            "partitionMetadata": partitions,
            "version": 2,
            "bootstrapPartitionMetadata": None,
        }
        self.storage.write_new(
            f"{META}/{instant_file(instant, 'clean', COMPLETED)}",
            avro_file(CLEAN_METADATA, metadata),
        )
        return total

    # -- recovery --------------------------------------------------------------------------

    def rollback_pending(self) -> list[str]:
        """Finish or undo whatever a failed writer left: pending writes and compactions are
        rolled back, pending cleans and rollbacks are completed. Returns the rolled back
        instants."""
        rolled = []
        timeline = Timeline(self.storage)
        for inst in timeline.pending():
            if inst.action == "clean":
                data = self.storage.read(f"{META}/{inst.file_name(REQUESTED)}")
                plan = read_avro_file(data)
                if not self.storage.exists(f"{META}/{inst.file_name(INFLIGHT)}"):
                    self.storage.write_new(f"{META}/{inst.file_name(INFLIGHT)}", data)
                last = timeline.completed_writes()
                self._execute_clean(inst.timestamp, plan, last[-1].timestamp if last else "")
            elif inst.action == "rollback":
                plan = read_avro_file(self.storage.read(f"{META}/{inst.file_name(REQUESTED)}"))
                target = plan["instantToRollback"]
                self._execute_rollback(inst.timestamp, plan, target["commitTime"],
                                       target["action"])  # fmt: skip
                rolled.append(target["commitTime"])
        timeline = Timeline(self.storage)
        for inst in timeline.pending():
            if inst.action in WRITE_ACTIONS + ("compaction",):
                self._rollback(inst, timeline)
                rolled.append(inst.timestamp)
        self._remove_stale_markers()
        return rolled

    def _rollback(self, inst: Instant, timeline: Timeline) -> None:
        requests: dict[tuple[str, str], list[str]] = {}
        for data_rel in sorted(set(marker_names(self.storage, inst.timestamp))):
            partition, _, name = data_rel.rpartition("/")
            fid = name.lstrip(".").split("_", 1)[0]
            requests.setdefault((partition, fid), []).append(self.storage.uri_of(data_rel))
        plan = {
            "instantToRollback": {"commitTime": inst.timestamp, "action": inst.action},
            "RollbackRequests": [
                {"partitionPath": p, "fileId": fid, "latestBaseInstant": None,
                 "filesToBeDeleted": sorted(files), "logBlocksToBeDeleted": None}
                for (p, fid), files in sorted(requests.items())
            ],
            "version": 1,
        }  # fmt: skip
        instant = new_instant_time(timeline.last_timestamp())
        self.storage.write_new(
            f"{META}/{instant_file(instant, 'rollback', REQUESTED)}", avro_file(ROLLBACK_PLAN, plan)
        )
        self.storage.write_new(f"{META}/{instant_file(instant, 'rollback', INFLIGHT)}", b"")
        self._execute_rollback(instant, plan, inst.timestamp, inst.action)

    def _execute_rollback(self, instant: str, plan: dict, target: str, action: str) -> None:
        start = time.monotonic()
        prefix = self.storage.uri + "/"
        partitions: dict[str, dict] = {}
        total = 0
        for req in plan.get("RollbackRequests") or []:
            done = []
            for path in req["filesToBeDeleted"]:
                rel = path[len(prefix) :] if path.startswith(prefix) else path
                if self.storage.delete(rel):
                    total += 1
                done.append(path)
            entry = partitions.setdefault(
                req["partitionPath"],
                {"partitionPath": req["partitionPath"], "successDeleteFiles": [],
                 "failedDeleteFiles": [], "rollbackLogFiles": {},
                 "logFilesFromFailedCommit": {}},
            )  # fmt: skip
            entry["successDeleteFiles"].extend(done)
        for state in (INFLIGHT, REQUESTED):
            self.storage.delete(f"{META}/{instant_file(target, action, state)}")
        self.storage.delete_dir(f"{TEMP}/{target}")
        metadata = {
            "startRollbackTime": instant,
            "timeTakenInMillis": int((time.monotonic() - start) * 1000),
            "totalFilesDeleted": total,
            "commitsRollback": [target],
            "partitionMetadata": partitions,
            "version": 1,
            "instantsRollback": [{"commitTime": target, "action": action}],
        }
        self.storage.write_new(
            f"{META}/{instant_file(instant, 'rollback', COMPLETED)}",
            avro_file(ROLLBACK_METADATA, metadata),
        )

    def _remove_stale_markers(self) -> None:
        """Marker directories of completed instants (the writer died before removing them)."""
        timeline = Timeline(self.storage)
        done = {i.timestamp for i in timeline.instants() if i.state == COMPLETED}
        for d in self.storage.list_dirs(TEMP):
            name = d.rpartition("/")[2]
            if name in done:
                self.storage.delete_dir(d)
        for entry in self.storage.list(TEMP):
            if entry.path.rpartition("/")[2].startswith(".write-"):
                self.storage.delete(entry.path)


def _is_timeline(path: str) -> bool:
    from lakehouse.hudi.timeline import parse_instant_file

    return parse_instant_file(path.rpartition("/")[2]) is not None


def open_table(base_path: str, **kw) -> HudiTable:
    return HudiTable.open(base_path, **kw)


__all__ = ["CHECKPOINT_KEY", "CommitResult", "HudiError", "HudiTable", "open_table"]
