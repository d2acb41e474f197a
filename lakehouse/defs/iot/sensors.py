"""The sensor that turns newly landed telemetry objects into partition runs.

Its cursor is lakehouse.sensing's ObjectCursor (a watermark of modification times plus the
objects seen in a look-back window), so objects that appear out of key order, late (S3 stamps an
upload's start) or replaced under the same key are still noticed. Each tick lists the hour
folders from one hour before the look-back window up to now, not the whole landing prefix; the
first tick, and a tick after a pause of more than two days, list everything. Objects written
into older hour folders later (a backfill) are loaded by materializing those partitions.

At most one of its runs is queued: while one is, a tick requests nothing and keeps the cursor;
otherwise it requests the oldest hour left, and the cursor keeps the other hours' objects new for
the next ticks (lakehouse.sensing's `pick`), so a backlog drains one run at a time.

Objects lakehouse-iot-bridge has loaded itself (a marker under micro_batches/loaded/) need no
run. While the bridge is loading (it marked an object in that hour or the one before), an
unmarked object gets BRIDGE_GRACE_S to be loaded and marked before a run is requested for it:
that run is the reconciliation of a load that failed or a bridge that died.
"""

import datetime as dt
import hashlib
import time
from collections import defaultdict

import dagster as dg

from lakehouse.defs.iot.assets import MESSAGE_KEY, QUARANTINE_KEY, sensor_messages_raw
from lakehouse.iot.landing import LANDING_PREFIX, PARTITION_FORMAT, hour_prefix, partition_of
from lakehouse.iot.pipeline import loaded_by_bridge, partition_hour
from lakehouse.run_policy import domain, waiting_runs
from lakehouse.sensing import LOOKBACK_MS, ObjectCursor, scan
from lakehouse.storage import ObjectInfo, ObjectStore

PARTITION_ASSETS = [sensor_messages_raw.key, dg.AssetKey("sensor_messages"), QUARANTINE_KEY,
                    MESSAGE_KEY]  # fmt: skip
MAX_HOURS_WALKED = dt.timedelta(hours=48)
BRIDGE_GRACE_S = 60


def landed_objects(lake: ObjectStore, cursor: ObjectCursor, now_s: float) -> list[ObjectInfo]:
    start = dt.datetime.fromtimestamp((cursor.watermark_ms - LOOKBACK_MS) / 1000, dt.UTC)
    hour = start.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    end = dt.datetime.fromtimestamp(now_s, dt.UTC) + dt.timedelta(hours=1)
    if cursor.watermark_ms == 0 or end - hour > MAX_HOURS_WALKED:
        # First tick, or a long pause: one listing of the whole prefix is cheaper.
        return [o for o in lake.list_objects(f"{LANDING_PREFIX}/") if partition_of(o.key)]
    found = []
    while hour <= end:
        found += [
            o for o in lake.list_objects(hour_prefix(LANDING_PREFIX, hour)) if partition_of(o.key)
        ]
        hour += dt.timedelta(hours=1)
    return found


def left_to_runs(lake: ObjectStore, objects: list[ObjectInfo], now_s: float) -> list[ObjectInfo]:
    """The landed objects a partition run has to load: not those the bridge loaded, nor,
    while it is loading their hour, those it may still load."""
    hours = {partition_of(o.key) for o in objects}
    marked: dict[str, set[str]] = {}
    for partition in hours:
        hour = partition_hour(partition)
        for h in (hour - dt.timedelta(hours=1), hour):
            key = h.strftime(PARTITION_FORMAT)
            if key not in marked:
                marked[key] = loaded_by_bridge(lake, h)
    left = []
    for o in objects:
        partition = partition_of(o.key)
        if o.key in marked[partition]:
            continue
        previous = (partition_hour(partition) - dt.timedelta(hours=1)).strftime(PARTITION_FORMAT)
        bridge_loading = bool(marked[partition] or marked[previous])
        if bridge_loading and now_s * 1000 - o.last_modified_ms < BRIDGE_GRACE_S * 1000:
            continue  # not yet: seen again next tick (the cursor does not hold it)
        left.append(o)
    return left


def partition_requests(new: list[ObjectInfo]) -> list[dg.RunRequest]:
    by_partition = defaultdict(list)
    for o in new:
        by_partition[partition_of(o.key)].append(o)
    requests = []
    for partition, objects in sorted(by_partition.items()):
        identity = "\n".join(f"{o.key} {o.last_modified_ms}" for o in objects)
        requests.append(
            dg.RunRequest(
                # The same new objects give the same key: a retried tick requests nothing twice.
                run_key=f"{partition}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}",
                partition_key=partition,
                asset_selection=PARTITION_ASSETS,
                tags={**domain("iot"), "lakehouse/new_objects": str(len(objects))},
            )
        )
    return requests


def oldest_hour(new: list[ObjectInfo]) -> list[ObjectInfo]:
    """The new objects of the oldest hour among them: one run at a time drains a backlog."""
    oldest = min(partition_of(o.key) for o in new) if new else None
    return [o for o in new if partition_of(o.key) == oldest]


@dg.sensor(
    name="sensor_messages_landed",
    description="Watches message/YYYY/MM/DD/HH/ in the lake; when new or replaced objects are "
    "left for a run and none of its runs is queued, it requests a run of the oldest such hourly "
    "partition: sensor_messages_raw, sensor_messages (+ quarantine) and sensor.message.",
    # A tick lists a few hour folders; with at most one queued run, ticking often costs little
    # and takes seconds off telemetry's way to the marts.
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=PARTITION_ASSETS,
)
def sensor_messages_landed(context: dg.SensorEvaluationContext, lake: ObjectStore):
    # While a run is queued, request nothing and keep the cursor: that run snapshots its hour
    # when it starts, and the other hours wait their turn, so the assets never have two queued
    # runs (a backlog after an hour boundary or downtime would queue one per hour).
    queued = waiting_runs(context, {"dagster/sensor_name": "sensor_messages_landed"})
    if queued:
        partitions = sorted({r.tags.get("dagster/partition", "?") for r in queued})
        return dg.SkipReason(f"a run is still queued for {', '.join(partitions)}")
    cursor = ObjectCursor.from_json(context.cursor)
    now = time.time()
    left = left_to_runs(lake, landed_objects(lake, cursor, now), now)
    # The other hours' new objects stay new in the cursor: requested on later ticks.
    new, after = scan(left, cursor, pick=oldest_hour)
    context.update_cursor(after.to_json())
    if not new:
        return dg.SkipReason("no new or replaced telemetry objects left to load")
    return partition_requests(new)
