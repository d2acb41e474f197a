"""Telemetry from the landing zone to the warehouse, one hourly partition at a time.

The asset bodies call these functions; so does the latency benchmark. Every step is idempotent:
a partition's files have fixed names and its warehouse rows are deleted and re-inserted in one
transaction, so a re-run (or a retry after a crash) leaves the same result.

1. snapshot_raw: the landed objects of one arrival hour, listed into a manifest.
2. load_sensor_messages: every record typed (or quarantined with its reason), deduplicated by
   message id within the partition and against the partitions already loaded.
3. load_message: the star schema's `message` rows of the partition (guid, ts, temp in °F).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field

from lakehouse.iot.landing import (
    LANDING_PREFIX,
    PARTITION_FORMAT,
    hour_prefix,
    partition_of,
    read_records,
)
from lakehouse.iot.load import (
    append_manifest,
    ensure_tables,
    manifest_urls,
    replace_all_from_csv,
    replace_partition,
    transaction,
    write_part,
)
from lakehouse.iot.readings import Quarantined, message_id, to_reading
from lakehouse.iot.seeds import star_schema_rows, to_csv
from lakehouse.iot.warehouse_tables import (
    ALL_TABLES,
    DIMENSIONS,
    MESSAGE,
    QUARANTINE,
    SENSOR_MESSAGES,
)
from lakehouse.storage import ObjectStore, StorageError
from lakehouse.warehouse import Warehouse

TYPED_PREFIX = "sensor_messages"
QUARANTINE_PREFIX = "sensor_messages_quarantine"
MESSAGE_PREFIX = "sensor/message"
DIMENSIONS_PREFIX = "sensor"
DEDUP_WINDOW_S = 24 * 3600  # how far apart two copies of one reading may have been read
RECORD_TEXT_BYTES = 60_000  # the quarantine's record column is VARCHAR(65535) (bytes)


class PipelineError(RuntimeError):
    pass


def partition_hour(partition_key: str) -> dt.datetime:
    """'2020-08-27-15:00' -> 2020-08-27 15:00 (naive UTC, as TIMESTAMP columns hold it)."""
    try:
        return dt.datetime.strptime(partition_key, PARTITION_FORMAT)
    except ValueError:
        raise PipelineError(f"partition {partition_key!r} is not YYYY-MM-DD-HH:00") from None


def hour_text(hour: dt.datetime) -> str:
    return f"{hour:%Y-%m-%d %H:%M:%S}"


def raw_manifest_key(hour: dt.datetime, prefix: str = LANDING_PREFIX) -> str:
    # Under manifests/, which partition_of never takes for landed data.
    return f"{prefix}/manifests/partitions/{hour:%Y-%m-%d-%H}.manifest"


def key_of(lake: ObjectStore, url: str) -> str:
    root = lake.root_uri.rstrip("/") + "/"
    if not url.startswith(root):
        raise PipelineError(f"manifest entry {url!r} is outside the lake {lake.root_uri}")
    return url[len(root) :]


@dataclass
class RawPartition:
    partition: str
    manifest_key: str
    objects: list[str]
    bytes: int
    records: int
    unreadable: int


def snapshot_raw(
    lake: ObjectStore, partition_key: str, prefix: str = LANDING_PREFIX
) -> RawPartition:
    """Lists the partition's landed objects into a manifest: exactly these are loaded next."""
    hour = partition_hour(partition_key)
    objects = [
        o
        for o in lake.list_objects(hour_prefix(prefix, hour))
        if partition_of(o.key) == partition_key
    ]
    records = unreadable = 0
    for o in objects:
        for _, record in read_records(lake.get_bytes(o.key), o.key):
            if isinstance(record, Quarantined):
                unreadable += 1
            else:
                records += 1
    manifest_key = raw_manifest_key(hour, prefix)
    entries = [{"url": lake.uri(o.key), "mandatory": True} for o in objects]
    lake.put_bytes(manifest_key, json.dumps({"entries": entries}).encode())
    return RawPartition(
        partition=partition_key,
        manifest_key=manifest_key,
        objects=[o.key for o in objects],
        bytes=sum(o.size for o in objects),
        records=records,
        unreadable=unreadable,
    )


