"""Table and write settings, as hoodie.properties stores them and DeltaStreamer props set them."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

from lakehouse.hudi.props import Properties

COPY_ON_WRITE = "COPY_ON_WRITE"
MERGE_ON_READ = "MERGE_ON_READ"
TABLE_TYPES = (COPY_ON_WRITE, MERGE_ON_READ)

OPERATIONS = ("BULK_INSERT", "INSERT", "UPSERT", "DELETE")

SIMPLE_KEYGEN = "org.apache.hudi.keygen.SimpleKeyGenerator"
COMPLEX_KEYGEN = "org.apache.hudi.keygen.ComplexKeyGenerator"
NONPARTITIONED_KEYGEN = "org.apache.hudi.keygen.NonpartitionedKeyGenerator"
KEYGENS = (SIMPLE_KEYGEN, COMPLEX_KEYGEN, NONPARTITIONED_KEYGEN)

# Event-time ordering: a stored record is replaced only by one with an equal or higher ordering
# value (the fix for X-5); hudi-rs merges MoR logs the same way for this payload.
EVENT_TIME_PAYLOAD = "org.apache.hudi.common.model.DefaultHoodieRecordPayload"
# Commit-time ordering: the later commit wins whatever its ordering value (the original's).
COMMIT_TIME_PAYLOAD = "org.apache.hudi.common.model.OverwriteWithLatestAvroPayload"
PAYLOADS = (
    EVENT_TIME_PAYLOAD,
    COMMIT_TIME_PAYLOAD,
    "org.apache.hudi.common.model.EventTimeAvroPayload",
)

HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
GLOBAL_INDEXES = ("GLOBAL_BLOOM", "GLOBAL_SIMPLE")


class HudiError(Exception):
    """Base class of the writer's errors."""


class HudiConfigError(HudiError):
    """A setting is missing, malformed or contradicts the table."""


class HudiSchemaError(HudiError):
    """Input data does not fit the table."""


class NotAHudiTableError(HudiError):
    """The base path exists but holds no Hudi table."""


@dataclass(frozen=True)
class TableConfig:
    """What hoodie.properties records about a table."""

    name: str
    record_key_fields: tuple[str, ...]
    precombine_field: str | None = None
    partition_fields: tuple[str, ...] = ()
    table_type: str = COPY_ON_WRITE
    hive_style_partitioning: bool = True
    urlencode_partition: bool = False
    keygenerator_class: str | None = None
    payload_class: str = EVENT_TIME_PAYLOAD
    database: str = "default"

    def __post_init__(self):
        if isinstance(self.record_key_fields, str):
            object.__setattr__(self, "record_key_fields", _split(self.record_key_fields))
        if isinstance(self.partition_fields, str):
            object.__setattr__(self, "partition_fields", _split(self.partition_fields))
        object.__setattr__(self, "record_key_fields", tuple(self.record_key_fields))
        object.__setattr__(self, "partition_fields", tuple(self.partition_fields))
        if not self.name or not all(c.isalnum() or c == "_" for c in self.name):
            raise HudiConfigError(f"table name {self.name!r} must be letters, digits and '_'")
        if self.table_type not in TABLE_TYPES:
            raise HudiConfigError(
                f"table type {self.table_type!r} is not one of {', '.join(TABLE_TYPES)}"
            )
        if not self.record_key_fields:
            raise HudiConfigError("no record key field is set")
        if self.keygenerator_class is None:
            if not self.partition_fields:
                keygen = NONPARTITIONED_KEYGEN
            elif len(self.record_key_fields) > 1 or len(self.partition_fields) > 1:
                keygen = COMPLEX_KEYGEN
            else:
                keygen = SIMPLE_KEYGEN
            object.__setattr__(self, "keygenerator_class", keygen)
        if self.keygenerator_class not in KEYGENS:
            raise HudiConfigError(
                f"key generator {self.keygenerator_class} is not supported; use one of "
                + ", ".join(KEYGENS)
            )
        if self.keygenerator_class == NONPARTITIONED_KEYGEN:
            object.__setattr__(self, "partition_fields", ())
        if self.payload_class not in PAYLOADS:
            raise HudiConfigError(
                f"payload class {self.payload_class} is not supported (hudi-rs reads only "
                f"{', '.join(PAYLOADS)})"
            )

    @property
    def is_mor(self) -> bool:
        return self.table_type == MERGE_ON_READ

    @property
    def event_time_ordering(self) -> bool:
        return self.precombine_field is not None and self.payload_class != COMMIT_TIME_PAYLOAD

    @property
    def complex_keys(self) -> bool:
        return self.keygenerator_class == COMPLEX_KEYGEN

    def checksum(self) -> int:
        return zlib.crc32(f"{self.database}.{self.name}".encode())

    def to_properties(self, create_schema: str | None = None) -> dict[str, str]:
        props = {
            "hoodie.table.name": self.name,
            "hoodie.table.type": self.table_type,
            "hoodie.table.version": "6",
            "hoodie.timeline.layout.version": "1",
            "hoodie.table.recordkey.fields": ",".join(self.record_key_fields),
        }
        if self.precombine_field:
            props["hoodie.table.precombine.field"] = self.precombine_field
        if self.partition_fields:
            props["hoodie.table.partition.fields"] = ",".join(self.partition_fields)
        props.update(
            {
                "hoodie.table.keygenerator.class": self.keygenerator_class,
                "hoodie.datasource.write.hive_style_partitioning": _bool(
                    self.hive_style_partitioning
                ),
                "hoodie.datasource.write.partitionpath.urlencode": _bool(self.urlencode_partition),
                "hoodie.datasource.write.drop.partition.columns": "false",
                "hoodie.table.base.file.format": "PARQUET",
                "hoodie.archivelog.folder": "archived",
                "hoodie.populate.meta.fields": "true",
                "hoodie.compaction.payload.class": self.payload_class,
                "hoodie.table.timeline.timezone": "UTC",
                "hoodie.database.name": self.database,
                "hoodie.table.checksum": str(self.checksum()),
            }
        )
        if create_schema:
            props["hoodie.table.create.schema"] = create_schema
        return props

    @classmethod
    def from_properties(cls, props: Properties, source: str) -> TableConfig:
        def need(key: str) -> str:
            value = props.get(key)
            if not value:
                raise HudiConfigError(f"{source}: {key} is not set")
            return value

        version = need("hoodie.table.version")
        if version != "6":
            raise HudiConfigError(
                f"{source}: hoodie.table.version={version}; this writer writes version 6 only"
            )
        layout = props.get("hoodie.timeline.layout.version", "1")
        if layout != "1":
            raise HudiConfigError(f"{source}: hoodie.timeline.layout.version={layout}, expected 1")
        if props.get("hoodie.table.metadata.partitions"):
            raise HudiConfigError(
                f"{source}: the table has a metadata table "
                f"(hoodie.table.metadata.partitions={props.get('hoodie.table.metadata.partitions')})"
                "; commits that do not update it would be invisible to Spark, so this writer "
                "refuses to write. Rewrite it from Spark with hoodie.metadata.enable=false."
            )
        if parse_bool(props, "hoodie.datasource.write.drop.partition.columns", False, source):
            raise HudiConfigError(
                f"{source}: hoodie.datasource.write.drop.partition.columns=true is not readable "
                "by hudi-rs"
            )
        if not parse_bool(props, "hoodie.populate.meta.fields", True, source):
            raise HudiConfigError(f"{source}: hoodie.populate.meta.fields=false is not supported")
        payload = props.get("hoodie.compaction.payload.class") or COMMIT_TIME_PAYLOAD
        return cls(
            name=need("hoodie.table.name"),
            record_key_fields=_split(need("hoodie.table.recordkey.fields")),
            precombine_field=props.get("hoodie.table.precombine.field")
            or props.get("hoodie.table.ordering.fields")
            or None,
            partition_fields=_split(props.get("hoodie.table.partition.fields") or ""),
            table_type=need("hoodie.table.type"),
            hive_style_partitioning=parse_bool(
                props, "hoodie.datasource.write.hive_style_partitioning", False, source
            ),
            urlencode_partition=parse_bool(
                props, "hoodie.datasource.write.partitionpath.urlencode", False, source
            ),
            keygenerator_class=props.get("hoodie.table.keygenerator.class") or None,
            # Java reads an absent payload class as OverwriteWithLatestAvroPayload.
            payload_class=payload,
            database=props.get("hoodie.database.name") or "",
        )


