import dagster as dg

from lakehouse.tickit.assets import raw_tickit_data, tickit_dbt_models, tickit_external
from lakehouse.tickit.checks import tickit_marts_freshness, tickit_marts_freshness_checks
from lakehouse.tickit.schedules import tickit_marts_daily, tickit_models_job
from lakehouse.tickit.sensors import tickit_raw_files

defs = dg.Definitions(
    assets=[raw_tickit_data, tickit_external, tickit_dbt_models],
    asset_checks=tickit_marts_freshness_checks,
    jobs=[tickit_models_job],
    schedules=[tickit_marts_daily],
    sensors=[tickit_raw_files, tickit_marts_freshness],
)
