"""A Hudi table (version 6) written in pure Python: Copy-on-Write and Merge-on-Read.

A write goes through the steps Hudi's own writers take, each visible in `.hoodie`:

    <t>.<action>.requested -> <t>.inflight -> markers + data files -> <t>.<action> (commit point)

then, for MoR, inline compaction after N delta commits, the cleaner and timeline archival.
Anything that dies before the commit point leaves a pending instant; the next write rolls it
back (deletes the files its markers name, records a rollback instant) before doing anything
else, so readers never see a half-written commit.

This module is the table's face: opening and creating, the write operations, and the read API
(timeline, file slices as of an instant, schema, partitioning), modelled on hudi-rs's `Table`.
The work is in its own modules: write (planning and writing files), compaction, cleaner,
rollback, archival; file_group (slices and their reader) and timeline (instants and commit
metadata).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.hudi import archival, cleaner, compaction, rollback
from lakehouse.hudi.commit import complete, step_requested
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
from lakehouse.hudi.file_group import FileGroupReader, FileSlice, FileSystemView
from lakehouse.hudi.props import parse as parse_properties
from lakehouse.hudi.props import render as render_properties
from lakehouse.hudi.schema import (
    META_FIELDS,
    arrow_from_avro,
    avro_json,
    avro_schema,
    data_schema_with_meta,
    with_meta_fields,
)
from lakehouse.hudi.table_storage import FileSystemFor, Storage
from lakehouse.hudi.timeline import (
    CHECKPOINT_KEY,
    META,
    MOVES_KEY,
    WRITE_ACTIONS,
    CommittedInstants,
    Timeline,
    new_instant_time,
    parse_instant_file,
)
from lakehouse.hudi.write import Writer, prepare

PROPERTIES = f"{META}/hoodie.properties"
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


class HudiTable:
    """A Hudi table at a base URI, on the filesystem given for it (local paths by default)."""

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
        filesystem: FileSystemFor | None = None,
        keygen_props: dict[str, str] | None = None,
    ) -> HudiTable:
        """filesystem: uri -> (pyarrow filesystem, path) for non-local base paths (this package
        reads no settings). keygen_props: hoodie.keygen.timebased.* settings the table does
        not store (Spark SQL keeps timestamp.type out of hoodie.properties)."""
        storage = Storage(base_path, filesystem)
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
        cls, base_path: str, config: HudiConfig, filesystem: FileSystemFor | None = None
    ) -> HudiTable:
        storage = Storage(base_path, filesystem)
        if storage.exists(PROPERTIES):
            raise HudiConfigError(f"{base_path} is already a Hudi table")
        leftovers = [
            e.path for e in storage.list("", recursive=True) if not e.path.startswith(".hoodie/")
        ]
        if leftovers or any(
            parse_instant_file(e.path.rpartition("/")[2])
            for e in storage.list(META, recursive=True)
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
        cls, base_path: str, config: HudiConfig, filesystem: FileSystemFor | None = None
    ) -> HudiTable:
        storage = Storage(base_path, filesystem)
        if not storage.exists(PROPERTIES):
            return cls.create(base_path, config, filesystem)
        table = cls.open(base_path, config.write, filesystem,
                         keygen_props=dict(config.table.keygen_props))  # fmt: skip
        table._check_matches(config.table)
        return table

    def _check_matches(self, wanted: TableConfig) -> None:
        """The stored table config is the one the writer is configured with."""
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

    # -- the read API ------------------------------------------------------------------------

    @property
    def base_path(self) -> str:
        return self.storage.uri

    def uri_of(self, path: str) -> str:
        """The URI of a path relative to the table (as FileSlice paths are)."""
        return self.storage.uri_of(path)

    @property
    def record_key_fields(self) -> tuple[str, ...]:
        return tuple(self.config.record_key_fields)

    @property
    def partition_fields(self) -> tuple[str, ...]:
        """The fields partition paths are made of (hoodie.table.partition.fields, without any
        `:SIMPLE`/`:TIMESTAMP` types); the key generator is `config.keygenerator_class`, hive
        style and URL encoding are `config.hive_style_partitioning` / `urlencode_partition`."""
        return tuple(self.config.partition_fields)

    @property
    def schema(self) -> pa.Schema | None:
        """The latest data schema (Arrow, without meta fields), or None before the first
        commit: from the newest commit metadata, else hoodie.table.create.schema."""
        return self._schema

    @property
    def schema_with_meta_fields(self) -> pa.Schema | None:
        """The latest schema with the five `_hoodie_*` meta fields first."""
        return self._target

    @property
    def avro_schema(self) -> dict | None:
        """The latest Avro schema (without meta fields) as a JSON object, or None."""
        return self._avro

    @property
    def avro_schema_with_meta_fields(self) -> dict | None:
        return None if self._avro is None else with_meta_fields(self._avro)

    def timeline(self) -> Timeline:
        """The active timeline as of now: instants (timestamp, action, state), completed and
        pending, and each completed write's commit metadata (`Timeline.commit_metadata`)."""
        return Timeline(self.storage)

    def latest_commit_time(self) -> str | None:
        return self.timeline().latest_commit_time()

    def file_slices(self, as_of: str | None = None, base_file_only: bool = False):
        """Per file group, the latest file slice as of instant time `as_of` (default: the newest
        completed write): its base file and log files, sorted by partition and file id.
        Files of instants after `as_of`, pending or rolled back are left out; log files carry
        their blocks of later instants too (readers filter blocks by instant).
        base_file_only: the latest slice with a base file, without logs (read-optimized)."""
        view = self._view(self.timeline(), as_of)
        if base_file_only:
            return [sl.base_file_only() for sl in view.latest_base_slices()]
        return view.latest_slices()

    def base_file_footer(self, sl: FileSlice) -> pq.FileMetaData:
        """The Parquet footer of a slice's base file (row count, schema, key/value metadata)."""
        with self.storage.open_input(sl.base_path) as f:
            return pq.ParquetFile(f).metadata

    def last_checkpoint(self) -> str | None:
        """The newest `deltastreamer.checkpoint.key` in the completed commits."""
        timeline = self.timeline()
        for inst in reversed(timeline.completed(WRITE_ACTIONS)):
            value = timeline.commit_metadata(inst).checkpoint
            if value is not None:
                return value
        return None

    def snapshot(
        self,
        columns: list[str] | None = None,
        read_optimized: bool = False,
        as_of: str | None = None,
    ) -> pa.Table:
        """The committed rows as of `as_of` (default: the latest; merged with logs unless
        read_optimized), meta fields included. For checks inside the product; tests read with
        hudi-rs. Slices the cleaner has removed cannot be read as of earlier instants."""
        timeline = self.timeline()
        committed = self._committed(timeline, as_of)
        view = self._view(timeline, as_of)
        if self._schema is None:
            return pa.table({})
        # Merging log blocks needs the record key, whatever columns were asked for.
        read = columns
        if columns is not None and "_hoodie_record_key" not in columns and not read_optimized:
            read = ["_hoodie_record_key", *columns]
        reader = self._reader()
        parts = []
        for sl in view.latest_slices():
            if read_optimized:
                t = reader.read_base(sl.base_path, read) if sl.base_path else None
            else:
                t = reader.read_slice(sl, committed, read)
            if t is not None and t.num_rows:
                parts.append(t.select(columns) if columns is not None else t)
        if not parts:
            return self._target.empty_table().select(columns or self._target.names)
        return pa.concat_tables(parts)

    # -- internals of reading ------------------------------------------------------------------

    @staticmethod
    def _committed(timeline: Timeline, as_of: str | None) -> CommittedInstants:
        committed = timeline.committed_instants()
        if as_of is None:
            return committed
        return CommittedInstants({ts for ts in committed if ts <= as_of}, committed.first_active)

    def file_system_view(self, timeline: Timeline | None = None) -> FileSystemView:
        """The latest committed file groups with all their slices, for the cleaner and tools."""
        return self._view(timeline or self.timeline())

    def _view(self, timeline: Timeline, as_of: str | None = None) -> FileSystemView:
        replaced = set()
        for inst in timeline.completed(("replacecommit",)):
            if as_of is not None and inst.timestamp > as_of:
                continue
            meta = timeline.commit_metadata(inst)
            for partition, ids in meta.partition_to_replace_file_ids.items():
                replaced.update((partition, fid) for fid in ids)
        return FileSystemView(self.storage, self._committed(timeline, as_of), replaced, as_of)

    def _reader(self) -> FileGroupReader:
        return FileGroupReader(self.storage, self._target if self._schema else None)

    def _read_base(self, path: str, columns: list[str] | None = None, **kw) -> pa.Table:
        return self._reader().read_base(path, columns, **kw)

    # -- writing -----------------------------------------------------------------------------

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
        """Write one batch as one commit (plus any compaction, clean and archival it triggers).

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
        batch, schema = prepare(data, operation, self._schema, self.config, self.options,
                                self.base_path)  # fmt: skip
        rolled_back = tuple(self.rollback_pending())
        if operation == "DELETE" and self._schema is None:
            # Nothing was ever written, so nothing can be deleted (and the key-only input
            # must not become the table schema).
            return CommitResult(None, None, operation, records_in=data.num_rows,
                                rolled_back=rolled_back)  # fmt: skip
        if batch.num_rows == 0 and source_checkpoint is None:
            return CommitResult(None, None, operation, rolled_back=rolled_back)
        instant, action, written, unchanged = self._commit(
            batch, operation, schema, source_checkpoint, extra_metadata
        )
        compacted = self.compact() if compaction.due(self) else None
        clean, cleaned = self.clean() if self.options.auto_clean else (None, 0)
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
            compaction_instant=compacted,
            clean_instant=clean,
            rolled_back=rolled_back,
            files_cleaned=cleaned,
            archived=archived,
        )

    def _commit(self, batch, operation, schema, checkpoint, extra_metadata):
        """One write instant, requested to completed: (instant, action, Written, unchanged)."""
        timeline = self.timeline()
        view = self._view(timeline)
        action = "deltacommit" if self.config.is_mor else "commit"
        instant = new_instant_time(timeline.last_timestamp())
        avro = self._avro or avro_schema(schema, self.config.name)
        if self._avro is None:
            self._record_create_schema(avro)
        step_requested(self.storage, instant, action)
        writer = Writer(self.storage, self.config, self.options, self._reader(),
                        self._schema is not None)  # fmt: skip
        written, unchanged = writer.apply(batch, operation, instant, view, timeline, schema, avro)
        metadata = {"schema": avro_json(avro)}
        if checkpoint is not None:
            metadata[CHECKPOINT_KEY] = checkpoint
        if written.moved:
            metadata[MOVES_KEY] = str(written.moved)
        metadata.update(extra_metadata or {})
        complete(self.storage, instant, action, written.stats, operation, metadata, False)
        if self._avro is None:
            self._set_schema(avro)
        return instant, action, written, unchanged

    # -- table services ------------------------------------------------------------------------

    def compact(self) -> str | None:
        """Merge every file slice that has log files into a new base file (one compaction
        instant, completed as a commit). Returns the instant, or None if there was nothing."""
        if not self.config.is_mor:
            raise HudiConfigError("compaction applies to MERGE_ON_READ tables only")
        self.rollback_pending()
        return compaction.compact(self)

    def clean(self, commits_retained: int | None = None) -> tuple[str | None, int]:
        """Delete the file slices hoodie.cleaner.policy no longer keeps (lakehouse.hudi.cleaner).
        Returns (clean instant or None, files deleted)."""
        timeline = self.timeline()
        return cleaner.clean(self.storage, self._view(timeline), timeline, self.options,
                             commits_retained)  # fmt: skip

    def archive(self) -> tuple[str, ...]:
        """Move the oldest instants to .hoodie/archived (lakehouse.hudi.archival); returns
        their times."""
        opts = self.options
        timeline = self.timeline()
        keep_from = min(opts.reader_checkpoints, default=None)
        chosen = archival.instants_to_archive(timeline, self.storage, opts.keep_min_commits,
                                              opts.keep_max_commits, self.config.is_mor,
                                              keep_from)  # fmt: skip
        if not chosen:
            return ()
        archival.archive(self.storage, timeline, chosen, opts.archival_batch)
        return tuple(i.timestamp for i in chosen)

    def rollback_pending(self) -> list[str]:
        """Finish or undo whatever a failed writer left: pending writes and compactions are
        rolled back, pending cleans and rollbacks are completed. Returns the rolled back
        instants."""
        return rollback.rollback_pending(self.storage)


def open_table(base_path: str, **kw) -> HudiTable:
    return HudiTable.open(base_path, **kw)


__all__ = ["CHECKPOINT_KEY", "CommitResult", "HudiError", "HudiTable", "open_table"]
