"""The TICKIT models job and its daily schedule (LAKEHOUSE_TICKIT_MARTS_CRON moves it)."""

import dagster as dg

from lakehouse.defs.tickit.assets import tickit_dbt_models
from lakehouse.run_policy import domain
from lakehouse.settings import LakehouseConfigError, setting

tickit_models_job = dg.define_asset_job(
    "tickit_models_job",
    selection=dg.AssetSelection.assets(tickit_dbt_models),
    description="Rebuilds the TICKIT dbt models (staging views, personas and marts) and runs "
    "their dbt tests.",
    tags=domain("tickit"),
)

MARTS_CRON_VARIABLE = "LAKEHOUSE_TICKIT_MARTS_CRON"


def marts_schedule(cron: str) -> dg.ScheduleDefinition:
    try:
        return dg.ScheduleDefinition(
            name="tickit_marts_daily",
            job=tickit_models_job,
            cron_schedule=cron,
            execution_timezone="UTC",
            description="Refreshes the TICKIT marts every day (06:00 UTC unless "
            f"{MARTS_CRON_VARIABLE} says otherwise), after the nightly loads.",
        )
    except dg.DagsterInvalidDefinitionError:
        raise LakehouseConfigError(
            f"{MARTS_CRON_VARIABLE}={cron!r} is not a valid cron schedule "
            "(five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *')"
        ) from None


tickit_marts_daily = marts_schedule(setting(MARTS_CRON_VARIABLE, "0 6 * * *"))
