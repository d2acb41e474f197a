"""The sensor that re-stages the external tables and rebuilds the TICKIT models when raw files
change."""

import hashlib
import json

import dagster as dg

from lakehouse.defs.tickit.assets import tickit_dbt_models
from lakehouse.run_policy import domain, waiting_runs
from lakehouse.storage import ObjectStore
from lakehouse.tickit.raw_tables import TABLES, raw_dir


def external_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["tickit_external", table])


@dg.sensor(
    name="tickit_raw_files",
    description="Watches raw_tickit_data/<table>/ in the lake. When a file there is newer than "
    "the last staging of its external table (new files uploaded, or files replaced), requests a "
    "run that re-stages those tables and rebuilds the TICKIT dbt models.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.assets(*(external_key(t) for t in TABLES))
    | dg.AssetSelection.assets(tickit_dbt_models),
)
def tickit_raw_files(context: dg.SensorEvaluationContext, lake: ObjectStore):
    if waiting_runs(context, {"dagster/sensor_name": "tickit_raw_files"}):
        # It stages whatever files are there when it starts.
        return dg.SkipReason("a run is still queued; it will stage the newest files")
    stale = {}
    for table in TABLES:
        newest = max(
            (o.last_modified_ms for o in lake.list_objects(raw_dir(table))),
            default=None,
        )
        if newest is None:
            continue
        staged = context.instance.get_latest_materialization_event(external_key(table))
        staged_ms = int(staged.timestamp * 1000) if staged else 0
        if newest > staged_ms:
            stale[table] = newest
    if not stale:
        return dg.SkipReason("every raw TICKIT file is older than its external table's staging")
    # The same files give the same run key, so a run still in flight is not requested twice.
    run_key = hashlib.sha256(json.dumps(stale, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=[external_key(t) for t in stale] + list(tickit_dbt_models.keys),
        tags={**domain("tickit"), "lakehouse/stale_tables": ",".join(sorted(stale))},
    )
