"""TICKIT: raw files -> Spectrum external tables -> dbt staging, intermediate and marts."""

import datetime as dt
import json

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from lakehouse.dbt.build import LayerTranslator, build_models, dbt_vars, run_dbt
from lakehouse.dbt.project import dbt_project
from lakehouse.defs import OWNERS
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore
from lakehouse.tickit.generator import GeneratorError, generate
from lakehouse.tickit.raw_tables import RAW_PREFIX, TABLES, raw_dir, raw_key
from lakehouse.tickit.validate import RawFileError, validate_raw_file
from lakehouse.warehouse import Warehouse

DBT_GROUPS = {
    "staging": "tickit_staging",
    "intermediate": "tickit_intermediate",
    "marts": "tickit_marts",
}

# The marts are rebuilt daily at 06:00 UTC; by 07:00 each must have been updated in the last day.
MARTS_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 7 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="UTC"
)


class TickitDataConfig(dg.Config):
    scale: float = 1.0
    seed: int = 42


@dg.asset(
    group_name="tickit_raw",
    owners=OWNERS,
    kinds={"python", "s3"},
    retry_policy=NETWORK_RETRY,
    description="The seven TICKIT tables as pipe-delimited text with a header row, under "
    "raw_tickit_data/<table>/<table>.txt, generated deterministically from a seed and a scale "
    "(scale 1 = the classic TICKIT sizes).",
)
def raw_tickit_data(config: TickitDataConfig, lake: ObjectStore) -> dg.MaterializeResult:
    try:
        tables = generate(config.scale, config.seed)
    except GeneratorError as e:
        raise dg.Failure(str(e), allow_retries=False) from None
    for t in tables.values():
        lake.put_bytes(raw_key(t.name), t.data)
    return dg.MaterializeResult(
        metadata={
            "uri": dg.MetadataValue.path(lake.uri(f"{RAW_PREFIX}/")),
            "rows": sum(t.rows for t in tables.values()),
            "bytes": sum(len(t.data) for t in tables.values()),
            "files": len(tables),
            "scale": config.scale,
            "seed": config.seed,
            **{f"rows/{t.name}": t.rows for t in tables.values()},
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["tickit_external", table],
            deps=[raw_tickit_data],
            group_name="tickit_raw",
            owners=OWNERS,
            kinds={"dbt", "table"},
            description=f"External table tickit_external.{table} over "
            f"raw_tickit_data/{table}/ (Redshift Spectrum in AWS, a DuckDB view locally).",
        )
        for table in TABLES
    ],
    can_subset=True,
    retry_policy=NETWORK_RETRY,
)
def tickit_external(context: dg.AssetExecutionContext, lake: ObjectStore, dbt: DbtCliResource):
    """Validates the raw files, then registers them (`dbt run-operation stage_external_sources`)."""
    selected = [key.path[-1] for key in context.selected_asset_keys]
    # Validate everything first: a malformed file must not replace a working external table.
    try:
        rows = {table: validate_raw_file(lake, table) for table in selected}
    except RawFileError as e:
        # A malformed file stays malformed: fail now, without retrying.
        raise dg.Failure(str(e), allow_retries=False) from None
    names = " ".join(f"tickit_external.{t}" for t in selected)
    run_dbt(
        dbt,
        ["run-operation", "stage_external_sources", "--args", json.dumps({"select": names}),
         *dbt_vars(lake)],
        manifest=dbt_project.manifest_path,
    )  # fmt: skip
    for table in selected:
        yield dg.MaterializeResult(
            asset_key=["tickit_external", table],
            metadata={
                "rows": rows[table],
                "location": dg.MetadataValue.path(lake.uri(raw_dir(table))),
                "relation": f"tickit_external.{table}",
            },
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select="tag:tickit",
    retry_policy=NETWORK_RETRY,
    dagster_dbt_translator=LayerTranslator(
        DBT_GROUPS, OWNERS, freshness={"marts": MARTS_FRESHNESS}
    ),
)
def tickit_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: ObjectStore, warehouse: Warehouse
):
    """Staging, intermediate and mart models of the TICKIT dbt project; dbt tests are checks."""
    yield from build_models(context, dbt, lake, warehouse)
