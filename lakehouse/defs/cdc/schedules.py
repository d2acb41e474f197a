"""The raw CDC capture job and its every-minute schedule."""

import dagster as dg

from lakehouse.defs.cdc.assets import RAW_CDC_KEYS
from lakehouse.run_policy import domain, waiting_runs

raw_cdc_capture_job = dg.define_asset_job(
    "raw_cdc_capture_job",
    selection=dg.AssetSelection.assets(*RAW_CDC_KEYS),
    description="Brings the raw CDC topics up to date: captures what is pending in the "
    "PostgreSQL slot, or writes the next simulator batch when no database is configured.",
    tags=domain("cdc"),
)


@dg.schedule(
    name="raw_cdc_capture_every_minute",
    job=raw_cdc_capture_job,
    cron_schedule="* * * * *",
    execution_timezone="UTC",
    description="Runs the capture (or the simulator) every minute in local mode, so an edit in "
    "the moma database shows up in the lake within about a minute. In AWS, Debezium streams "
    "continuously and this only records what has landed. A minute whose previous capture is "
    "still queued is skipped: that capture takes everything pending when it starts.",
)
def raw_cdc_capture_every_minute(context: dg.ScheduleEvaluationContext):
    if waiting_runs(context, {"dagster/schedule_name": "raw_cdc_capture_every_minute"}):
        return dg.SkipReason("the previous capture is still queued")
    return dg.RunRequest()
