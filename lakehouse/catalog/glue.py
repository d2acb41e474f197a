"""The AWS Glue Data Catalog: table definitions and incremental partition sync (MSCK REPAIR)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import PrivateAttr

from lakehouse.catalog.base import Catalog, PartitionSync, SyncReport, plan_partitions
from lakehouse.catalog.hudi_sync import LAST_SYNC, HudiCatalogTable, HudiState
from lakehouse.catalog.spec import TableSpec

__all__ = ["GlueCatalog", "GlueSyncError", "PartitionSync", "partition_input", "table_input"]

# Glue accepts at most 100 partitions per BatchCreatePartition and 25 per BatchDeletePartition.
CREATE_BATCH = 100
DELETE_BATCH = 25


def _columns(columns) -> list[dict]:
    return [{"Name": c.name, "Type": c.type} for c in columns]


def storage_descriptor(spec: TableSpec, location: str) -> dict:
    storage = spec.storage
    return {
        "Columns": _columns(spec.columns),
        "Location": spec.catalog_location(location),
        "InputFormat": storage.input_format,
        "OutputFormat": storage.output_format,
        "SerdeInfo": {
            "SerializationLibrary": storage.serde,
            "Parameters": dict(storage.serde_parameters + spec.serde_properties),
        },
    }


def table_input(spec: TableSpec) -> dict:
    """The TableInput of CreateTable/UpdateTable."""
    table = {
        "Name": spec.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            **dict(spec.storage.table_parameters),
            **dict(spec.properties),
        },  # fmt: skip
        "PartitionKeys": _columns(spec.partition_keys),
        "StorageDescriptor": storage_descriptor(spec, spec.location),
    }
    if spec.description:
        table["Description"] = spec.description
    return table


def partition_input(spec: TableSpec, values: tuple[str, ...]) -> dict:
    return {
        "Values": list(values),
        "StorageDescriptor": storage_descriptor(spec, spec.partition_location(values)),
    }


class GlueCatalog(Catalog):
    """Glue through boto3: credentials from the default chain, the endpoint overridable (a
    Glue-compatible server such as moto_server, or a VPC endpoint)."""

    region_name: str | None = None
    endpoint_url: str | None = None
    _client: object = PrivateAttr(default=None)

    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "glue", region_name=self.region_name, endpoint_url=self.endpoint_url
            )
        return self._client

    def sync_table(self, spec: TableSpec) -> str:
        """Creates the database and table, or updates the table's definition; says which."""
        spec = self.check(spec)
        glue = self.client()
        try:
            glue.create_database(DatabaseInput={"Name": spec.database})
        except glue.exceptions.AlreadyExistsException:
            pass
        try:
            glue.create_table(DatabaseName=spec.database, TableInput=table_input(spec))
            return "created"
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=spec.database, TableInput=table_input(spec))
            return "updated"

    def get_table(self, spec: TableSpec) -> dict | None:
        glue = self.client()
        try:
            return glue.get_table(DatabaseName=spec.database, Name=spec.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            return None

    def sync_hudi(self, entry: HudiCatalogTable, state: HudiState) -> SyncReport:
        """Hudi's hive sync against Glue: the table (created if missing), then the partitions
        the commits since `last_commit_time_sync` changed, then the new last sync."""
        spec = self.check(entry.spec)
        current = self.get_table(spec)
        previous = (current or {}).get("Parameters", {}).get(LAST_SYNC)
        plan = plan_partitions(
            state, entry, previous, lambda: self.partitions(spec) if current else set()
        )
        if current is None:
            self.sync_table(spec)
        added, removed = self.apply_partition_changes(spec, plan.add, plan.remove)
        latest = state.latest_instant
        wanted = table_input(spec.with_properties(**{LAST_SYNC: latest}) if latest else spec)
        if current is None:
            action = "created"
        elif _same_definition(current, wanted):
            action = "unchanged"
        else:
            action = "updated"
        if current is None or action == "updated":
            self.client().update_table(DatabaseName=spec.database, TableInput=wanted)
        return SyncReport(spec.qualified_name, action, plan.mode, added, removed, len(plan.live),
                          state.latest_instant, spec.location)  # fmt: skip

    def partitions(self, spec: TableSpec) -> set[tuple[str, ...]]:
        paginator = self.client().get_paginator("get_partitions")
        return {
            tuple(p["Values"])
            for page in paginator.paginate(
                DatabaseName=spec.database,
                TableName=spec.name,
                PaginationConfig={"PageSize": 1000},  # Glue's maximum
            )
            for p in page["Partitions"]
        }

    def apply_partition_changes(
        self,
        spec: TableSpec,
        add: Iterable[tuple[str, ...]],
        remove: Iterable[tuple[str, ...]] = (),
    ) -> tuple[int, int]:
        """Registers and drops the partitions a commit changed, without listing the others.

        Partitions that already exist (or are already gone) are not errors: the change is
        idempotent, so a retried sync converges.
        """
        add = sorted({tuple(v) for v in add})
        remove = sorted({tuple(v) for v in remove})
        glue = self.client()
        added = removed = 0
        for i in range(0, len(add), CREATE_BATCH):
            batch = [partition_input(spec, v) for v in add[i : i + CREATE_BATCH]]
            result = glue.batch_create_partition(
                DatabaseName=spec.database, TableName=spec.name, PartitionInputList=batch
            )
            added += len(batch) - _raise_errors(spec, result, ignore="AlreadyExistsException")
        for i in range(0, len(remove), DELETE_BATCH):
            batch = [{"Values": list(v)} for v in remove[i : i + DELETE_BATCH]]
            result = glue.batch_delete_partition(
                DatabaseName=spec.database, TableName=spec.name, PartitionsToDelete=batch
            )
            removed += len(batch) - _raise_errors(spec, result, ignore="EntityNotFoundException")
        return added, removed


class GlueSyncError(RuntimeError):
    pass


def _same_definition(current: dict, wanted: dict) -> bool:
    """Whether Glue already holds `wanted` (GetTable adds fields of its own; compare ours)."""
    sd, want_sd = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    return (
        current.get("Parameters", {}) == wanted["Parameters"]
        and current.get("PartitionKeys", []) == wanted["PartitionKeys"]
        and current.get("Description", "") == wanted.get("Description", "")
        and all(sd.get(k) == v for k, v in want_sd.items() if k != "SerdeInfo")
        and sd.get("SerdeInfo", {}).get("SerializationLibrary")
        == want_sd["SerdeInfo"]["SerializationLibrary"]
        and sd.get("SerdeInfo", {}).get("Parameters", {}) == want_sd["SerdeInfo"]["Parameters"]
    )


def _raise_errors(spec: TableSpec, result: dict, ignore: str) -> int:
    """Raises on any error but `ignore`; returns how many entries were ignored."""
    errors = result.get("Errors") or []
    ignored = [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") == ignore]
    errors = [e for e in errors if e not in ignored]
    if errors:
        first = errors[0]
        raise GlueSyncError(
            f"Glue refused {len(errors)} partition(s) of {spec.qualified_name}, e.g. "
            f"{first.get('PartitionValues')}: {first.get('ErrorDetail', {}).get('ErrorMessage')}"
        )
    return len(ignored)
