"""At most one queued run of the telemetry partition assets, whatever arrives: the landing sensor
requests nothing while one of its runs is queued, and otherwise the oldest hour left; the cursor
keeps the other hours for later ticks, so nothing is lost."""

import datetime as dt
import os
import uuid
from unittest import mock

import dagster as dg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.defs.iot import sensors
from lakehouse.defs.iot.sensors import sensor_messages_landed
from lakehouse.iot.landing import partition_of
from lakehouse.run_policy import WAITING
from lakehouse.storage import LocalObjectStore

SENSOR = "sensor_messages_landed"
H14 = "message/2020/08/27/14/lakehouse-telemetry-1-2020-08-27-14-50-00-a.gz"
H15 = "message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-20-00-b.gz"
H16 = "message/2020/08/27/16/lakehouse-telemetry-1-2020-08-27-16-05-00-c.gz"
T14, T15, T16 = 1598539800, 1598541600, 1598544300  # 14:50, 15:20, 16:05 UTC


def put(lake, key, mtime):
    lake.put_bytes(key, b"x")
    os.utime(lake.path(key), (mtime, mtime))


def tick(lake, instance, cursor, now):
    with (
        mock.patch.object(sensors.time, "time", lambda: now),
        dg.build_sensor_context(
            cursor=cursor, resources={"lake": lake}, instance=instance
        ) as context,  # fmt: skip
    ):
        return sensor_messages_landed(context), context.cursor


def queue(instance, request) -> str:
    """What the daemon does with a request: a queued run with the sensor's tags."""
    run_id = str(uuid.uuid4())
    tags = {**request.tags, "dagster/sensor_name": SENSOR,
            "dagster/partition": request.partition_key}  # fmt: skip
    instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id=run_id,
                                   status=dg.DagsterRunStatus.NOT_STARTED, tags=tags))  # fmt: skip
    return run_id


def start(instance, run_id):
    (run,) = instance.get_runs(dg.RunsFilter(run_ids=[run_id]))
    instance.delete_run(run_id)
    instance.add_run(run.with_status(dg.DagsterRunStatus.STARTED))


def queued_runs(instance):
    return instance.get_runs(dg.RunsFilter(statuses=WAITING, tags={"dagster/sensor_name": SENSOR}))


def test_three_hours_at_once_are_requested_one_run_at_a_time(tmp_path):
    lake, instance = LocalObjectStore(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    for key, mtime in ((H14, T14), (H15, T15), (H16, T16)):
        put(lake, key, mtime)
    now = T16 + 60
    (request,), cursor = tick(lake, instance, None, now)
    assert request.partition_key == "2020-08-27-14:00"
    # Only the 14:50 object is remembered; the watermark waits for the held ones.
    assert cursor == f'{{"seen":{{"{H14}":{T14}000}},"watermark_ms":{T14}000}}'
    run = queue(instance, request)
    for _ in range(2):  # however many ticks while it is queued: nothing, the cursor kept
        result, after = tick(lake, instance, cursor, now)
        assert isinstance(result, dg.SkipReason)
        assert result.skip_message == "a run is still queued for 2020-08-27-14:00"
        assert after == cursor
    start(instance, run)
    (request,), cursor = tick(lake, instance, cursor, now)
    assert request.partition_key == "2020-08-27-15:00"
    assert cursor == f'{{"seen":{{"{H15}":{T15}000}},"watermark_ms":{T15}000}}'
    start(instance, queue(instance, request))
    (request,), cursor = tick(lake, instance, cursor, now)
    assert request.partition_key == "2020-08-27-16:00"
    # 15:20 is 45 minutes behind the new watermark: out of the look-back window.
    assert cursor == f'{{"seen":{{"{H16}":{T16}000}},"watermark_ms":{T16}000}}'
    start(instance, queue(instance, request))
    result, after = tick(lake, instance, cursor, now)
    assert isinstance(result, dg.SkipReason)  # all three hours requested, none twice
    assert after == cursor


H0 = 1598536800  # 2020-08-27 14:00 UTC

steps = st.lists(
    st.one_of(
        # An object lands: stamped up to 5 minutes before it is listed (S3 stamps an upload's
        # start), in its hour's folder or the one before (a writer buffering across the hour).
        st.tuples(st.just("land"), st.integers(0, 300), st.integers(0, 1)),
        st.tuples(st.just("replace"), st.integers(0, 50)),
        st.tuples(st.just("advance"), st.integers(1, 3600)),
        st.tuples(st.just("tick")),
        st.tuples(st.just("start")),
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_any_arrivals_and_run_starts_load_every_object_with_one_queued_run(tmp_path_factory, plan):
    lake = LocalObjectStore(root=str(tmp_path_factory.mktemp("lake")))
    instance = dg.DagsterInstance.ephemeral()
    clock, cursor, events = H0 + 1800, None, []
    landed: dict[str, int] = {}  # key -> current modification time
    loaded: set[tuple[str, int]] = set()  # versions a run snapshotted when it started
    last_change: dict[str, int] = {}  # partition -> index of its last landing in `events`
    requested_since: dict[str, int] = {}  # partition -> index of its last request

    def land(key, mtime):
        put(lake, key, mtime)
        landed[key] = mtime
        events.append(("land", key))
        last_change[partition_of(key)] = len(events)

    def do_tick():
        nonlocal cursor
        result, cursor = tick(lake, instance, cursor, clock)
        requests = [] if isinstance(result, dg.SkipReason) else result
        assert len(requests) <= 1
        for request in requests:
            assert not queued_runs(instance)  # never a second queued run
            partition = request.partition_key
            # Nothing requested twice: something landed in the hour since its last request.
            assert last_change.get(partition, -1) > requested_since.get(partition, -1)
            events.append(("request", partition))
            requested_since[partition] = len(events)
            queue(instance, request)

    def do_start():
        for run in queued_runs(instance):
            start(instance, run.run_id)
            # The run snapshots its hour's objects as they are when it starts.
            hour = run.tags["dagster/partition"]
            loaded.update((k, m) for k, m in landed.items() if partition_of(k) == hour)

    for step in plan:
        if step[0] == "land":
            mtime = max(H0, clock - step[1])
            hour = dt.datetime.fromtimestamp(mtime, dt.UTC) - dt.timedelta(hours=step[2])
            land(f"message/{hour:%Y/%m/%d/%H}/lakehouse-telemetry-{len(landed)}.gz", mtime)
        elif step[0] == "replace":
            # Rewritten within the listed hours (older folders are backfills: see sensors.py).
            recent = (dt.datetime.fromtimestamp(clock, dt.UTC) - dt.timedelta(hours=1)).strftime(
                "%Y-%m-%d-%H:00"
            )
            keys = sorted(k for k, m in landed.items() if partition_of(k) >= recent and m < clock)
            if keys:
                land(keys[step[1] % len(keys)], clock)
        elif step[0] == "advance":
            clock += step[1]
        elif step[0] == "tick":
            do_tick()
        elif step[0] == "start":
            do_start()
    # The daemon keeps ticking and runs keep starting: the backlog drains.
    for _ in range(len(landed) + 2):
        clock += 30
        do_start()
        do_tick()
    do_start()
    assert set(landed.items()) <= loaded
