"""The catalog's assets: after each Hudi commit the table is registered (or updated) in the
environment's catalog and its partitions follow the table's live ones; the federated queries
(lakehouse/catalog/federated.py) run over the catalog and land as `federated.<name>`.

Resources: `lake` (where the tables live), `catalog` (LocalCatalog: views in the warehouse;
GlueCatalog: the Glue Data Catalog) and `query_engine` (DuckDB locally, Trino in AWS).
"""

import io

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.catalog.base import Catalog
from lakehouse.catalog.federated import DATABASE, QUERIES, FederatedQuery, run_federated
from lakehouse.catalog.hive import hive_ddl
from lakehouse.catalog.hudi_sync import REALTIME, HudiState
from lakehouse.catalog.query_engines import QueryEngine, QueryEngineError
from lakehouse.catalog.spec import CatalogError, Column
from lakehouse.cdc.source_tables import ARTISTS, MOMA_SERVER
from lakehouse.defs import OWNERS
from lakehouse.defs.cdc.assets import raw_cdc_key
from lakehouse.hudi import HudiError
from lakehouse.moma.hudi_tables import HUDI_TABLES, HudiTableDef
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore

GROUP = "catalog"
PREVIEW_ROWS = 10
RESULT_TYPES = {"string": pa.string(), "bigint": pa.int64()}  # Hive type -> Arrow, for results


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


# -- federated queries ----------------------------------------------------------------------


def _table_def(qualified: str) -> HudiTableDef:
    return next(t for t in HUDI_TABLES if t.qualified == qualified)


def _markdown(columns: tuple[Column, ...], rows: list[tuple]) -> str:
    head = "| " + " | ".join(c.name for c in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def build_federated_asset(query: FederatedQuery) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([DATABASE, query.name]),
        deps=[raw_cdc_key(ARTISTS.topic(MOMA_SERVER))]
        + [catalog_key(_table_def(t)) for t in query.lake_tables],
        group_name=DATABASE,
        owners=OWNERS,
        kinds={"trino", "duckdb", "postgresql"},
        retry_policy=NETWORK_RETRY,
        description=query.description
        + " Runs on Trino in AWS, on DuckDB locally (the live source through the postgres "
        "extension, or the embedded replica derived from the raw CDC topics when "
        "MOMA_SOURCE_DSN is unset).",
    )
    def _federated(query_engine: QueryEngine, lake: ObjectStore, catalog: Catalog):
        try:
            rows, source, sql = run_federated(query, query_engine, lake)
        except (QueryEngineError, CatalogError) as e:
            raise dg.Failure(f"{DATABASE}.{query.name}: {e}", allow_retries=False) from None
        schema = pa.schema([(c.name, RESULT_TYPES[c.type]) for c in query.columns])
        result = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows],
                                      schema=schema)  # fmt: skip
        buffer = io.BytesIO()
        pq.write_table(result, buffer)
        spec = query.spec(lake.root_uri)
        key = f"{DATABASE}/{query.name}/{query.name}.parquet"
        lake.put_bytes(key, buffer.getvalue())
        catalog.sync_table(spec)
        return dg.MaterializeResult(
            metadata={
                "row_count": len(rows),
                "source": source,
                "engine": type(query_engine).__name__,
                "table": spec.qualified_name,
                "uri": dg.MetadataValue.path(lake.uri(key)),
                "sql": dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```"),
                "preview": dg.MetadataValue.md(_markdown(query.columns, rows[:PREVIEW_ROWS])),
            }
        )

    return _federated


federated_assets = [build_federated_asset(q) for q in QUERIES]
