"""What every domain's dbt assets share: groups per layer folder, the lake's location as a dbt
var, row counts, and which failures are worth retrying."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource
from dagster_dbt import DbtProject as DbtProjectDef

from lakehouse.storage import ObjectStore
from lakehouse.warehouse import Warehouse

OWNERS = ["team:data-platform"]


class LayerTranslator(DagsterDbtTranslator):
    """Puts each model in the group of its layer folder (`models/[<domain>/]<layer>/...`)."""

    def __init__(
        self,
        groups: Mapping[str, str],
        automation_condition: dg.AutomationCondition | None = None,
    ):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))
        self.groups = dict(groups)
        self.automation_condition = automation_condition

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProjectDef | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        (layer,) = [part for part in props["fqn"][1:-1] if part in self.groups]
        extra = {"automation_condition": self.automation_condition}
        return spec.replace_attributes(
            group_name=self.groups[layer],
            owners=OWNERS,
            **(extra if self.automation_condition else {}),
        )


def dbt_vars(lake: ObjectStore) -> list[str]:
    return ["--vars", json.dumps({"lake_root": lake.root_uri})]


def build_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: ObjectStore, warehouse: Warehouse
) -> Iterator:
    """`dbt build` of the selected models with their tests, row counts added to the tables."""
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