def _record_text(record: dict) -> str:
    text = json.dumps(record, separators=(",", ":"), default=repr)
    return text.encode()[:RECORD_TEXT_BYTES].decode("utf-8", "ignore")


def _safe_message_id(record: dict) -> str | None:
    try:
        mid = message_id(record)
    except (KeyError, TypeError, ValueError):
        return None
    return mid if isinstance(mid, str) and len(mid) <= 64 else None


@dataclass
class TypedPartition:
    partition: str
    rows: int
    devices: Counter = field(default_factory=Counter)
    quarantined: int = 0
    duplicates: int = 0
    reasons: Counter = field(default_factory=Counter)
    typed_manifest: str = ""
    quarantine_manifest: str = ""
    files: int = 0  # landed objects read
    bytes: int = 0  # of the typed part written
    quarantine_bytes: int = 0


def _reason_kind(reason: str) -> str:
    """A short label for metadata: the reason without its values."""
    for kind in ("duplicate message id", "missing fields", "not JSON", "not a JSON object",
                 "is not finite", "not a number", "is outside", "before 2000", "in the future",
                 "is negative", "not a gzip", "checksum", "boot_id", "seq", "crc",
                 "device_id", "gateway_id", "msg_id"):  # fmt: skip
        if kind in reason:
            return kind
    return "other"


def _quarantine_row(landed_hour: str, source: str, reason: str, record: dict | None) -> dict:
    return {
        "landed_hour": landed_hour,
        "source": source[:1024],
        "reason": reason[:1024],
        "message_id": _safe_message_id(record) if record is not None else None,
        "record": _record_text(record) if record is not None else None,
    }


def _duplicate(row: dict, where: str, landed_hour: str) -> dict:
    """The quarantine row of a typed reading whose message id is already loaded."""
    record = {k: v for k, v in row.items() if k not in ("landed_hour", "source")}
    reason = f"duplicate message id {row['message_id']} ({where})"
    return _quarantine_row(landed_hour, row["source"], reason, record)


def _type_objects(
    lake: ObjectStore, keys: list[str], landed_hour: str, now: float
) -> tuple[list[dict], list[dict]]:
    """The landed objects' records as typed rows, and quarantine rows for the rest (unreadable,
    invalid, or a message id seen earlier in these objects)."""
    typed: list[dict] = []
    quarantine: list[dict] = []
    first_seen: dict[str, str] = {}
    for key in keys:
        for line, record in read_records(lake.get_bytes(key), key):
            source = f"{key}:{line}"
            if isinstance(record, Quarantined):
                quarantine.append(_quarantine_row(landed_hour, source, record.reason, None))
                continue
            reading = to_reading(record, now)
            if isinstance(reading, Quarantined):
                quarantine.append(_quarantine_row(landed_hour, source, reading.reason, record))
            elif reading["message_id"] in first_seen:
                mid = reading["message_id"]
                reason = f"duplicate message id {mid} (first at {first_seen[mid]})"
                quarantine.append(_quarantine_row(landed_hour, source, reason, record))
            else:
                first_seen[reading["message_id"]] = source
                typed.append(reading | {"landed_hour": landed_hour, "source": source[:1024]})
    return typed, quarantine


