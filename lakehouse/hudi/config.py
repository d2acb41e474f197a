"""Table and write settings, as hoodie.properties stores them and DeltaStreamer props set them."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

from lakehouse.hudi.bloom import DEFAULT_SIZING, BloomSizing
from lakehouse.hudi.props import Properties

COPY_ON_WRITE = "COPY_ON_WRITE"
MERGE_ON_READ = "MERGE_ON_READ"
TABLE_TYPES = (COPY_ON_WRITE, MERGE_ON_READ)

OPERATIONS = ("BULK_INSERT", "INSERT", "UPSERT", "DELETE")

SIMPLE_KEYGEN = "org.apache.hudi.keygen.SimpleKeyGenerator"
COMPLEX_KEYGEN = "org.apache.hudi.keygen.ComplexKeyGenerator"
NONPARTITIONED_KEYGEN = "org.apache.hudi.keygen.NonpartitionedKeyGenerator"
TIMESTAMP_KEYGEN = "org.apache.hudi.keygen.TimestampBasedKeyGenerator"
CUSTOM_KEYGEN = "org.apache.hudi.keygen.CustomKeyGenerator"
KEYGENS = (SIMPLE_KEYGEN, COMPLEX_KEYGEN, NONPARTITIONED_KEYGEN, TIMESTAMP_KEYGEN, CUSTOM_KEYGEN)
# What each class (or its Avro twin, or hoodie.datasource.write.keygenerator.type) does.
SIMPLE, COMPLEX, NONPARTITIONED, TIMESTAMP, CUSTOM = (
    "SIMPLE", "COMPLEX", "NON_PARTITION", "TIMESTAMP", "CUSTOM")  # fmt: skip
KEYGEN_KINDS = {
    "SimpleKeyGenerator": SIMPLE, "SimpleAvroKeyGenerator": SIMPLE,
    "ComplexKeyGenerator": COMPLEX, "ComplexAvroKeyGenerator": COMPLEX,
    "NonpartitionedKeyGenerator": NONPARTITIONED, "NonpartitionedAvroKeyGenerator": NONPARTITIONED,
    "TimestampBasedKeyGenerator": TIMESTAMP, "TimestampBasedAvroKeyGenerator": TIMESTAMP,
    "CustomKeyGenerator": CUSTOM, "CustomAvroKeyGenerator": CUSTOM,
}  # fmt: skip
KEYGEN_TYPES = {
    SIMPLE: SIMPLE_KEYGEN,
    COMPLEX: COMPLEX_KEYGEN,
    NONPARTITIONED: NONPARTITIONED_KEYGEN,
    TIMESTAMP: TIMESTAMP_KEYGEN,
    CUSTOM: CUSTOM_KEYGEN,
}
# Key generator settings Spark SQL keeps in hoodie.properties (hudi-rs's v6_timebasedkeygen
# table has them), and the typed field list a CustomKeyGenerator needs on every write.
KEYGEN_PROPERTY_PREFIX = "hoodie.keygen.timebased."
CUSTOM_PARTITION_KEY = "hoodie.datasource.write.partitionpath.field"

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
CLEANER_POLICIES = ("KEEP_LATEST_COMMITS", "KEEP_LATEST_FILE_VERSIONS", "KEEP_LATEST_BY_HOURS")
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
    # hoodie.keygen.timebased.* settings, as (key, value) pairs
    keygen_props: tuple[tuple[str, str], ...] = ()
    # CustomKeyGenerator: SIMPLE or TIMESTAMP per partition field (given as `field:type`)
    partition_types: tuple[str, ...] = ()

    def __post_init__(self):
        if isinstance(self.record_key_fields, str):
            object.__setattr__(self, "record_key_fields", _split(self.record_key_fields))
        if isinstance(self.partition_fields, str):
            object.__setattr__(self, "partition_fields", _split(self.partition_fields))
        if isinstance(self.keygen_props, dict):
            object.__setattr__(self, "keygen_props", tuple(sorted(self.keygen_props.items())))
        for key, _ in self.keygen_props:
            if not key.startswith(KEYGEN_PROPERTY_PREFIX):
                raise HudiConfigError(f"{key} is not a {KEYGEN_PROPERTY_PREFIX}* setting")
        if self.partition_fields and any(":" in f for f in self.partition_fields):
            self._split_typed_fields()
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
        if self.keygenerator_class.rpartition(".")[2] not in KEYGEN_KINDS:
            raise HudiConfigError(
                f"key generator {self.keygenerator_class} is not supported; use one of "
                + ", ".join(KEYGENS)
            )
        kind = self.keygen_kind
        if kind == NONPARTITIONED:
            object.__setattr__(self, "partition_fields", ())
        if kind in (SIMPLE, TIMESTAMP) and len(self.record_key_fields) != 1:
            raise HudiConfigError(
                f"{self.keygenerator_class} takes one record key field, not "
                f"{','.join(self.record_key_fields)}; use {COMPLEX_KEYGEN}"
            )
        # (A SimpleKeyGenerator without partition fields stays non-partitioned, as before.)
        if (kind == SIMPLE and len(self.partition_fields) > 1) or (
            kind == TIMESTAMP and len(self.partition_fields) != 1
        ):
            raise HudiConfigError(
                f"{self.keygenerator_class} takes one partition field, not "
                f"{','.join(self.partition_fields) or 'none'}; use {COMPLEX_KEYGEN} or "
                f"{NONPARTITIONED_KEYGEN}"
            )
        if kind == CUSTOM and self.partition_fields and not self.partition_types:
            raise HudiConfigError(
                f"{CUSTOM_PARTITION_KEY}: {CUSTOM_KEYGEN} needs each partition field as "
                "field:SIMPLE or field:TIMESTAMP, e.g. city:SIMPLE,ts:TIMESTAMP"
            )
        if kind != CUSTOM and self.partition_types:
            raise HudiConfigError(
                f"partition field types ({','.join(self.typed_partition_fields)}) are only for "
                f"{CUSTOM_KEYGEN}"
            )
        if (kind == TIMESTAMP or TIMESTAMP in self.partition_types) and any(
            k == KEYGEN_PROPERTY_PREFIX + "timestamp.type" for k, _ in self.keygen_props
        ):
            # Validated now when complete; Spark SQL leaves timestamp.type out of
            # hoodie.properties, so a table opened from it may get it only as a write option
            # (the key generator names it when it is still missing at write time).
            from lakehouse.hudi.keygen import KeyGenerator

            KeyGenerator(self, HIVE_DEFAULT_PARTITION)
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

    def with_keygen_props(self, extra: dict[str, str], source: str) -> TableConfig:
        """The stored hoodie.keygen.timebased.* settings plus those a writer supplies; a
        supplied value that contradicts a stored one is refused."""
        stored = dict(self.keygen_props)
        for key, value in extra.items():
            if key in stored and stored[key] != value:
                raise HudiConfigError(
                    f"{source}: {key} is {stored[key]!r} but the writer is configured with "
                    f"{value!r}"
                )
        return replace(self, keygen_props={**stored, **extra})

    def _split_typed_fields(self) -> None:
        names, types = [], []
        for item in self.partition_fields:
            name, _, kind = item.partition(":")
            kind = kind.strip().upper()
            if kind not in (SIMPLE, TIMESTAMP) or not name.strip():
                raise HudiConfigError(
                    f"{CUSTOM_PARTITION_KEY}: {item!r} is not field:SIMPLE or field:TIMESTAMP"
                )
            names.append(name.strip())
            types.append(kind)
        if self.partition_types and tuple(types) != tuple(self.partition_types):
            raise HudiConfigError(f"{CUSTOM_PARTITION_KEY}: types contradict partition_types")
        object.__setattr__(self, "partition_fields", tuple(names))
        object.__setattr__(self, "partition_types", tuple(types))
        if self.keygenerator_class is None:
            object.__setattr__(self, "keygenerator_class", CUSTOM_KEYGEN)

    @property
    def keygen_kind(self) -> str:
        return KEYGEN_KINDS[self.keygenerator_class.rpartition(".")[2]]

    @property
    def typed_partition_fields(self) -> tuple[str, ...]:
        return tuple(
            f"{f}:{t}" for f, t in zip(self.partition_fields, self.partition_types, strict=True)
        )

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
        props.update(self.keygen_props)
        if self.partition_types:
            props[CUSTOM_PARTITION_KEY] = ",".join(self.typed_partition_fields)
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
            keygen_props={
                k: v for k, v in props.values.items() if k.startswith(KEYGEN_PROPERTY_PREFIX)
            },
            partition_types=_custom_types(props, source),
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
    cleaner_policy: str = "KEEP_LATEST_COMMITS"  # hoodie.cleaner.policy
    file_versions_retained: int = 3  # hoodie.cleaner.fileversions.retained
    hours_retained: int = 24  # hoodie.cleaner.hours.retained
    auto_archive: bool = True  # hoodie.archive.automatic
    keep_min_commits: int = 20  # hoodie.keep.min.commits
    keep_max_commits: int = 30  # hoodie.keep.max.commits
    archival_batch: int = 10  # hoodie.commits.archival.batch
    # Instants incremental readers still read from (their checkpoints): never archived.
    reader_checkpoints: tuple[str, ...] = ()
    default_partition: str = HIVE_DEFAULT_PARTITION
    parquet_compression: str = "snappy"
    bloom: BloomSizing = DEFAULT_SIZING  # each base file's record-key filter
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
        if self.cleaner_policy not in CLEANER_POLICIES:
            raise HudiConfigError(
                f"hoodie.cleaner.policy={self.cleaner_policy!r} is not one of "
                + ", ".join(CLEANER_POLICIES)
            )
        if self.keep_max_commits <= self.keep_min_commits:
            raise HudiConfigError(
                f"hoodie.keep.max.commits={self.keep_max_commits} must be greater than "
                f"hoodie.keep.min.commits={self.keep_min_commits}"
            )
        if self.cleaner_policy == "KEEP_LATEST_COMMITS" and (
            self.keep_min_commits <= self.commits_retained
        ):
            # Hudi's own check: an incremental pull could otherwise miss archived instants.
            raise HudiConfigError(
                f"hoodie.keep.min.commits={self.keep_min_commits} must be greater than "
                f"hoodie.cleaner.commits.retained={self.commits_retained}"
            )
        if self.archival_batch < 1:
            raise HudiConfigError("hoodie.commits.archival.batch must be at least 1")
        if self.file_versions_retained < 1 or self.hours_retained < 1:
            raise HudiConfigError(
                "hoodie.cleaner.fileversions.retained and hoodie.cleaner.hours.retained must be "
                "at least 1"
            )


@dataclass(frozen=True)
class HudiConfig:
    """Everything open_or_create needs: the table's identity and the write behaviour."""

    table: TableConfig
    write: WriteOptions = field(default_factory=WriteOptions)

    def with_write(self, **changes) -> HudiConfig:
        return replace(self, write=replace(self.write, **changes))


