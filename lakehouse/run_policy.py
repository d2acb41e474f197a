"""Run policy shared by every domain: how steps that cross a network are retried."""

from collections.abc import Mapping

import dagster as dg

# S3, Redshift, Glue, MQTT and PostgreSQL fail transiently (throttling, fail-overs, dropped
# connections). Three retries 15 s, 30 s and 60 s apart, each +/- a random share so that runs
# failing together do not retry in lockstep.
NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3,
    delay=15,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)


# Every run names its domain; the instance (dagster.yaml) runs one run per domain at a time.
DOMAIN_TAG = "lakehouse/domain"
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def domain(name: str) -> dict[str, str]:
    return {DOMAIN_TAG: name}


def waiting_runs(
    context: dg.SensorEvaluationContext | dg.ScheduleEvaluationContext, tags: Mapping[str, str]
) -> list[dg.DagsterRun]:
    """Runs with these tags that have not started: a newer request joins them, never queues
    behind them. With one run per domain in progress, an asset has at most one run queued and
    one in progress, however fast requests come."""
    return list(context.instance.get_runs(dg.RunsFilter(statuses=WAITING, tags=dict(tags))))
