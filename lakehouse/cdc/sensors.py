"""A sensor over the raw CDC topic prefixes that requests runs for new or rewritten objects.

Naive S3 sensors compare keys by name ("everything after the last key"), which misses objects
that appear out of key order and objects rewritten in place, and they often read only the first
page of a listing. This one lists every page, and its cursor is the high-water mark
(last_modified_ms, key) plus the objects already handled whose last-modified time lies within
`lookback_ms` of that mark, with the version (last-modified time, size) they were handled at:

    {"key": K, "last_modified_ms": T, "recent": {"<key>": [<last_modified_ms>, <size>], ...}}

An object is new when its last-modified time is at or after T - lookback_ms and `recent` does
not hold it at that version. So a rewritten object (same key, newer time or other size: S3
listings have one-second resolution) is new again, an object that becomes visible late with an
older timestamp (S3 stamps a multipart upload with its start time) is still caught, and deleted
objects drop out of `recent`. A rewrite with the same size within the same second as the
previous version is not seen; the capture only rewrites an object with identical bytes or more
records.
"""

import hashlib
import json
from collections.abc import Callable, Sequence

import dagster as dg

from lakehouse.cdc.assets import RAW_CDC_KEYS, RAW_CDC_TOPICS
from lakehouse.cdc.sink import parse_object_key, topic_prefix
from lakehouse.storage import ObjectInfo, ObjectStore

DEFAULT_LOOKBACK_MS = 120_000
DEFAULT_MAX_OBJECTS = 1_000


def parse_cursor(text: str | None) -> tuple[int | None, str | None, dict[str, list[int]]]:
    if not text:
        return None, None, {}
    state = json.loads(text)
    return state["last_modified_ms"], state["key"], dict(state["recent"])


def format_cursor(last_modified_ms: int | None, key: str | None, recent: dict[str, list]) -> str:
    return json.dumps(
        {"key": key, "last_modified_ms": last_modified_ms, "recent": dict(sorted(recent.items()))},
        sort_keys=True,
        separators=(",", ":"),
    )


def new_objects(
    objects: Sequence[ObjectInfo],
    cursor: str | None,
    *,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    max_objects: int = DEFAULT_MAX_OBJECTS,
) -> tuple[list[ObjectInfo], str]:
    """The objects to hand on (oldest first, at most max_objects) and the cursor after them."""
    mark, mark_key, recent = parse_cursor(cursor)
    floor = None if mark is None else mark - lookback_ms
    fresh = sorted(
        (
            o
            for o in objects
            if (floor is None or o.last_modified_ms >= floor)
            and recent.get(o.key) != [o.last_modified_ms, o.size]
        ),
        key=lambda o: (o.last_modified_ms, o.key),
    )[:max_objects]
    for o in fresh:
        if mark is None or (o.last_modified_ms, o.key) > (mark, mark_key or ""):
            mark, mark_key = o.last_modified_ms, o.key
    listed = {o.key for o in objects}
    recent = {k: v for k, v in recent.items() if k in listed}  # deleted objects drop out
    recent.update({o.key: [o.last_modified_ms, o.size] for o in fresh})
    if mark is not None:
        recent = {k: v for k, v in recent.items() if v[0] >= mark - lookback_ms}
    return fresh, format_cursor(mark, mark_key, recent)


def list_topic_objects(lake: ObjectStore, topics: Sequence[str]) -> list[ObjectInfo]:
    out = []
    for topic in topics:
        for o in lake.list_objects(topic_prefix(topic)):
            parsed = parse_object_key(o.key)
            if parsed and parsed[0] == topic:
                out.append(o)
    return out


def build_raw_cdc_sensor(
    *,
    name: str = "raw_cdc_objects",
    asset_selection: dg.AssetSelection | Sequence[dg.AssetKey] | None = None,
    job: dg.JobDefinition | None = None,  # or the result of dg.define_asset_job
    topics: Sequence[str] = RAW_CDC_TOPICS,
    run_config_fn: Callable[[list[ObjectInfo]], dict] | None = None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    max_objects: int = DEFAULT_MAX_OBJECTS,
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor over `topics` that requests a run of `asset_selection` (or `job`) per batch of
    new objects. The run's tags name the topics and the number of objects; `run_config_fn`
    may turn the objects into run config (e.g. the keys for an ingest step)."""
    if (asset_selection is None) == (job is None):
        raise ValueError("give exactly one of asset_selection and job")
    topics = list(topics)

    @dg.sensor(
        name=name,
        description="Watches " + ", ".join(topic_prefix(t) for t in topics) + " in the lake "
        "(every page of the listing) and requests a run for objects that are new or were "
        "rewritten since the cursor (last-modified time, key).",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        asset_selection=asset_selection,
        job=job,
    )
    def raw_cdc_sensor(context: dg.SensorEvaluationContext, lake: ObjectStore):
        objects = list_topic_objects(lake, topics)
        fresh, cursor = new_objects(
            objects, context.cursor, lookback_ms=lookback_ms, max_objects=max_objects
        )
        if cursor != context.cursor:
            context.update_cursor(cursor)
        if not fresh:
            return dg.SkipReason(f"no new or rewritten objects among {len(objects)}")
        identity = "\n".join(f"{o.key} {o.last_modified_ms} {o.size}" for o in fresh)
        fresh_topics = sorted({parse_object_key(o.key)[0] for o in fresh})
        return dg.RunRequest(
            run_key=hashlib.sha256(identity.encode()).hexdigest()[:24],
            run_config=run_config_fn(fresh) if run_config_fn else {},
            tags={
                "lakehouse/raw_cdc_topics": ",".join(fresh_topics),
                "lakehouse/raw_cdc_objects": str(len(fresh)),
            },
        )

    return raw_cdc_sensor


# What consumes the raw topics (the Hudi assets) depends on them, so the default sensor targets
# whatever is downstream of the raw CDC assets.
raw_cdc_objects = build_raw_cdc_sensor(
    asset_selection=dg.AssetSelection.assets(*RAW_CDC_KEYS).downstream(include_self=False)
)
