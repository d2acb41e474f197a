import dagster as dg

from lakehouse.tickit.assets import tickit_dbt_models

tickit_models_job = dg.define_asset_job(
    "tickit_models_job",
    selection=dg.AssetSelection.assets(tickit_dbt_models),
    description="Rebuilds the TICKIT dbt models (staging views, personas and marts) and runs "
    "their dbt tests.",
)

tickit_marts_daily = dg.ScheduleDefinition(
    name="tickit_marts_daily",
    job=tickit_models_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="Refreshes the TICKIT marts every day at 06:00 UTC, after the nightly loads.",
)
