"""The write path of one commit: validate the batch (`prepare`), find where each record lives,
decide which records update, delete, move or insert, fill small files and plan new file groups,
then write the base and log files in parallel (`Writer`).

Record keys are unique across the table (a global index, as GLOBAL_BLOOM): an update finds the
file group holding its key (lakehouse.hudi.index reads only the file groups whose footer's key
range and bloom filter admit it), and a changed partition value moves the record. A CoW rewrite
reuses the keys the lookup read, reads few-valued string columns as dictionaries and writes them
back as such, and extends the old bloom filter instead of rehashing every key. All row work is
vectorised with pyarrow/numpy; Python loops run over file groups, never over rows, except where
Avro log blocks are decoded record by record by fastavro (and encoded so for nested types).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.hudi import logfile
from lakehouse.hudi.bloom import BloomSizing, extend_filter, hash_positions
from lakehouse.hudi.commit import Written, delta_extra, parallel_map, write_markers, write_stat
from lakehouse.hudi.config import HudiError, HudiSchemaError, TableConfig, WriteOptions
from lakehouse.hudi.file_group import (
    LOG_FILE,
    PARTITION_METAFILE,
    FileGroupReader,
    FileSlice,
    last_per_key,
)
from lakehouse.hudi.files import (
    base_file_name,
    join,
    log_file_name,
    new_file_id,
    partition_metadata,
    write_base_file,
)
from lakehouse.hudi.index import Location, SliceKeys, locate
from lakehouse.hudi.keygen import KeyGenerator
from lakehouse.hudi.schema import avro_json, data_schema_with_meta, normalize_schema
from lakehouse.hudi.schema import with_meta_fields as avro_with_meta_fields
from lakehouse.hudi.table_storage import Storage

EMPTY = np.zeros(0, np.int64)

# -- validating the input ------------------------------------------------------------------


def prepare(data: pa.Table, operation: str, schema: pa.Schema | None, cfg: TableConfig,
            opts: WriteOptions, where: str) -> tuple[pa.Table, pa.Schema]:  # fmt: skip
    """Data columns in table order plus __key, __part and __del, one row per key. `schema` is
    the table's data schema, None before the first commit (the input's then becomes it);
    `where` names the table in errors."""
    _check_required(data, operation, cfg)
    incoming = normalize_schema(data.schema)
    schema = schema if schema is not None else incoming
    if operation != "DELETE":
        extra = [f.name for f in incoming if f.name not in schema.names]
        if extra:
            raise HudiSchemaError(
                f"field {extra[0]!r} is not in the table schema of {where} "
                "(schema evolution is not supported)"
            )
    table = _cast_to(data, schema)
    keygen = KeyGenerator(cfg, opts.default_partition)
    keys = keygen.record_keys(table)
    n = data.num_rows
    if operation == "DELETE":
        parts = pa.nulls(n, pa.string())
        deleted = pa.array(np.ones(n, dtype=bool))
    else:
        parts = keygen.partition_paths(table)
        deleted = _delete_flags(table, opts)
        if cfg.precombine_field:
            nulls = table.column(cfg.precombine_field).null_count
            if nulls:
                raise HudiSchemaError(
                    f"ordering field {cfg.precombine_field!r} is null in {nulls} input rows"
                )
    table = table.append_column("__key", keys).append_column("__part", parts)
    table = table.append_column("__del", deleted)
    if operation in ("UPSERT", "DELETE") or opts.combine_before_insert:
        table = _combine(table, operation, cfg)
    return table, schema


def _check_required(data: pa.Table, operation: str, cfg: TableConfig) -> None:
    names = set(data.column_names)
    need = [(f, "record key field") for f in cfg.record_key_fields]
    if operation != "DELETE":
        if cfg.precombine_field:
            need.append((cfg.precombine_field, "ordering (precombine) field"))
        need += [(f, "partition field") for f in cfg.partition_fields]
    for name, role in need:
        if name not in names:
            raise HudiSchemaError(
                f"the input has no {role} {name!r} (input fields: {', '.join(data.column_names)})"
            )


def _cast_to(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """The input in the table schema: its columns cast, missing ones null."""
    names = set(data.column_names)
    columns = []
    for f in schema:
        if f.name not in names:
            columns.append(pa.nulls(data.num_rows, f.type))
            continue
        try:
            columns.append(data.column(f.name).cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise HudiSchemaError(
                f"field {f.name!r}: cannot store {data.schema.field(f.name).type} as {f.type}: {e}"
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def _delete_flags(table: pa.Table, opts: WriteOptions) -> pa.Array:
    if opts.delete_mode == "hard" and opts.delete_field in table.column_names:
        col = table.column(opts.delete_field).combine_chunks()
        return pc.equal(col.cast(pa.string()), opts.delete_value).fill_null(False)
    return pa.array(np.zeros(table.num_rows, dtype=bool))


def _combine(table: pa.Table, operation: str, cfg: TableConfig) -> pa.Table:
    """One row per key: the precombine rule (hoodie.combine.before.upsert/insert)."""
    order = []
    if cfg.precombine_field and operation != "DELETE":
        order.append(table.column(cfg.precombine_field).combine_chunks())
    # A single key field's own values are as distinct as their strings, and integers count and
    # sort faster than strings.
    by = table.column("__key")
    if len(cfg.record_key_fields) == 1 and pa.types.is_integer(
        table.column(cfg.record_key_fields[0]).type
    ):
        by = table.column(cfg.record_key_fields[0])
    by = by.combine_chunks()
    if pa.types.is_integer(by.type) and not by.null_count and _distinct(by.to_numpy()):
        return table  # the usual bulk load: nothing to combine
    keep = last_per_key(by, order)
    return table.take(pa.array(keep)) if len(keep) != table.num_rows else table


def _distinct(values: np.ndarray) -> bool:
    """Whether integers are all different: one counting pass when their range is small (ids),
    a sort otherwise; either is several times faster than Arrow's hash count."""
    if len(values) < 2:
        return True
    low, high = int(values.min()), int(values.max())
    if high - low < 4 * len(values):
        # Within the small range, subtracting the minimum is exact in the values' own type
        # (signed ones widened first, so int8 -128 does not wrap).
        wide = values if values.dtype.kind == "u" else values.astype(np.int64)
        return int(np.bincount(wide - wide.min()).max()) <= 1
    ordered = np.sort(values)
    return not (ordered[1:] == ordered[:-1]).any()


