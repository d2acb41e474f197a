"""The catalog and query engine of each environment (resource keys `catalog`, `query_engine`).

- local: `LocalCatalog` and `DuckDBEngine` on the DuckLake warehouse dbt uses (catalog
  `$LAKEHOUSE_HOME/warehouse.sqlite`); the engine attaches the `moma` database when
  MOMA_SOURCE_DSN is set.
- aws: `GlueCatalog` (AWS_REGION; AWS_ENDPOINT_URL_GLUE to use another endpoint) and
  `TrinoEngine` (TRINO_* variables, checked when a query runs).
"""

from pathlib import Path

import dagster as dg

from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import DuckDBEngine, TrinoEngine, trino_from_env
from lakehouse.settings import optional_env
from lakehouse.storage import ObjectStore, S3ObjectStore
from lakehouse.warehouse import local_warehouse


def local_catalog(home: Path, lake: ObjectStore) -> LocalCatalog:
    return LocalCatalog(warehouse=local_warehouse(home), lake_root=lake.root_uri)


def local_query_engine(home: Path) -> DuckDBEngine:
    dsn = optional_env("MOMA_SOURCE_DSN")
    return DuckDBEngine(warehouse=local_warehouse(home), postgres_dsn=dsn)


def aws_catalog(lake: S3ObjectStore) -> GlueCatalog:
    return GlueCatalog(
        region_name=dg.EnvVar("AWS_REGION"),
        endpoint_url=optional_env("AWS_ENDPOINT_URL_GLUE"),
        lake=lake,
    )


def aws_query_engine() -> TrinoEngine:
    return trino_from_env()
