"""Apache Hudi tables (table version 6) written in pure Python, and a DeltaStreamer-compatible CLI.

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions

config = HudiConfig(TableConfig("artists", record_key_fields=("artist_id",),
                                precombine_field="__source_ts_ms",
                                partition_fields=("nationality",),
                                table_type="MERGE_ON_READ"))
table = HudiTable.open_or_create("s3://bucket/moma/artists_mor", config, filesystem)
result = table.upsert(arrow_table, source_checkpoint="1640401891087")

`filesystem(uri) -> (pyarrow.fs.FileSystem, path)` is given, as hudi-rs's Storage is given its
object store: this package reads no settings and imports nothing else from `lakehouse` (the
lakehouse passes `lakehouse.storage.filesystem`); without it only local paths are readable.

Reading (modelled on hudi-rs's `Table`): `table.timeline()` (instants with action, state and
time; `commit_metadata(instant)` of completed writes), `table.file_slices(as_of=...)` (base
file and log files per file group), `table.schema` / `avro_schema` (latest, without meta
fields), `table.partition_fields` and `table.config` (key generator, hive style, URL encoding),
`table.snapshot(as_of=...)`.

Code outside this package imports only the names in `__all__`, and the modules in
PUBLIC_MODULES (the DeltaStreamer-compatible CLI, the EMR step builder); the rest are
internals (tests/hudi/test_public_api.py checks it).
"""

from lakehouse.hudi import avro_columns
from lakehouse.hudi.config import (
    COMMIT_TIME_PAYLOAD,
    COPY_ON_WRITE,
    EVENT_TIME_PAYLOAD,
    MERGE_ON_READ,
    HudiConfig,
    HudiConfigError,
    HudiError,
    HudiSchemaError,
    NotAHudiTableError,
    TableConfig,
    WriteOptions,
)
from lakehouse.hudi.file_group import FileSlice, LogFile
from lakehouse.hudi.schema import META_FIELDS
from lakehouse.hudi.schema import data_schema_with_meta as schema_with_meta_fields
from lakehouse.hudi.table import CommitResult, HudiTable
from lakehouse.hudi.timeline import (
    CHECKPOINT_KEY,
    COMPLETED,
    INFLIGHT,
    REQUESTED,
    CommitMetadata,
    Instant,
    Timeline,
)

PUBLIC_MODULES = ("cli", "deltastreamer", "emr")

__all__ = [
    "CHECKPOINT_KEY",
    "COMMIT_TIME_PAYLOAD",
    "COMPLETED",
    "COPY_ON_WRITE",
    "EVENT_TIME_PAYLOAD",
    "INFLIGHT",
    "MERGE_ON_READ",
    "META_FIELDS",
    "PUBLIC_MODULES",
    "REQUESTED",
    "CommitMetadata",
    "CommitResult",
    "FileSlice",
    "HudiConfig",
    "HudiConfigError",
    "HudiError",
    "HudiSchemaError",
    "HudiTable",
    "Instant",
    "LogFile",
    "NotAHudiTableError",
    "TableConfig",
    "Timeline",
    "WriteOptions",
    "schema_with_meta_fields",
    "avro_columns",
]
