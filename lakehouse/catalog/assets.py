"""Catalog sync assets: after each Hudi commit, the table is registered (or updated) in the
environment's catalog and its partitions follow the table's live ones.

Resources: `lake` (where the tables live) and `catalog` (LocalCatalog: views in the warehouse
DuckDB file; GlueCatalog: the Glue Data Catalog).
"""

import dagster as dg

from lakehouse.catalog.base import Catalog
from lakehouse.catalog.hive import hive_ddl
from lakehouse.catalog.hudi_sync import REALTIME, HudiState
from lakehouse.catalog.spec import CatalogError
from lakehouse.hudi import HudiError
from lakehouse.moma.hudi_tables import HUDI_TABLES, HudiTableDef
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore

OWNERS = ["team:data-platform"]
GROUP = "catalog"


def catalog_key(table: HudiTableDef) -> dg.AssetKey:
    return dg.AssetKey(["catalog", table.database, table.name])


def catalog_table_names(table: HudiTableDef) -> list[str]:
    if table.database == "moma_cow":
        return [table.qualified]
    return [f"{table.qualified}_ro", f"{table.qualified}_rt"]


def build_catalog_asset(table: HudiTableDef) -> dg.AssetsDefinition:
    names = catalog_table_names(table)

    @dg.asset(
        key=catalog_key(table),
        deps=[table.asset_key],
        group_name=GROUP,
        owners=OWNERS,
        kinds={"hudi", "glue", "duckdb"},
        retry_policy=NETWORK_RETRY,
        description=f"{' and '.join(names)} in the catalog (the Glue Data Catalog in AWS, views "
        "in the warehouse DuckDB file locally), as Hudi's hive sync registers them: Hudi input "
        "format, ParquetHiveSerDe, the partition field as a string partition key. Partitions "
        "follow the table's live ones after each commit: those the new commits wrote are "
        "added, those they left empty are removed. Locally, the Copy-on-Write and `_ro` views "
        "read exactly the latest base files and `_rt` is the merged snapshot.",
        metadata={"tables": dg.MetadataValue.json(names)},
    )
    def _sync(context: dg.AssetExecutionContext, catalog: Catalog, lake: ObjectStore):
        base_uri = lake.uri(table.base_key)
        try:
            state = HudiState(base_uri, lake.filesystem)
            entries = state.catalog_tables(
                table.database, table.name, f"Apache Hudi table {table.qualified}"
            )
            reports = [catalog.sync_hudi(entry, state) for entry in entries]
        except (CatalogError, HudiError) as e:
            # A bad schema, partition value or location: retrying cannot fix it.
            raise dg.Failure(f"{table.qualified}: {e}", allow_retries=False) from None
        for r in reports:
            context.log.info(
                f"{r.table}: {r.action}, {r.mode} partition sync: +{r.added} -{r.removed}, "
                f"{r.live} live, as of {r.last_commit}"
            )
        ddl = "\n\n".join(hive_ddl(e.spec) for e in entries)
        per_table = {
            r.table: {"action": r.action, "mode": r.mode, "added": r.added,
                      "removed": r.removed, "live": r.live}
            for r in reports
        }  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.json([r.table for r in reports]),
                "catalog": type(catalog).__name__,
                "location": dg.MetadataValue.path(base_uri),
                "last_commit_time_sync": state.latest_instant or "",
                "partitions_added": sum(r.added for r in reports),
                "partitions_removed": sum(r.removed for r in reports),
                "partitions_live": dg.MetadataValue.json({r.table: r.live for r in reports}),
                "sync": dg.MetadataValue.json(per_table),
                "local_relations": "views over the latest base files"
                + (
                    ", _rt materialized from the merged snapshot"
                    if any(e.query == REALTIME for e in entries)
                    else ""
                ),  # fmt: skip
                "ddl": dg.MetadataValue.md(f"```sql\n{ddl}\n```"),
            }
        )

    return _sync


catalog_assets = [build_catalog_asset(t) for t in HUDI_TABLES]