# -- helpers over row positions --------------------------------------------------------------


def np_bool(arr) -> np.ndarray:
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


def _ordering_value(n: int) -> list:
    """orderingVal entries of a delete block.

    Hudi's "natural order" zero, written in union branch 2: Java 0.14 reads that branch as
    long 0 (an unconditional delete) and hudi-rs 0.5.0, whose delete schema wraps values in
    records (branch 2 = IntWrapper), reads int 0 (a delete that wins over earlier writes).
    Any other value breaks one of them: hudi-rs overflows on longs beyond 32 bits. The
    writer has already applied event-time ordering before deciding to delete.
    """
    return [("long", 0)] * n


# -- planning --------------------------------------------------------------------------------


@dataclass
class Changes:
    """What each incoming row does (boolean masks over the batch), and where stored keys are."""

    batch: pa.Table
    slices: list[FileSlice]
    slice_index: np.ndarray  # the latest slice holding each row's key, -1 if none
    read_keys: dict  # file id -> SliceKeys the lookup read
    inserts: np.ndarray
    updates: np.ndarray
    deletes: np.ndarray
    moves: np.ndarray
    unchanged: int  # incoming rows older than the stored ones (event-time ordering)


@dataclass
class Plan:
    """The files one write produces: (function, row arrays picked from the batch, arguments)
    per file, and the markers naming them."""

    jobs: list
    markers: list[tuple[str, str]]