def load_sensor_messages(
    lake: ObjectStore,
    warehouse: Warehouse,
    partition_key: str,
    now: float | None = None,
    prefix: str = LANDING_PREFIX,
) -> TypedPartition:
    hour = partition_hour(partition_key)
    landed_hour = hour_text(hour)
    now = time.time() if now is None else now
    try:
        urls = manifest_urls(lake, raw_manifest_key(hour, prefix))
    except StorageError:
        raise PipelineError(
            f"partition {partition_key} has no raw manifest: materialize sensor_messages_raw "
            "for it first"
        ) from None
    keys = [key_of(lake, url) for url in urls]
    typed, quarantine = _type_objects(lake, keys, landed_hour, now)

    with transaction(warehouse) as session:
        ensure_tables(session, [SENSOR_MESSAGES, QUARANTINE])
        # Objects the bridge landed and loaded after this run's snapshot: replacing the hour
        # must not drop them, so they are loaded again after it (objects_in_warehouse is read
        # inside the transaction, so no micro-batch commits in between).
        later = sorted(_objects_in_warehouse(session, hour) - set(keys))
        if typed:
            # A re-delivered message has the same id and the same gateway read time; the same
            # packet heard by another gateway (or replayed over the air) has the same id and a
            # read time close by. So only the other partitions' rows within DEDUP_WINDOW_S of
            # this one's ts range can hold it, and the sort key (ts) keeps the lookup small.
            existing = dict(
                session.query(
                    f"SELECT message_id, landed_hour FROM {SENSOR_MESSAGES.qualified} "  # noqa: S608
                    f"WHERE landed_hour <> {session.mark} AND ts BETWEEN {session.mark} AND "
                    f"{session.mark}",
                    [
                        hour,
                        min(r["ts"] for r in typed) - DEDUP_WINDOW_S,
                        max(r["ts"] for r in typed) + DEDUP_WINDOW_S,
                    ],
                )
            )
            kept = []
            for row in typed:
                other = existing.get(row["message_id"])
                if other is None:
                    kept.append(row)
                    continue
                other_text = (
                    other.strftime(PARTITION_FORMAT) if hasattr(other, "strftime") else other
                )
                quarantine.append(
                    _duplicate(row, f"already loaded from partition {other_text}", landed_hour)
                )
            typed = kept
        typed_part = write_part(lake, TYPED_PREFIX, hour, typed)
        quarantine_part = write_part(lake, QUARANTINE_PREFIX, hour, quarantine)
        replace_partition(session, SENSOR_MESSAGES, lake, typed_part.manifest_key, hour)
        replace_partition(session, QUARANTINE, lake, quarantine_part.manifest_key, hour)
        for key in later:
            # Their sensor.message rows are still there; load_message keeps them too.
            _load_object(session, lake, key, now, message=False)

    reasons = Counter(_reason_kind(q["reason"]) for q in quarantine)
    return TypedPartition(
        partition=partition_key,
        rows=len(typed),
        devices=Counter(r["device_id"] for r in typed),
        quarantined=len(quarantine),
        duplicates=reasons.get("duplicate message id", 0),
        reasons=reasons,
        typed_manifest=typed_part.manifest_key,
        quarantine_manifest=quarantine_part.manifest_key,
        files=len(urls),
        bytes=typed_part.bytes,
        quarantine_bytes=quarantine_part.bytes,
    )


def read_part_rows(lake: ObjectStore, manifest_key: str) -> list[dict]:
    rows = []
    for url in manifest_urls(lake, manifest_key):
        key = key_of(lake, url)
        for _, record in read_records(lake.get_bytes(key), key):
            if isinstance(record, Quarantined):
                raise PipelineError(
                    f"{key}: written by this pipeline but unreadable: {record.reason}"
                )
            rows.append(record)
    return rows


def _message_row(typed: dict) -> dict:
    """A typed reading as the star schema's `message` row (guid, whole-second ts, °F)."""
    return {
        "guid": typed["device_id"],
        "ts": math.floor(typed["ts"]),
        "temp": typed["temperature_f"],
        "landed_hour": typed["landed_hour"],
    }


@dataclass
class MessagePartition:
    partition: str
    rows: int
    manifest_key: str
    files: int
    bytes: int