def _custom_types(props: Properties, source: str) -> tuple[str, ...]:
    """The types of a CustomKeyGenerator table's partition fields (v6 keeps them out of
    hoodie.table.partition.fields; this writer stores the typed list next to it)."""
    kind = KEYGEN_KINDS.get((props.get("hoodie.table.keygenerator.class") or "").rpartition(".")[2])
    if kind != CUSTOM:
        return ()
    typed = props.get(CUSTOM_PARTITION_KEY) or ""
    names = _split(props.get("hoodie.table.partition.fields") or "")
    pairs = [p.partition(":") for p in _split(typed)]
    if [n.strip() for n, _, _ in pairs] != list(names):
        raise HudiConfigError(
            f"{source}: a {CUSTOM_KEYGEN} table needs {CUSTOM_PARTITION_KEY} with a type per "
            f"field of hoodie.table.partition.fields ({','.join(names)}), e.g. "
            f"{','.join(n + ':SIMPLE' for n in names)}; found {typed!r}"
        )
    return tuple(t.strip().upper() for _, _, t in pairs)


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


BLOOM_NUM_ENTRIES = "hoodie.index.bloom.num_entries"
BLOOM_FPP = "hoodie.index.bloom.fpp"
BLOOM_MAX_ENTRIES = "hoodie.bloom.index.filter.dynamic.max.entries"
BLOOM_KEYS = (BLOOM_NUM_ENTRIES, BLOOM_FPP, BLOOM_MAX_ENTRIES)


def parse_bloom_sizing(props: Properties) -> BloomSizing:
    """The base files' filter size from Hudi's three settings (Hudi's defaults where unset)."""
    num_entries = parse_int(props, BLOOM_NUM_ENTRIES, DEFAULT_SIZING.num_entries, minimum=1)
    max_entries = parse_int(props, BLOOM_MAX_ENTRIES, DEFAULT_SIZING.max_entries)
    fpp = DEFAULT_SIZING.fpp
    text = (props.get(BLOOM_FPP) or "").strip()
    if text:
        try:
            fpp = float(text)
        except ValueError:
            raise HudiConfigError(
                f"{props.where(BLOOM_FPP)}: {BLOOM_FPP}={text!r} is not a number"
            ) from None
    try:
        return BloomSizing(num_entries, fpp, max_entries)
    except ValueError as e:
        key = next((k for k in BLOOM_KEYS if str(e).startswith(k)), BLOOM_NUM_ENTRIES)
        raise HudiConfigError(f"{props.where(key)}: {e}") from None
