"""Data files of a table: names, partition metadata, markers, and writing base files (file
groups and slices are in lakehouse.hudi.file_group)."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.hudi.bloom import DEFAULT_SIZING, TYPE_CODE, BloomSizing, dynamic_bloom_filter
from lakehouse.hudi.table_storage import Storage

# Column statistics cost most on unique strings; these meta columns need none: no query filters
# on sequence numbers or the file name, and the keys' range is in the footer already
# (hoodie_min_record_key / hoodie_max_record_key, which Hudi's indexes read).
NO_STATISTICS = ("_hoodie_commit_seqno", "_hoodie_file_name", "_hoodie_record_key")
WRITE_BATCH = 65_536
ROW_GROUP_ROWS = 1 << 20
TEMP = ".hoodie/.temp"


def new_file_id() -> str:
    return f"{uuid.uuid4()}-0"


def base_file_name(file_id: str, token: str, instant: str) -> str:
    return f"{file_id}_{token}_{instant}.parquet"


def log_file_name(file_id: str, base_instant: str, version: int, token: str) -> str:
    return f".{file_id}_{base_instant}.log.{version}_{token}"


def join(partition: str, name: str) -> str:
    return f"{partition}/{name}" if partition else name


def partition_metadata(instant: str, partition: str) -> bytes:
    depth = 0 if not partition else partition.count("/") + 1
    now = dt.datetime.now(dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    return (f"#partition metadata\n#{now}\ncommitTime={instant}\npartitionDepth={depth}\n").encode(
        "ascii"
    )


# Markers: Hudi's timeline-server-based layout, files that list the marker names
# (`<partition>/<file>.marker.<IO type>`), which Java reads straight from storage too.
MARKER_TYPE_FILE = "MARKERS.type"
MARKER_TYPE = "TIMELINE_SERVER_BASED"
MARKERS_FILE = "MARKERS0"


def marker_names(storage: Storage, instant: str) -> list[str]:
    """The data files (relative paths) an instant's markers name, in either of Hudi's layouts:
    one marker file per data file (direct) or MARKERS<n> files listing them."""
    prefix = f"{TEMP}/{instant}/"
    out = []
    for entry in storage.list(prefix.rstrip("/"), recursive=True):
        rel = entry.path[len(prefix) :]
        if rel == MARKER_TYPE_FILE:
            continue
        if "/" not in rel and rel.startswith("MARKERS"):
            text = storage.read(entry.path).decode("utf-8")
            out += [line.rsplit(".marker.", 1)[0] for line in text.splitlines() if line.strip()]
        elif ".marker." in rel:
            out.append(rel.rsplit(".marker.", 1)[0])
    return out


def write_base_file(
    storage: Storage,
    rel: str,
    table: pa.Table | list[pa.Table],
    avro_schema_with_meta: str,
    compression: str,
    use_dictionary: bool | list[str] = True,
    bloom: str | None = None,
    sizing: BloomSizing = DEFAULT_SIZING,
) -> int:
    """Write a Parquet base file with Hudi's footer keys; returns its size in bytes.

    `table` may be a list of tables of one schema (rows carried over, then new rows), written
    one after the other without concatenating them. `_hoodie_file_name` is set here, to the
    file's own name. use_dictionary may name the columns worth dictionary-encoding (as pyarrow
    takes it); the file name always is. `bloom` is the serialized key filter when the caller
    has it already (bloom.extend_filter); otherwise one sized by `sizing` is built.
    """
    name = rel.rpartition("/")[2]
    parts = [table] if isinstance(table, pa.Table) else [t for t in table if t.num_rows]
    parts = parts or [table[0]]
    # One value for every row: a one-entry dictionary costs nothing to build or encode.
    parts = [
        t.set_column(
            t.schema.get_field_index("_hoodie_file_name"),
            "_hoodie_file_name",
            pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(t.num_rows, dtype=np.int32)), pa.array([name], pa.string())
            ),
        ).replace_schema_metadata(None)
        for t in parts
    ]
    if isinstance(use_dictionary, list) and "_hoodie_file_name" not in use_dictionary:
        use_dictionary = [*use_dictionary, "_hoodie_file_name"]
    keys = pa.chunked_array(
        [c for t in parts for c in t.column("_hoodie_record_key").chunks], pa.string()
    )
    metadata = {
        b"parquet.avro.schema": avro_schema_with_meta.encode(),
        b"writer.model.name": b"avro",
        b"org.apache.hudi.bloomfilter": (
            bloom or dynamic_bloom_filter(keys.combine_chunks(), sizing)
        ).encode("ascii"),
        b"hoodie_bloom_filter_type_code": TYPE_CODE.encode(),
    }
    if len(keys):
        bounds = pc.min_max(keys)
        metadata[b"hoodie_min_record_key"] = bounds["min"].as_py().encode()
        metadata[b"hoodie_max_record_key"] = bounds["max"].as_py().encode()
    schema = parts[0].schema
    # Column statistics for readers' pruning, except where NO_STATISTICS says.
    statistics = [n for n in schema.names if n not in NO_STATISTICS]
    with storage.open_output(rel) as sink:
        # store_schema=False: no ARROW:schema (readers take types from the Parquet schema, so
        # dictionary-encoded columns read back as plain strings), and the footer keys go in
        # as plain key/value metadata. Larger write batches than pyarrow's 1024 values cost
        # less per value; pages still close near the 1 MiB page size.
        with pq.ParquetWriter(
            sink, schema, compression=compression, store_schema=False,
            write_time_adjusted_to_utc=True, use_dictionary=use_dictionary,
            write_statistics=statistics, write_batch_size=WRITE_BATCH,
        ) as writer:  # fmt: skip
            for part in parts:
                writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
            writer.add_key_value_metadata(metadata)
        return sink.tell()
