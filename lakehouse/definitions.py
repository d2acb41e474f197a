"""The lakehouse code location: every domain's definitions, bound to the environment's resources."""

import dagster as dg

from lakehouse import catalog, cdc, iot, moma, operations, tickit
from lakehouse.resources import resources_for_env
from lakehouse.run_policy import domain

rebuild_everything = dg.define_asset_job(
    "rebuild_everything",
    selection=dg.AssetSelection.all(),
    description="Materializes every asset of the lakehouse, from raw data to marts.",
    tags=domain("all"),
)

defs = dg.Definitions.merge(
    tickit.defs,
    cdc.defs,
    moma.defs,
    catalog.defs,
    iot.defs,
    operations.defs,
    dg.Definitions(
        jobs=[rebuild_everything],
        resources=resources_for_env(),
        # Steps are thin drivers of dbt, DuckDB or Spark; a subprocess per step would spend more
        # time importing dagster and dbt (~7 s each) than most steps take.
        executor=dg.in_process_executor,
    ),
)
