"""Jobs across every domain."""

import dagster as dg

from lakehouse.run_policy import domain

rebuild_everything = dg.define_asset_job(
    "rebuild_everything",
    selection=dg.AssetSelection.all(),
    description="Materializes every asset of the lakehouse, from raw data to marts.",
    tags=domain("all"),
)