def load_message(lake: ObjectStore, warehouse: Warehouse, partition_key: str) -> MessagePartition:
    """The partition's typed rows as `sensor.message` rows, replacing the partition's."""
    hour = partition_hour(partition_key)
    typed_manifest = f"{TYPED_PREFIX}/manifests/{hour:%Y-%m-%d-%H}.manifest"
    try:
        typed = read_part_rows(lake, typed_manifest)
    except StorageError:
        raise PipelineError(
            f"partition {partition_key} has no sensor_messages manifest: materialize "
            "sensor_messages for it first"
        ) from None
    rows = [_message_row(r) for r in typed]
    part = write_part(lake, MESSAGE_PREFIX, hour, rows)
    snapshot = sorted({r["source"].rsplit(":", 1)[0] for r in typed})
    with transaction(warehouse) as session:
        ensure_tables(session, [MESSAGE])
        replace_partition(session, MESSAGE, lake, part.manifest_key, hour)
        # Readings of the hour the bridge loaded after sensor_messages' snapshot stay too.
        outside = (
            f" AND split_part(source, ':', 1) NOT IN ({', '.join([session.mark] * len(snapshot))})"
            if snapshot
            else ""
        )
        session.execute(
            f"INSERT INTO {MESSAGE.qualified} (guid, ts, temp, landed_hour) "  # noqa: S608
            "SELECT device_id, CAST(floor(ts) AS BIGINT), temperature_f, landed_hour "
            f"FROM {SENSOR_MESSAGES.qualified} WHERE landed_hour = {session.mark}{outside}",
            [hour, *snapshot],
        )
    return MessagePartition(partition_key, len(rows), part.manifest_key, part.files, part.bytes)


@dataclass
class Dimensions:
    rows: dict[str, int]
    keys: dict[str, str]
    bytes: dict[str, int]


def load_dimensions(
    lake: ObjectStore, warehouse: Warehouse, registry: list[dict] | None = None
) -> Dimensions:
    """Full refresh of the star schema's dimensions and fact, all in one transaction."""
    rows = star_schema_rows(registry)
    keys, sizes = {}, {}
    for table in DIMENSIONS:
        key = f"{DIMENSIONS_PREFIX}/{table.name}/{table.name}.csv"
        data = to_csv(table, rows[table.name])
        lake.put_bytes(key, data)
        keys[table.name], sizes[table.name] = key, len(data)
    with transaction(warehouse) as session:
        ensure_tables(session, ALL_TABLES)  # and the telemetry tables, so the marts can build
        for table in DIMENSIONS:
            replace_all_from_csv(session, table, lake, keys[table.name])
    return Dimensions({t: len(r) for t, r in rows.items()}, keys, sizes)


# -- micro-batches: what lakehouse-iot-bridge loads as soon as it has landed an object -------

# One marker per landed object a micro-batch load committed (under the landed key), so the
# landing sensor leaves that object to the bridge; the parts are the load's files, dropped after.
LOADED_PREFIX = "micro_batches/loaded"
PARTS_PREFIX = "micro_batches/parts"
ID_CHUNK = 500  # message ids per lookup statement


def loaded_marker_key(landed_key: str) -> str:
    return f"{LOADED_PREFIX}/{landed_key}.json"


@dataclass
class ObjectLoad:
    """One landed object appended to sensor_messages (+ quarantine) and sensor.message."""

    partition: str
    key: str
    messages: int = 0  # records in the object
    rows: int = 0  # readings added to sensor_messages and sensor.message
    quarantined: int = 0
    duplicates: int = 0
    already_loaded: bool = False  # an earlier load (bridge or partition run) holds it


def _loaded_ids(session, typed: list[dict]) -> dict[str, tuple[object, str]]:
    """message id -> (landed hour, source) of the typed readings already loaded, any hour."""
    found = {}
    low = min(r["ts"] for r in typed) - DEDUP_WINDOW_S
    high = max(r["ts"] for r in typed) + DEDUP_WINDOW_S
    ids = sorted({r["message_id"] for r in typed})
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        rows = session.query(
            f"SELECT message_id, landed_hour, source FROM {SENSOR_MESSAGES.qualified} "  # noqa: S608
            f"WHERE ts BETWEEN {session.mark} AND {session.mark} "
            f"AND message_id IN ({', '.join([session.mark] * len(chunk))})",
            [low, high, *chunk],
        )
        found |= {mid: (hour, source) for mid, hour, source in rows}
    return found


