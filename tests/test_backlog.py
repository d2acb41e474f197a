"""Bounded work under a steady stream: while a sensor's or schedule's run is still queued, new
requests join it instead of queueing behind it, and the cursor keeps what was not requested."""

import os
import uuid

import dagster as dg

from lakehouse.cdc.sink import object_key
from lakehouse.definitions import defs
from lakehouse.defs.cdc.schedules import raw_cdc_capture_every_minute
from lakehouse.defs.cdc.sensors import raw_cdc_objects
from lakehouse.defs.iot.sensors import sensor_messages_landed
from lakehouse.defs.tickit.sensors import tickit_raw_files
from lakehouse.run_policy import DOMAIN_TAG
from lakehouse.storage import LocalObjectStore
from tests.support.paths import REPO_ROOT

T0 = 1_700_000_000


def put(lake, key, mtime):
    lake.put_bytes(key, b"x")
    os.utime(lake.path(key), (mtime, mtime))


def run_with(instance, status, **tags) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id=run_id, status=status,
                                   tags=tags))  # fmt: skip
    return run_id


def start(instance, run_id):
    """The queued run is dequeued: it is in progress now."""
    (run,) = instance.get_runs(dg.RunsFilter(run_ids=[run_id]))
    instance.delete_run(run_id)
    instance.add_run(run.with_status(dg.DagsterRunStatus.STARTED))


def tick(sensor, lake, instance, cursor):
    with dg.build_sensor_context(cursor=cursor, resources={"lake": lake},
                                 instance=instance) as context:  # fmt: skip
        return sensor(context), context.cursor


def test_cdc_objects_wait_for_the_queued_run_and_are_requested_once_it_starts(tmp_path):
    lake, instance = LocalObjectStore(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    a = "moma.public.artists"
    put(lake, object_key(a, 0), T0)
    first, cursor = tick(raw_cdc_objects, lake, instance, None)
    assert isinstance(first, dg.RunRequest)
    queued = run_with(instance, dg.DagsterRunStatus.NOT_STARTED,
                      **{"dagster/sensor_name": "raw_cdc_objects"})  # fmt: skip
    put(lake, object_key(a, 1), T0 + 60)
    put(lake, object_key(a, 2), T0 + 120)
    for _ in range(3):  # however many ticks, no second queued run
        result, after = tick(raw_cdc_objects, lake, instance, cursor)
        assert isinstance(result, dg.SkipReason)
        assert after == cursor
    start(instance, queued)
    result, _ = tick(raw_cdc_objects, lake, instance, cursor)
    assert result.tags["lakehouse/raw_cdc_objects"] == "2"  # nothing lost
    assert result.tags["lakehouse/domain"] == "moma"


def test_telemetry_waits_while_any_of_its_runs_is_queued_then_goes_hour_by_hour(tmp_path):
    lake, instance = LocalObjectStore(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    h15 = "message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-45-32-a.gz"
    h15b = "message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-50-00-b.gz"
    h16 = "message/2020/08/27/16/lakehouse-telemetry-1-2020-08-27-16-00-10-c.gz"
    put(lake, h15, T0)
    _, cursor = tick(sensor_messages_landed, lake, instance, None)
    queued = run_with(
        instance,
        dg.DagsterRunStatus.NOT_STARTED,
        **{
            "dagster/sensor_name": "sensor_messages_landed",
            "dagster/partition": "2020-08-27-15:00",
        },
    )
    put(lake, h15b, T0 + 10)
    put(lake, h16, T0 + 20)
    result, after = tick(sensor_messages_landed, lake, instance, cursor)
    assert isinstance(result, dg.SkipReason)  # not even the other hour: one queued run
    assert after == cursor
    start(instance, queued)
    requests, after = tick(sensor_messages_landed, lake, instance, cursor)
    assert [r.partition_key for r in requests] == ["2020-08-27-15:00"]
    assert after != cursor
    assert {r.tags["lakehouse/domain"] for r in requests} == {"iot"}


def test_tickit_sensor_waits_for_its_queued_run(tmp_path):
    lake, instance = LocalObjectStore(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    put(lake, "raw_tickit_data/sale/sale.txt", T0)
    assert isinstance(tick(tickit_raw_files, lake, instance, None)[0], dg.RunRequest)
    run_with(instance, dg.DagsterRunStatus.NOT_STARTED,
             **{"dagster/sensor_name": "tickit_raw_files"})  # fmt: skip
    assert isinstance(tick(tickit_raw_files, lake, instance, None)[0], dg.SkipReason)


def test_the_capture_schedule_skips_a_minute_while_its_last_capture_is_queued(tmp_path):
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        dg.build_schedule_context(instance=instance) as context,
    ):
        assert isinstance(raw_cdc_capture_every_minute(context), dg.RunRequest)
        run_with(instance, dg.DagsterRunStatus.NOT_STARTED,
                 **{"dagster/schedule_name": "raw_cdc_capture_every_minute"})  # fmt: skip
        assert isinstance(raw_cdc_capture_every_minute(context), dg.SkipReason)


def test_the_committed_instance_limits_runs_per_core_and_per_domain(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 2
        assert queue.tag_concurrency_limits == [
            {"key": DOMAIN_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_every_job_and_automation_names_its_domain():
    for job in defs.resolve_all_job_defs():
        if not job.name.startswith("__"):
            assert DOMAIN_TAG in job.tags, job.name
    for sensor in defs.get_repository_def().sensor_defs:
        if isinstance(sensor, dg.AutomationConditionSensorDefinition):
            assert DOMAIN_TAG in sensor.run_tags, sensor.name
