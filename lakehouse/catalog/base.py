"""What every catalog does (resource key `catalog`): register tables and keep their partitions
equal to the lake's live ones. `LocalCatalog` keeps it in the warehouse DuckDB file,
`GlueCatalog` in the AWS Glue Data Catalog; the planning of a Hudi sync is shared here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg

from lakehouse.catalog.hudi_sync import HudiCatalogTable, HudiState
from lakehouse.catalog.spec import TableSpec
from lakehouse.storage import ObjectStore

Partition = tuple[str, ...]


@dataclass(frozen=True)
class PartitionSync:
    added: int
    removed: int
    live: int


@dataclass(frozen=True)
class SyncReport:
    """One catalog table after a sync."""

    table: str
    action: str  # "created", "updated" or "unchanged"
    mode: str  # "incremental" (commits since the last sync) or "full" (listings compared)
    added: int
    removed: int
    live: int
    last_commit: str | None
    location: str


@dataclass(frozen=True)
class PartitionPlan:
    add: set[Partition]
    remove: set[Partition]
    live: set[Partition]
    mode: str


def plan_partitions(
    state: HudiState,
    entry: HudiCatalogTable,
    last_synced: str | None,
    known: Callable[[], set[Partition]],
) -> PartitionPlan:
    """Which partitions to add and remove, Hudi hive-sync style.

    Only partitions that commits since `last_synced` wrote can have changed: those still holding
    rows are added (a no-op if known), those left empty are removed. Without a usable last sync
    (first sync, archived instant, a rollback since) the catalog's listing is compared instead.
    """
    live = state.live_partitions(entry.query)
    changed = state.changed_partitions_since(last_synced)
    if changed is None:
        have = known()
        return PartitionPlan(live - have, have - live, live, "full")
    return PartitionPlan(changed & live, changed - live, live, "incremental")


class Catalog(dg.ConfigurableResource):
    """A metastore for lake tables. The root of `lake` (or `lake_root`), when set, is where
    every table must live."""

    lake_root: str | None = None
    # The lake resource itself where its bucket is an EnvVar: the root is known at run launch.
    lake: ObjectStore | None = None

    @property
    def root(self) -> str | None:
        return self.lake.root_uri if self.lake is not None else self.lake_root

    def check(self, spec: TableSpec) -> TableSpec:
        return spec.check_location(self.root) if self.root else spec

    def sync_table(self, spec: TableSpec) -> str:
        """Creates or updates a plain table (Parquet, text, JSON); says which."""
        raise NotImplementedError

    def partitions(self, spec: TableSpec) -> set[Partition]:
        raise NotImplementedError

    def apply_partition_changes(
        self, spec: TableSpec, add: Iterable[Partition], remove: Iterable[Partition] = ()
    ) -> tuple[int, int]:
        """Adds and drops partitions (idempotent); returns how many really changed."""
        raise NotImplementedError

    def sync_partitions(self, spec: TableSpec, live: Iterable[Partition]) -> PartitionSync:
        """MSCK REPAIR: adds partitions the lake has and the catalog lacks, removes the reverse."""
        live = {tuple(v) for v in live}
        known = self.partitions(spec)
        added, removed = self.apply_partition_changes(spec, live - known, known - live)
        return PartitionSync(added=added, removed=removed, live=len(live))

    def sync_hudi(self, entry: HudiCatalogTable, state: HudiState) -> SyncReport:
        """Registers one catalog table of a Hudi table as of `state`, partitions included."""
        raise NotImplementedError
