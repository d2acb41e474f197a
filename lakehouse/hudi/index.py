"""Finding the file groups that hold incoming record keys: a global index, as GLOBAL_BLOOM.

Each base file's footer carries Hudi's min/max record key and record-key bloom filter, so a file
group is read only when some incoming key can be in it. The key columns read for the lookup are
handed back, so that a Copy-on-Write rewrite of the same file does not read them again.

Pruning with a base file's footer also covers the slice's log files: this writer never puts a
key into a log file that is not in the slice's base file (inserts always go to base files), and
neither does Spark with the bloom or simple indexes this table type is used with.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.hudi.bloom import (
    MURMUR,
    NB_HASH,
    TYPE_CODE,
    b64decode,
    key_positions,
)
from lakehouse.hudi.file_group import FileSlice
from lakehouse.hudi.table_storage import Storage

KEY = "_hoodie_record_key"


@dataclass(frozen=True)
class Footer:
    """What a base file's Parquet footer says about its keys and columns."""

    num_rows: int
    min_key: str | None
    max_key: str | None
    bloom: bytes | None  # the Base64 text of a DYNAMIC_V0 filter
    columns: tuple[str, ...]
    # String columns with few distinct values: read as dictionaries, which costs a fraction of
    # decoding every value and lets a rewrite write the dictionary straight back.
    dictionary_columns: tuple[str, ...]
    metadata: pq.FileMetaData | None = None  # parsed once, handed to later reads of the file


def footer_of(meta: pq.FileMetaData) -> Footer:
    kv = meta.metadata or {}

    def text(key: bytes) -> str | None:
        value = kv.get(key)
        return value.decode("utf-8") if value is not None else None

    bloom = kv.get(b"org.apache.hudi.bloomfilter")
    if text(b"hoodie_bloom_filter_type_code") != TYPE_CODE:
        bloom = None
    schema = meta.schema.to_arrow_schema()
    dict_bytes: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            name = column.path_in_schema
            if name not in schema.names or not pa.types.is_string(schema.field(name).type):
                continue
            if not column.has_dictionary_page or column.dictionary_page_offset is None:
                dict_bytes[name] = 1 << 62  # some pages are not dictionary-encoded
                continue
            size = column.data_page_offset - column.dictionary_page_offset
            dict_bytes[name] = dict_bytes.get(name, 0) + max(size, 0)
    few = tuple(n for n, size in dict_bytes.items() if size * 4 < max(meta.num_rows, 1))
    return Footer(
        num_rows=meta.num_rows,
        min_key=text(b"hoodie_min_record_key"),
        max_key=text(b"hoodie_max_record_key"),
        bloom=bloom,
        columns=tuple(schema.names),
        dictionary_columns=few,
        metadata=meta,
    )


