"""The catalog and query engine of each environment (resource keys `catalog`, `query_engine`).

- local: `LocalCatalog` and `DuckDBEngine` on the DuckLake warehouse dbt uses (catalog
  `$LAKEHOUSE_HOME/warehouse.sqlite`); the engine attaches the `moma` database when
  MOMA_SOURCE_DSN is set.
- aws: `GlueCatalog` (AWS_REGION; AWS_ENDPOINT_URL_GLUE to use another endpoint) and
  `TrinoEngine` (TRINO_* variables, checked when a query runs).
"""

import os
from pathlib import Path

import dagster as dg

from lakehouse.catalog.engines import DuckDBEngine, TrinoEngine, trino_from_env
from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.local import LocalCatalog
from lakehouse.storage import ObjectStore, S3ObjectStore
from lakehouse.warehouse import local_warehouse


def local_catalog(home: Path, lake: ObjectStore) -> LocalCatalog:
    return LocalCatalog(warehouse=local_warehouse(home), lake_root=lake.root_uri)


def local_query_engine(home: Path) -> DuckDBEngine:
    dsn = dg.EnvVar("MOMA_SOURCE_DSN") if os.environ.get("MOMA_SOURCE_DSN") else None
    return DuckDBEngine(warehouse=local_warehouse(home), postgres_dsn=dsn)


def aws_catalog(lake: S3ObjectStore) -> GlueCatalog:
    # The bucket is an EnvVar until a run resolves it; the catalog needs the root now.
    bucket = lake.bucket.get_value() if isinstance(lake.bucket, dg.EnvVar) else lake.bucket
    return GlueCatalog(
        region_name=dg.EnvVar("AWS_REGION"),
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL_GLUE") or None,
        lake_root=S3ObjectStore(bucket=bucket, prefix=lake.prefix, s3=lake.s3).root_uri,
    )


def aws_query_engine() -> TrinoEngine:
    return trino_from_env()