def _objects_in_warehouse(session, hour: dt.datetime) -> set[str]:
    """The landed objects whose rows (typed or quarantined) the hour holds."""
    return {
        key
        for table in (SENSOR_MESSAGES, QUARANTINE)
        for (key,) in session.query(
            f"SELECT DISTINCT split_part(source, ':', 1) FROM {table.qualified} "  # noqa: S608
            f"WHERE landed_hour = {session.mark}",
            [hour],
        )
    }


def _load_object(
    session, lake: ObjectStore, key: str, now: float, message: bool = True
) -> tuple[ObjectLoad, list]:
    partition = partition_of(key)
    hour = partition_hour(partition)
    landed_hour = hour_text(hour)
    load = ObjectLoad(partition, key)
    if key in _objects_in_warehouse(session, hour):
        load.already_loaded = True
        return load, []
    typed, quarantine = _type_objects(lake, [key], landed_hour, now)
    load.messages = len(typed) + len(quarantine)
    if typed:
        # The same reading landed before (a re-delivery after a crash, a second gateway):
        # the first load keeps it, as the partition run does.
        loaded = _loaded_ids(session, typed)
        kept = []
        for row in typed:
            if row["message_id"] not in loaded:
                kept.append(row)
                continue
            other_hour, source = loaded[row["message_id"]]
            other = (
                other_hour.strftime(PARTITION_FORMAT)
                if hasattr(other_hour, "strftime")
                else other_hour
            )
            where = (
                f"first at {source}"
                if other == partition
                else f"already loaded from partition {other}"
            )
            quarantine.append(_duplicate(row, where, landed_hour))
            load.duplicates += 1
        typed = kept
    load.rows, load.quarantined = len(typed), len(quarantine)
    stem = key.rsplit("/", 1)[-1].removesuffix(".gz")
    parts = [
        (table, write_part(lake, f"{PARTS_PREFIX}/{stem}/{prefix}", hour, rows))
        for table, prefix, rows in (
            (SENSOR_MESSAGES, TYPED_PREFIX, typed),
            (QUARANTINE, QUARANTINE_PREFIX, quarantine),
            (MESSAGE, MESSAGE_PREFIX, [_message_row(r) for r in typed] if message else []),
        )
    ]
    for table, part in parts:
        append_manifest(session, table, lake, part.manifest_key)
    return load, [part.manifest_key for _, part in parts]


def load_landed(
    lake: ObjectStore, warehouse: Warehouse, keys: list[str], now: float | None = None
) -> list[ObjectLoad]:
    """Appends landed objects to sensor_messages (+ quarantine) and sensor.message in one
    transaction, without waiting for their hour's partition run.

    Idempotent per object and per message id: an object some load already holds is skipped,
    and a reading whose message id is loaded (in any hour) is quarantined as a duplicate, so a
    retry, a re-delivery or the hour's partition run later never counts a reading twice (the
    partition run replaces the hour with the same readings)."""
    for key in keys:
        if partition_of(key) is None:
            raise PipelineError(
                f"{key}: not a landed telemetry object (message/YYYY/MM/DD/HH/*.gz)"
            )
    now = time.time() if now is None else now
    loads, manifests = [], []
    with transaction(warehouse) as session:
        ensure_tables(session, [SENSOR_MESSAGES, QUARANTINE, MESSAGE])
        for key in keys:
            load, written = _load_object(session, lake, key, now)
            loads.append(load)
            manifests += written
    for load in loads:
        lake.put_bytes(
            loaded_marker_key(load.key),
            json.dumps({"partition": load.partition, "rows": load.rows,
                        "quarantined": load.quarantined, "loaded_at": now}).encode(),
        )  # fmt: skip
    for manifest_key in manifests:
        for url in manifest_urls(lake, manifest_key):
            lake.delete(key_of(lake, url))
        lake.delete(manifest_key)
    return loads


def loaded_by_bridge(lake: ObjectStore, hour: dt.datetime) -> set[str]:
    """The landed keys of an hour that micro-batch loads committed."""
    prefix = f"{LOADED_PREFIX}/"
    return {
        o.key[len(prefix) :].removesuffix(".json")
        for o in lake.list_objects(f"{LOADED_PREFIX}/{hour_prefix(LANDING_PREFIX, hour)}")
    }