def bloom_contains(serialized: bytes, positions_for) -> np.ndarray | None:
    """Whether a DYNAMIC_V0 filter may hold each key; the keys are given by
    positions_for(nb_hash, vector_size), their bit positions under the filter's own sizing (a
    table may set hoodie.index.bloom.* to other than the defaults). None if it cannot tell."""
    try:
        raw = b64decode(serialized).tobytes()
    except ValueError:
        return None
    head = struct.calcsize(">iibiiii")
    if len(raw) < head:
        return None
    _, nb_hash, hash_type, vector_size, _, _, rows = struct.unpack_from(">iibiiii", raw, 0)
    if hash_type != MURMUR or nb_hash <= 0 or vector_size <= 0:
        return None
    positions = positions_for(nb_hash, vector_size)
    row_head = struct.calcsize(">iibi")
    row_len = row_head + (vector_size + 7) // 8
    if len(raw) < head + rows * row_len:
        return None
    byte_index = (positions >> 3).astype(np.int64)
    bit = (np.uint8(1) << (positions & 7).astype(np.uint8)).astype(np.uint8)
    hit = np.zeros(len(positions), dtype=bool)
    for r in range(rows):
        bits = np.frombuffer(raw, np.uint8, (vector_size + 7) // 8, head + r * row_len + row_head)
        hit |= ((bits[byte_index] & bit) != 0).all(axis=1)
    return hit


@dataclass
class SliceKeys:
    """The keys of one file slice, as read for the lookup."""

    slice: FileSlice
    keys: pa.Array  # in row order of the base file when base_only
    match: np.ndarray  # per row: the incoming row with that key, or -1
    base_only: bool
    footer: Footer | None


@dataclass
class Location:
    """Where each incoming key is stored now."""

    slice_index: np.ndarray  # per incoming row: index into the slices, or -1 (a new key)
    ordering: pa.Array | None  # per incoming row: the stored ordering value (null if new)
    read: dict[str, SliceKeys]  # by file id: the slices whose keys were read


def locate(
    keys: pa.Array,
    slices: list[FileSlice],
    storage: Storage,
    read_keys: Callable[[FileSlice, list[str], pq.ParquetFile | None], pa.Table],
    ordering_field: str | None,
    parallel_map: Callable,
    unique: bool = False,
) -> Location:
    """Look the incoming keys up in the latest file slices (`unique`: no key repeats).

    read_keys(slice, columns, opened base file or None) returns the slice's current rows (base
    merged with logs) for the given columns; it is called only for slices whose footer does not
    rule them out.
    """
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    lookup = _Lookup(keys, storage, read_keys, ordering_field)
    probed = parallel_map(lookup.probe, slices) if len(keys) else []
    wanted = [(i, *p) for i, p in enumerate(probed) if p[1] is not None]
    return lookup.location(slices, wanted, unique)


class _Lookup:
    """One lookup's incoming keys, with what the footer checks share across threads (the keys
    sorted, their bloom positions), computed once on first use."""

    def __init__(self, keys: pa.Array, storage: Storage, read_keys, ordering_field):
        self.keys, self.n = keys, len(keys)
        self.storage, self.read_keys, self.ordering_field = storage, read_keys, ordering_field
        self.columns = [KEY] + ([ordering_field] if ordering_field else [])
        # Min/max keys compare as Java strings (UTF-16 units); Python's and Arrow's orders agree
        # with that for ASCII keys, so only those are pruned by range.
        self.ascii_keys = self.n > 0 and bool(pc.all(pc.string_is_ascii(keys)).as_py())
        bounds = pc.min_max(keys) if self.n else None
        self.low = bounds["min"].as_py() if self.n else None
        self.high = bounds["max"].as_py() if self.n else None
        self.lock = threading.Lock()
        self.shared: dict[str, np.ndarray] = {}

    def sorted_keys(self) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            if "order" not in self.shared:
                order = pc.sort_indices(self.keys).to_numpy()
                self.shared["order"] = order
                self.shared["sorted"] = self.keys.take(pa.array(order)).to_numpy(
                    zero_copy_only=False
                )
            return self.shared["order"], self.shared["sorted"]

    def positions(self, nb_hash: int, vector_size: int) -> np.ndarray:
        """The incoming keys' bit positions under one filter sizing (files share it)."""
        with self.lock:
            name = f"positions/{nb_hash}/{vector_size}"
            if name not in self.shared:
                self.shared[name] = key_positions(self.keys, nb_hash, vector_size)
            return self.shared[name]

    def _candidates(self, footer: Footer) -> np.ndarray | None | bool:
        """The incoming rows within the file's key range: None for all of them, False when the
        range rules the file out."""
        lo_key, hi_key = footer.min_key, footer.max_key
        if not self.ascii_keys or lo_key is None or hi_key is None:
            return None
        if not (lo_key.isascii() and hi_key.isascii()):
            return None
        if hi_key < self.low or lo_key > self.high:
            return False
        if lo_key > self.low or hi_key < self.high:  # the file covers part of the range
            order, ordered = self.sorted_keys()
            start = np.searchsorted(ordered, lo_key, "left")
            end = np.searchsorted(ordered, hi_key, "right")
            return order[start:end]
        return None

    def may_hold(self, footer: Footer) -> bool:
        candidates = self._candidates(footer)
        if candidates is False:
            return False
        count = self.n if candidates is None else len(candidates)
        if count == 0:
            return False
        # A bloom probe costs NB_HASH bit tests per candidate; reading the file's keys costs
        # about one decode per row.
        if footer.bloom is not None and count * NB_HASH < footer.num_rows:

            def chosen(nb_hash: int, vector_size: int) -> np.ndarray:
                positions = self.positions(nb_hash, vector_size)
                return positions if candidates is None else positions[candidates]

            hit = bloom_contains(footer.bloom, chosen)
            if hit is not None and not hit.any():
                return False
        return True

    def probe(self, sl: FileSlice):
        """(footer or None, rows read or None, key column) of one slice."""
        footer = None
        if sl.base_path:
            with self.storage.open_input(sl.base_path) as f:
                parquet = pq.ParquetFile(f)
                footer = footer_of(parquet.metadata)
                if not self.may_hold(footer):
                    return footer, None, None
                t = self.read_keys(sl, self.columns, parquet) if not sl.logs else None
        if not sl.base_path or sl.logs:  # log-only groups have nothing to prune with
            t = self.read_keys(sl, self.columns, None)
        key_col = t.column(KEY).combine_chunks()
        if pa.types.is_dictionary(key_col.type):
            key_col = key_col.dictionary_decode()
        return footer, t, key_col

    def _matches(self, wanted) -> list[np.ndarray]:
        """Per slice read: for each of its rows, the incoming row with that key or -1. One hash
        table of the incoming keys, probed with every key read."""
        if not wanted:
            return []
        all_keys = pa.concat_arrays([key_col for *_, key_col in wanted])
        found = pc.index_in(all_keys, value_set=self.keys).fill_null(-1)
        match = found.to_numpy(zero_copy_only=False).astype(np.int64)
        out, start = [], 0
        for *_, key_col in wanted:
            out.append(match[start : start + len(key_col)])
            start += len(key_col)
        return out

    def location(self, slices: list[FileSlice], wanted, unique: bool) -> Location:
        n, keys, ordering_field = self.n, self.keys, self.ordering_field
        slice_index = np.full(n, -1, dtype=np.int64)
        read_slices: dict[str, SliceKeys] = {}
        matched_orderings, matched_rows = [], []
        for (i, footer, t, key_col), match in zip(wanted, self._matches(wanted), strict=True):
            sl = slices[i]
            read_slices[sl.file_id] = SliceKeys(sl, key_col, match, not sl.logs, footer)
            rows = np.nonzero(match >= 0)[0]
            slice_index[match[rows]] = i
            matched_rows.append(match[rows])
            if ordering_field:
                matched_orderings.append(t.column(ordering_field).combine_chunks().take(rows))
        first = None
        if wanted and not unique and pc.count_distinct(keys).as_py() != n:
            # index_in found the first of equal incoming keys; the others share its place.
            first = pc.index_in(keys, value_set=keys).to_numpy(zero_copy_only=False)
            slice_index = slice_index[first]
        ordering = None
        if ordering_field and wanted:
            incoming_rows = np.concatenate(matched_rows)
            where = np.full(n, -1, dtype=np.int64)
            where[incoming_rows] = np.arange(len(incoming_rows))
            if first is not None:
                where = where[first]
            stored = pa.concat_arrays(matched_orderings)
            ordering = stored.take(pa.array(where, mask=where < 0))
        return Location(slice_index, ordering, read_slices)
