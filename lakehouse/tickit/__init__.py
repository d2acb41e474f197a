import dagster as dg

from lakehouse.tickit.assets import raw_tickit_data, tickit_dbt_models, tickit_external
from lakehouse.tickit.schedules import tickit_marts_daily, tickit_models_job
from lakehouse.tickit.sensors import tickit_raw_files

defs = dg.Definitions(
    assets=[raw_tickit_data, tickit_external, tickit_dbt_models],
    jobs=[tickit_models_job],
    schedules=[tickit_marts_daily],
    sensors=[tickit_raw_files],
)
