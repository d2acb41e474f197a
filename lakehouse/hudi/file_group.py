"""File groups and their slices (as hudi-rs's `file_group` module): a base file plus the log
files written on top of it, how a storage listing becomes file groups, and reading a slice's
merged rows (base file, then committed log blocks in order, later wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.hudi import logfile
from lakehouse.hudi.table_storage import Storage

BASE_FILE = re.compile(r"^(?P<fid>[^_.]+)_(?P<token>[^_]+)_(?P<ts>\d{14}|\d{17})\.parquet$")
LOG_FILE = re.compile(
    r"^\.(?P<fid>.+)_(?P<base>\d{14}|\d{17})\.log\.(?P<ver>\d+)_(?P<token>\d+-\d+-\d+)$"
)
PARTITION_METAFILE = ".hoodie_partition_metadata"


@dataclass
class LogFile:
    """A log file of a Merge-on-Read file group (path relative to the table)."""

    path: str
    file_id: str
    base_instant: str
    version: int
    token: str
    size: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def order(self) -> tuple:
        return (self.base_instant, self.version, self.token)


@dataclass
class FileSlice:
    """One version of a file group: the base file written at `base_instant` (None for a
    log-only group) and the log files written on top of it, oldest first. Paths are relative
    to the table; `HudiTable.uri_of` makes them URIs."""

    partition: str
    file_id: str
    base_instant: str
    base_path: str | None = None
    base_size: int = 0
    logs: list[LogFile] = field(default_factory=list)

    @property
    def base_name(self) -> str | None:
        return self.base_path.rsplit("/", 1)[-1] if self.base_path else None

    def paths(self) -> list[str]:
        return ([self.base_path] if self.base_path else []) + [log.path for log in self.logs]

    @property
    def has_log_file(self) -> bool:
        return bool(self.logs)

    def base_file_only(self) -> FileSlice:
        """This slice without its log files (what a read-optimized query reads)."""
        return FileSlice(self.partition, self.file_id, self.base_instant, self.base_path,
                         self.base_size)  # fmt: skip


class FileSystemView:
    """File groups built from a storage listing, keeping committed base files only.

    Log files attach to the slice with the greatest base instant at or before the one in their
    name (v6). Blocks inside them are filtered by instant when read.
    """

    def __init__(
        self,
        storage: Storage,
        committed: set[str],
        replaced: set[tuple[str, str]],
        as_of: str | None = None,
    ):
        """as_of: leave out log files started on a base instant after it (all their blocks
        are later)."""
        self.groups: dict[tuple[str, str], dict[str, FileSlice]] = {}
        self.partitions: set[str] = set()
        logs: list[tuple[str, LogFile]] = []
        for entry in storage.list("", recursive=True):
            if entry.path.startswith(".hoodie/"):
                continue
            partition, _, name = entry.path.rpartition("/")
            if name == PARTITION_METAFILE or name.startswith(PARTITION_METAFILE + "."):
                self.partitions.add(partition)
                continue
            m = BASE_FILE.match(name)
            if m:
                if m["ts"] not in committed or (partition, m["fid"]) in replaced:
                    continue
                group = self.groups.setdefault((partition, m["fid"]), {})
                group[m["ts"]] = FileSlice(partition, m["fid"], m["ts"], entry.path, entry.size)
                continue
            m = LOG_FILE.match(name)
            if m and (partition, m["fid"]) not in replaced:
                if as_of is not None and m["base"] > as_of:
                    continue
                log = LogFile(
                    entry.path, m["fid"], m["base"], int(m["ver"]), m["token"], entry.size
                )
                logs.append((partition, log))
        for partition, log in logs:
            group = self.groups.setdefault((partition, log.file_id), {})
            candidates = [ts for ts in group if ts <= log.base_instant]
            if candidates:
                group[max(candidates)].logs.append(log)
            elif log.base_instant in committed:
                # A log-only file group (not written by this writer, but readable).
                group[log.base_instant] = FileSlice(partition, log.file_id, log.base_instant)
                group[log.base_instant].logs.append(log)
        for group in self.groups.values():
            for sl in group.values():
                sl.logs.sort(key=LogFile.order)
        self.groups = {k: v for k, v in self.groups.items() if v}

    def slices(self, partition: str, file_id: str) -> list[FileSlice]:
        group = self.groups.get((partition, file_id), {})
        return [group[ts] for ts in sorted(group)]

    def latest_slices(self) -> list[FileSlice]:
        return [group[max(group)] for _, group in sorted(self.groups.items())]

    def latest_base_slices(self) -> list[FileSlice]:
        """Per file group, the latest slice with a base file: what read-optimized queries read."""
        out = []
        for _, group in sorted(self.groups.items()):
            with_base = [ts for ts, sl in group.items() if sl.base_path]
            if with_base:
                out.append(group[max(with_base)])
        return out

    def latest(self, file_id: str) -> FileSlice | None:
        for (_, fid), group in self.groups.items():
            if fid == file_id:
                return group[max(group)]
        return None


def last_per_key(keys: pa.Array, order: list[pa.Array]) -> np.ndarray:
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


class FileGroupReader:
    """Reads file slices in the table schema `target` (meta fields, then the data; None before
    the first commit, when files are returned as stored)."""

    def __init__(self, storage: Storage, target: pa.Schema | None):
        self.storage = storage
        self.target = target

    def read_base(
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
        return self.conform(t, columns, keep_dictionary=bool(dictionary))

    def conform(
        self, t: pa.Table, columns: list[str] | None, keep_dictionary: bool = False
    ) -> pa.Table:
        """Cast to the table schema (Spark files use other list/map field names)."""
        target = self.target
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

    def log_blocks(self, sl: FileSlice, committed: set[str]) -> list[logfile.Block]:
        """The committed blocks of a slice's log files in log order, less rolled-back ones."""
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
        return [b for b in blocks if b.instant in committed and b.instant not in rolled]

    def log_changes(self, sl: FileSlice, committed: set[str], columns: list[str] | None):
        """Data rows and deleted keys of a slice's committed log blocks, each with a block
        sequence number (1, 2, ...) in log order."""
        rows, deletes = [], []
        for seq, b in enumerate(self.log_blocks(sl, committed), start=1):
            if b.type == logfile.AVRO_DATA_BLOCK:
                t = logfile.decode_avro_columns(b, columns)
                if t is None:  # nested types: fastavro, record by record
                    t = pa.Table.from_pylist(logfile.decode_avro_records(b), schema=self.target)
                rows.append((self.conform(t, columns), seq))
            elif b.type == logfile.PARQUET_DATA_BLOCK:
                rows.append((self.conform(logfile.decode_parquet_block(b), columns), seq))
            elif b.type == logfile.DELETE_BLOCK:
                keys = [d["recordKey"] for d in logfile.decode_deletes(b)]
                deletes.append((pa.array(keys, pa.string()), seq))
        return rows, deletes

    def read_slice(self, sl: FileSlice, committed: set[str], columns: list[str] | None = None):
        """The merged rows of a file slice: base file, then log blocks in order (later wins)."""
        base = self.read_base(sl.base_path, columns) if sl.base_path else None
        if not sl.logs:
            return base
        rows, deletes = self.log_changes(sl, committed, columns)
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
        winners = last_per_key(all_keys, [pa.array(all_seq)])
        winners = winners[winners < n_rows]  # rows beyond n_rows are deletes
        if combined is None:
            return self.target.empty_table().select(columns or self.target.names)
        return combined.take(pa.array(winners))
