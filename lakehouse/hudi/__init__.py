"""Apache Hudi tables (table version 6) written in pure Python, and a DeltaStreamer-compatible CLI.

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions

config = HudiConfig(TableConfig("artists", record_key_fields=("artist_id",),
                                precombine_field="__source_ts_ms",
                                partition_fields=("nationality",),
                                table_type="MERGE_ON_READ"))
table = HudiTable.open_or_create("s3://bucket/moma/artists_mor", config)
result = table.upsert(arrow_table, source_checkpoint="1640401891087")
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
from lakehouse.hudi.table import CHECKPOINT_KEY, CommitResult, HudiTable

__all__ = [
    "CHECKPOINT_KEY",
    "COMMIT_TIME_PAYLOAD",
    "COPY_ON_WRITE",
    "EVENT_TIME_PAYLOAD",
    "MERGE_ON_READ",
    "CommitResult",
    "HudiConfig",
    "HudiConfigError",
    "HudiError",
    "HudiSchemaError",
    "HudiTable",
    "NotAHudiTableError",
    "TableConfig",
    "WriteOptions",
    "avro_columns",
]