class Writer:
    """Writes one batch (from `prepare`) as the data files of one instant."""

    def __init__(self, storage: Storage, cfg: TableConfig, opts: WriteOptions,
                 reader: FileGroupReader, has_data: bool):  # fmt: skip
        self.storage = storage
        self.cfg = cfg
        self.opts = opts
        self.reader = reader
        self.has_data = has_data  # False before the first commit: nothing to look up

    def apply(self, batch, operation, instant, view, timeline, schema, avro):
        """Plan which records go where, then write base and log files. Returns what was
        written and how many incoming records were older than the stored ones."""
        self.instant, self.view, self.timeline = instant, view, timeline
        self.schema_names = schema.names
        self.with_meta = data_schema_with_meta(schema)
        self.avro_meta = avro_json(avro_with_meta_fields(avro))
        changes = self._classify(batch, operation)
        written = self._count(changes)
        plan = self._plan(changes, operation, written)
        write_markers(self.storage, instant, plan.markers)
        self._execute(plan, changes.batch, operation == "BULK_INSERT")
        return written, changes.unchanged

    def map(self, fn, items) -> list:
        return parallel_map(fn, items, self.opts.parallelism)

    def locate(self, keys: pa.Array, slices: list[FileSlice], unique: bool) -> Location:
        """Where the incoming keys are stored now (a global index over the latest slices)."""
        committed = self.timeline.committed_instants()

        def read_keys(sl: FileSlice, columns: list[str], opened) -> pa.Table:
            if sl.logs or not sl.base_path:
                return self.reader.read_slice(sl, committed, columns)
            return self.reader.read_base(sl.base_path, columns, opened=opened)

        return locate(keys, slices, self.storage, read_keys, self.cfg.precombine_field,
                      self.map, unique)  # fmt: skip

    def _classify(self, batch: pa.Table, operation: str) -> Changes:
        cfg, opts = self.cfg, self.opts
        n = batch.num_rows
        slices = self.view.latest_slices()
        slice_index = np.full(n, -1, dtype=np.int64)
        stale = np.zeros(n, dtype=bool)
        read_keys: dict = {}
        if (operation != "BULK_INSERT" or opts.filter_dupes) and self.has_data:
            # prepare() combined rows with equal keys for these operations
            unique = operation in ("UPSERT", "DELETE") or opts.combine_before_insert
            located = self.locate(batch.column("__key").combine_chunks(), slices, unique)
            slice_index, read_keys = located.slice_index, located.read
            if cfg.event_time_ordering and operation == "UPSERT" and located.ordering is not None:
                incoming = batch.column(cfg.precombine_field)
                stale = np_bool(pc.less(incoming, located.ordering))
        exists = slice_index >= 0
        none = np.zeros(n, dtype=bool)
        if operation == "DELETE":
            masks = dict(inserts=none, updates=none, deletes=exists, moves=none)
        elif operation in ("INSERT", "BULK_INSERT"):
            inserts = ~exists if opts.filter_dupes else np.ones(n, dtype=bool)
            masks = dict(inserts=inserts, updates=none, deletes=none, moves=none)
        else:
            batch, masks = self._classify_upsert(batch, slices, slice_index, stale)
        return Changes(batch, slices, slice_index, read_keys, unchanged=int(stale.sum()), **masks)

    def _classify_upsert(self, batch, slices, slice_index, stale):
        """Upsert: live rows update, delete, move (partition changed) or insert."""
        exists = slice_index >= 0
        is_del = np_bool(batch.column("__del"))
        parts = batch.column("__part").combine_chunks()
        slice_parts = pa.array([sl.partition for sl in slices], pa.string())
        loc_part = slice_parts.take(pa.array(slice_index, mask=~exists))
        live = ~stale
        same = np_bool(pc.equal(parts, loc_part))
        if not self.opts.update_partition_path:
            # The record stays where it is, whatever its new partition value says.
            parts = pc.if_else(pa.array(exists), loc_part, parts)
            batch = batch.set_column(batch.schema.get_field_index("__part"), "__part", parts)
            same = exists
        masks = dict(
            deletes=live & exists & is_del,
            inserts=live & ~exists & ~is_del,
            updates=live & exists & ~is_del & same,
            moves=live & exists & ~is_del & ~same,
        )
        return batch, masks

    @staticmethod
    def _count(c: Changes) -> Written:
        written = Written()
        written.inserted = int(c.inserts.sum())
        written.updated = int(c.updates.sum()) + int(c.moves.sum())
        written.deleted = int(c.deletes.sum())
        written.moved = int(c.moves.sum())
        return written

    def _record_size(self) -> int:
        """Average bytes per record from the latest large enough commit, as Hudi estimates it."""
        for inst in reversed(self.timeline.completed_writes()[-5:]):
            stats = self.timeline.read_json(inst).get("partitionToWriteStats") or {}
            total = sum(s.get("totalWriteBytes", 0) for v in stats.values() for s in v)
            records = sum(s.get("numWrites", 0) for v in stats.values() for s in v)
            if records and total > self.opts.small_file_limit:
                return max(1, total // records)
        return max(1, self.opts.record_size_estimate)

    def _plan(self, c: Changes, operation: str, written: Written) -> Plan:
        """Inserts fill small files first (except for bulk insert), then new file groups; each
        existing file group that changes gets a new base file (CoW) or log file (MoR)."""
        fid_values = [sl.file_id for sl in c.slices]
        by_file_update = _groups(c.slice_index, c.updates)
        by_file_remove = _groups(c.slice_index, c.deletes | c.moves)
        touched = {fid_values[code] for code in list(by_file_update) + list(by_file_remove)}
        latest = {sl.file_id: sl for sl in c.slices}
        self.record_size = self._record_size()
        per_file = max(1, self.opts.max_file_size // self.record_size)
        assigned, new_groups = self._plan_inserts(c, operation, latest, touched, per_file)
        plan = Plan([], [])
        self.task = 0
        code_of = {fid: code for code, fid in enumerate(fid_values)}
        positions, position_row = self._inserted_positions(c, assigned, self.opts.bloom)
        applied = c.updates | c.deletes | c.moves  # rows that replace or remove a stored record
        for fid in sorted(touched | set(assigned)):
            code = code_of.get(fid)
            upd = by_file_update.get(code, EMPTY) if code is not None else EMPTY
            rem = by_file_remove.get(code, EMPTY) if code is not None else EMPTY
            ins = np.concatenate(assigned[fid]) if fid in assigned else EMPTY
            added = positions[position_row[ins]] if len(ins) else positions[:0]
            self._plan_changed(plan, latest[fid], upd, rem, ins, written,
                               c.read_keys.get(fid), applied, added)  # fmt: skip
        for partition, rows in new_groups:
            sort = operation == "BULK_INSERT" and len(rows) <= per_file
            self._plan_new(plan, partition, rows, written, sort)
        return plan

    def _plan_inserts(self, c: Changes, operation, latest, touched, per_file):
        """Insert rows per partition: (file id -> row chunks for small files, [(partition,
        rows)] for new file groups of at most per_file rows each)."""
        keys = c.batch.column("__key").combine_chunks()
        part_dict = c.batch.column("__part").combine_chunks().dictionary_encode()
        part_codes = part_dict.indices.to_numpy(zero_copy_only=False)
        part_values = part_dict.dictionary.to_pylist()
        assigned: dict[str, list[np.ndarray]] = {}
        new_groups: list[tuple[str, np.ndarray]] = []
        for code, rows in sorted(_groups(part_codes, c.inserts | c.moves).items()):
            partition = part_values[code]
            if operation == "BULK_INSERT":
                # Key order within a partition (Hudi's bulk insert sort); a partition that fits
                # one file is sorted by its own job, on the writer's threads.
                if len(rows) > per_file:
                    rows = rows[pc.sort_indices(keys.take(pa.array(rows))).to_numpy()]
            else:
                small = [s for s in latest.values() if s.partition == partition and s.base_path]
                rows = self._fill_small_files(rows, small, touched, assigned)
            for start in range(0, len(rows), per_file):
                new_groups.append((partition, rows[start : start + per_file]))
        return assigned, new_groups

    def _fill_small_files(self, rows, candidates, touched, assigned) -> np.ndarray:
        """Give small base files of the partition as many rows as they have room for (Hudi's
        small file handling); returns the rows left over."""
        opts, record_size = self.opts, self.record_size
        for sl in sorted(candidates, key=lambda s: (s.base_size, s.file_id)):
            if not len(rows):
                break
            if sl.base_size >= opts.small_file_limit:
                continue
            if self.cfg.is_mor and (sl.logs or sl.file_id in touched):
                continue
            room = max(0, (opts.max_file_size - sl.base_size) // record_size)
            if room:
                assigned.setdefault(sl.file_id, []).append(rows[:room])
                rows = rows[room:]
        return rows

    @staticmethod
    def _inserted_positions(c: Changes, assigned, sizing: BloomSizing):
        """Bloom-filter bit positions of the keys inserted into existing files, hashed in one
        go, and the row of the batch -> index into them."""
        filling = np.concatenate([r for chunks in assigned.values() for r in chunks] or [[]])
        filling = filling.astype(np.int64)
        positions = hash_positions(
            c.batch.column("__key").combine_chunks().take(pa.array(filling)), sizing
        )
        position_row = np.full(c.batch.num_rows, -1, dtype=np.int64)
        position_row[filling] = np.arange(len(filling))
        return positions, position_row

    def _plan_changed(self, plan, sl, upd, rem, ins, written, known, applied, added) -> None:
        self.task += 1
        task = self.task
        self._ensure_partition(sl.partition)
        if self.cfg.is_mor and (len(upd) or len(rem)):
            # Never append to an existing log file: the next version of this slice's logs.
            version = 1 + max(
                (log.version for log in sl.logs if log.base_instant == sl.base_instant),
                default=0,
            )
            name = log_file_name(sl.file_id, sl.base_instant, version, f"{task}-1-{task}")
            rel = join(sl.partition, name)
            plan.markers.append((rel, "APPEND"))
            plan.jobs.append((self.write_log, [upd, rem], (rel, sl, task, written)))
        else:
            rel = join(sl.partition, base_file_name(sl.file_id, f"{task}-1-{task}", self.instant))
            plan.markers.append((rel, "MERGE"))
            args = (rel, sl, task, written, known, applied, added)
            plan.jobs.append((self.rewrite_base, [upd, rem, ins], args))

    def _plan_new(self, plan, partition, rows, written, sort: bool) -> None:
        self.task += 1
        task = self.task
        self._ensure_partition(partition)
        rel = join(partition, base_file_name(new_file_id(), f"{task}-1-{task}", self.instant))
        plan.markers.append((rel, "CREATE"))
        plan.jobs.append((self.write_new_group, [rows], (rel, partition, task, written, sort)))

    def _ensure_partition(self, partition: str) -> None:
        if partition in self.view.partitions:
            return
        rel = join(partition, PARTITION_METAFILE)
        if not self.storage.exists(rel):
            self.storage.write(rel, partition_metadata(self.instant, partition))
        self.view.partitions.add(partition)

    def _execute(self, plan: Plan, batch: pa.Table, bulk: bool) -> None:
        """Write the planned files: independent, so in parallel (Arrow, numpy and the Parquet
        writer release the GIL)."""
        if bulk:
            keys = batch.column("__key")

            # Every row goes somewhere: each file picks its rows on its own thread.
            def job(fn, row_arrays, args):
                if fn == self.write_new_group and args[-1]:
                    # Key order from the key column alone, so the file's rows are taken from
                    # the batch once, already sorted (a stable sort: the same order as sorting
                    # the taken rows).
                    (rows,) = row_arrays
                    rows = rows[pc.sort_indices(keys.take(rows)).to_numpy()]
                    row_arrays, args = [rows], (*args[:-1], False)
                fn(*(batch.take(pa.array(rows, pa.int64())) for rows in row_arrays), *args)

            self.map(lambda item: job(*item), plan.jobs)
            return
        # A change batch: one take for all files, each getting zero-copy slices of it.
        picks = [rows for _, row_arrays, _ in plan.jobs for rows in row_arrays]
        taken = batch.take(pa.array(np.concatenate(picks or [EMPTY]).astype(np.int64)))
        calls = []
        offset = 0
        for fn, row_arrays, args in plan.jobs:
            tables = []
            for rows in row_arrays:
                tables.append(taken.slice(offset, len(rows)))
                offset += len(rows)
            calls.append((fn, (*tables, *args)))
        self.map(lambda call: call[0](*call[1]), calls)

    # -- the files ---------------------------------------------------------------------------

    def meta_columns(self, rows: pa.Table, task: int, file_name: str, start=0) -> pa.Table:
        """Rows with fresh meta fields for records written by this instant."""
        n = rows.num_rows
        seq = pc.binary_join_element_wise(
            f"{self.instant}_{task}_", pa.array(np.arange(start, start + n)).cast(pa.string()), ""
        )
        meta = [
            pa.repeat(self.instant, n),
            seq,
            rows.column("__key").combine_chunks(),
            rows.column("__part").combine_chunks(),
            pa.repeat(file_name, n),
        ]
        data = [rows.column(name) for name in self.schema_names]
        return pa.Table.from_arrays(meta + data, schema=self.with_meta)

    def write_new_group(self, rows: pa.Table, rel, partition, task, written, sort=False):
        if sort:
            rows = rows.take(pc.sort_indices(rows.column("__key")))
        name = rel.rpartition("/")[2]
        fid = name.split("_", 1)[0]
        table = self.meta_columns(rows, task, name)
        size = write_base_file(
            self.storage,
            rel,
            table,
            self.avro_meta,
            self.opts.parquet_compression,
            sizing=self.opts.bloom,
        )
        extra = delta_extra(name, []) if self.cfg.is_mor else {}
        n = rows.num_rows
        written.add(partition, write_stat(partition, fid, rel, "null", n, 0, 0, n, size, **extra),
                    "created")  # fmt: skip

    def _carried_over(self, sl: FileSlice, upd, rem, known: SliceKeys | None, applied, added):
        """The old version's rows, with a mask of those this write replaces or removes, and
        the bloom filter to write (None: build it from the keys)."""
        if known is None or not known.base_only or known.footer is None:
            committed = self.timeline.committed_instants()
            reader = self.reader
            old = reader.read_slice(sl, committed) if sl.logs else reader.read_base(sl.base_path)
            gone = pa.concat_arrays([upd.column("__key").combine_chunks(),
                                     rem.column("__key").combine_chunks()])  # fmt: skip
            return old, np_bool(pc.is_in(old.column("_hoodie_record_key"), value_set=gone)), None
        # The lookup read this file's keys and matched them to the incoming rows: read the
        # other columns only (few-valued strings as dictionaries, written straight back).
        skip = ("_hoodie_record_key", "_hoodie_file_name")
        columns = [c for c in self.with_meta.names if c not in skip]
        dictionary = tuple(c for c in known.footer.dictionary_columns if c not in skip)
        old = self.reader.read_base(sl.base_path, columns, dictionary,
                                    metadata=known.footer.metadata)  # fmt: skip
        if old.num_rows != len(known.keys):
            raise HudiError(f"{self.storage.uri_of(sl.base_path)} changed during the write")
        old = old.add_column(2, "_hoodie_record_key", known.keys)
        old = old.add_column(4, "_hoodie_file_name", pa.nulls(old.num_rows, pa.string()))
        removed = np.zeros(old.num_rows, dtype=bool)
        hit = known.match >= 0
        removed[hit] = applied[known.match[hit]]
        bloom = None
        if known.footer.bloom is not None and added is not None:
            # Updated keys are in the old filter already; only inserted ones add bits.
            bloom = extend_filter(known.footer.bloom, added, self.opts.bloom)
        return old, removed, bloom

    def rewrite_base(self, upd: pa.Table, rem: pa.Table, ins: pa.Table, rel, sl, task, written,
                     known: SliceKeys | None = None, applied=None, added=None):  # fmt: skip
        """A new version of a file group's base file: carried-over rows keep their meta fields
        (except the file name), updated and inserted rows get this instant's."""
        name = rel.rpartition("/")[2]
        old, removed, bloom = self._carried_over(sl, upd, rem, known, applied, added)
        use_dictionary: bool | list[str] = True
        if known is not None and known.base_only and known.footer is not None:
            use_dictionary = [f.name for f in old.schema if pa.types.is_dictionary(f.type)]
        kept = old.filter(pa.array(~removed)) if removed.any() else old
        fresh = self.meta_columns(pa.concat_tables([upd, ins]), task, name)
        parts = [kept, _like(fresh, kept.schema)]  # carried-over rows, then this commit's
        rows = kept.num_rows + fresh.num_rows
        size = write_base_file(self.storage, rel, parts, self.avro_meta,
                               self.opts.parquet_compression, use_dictionary, bloom,
                               self.opts.bloom)  # fmt: skip
        deleted = int(removed.sum()) - upd.num_rows
        extra = delta_extra(name, []) if self.cfg.is_mor else {}
        stat = write_stat(sl.partition, sl.file_id, rel, sl.base_instant, rows, deleted,
                          upd.num_rows, ins.num_rows, size, **extra)  # fmt: skip
        written.add(sl.partition, stat, "updated")

    def write_log(self, upd: pa.Table, rem: pa.Table, rel, sl, task, written):
        """MoR: one new log file on the slice with a data block (updates) and a delete block."""
        name = rel.rpartition("/")[2]
        version = int(LOG_FILE.match(name)["ver"])
        blocks = []
        if upd.num_rows:
            rows = self.meta_columns(upd, task, sl.file_id)
            blocks.append(logfile.avro_data_block(self.instant, self.avro_meta, rows))
        if rem.num_rows:
            keys = rem.column("__key").to_pylist()
            deletes = [
                {"recordKey": k, "partitionPath": sl.partition, "orderingVal": o}
                for k, o in zip(keys, _ordering_value(len(keys)), strict=True)
            ]
            blocks.append(logfile.delete_block(self.instant, self.avro_meta, deletes))
        data = b"".join(blocks)
        self.storage.write(rel, data)
        logs = [log.name for log in sl.logs] + [name]
        stat = write_stat(sl.partition, sl.file_id, rel, sl.base_instant, upd.num_rows,
                          rem.num_rows, upd.num_rows, 0, len(data),
                          **delta_extra(sl.base_name, logs, version))  # fmt: skip
        written.add(sl.partition, stat, "log")
