"""How the dbt models become assets and are built, shared by every domain's `@dbt_assets`
(lakehouse/defs/tickit/assets.py, lakehouse/defs/iot/assets.py): groups per layer folder, the
lake's location as a dbt var, `dbt build` streamed with row counts, and which failures are worth
retrying."""

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
)
from dagster_dbt import DbtProject as DbtProjectDef

from lakehouse.storage import ObjectStore
from lakehouse.warehouse import Warehouse


class LayerTranslator(DagsterDbtTranslator):
    """Puts each model in the group of its layer folder (`models/[<domain>/]<layer>/...`), with
    the owners and that layer's freshness policy, which the daemon evaluates (`freshness:
    enabled`)."""

    def __init__(
        self,
        groups: Mapping[str, str],
        owners: Sequence[str],
        automation_condition: dg.AutomationCondition
        | Mapping[str, dg.AutomationCondition]
        | None = None,
        freshness: Mapping[str, dg.FreshnessPolicy] | None = None,
    ):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))
        self.groups = dict(groups)
        self.owners = list(owners)
        self.automation_condition = automation_condition
        self.freshness = dict(freshness or {})  # layer folder -> policy

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        # A model's key is its name whatever schema it builds into: dagster-dbt's default puts a
        # configured schema in front (`sensor/sensor_msg_count`), which would rename the IoT
        # models' assets, and lose their history, because of where they are stored.
        key = super().get_asset_key(dbt_resource_props)
        name, schema = dbt_resource_props["name"], dbt_resource_props["config"].get("schema")
        if dbt_resource_props["resource_type"] != "source" and key.path == [schema, name]:
            return dg.AssetKey(name)
        return key

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProjectDef | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        (layer,) = [part for part in props["fqn"][1:-1] if part in self.groups]
        extra = {}
        condition = self.automation_condition
        if isinstance(condition, Mapping):  # by materialization: view, table, ...
            condition = condition.get(props["config"]["materialized"])
        if condition:
            extra["automation_condition"] = condition
        if layer in self.freshness:
            extra["freshness_policy"] = self.freshness[layer]
        return spec.replace_attributes(group_name=self.groups[layer], owners=self.owners, **extra)


def dbt_vars(lake: ObjectStore) -> list[str]:
    return ["--vars", json.dumps({"lake_root": lake.root_uri})]


def build_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: ObjectStore, warehouse: Warehouse
) -> Iterator:
    """`dbt build` of the selected models with their tests, row counts added to the tables."""
    invocation = dbt.cli(["build", *dbt_vars(lake)], context=context, raise_on_error=False)
    events = invocation.stream()
    yield from with_row_counts(events, invocation.manifest, warehouse, context.asset_key_for_output)
    if not invocation.is_successful():
        raise dbt_failure(invocation)


def run_dbt(dbt: DbtCliResource, args: Sequence[str], **kwargs) -> DbtCliInvocation:
    """A dbt command outside `dbt build`; a failure carries dbt's message and is retried only
    when it could succeed on retry."""
    invocation = dbt.cli(list(args), raise_on_error=False, **kwargs).wait()
    if not invocation.is_successful():
        raise dbt_failure(invocation)
    return invocation


# What a retry can cure: the network (Redshift fail-over, dropped connections, throttling) and,
# locally, another process holding the DuckDB file's single writer lock. Everything else dbt
# reports (SQL errors, missing relations, failed tests) fails the same way again.
TRANSIENT = re.compile(
    r"could not connect|connection (?:refused|reset|timed out|closed|aborted)|timed out|timeout"
    r"|temporarily unavailable|too many connections|throttl|rate exceeded|ssl syscall"
    r"|server closed the connection|broken pipe|could not set lock|conflicting lock",
    re.IGNORECASE,
)


def dbt_failure(invocation: DbtCliInvocation, shown: int = 10) -> dg.Failure:
    """A dg.Failure naming the failed nodes with dbt's own messages; retried only if transient."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except (OSError, ValueError, KeyError):
        results = []  # dbt stopped before running any node (a compile or connection error)
    failed = [r for r in results if r["status"] in ("fail", "error")]
    nodes = {**invocation.manifest.get("nodes", {}), **invocation.manifest.get("sources", {})}
    lines = [
        f"{nodes.get(r['unique_id'], {}).get('name', r['unique_id'])}: "
        + " ".join((r.get("message") or "").split())
        for r in failed
    ]
    if len(lines) > shown:
        lines[shown:] = [f"... and {len(lines) - shown} more"]
    errors = "\n".join(r.get("message") or "" for r in failed if r["status"] == "error")
    description = "\n".join([f"dbt failed: {len(failed)} node(s) failed or errored", *lines])
    if not failed or not all(r.get("message") for r in failed):
        # A macro (run-operation) or dbt itself failing leaves its message only in the log.
        error = invocation.get_error()
        logged = getattr(error, "description", None) or str(error)
        errors += "\n" + logged
        description = f"{description}\n{logged}" if failed else logged
    return dg.Failure(description=description, allow_retries=bool(TRANSIENT.search(errors)))


def with_row_counts(
    events: Iterable,
    manifest: Mapping[str, Any],
    warehouse: Warehouse,
    asset_key_for_output: Callable[[str], dg.AssetKey],
) -> Iterator:
    """dbt's events as dbt emits them, each built table with dagster/row_count added.

    Views and their checks are passed on (and written to the instance) while dbt still runs.
    A table's row count can only be read once dbt has released the warehouse (DuckDB has a
    single writer; dagster-dbt's fetch_row_counts would keep a handle that locks out the next
    dbt command of the run), so a table's Output waits, and with it its checks and everything
    built on it: the instance then sees each asset materialized before its checks and its
    downstream assets, as dbt built them.
    """
    held: list = []
    held_keys: set[dg.AssetKey] = set()
    held_ids: set[str] = set()
    tables: dict[str, tuple[str, str]] = {}  # output name -> (schema, alias)
    for event in events:
        if isinstance(event, dg.Output):
            unique_id = event.metadata["unique_id"].value
            node = manifest["nodes"][unique_id]
            if node["config"]["materialized"] in ("table", "incremental"):
                tables[event.output_name] = (node["schema"], node["alias"])
            elif not held_ids.intersection(node["depends_on"]["nodes"]):
                yield event
                continue
            held_ids.add(unique_id)
            held_keys.add(asset_key_for_output(event.output_name))
        elif not (isinstance(event, dg.AssetCheckResult) and event.asset_key in held_keys):
            yield event
            continue
        held.append(event)
    counts = warehouse.row_counts(list(tables.values()))
    for event in held:
        if isinstance(event, dg.Output) and event.output_name in tables:
            count = counts[tables[event.output_name]]
            event = event.with_metadata({**event.metadata, "dagster/row_count": count})
        yield event
