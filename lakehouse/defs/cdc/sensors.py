"""A sensor over the raw CDC topic prefixes that requests runs for new or rewritten objects.

Naive S3 sensors compare keys by name ("everything after the last key"), which misses objects
that appear out of key order and objects rewritten in place, and they often read only the first
page of a listing. This one lists every page and keeps its cursor with lakehouse.sensing
(watermark plus the objects seen within the look-back, by modification time and size, since
the capture may rewrite an uncommitted object with more records within the same second):

    {"seen": {"<key>": [<last_modified_ms>, <size>], ...}, "watermark_ms": T}
"""

import hashlib
from collections.abc import Callable, Sequence

import dagster as dg

from lakehouse.cdc.sink import parse_object_key, topic_prefix
from lakehouse.defs.cdc.assets import RAW_CDC_KEYS, RAW_CDC_TOPICS
from lakehouse.run_policy import domain, waiting_runs
from lakehouse.sensing import ObjectCursor, scan
from lakehouse.storage import ObjectInfo, ObjectStore

DEFAULT_LOOKBACK_MS = 120_000
DEFAULT_MAX_OBJECTS = 1_000


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
        "rewritten since the cursor (a watermark of modification times plus the objects seen "
        "within the look-back, with their time and size).",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        asset_selection=asset_selection,
        job=job,
    )
    def raw_cdc_sensor(context: dg.SensorEvaluationContext, lake: ObjectStore):
        objects = list_topic_objects(lake, topics)
        # Listed before the check: a run still queued now starts later and reads these objects
        # too. The cursor stays put, so whatever it does not read is requested next time.
        if waiting_runs(context, {"dagster/sensor_name": name}):
            return dg.SkipReason("a run is still queued; new objects wait for the next run")
        fresh, after = scan(
            objects,
            ObjectCursor.from_json(context.cursor),
            lookback_ms,
            with_size=True,
            limit=max_objects,
        )
        cursor = after.to_json()
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
                **domain("moma"),
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
