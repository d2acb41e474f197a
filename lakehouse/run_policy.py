"""Run policy shared by every domain: how steps that cross a network are retried."""

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