@dataclass(frozen=True)
class WriteOptions:
    """How a write behaves; none of this is stored in the table."""

    delete_mode: str = "soft"  # "soft": delete events are kept as rows; "hard": they remove keys
    delete_field: str = "__deleted"
    delete_value: str = "true"
    filter_dupes: bool = False
    combine_before_insert: bool = True
    update_partition_path: bool = True  # hoodie.bloom.index.update.partition.path
    small_file_limit: int = 104_857_600  # hoodie.parquet.small.file.limit
    max_file_size: int = 125_829_120  # hoodie.parquet.max.file.size
    record_size_estimate: int = 1024  # hoodie.copyonwrite.record.size.estimate
    inline_compaction: bool = True  # hoodie.compact.inline
    compaction_delta_commits: int = 5  # hoodie.compact.inline.max.delta.commits
    auto_clean: bool = True  # hoodie.clean.automatic
    commits_retained: int = 10  # hoodie.cleaner.commits.retained
    default_partition: str = HIVE_DEFAULT_PARTITION
    parquet_compression: str = "snappy"
    parallelism: int = 0  # threads writing file groups; 0 = one per CPU

    def __post_init__(self):
        if self.delete_mode not in ("soft", "hard"):
            raise HudiConfigError(f"delete mode {self.delete_mode!r} must be 'soft' or 'hard'")
        for name in ("small_file_limit", "max_file_size", "record_size_estimate"):
            if getattr(self, name) < 0:
                raise HudiConfigError(f"{name} must not be negative")
        if self.compaction_delta_commits < 1:
            raise HudiConfigError("compaction_delta_commits must be at least 1")
        if self.commits_retained < 1:
            raise HudiConfigError("commits_retained must be at least 1")


@dataclass(frozen=True)
class HudiConfig:
    """Everything open_or_create needs: the table's identity and the write behaviour."""

    table: TableConfig
    write: WriteOptions = field(default_factory=WriteOptions)

    def with_write(self, **changes) -> HudiConfig:
        return replace(self, write=replace(self.write, **changes))


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _bool(value: bool) -> str:
    return "true" if value else "false"


def parse_bool(props: Properties, key: str, default: bool, source: str | None = None) -> bool:
    value = props.get(key)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    where = props.where(key) if source is None else f"{props.where(key)}"
    raise HudiConfigError(f"{where}: {key}={value!r} is not a boolean (true or false)")


def parse_int(props: Properties, key: str, default: int, minimum: int = 0) -> int:
    value = props.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise HudiConfigError(f"{props.where(key)}: {key}={value!r} is not an integer") from None
    if number < minimum:
        raise HudiConfigError(f"{props.where(key)}: {key}={number} must be at least {minimum}")
    return number
