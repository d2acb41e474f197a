"""TICKIT: raw files -> Spectrum external tables -> dbt staging, intermediate and marts."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from lakehouse.dbt.project import dbt_project
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore
from lakehouse.tickit.generator import GeneratorError, generate
from lakehouse.tickit.tables import TABLES, raw_key
from lakehouse.tickit.validate import RawFileError, validate_raw_file
from lakehouse.warehouse import Warehouse

OWNERS = ["team:data-platform"]
DBT_GROUPS = {
    "staging": "tickit_staging",
    "intermediate": "tickit_intermediate",
    "marts": "tickit_marts",
}


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
            "uri": dg.MetadataValue.path(lake.uri("raw_tickit_data/")),
            "rows": sum(t.rows for t in tables.values()),
            "bytes": sum(len(t.data) for t in tables.values()),
            "files": len(tables),
            "scale": config.scale,
            "seed": config.seed,
            **{f"rows/{t.name}": t.rows for t in tables.values()},
        }
    )


def dbt_vars(lake: ObjectStore) -> list[str]:
    return ["--vars", json.dumps({"lake_root": lake.root_uri})]


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
    dbt.cli(
        [
            "run-operation",
            "stage_external_sources",
            "--args",
            json.dumps({"select": names}),
            *dbt_vars(lake),
        ],
        manifest=dbt_project.manifest_path,
    ).wait()
    for table in selected:
        yield dg.MaterializeResult(
            asset_key=["tickit_external", table],
            metadata={
                "rows": rows[table],
                "location": dg.MetadataValue.path(lake.uri(f"raw_tickit_data/{table}/")),
                "relation": f"tickit_external.{table}",
            },
        )


class TickitDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        layer = props["fqn"][1]
        return spec.replace_attributes(group_name=DBT_GROUPS[layer], owners=OWNERS)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select="tag:tickit",
    retry_policy=NETWORK_RETRY,
    dagster_dbt_translator=TickitDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
)
def tickit_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: ObjectStore, warehouse: Warehouse
):
    """Staging, intermediate and mart models of the TICKIT dbt project; dbt tests are checks."""
    invocation = dbt.cli(["build", *dbt_vars(lake)], context=context, raise_on_error=False)
    events = list(invocation.stream())
    yield from with_row_counts(events, invocation.manifest, warehouse)
    if not invocation.is_successful():
        raise dbt_failure(invocation.get_artifact("run_results.json"))


def dbt_failure(run_results: Mapping[str, Any]) -> dg.Failure:
    """Failed tests are facts about the data and are not retried; errors may be transient."""
    failed = [r for r in run_results["results"] if r["status"] in ("fail", "error")]
    errors = [r for r in failed if r["status"] == "error"]
    names = ", ".join(r["unique_id"].split(".")[-1] for r in failed)
    return dg.Failure(
        f"dbt build failed: {len(failed)} node(s) failed or errored: {names}",
        allow_retries=bool(errors) or not failed,
    )


def with_row_counts(events, manifest: Mapping[str, Any], warehouse: Warehouse):
    """Adds dagster/row_count to each built table, counted once dbt has released the warehouse.

    (dagster-dbt's fetch_row_counts keeps a DuckDB handle open in this process, which locks
    out the next dbt command of the run.)
    """
    tables = {}
    for event in events:
        if isinstance(event, dg.Output):
            node = manifest["nodes"][event.metadata["unique_id"].value]
            if node["config"]["materialized"] in ("table", "incremental"):
                tables[event.output_name] = (node["schema"], node["alias"])
    counts = warehouse.row_counts(list(tables.values()))
    for event in events:
        if isinstance(event, dg.Output) and event.output_name in tables:
            count = counts[tables[event.output_name]]
            event = event.with_metadata({**event.metadata, "dagster/row_count": count})
        yield event
