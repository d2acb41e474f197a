"""The run-failure sensor: every failed run recorded in the lake (and sent to SNS in AWS)."""

import datetime as dt

import dagster as dg

from lakehouse.operations.resources import FailureNotifier


@dg.run_failure_sensor(
    name="record_run_failures",
    description="Records every failed run (job, steps, error) under ops/run_failures/ in the "
    "lake and, when LAKEHOUSE_ALERTS_SNS_TOPIC_ARN is set, publishes it to that SNS topic.",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def record_run_failures(context: dg.RunFailureSensorContext, failure_notifier: FailureNotifier):
    run = context.dagster_run
    failed_steps = [e.step_key for e in context.get_step_failure_events()]
    errors = [
        e.event_specific_data.error.message.strip()
        for e in context.get_step_failure_events()
        if e.event_specific_data and e.event_specific_data.error
    ]
    failure = {
        "run_id": run.run_id,
        "job": run.job_name,
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "failed_steps": failed_steps,
        "errors": errors or [context.failure_event.message or ""],
        "tags": {k: v for k, v in run.tags.items() if not k.startswith(".dagster")},
    }
    key = failure_notifier.notify(failure)
    context.log.info(f"recorded failure of run {run.run_id} at {key}")
