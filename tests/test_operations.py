"""Run policy: transient failures are retried with backoff, data errors are not, and every
failed run is recorded by the failure sensor (and published to SNS when configured)."""

import json

import boto3
import dagster as dg
import pytest

from lakehouse.definitions import defs
from lakehouse.defs.operations.sensors import record_run_failures
from lakehouse.defs.tickit.assets import raw_tickit_data
from lakehouse.operations.resources import FailureNotifier
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import LocalObjectStore
from tests.support.moto import CREDENTIALS, moto_server


def events_of(result, kind):
    return [e for e in result.all_events if e.event_type_value == kind]


def run_raw(lake, scale, instance):
    return dg.materialize(
        [raw_tickit_data],
        resources={"lake": lake},
        run_config={"ops": {"raw_tickit_data": {"config": {"scale": scale}}}},
        instance=instance,
        raise_on_error=False,
    )


def test_network_steps_retry_with_exponential_backoff_and_jitter():
    assert NETWORK_RETRY.max_retries == 3
    assert NETWORK_RETRY.backoff == dg.Backoff.EXPONENTIAL
    assert NETWORK_RETRY.jitter == dg.Jitter.PLUS_MINUS
    graph = defs.resolve_asset_graph()
    for key in ["raw_tickit_data", "tickit_external/sale", "fct_sales"]:
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.assets_def.op.retry_policy == NETWORK_RETRY, key


def test_transient_failure_is_retried(tmp_path, monkeypatch):
    calls = []
    real_put = LocalObjectStore.put_bytes

    def flaky_put(self, key, data):
        calls.append(key)
        if len(calls) == 1:
            raise ConnectionResetError("connection reset by peer")
        return real_put(self, key, data)

    monkeypatch.setattr(LocalObjectStore, "put_bytes", flaky_put)
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    result = run_raw(lake, 0.001, dg.DagsterInstance.ephemeral())
    assert result.success
    assert len(events_of(result, "STEP_UP_FOR_RETRY")) == 1
    assert (tmp_path / "lake/raw_tickit_data/sale/sale.txt").is_file()


@pytest.fixture
def failed_run(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    result = run_raw(lake, -1.0, instance)
    assert not result.success
    return instance, result


def test_bad_config_fails_without_retrying(failed_run):
    _, result = failed_run
    assert events_of(result, "STEP_UP_FOR_RETRY") == []
    (failure,) = events_of(result, "STEP_FAILURE")
    assert (
        "--scale must be a positive number, got -1.0" in failure.event_specific_data.error.message
    )


def sensor_context(instance, result, notifier):
    (record,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    run_failure = record.dagster_event
    return dg.build_run_status_sensor_context(
        sensor_name="record_run_failures",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=run_failure,
        resources={"failure_notifier": notifier},
    ).for_run_failure()


def test_failure_sensor_records_the_run(tmp_path, failed_run):
    instance, result = failed_run
    lake = LocalObjectStore(root=str(tmp_path / "ops-lake"))
    with sensor_context(instance, result, FailureNotifier(lake=lake)) as context:
        record_run_failures(context)
    (obj,) = list(lake.list_objects("ops/run_failures/"))
    record = json.loads(lake.get_bytes(obj.key))
    assert obj.key == f"ops/run_failures/{record['date']}/{result.run_id}.json"
    assert record["run_id"] == result.run_id
    assert record["failed_steps"] == ["raw_tickit_data"]
    assert "--scale must be a positive number" in record["errors"][0]


def test_failure_sensor_publishes_to_sns(tmp_path, failed_run, monkeypatch):
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    instance, result = failed_run
    with moto_server() as endpoint:
        sns = boto3.client("sns", endpoint_url=endpoint)
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        topic = sns.create_topic(Name="lakehouse-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        notifier = FailureNotifier(
            lake=LocalObjectStore(root=str(tmp_path / "lake")),
            sns_topic_arn=topic,
            region_name="us-east-1",
            endpoint_url=endpoint,
        )
        with sensor_context(instance, result, notifier) as context:
            record_run_failures(context)
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "Lakehouse run failed: __ephemeral_asset_job__"
    assert json.loads(envelope["Message"])["run_id"] == result.run_id
