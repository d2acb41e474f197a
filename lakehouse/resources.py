"""Resources per environment: the only place where `local` and `aws` differ.

Resource keys: `lake` (object storage), `dbt` (the dbt CLI on the environment's target),
`warehouse` (where the dbt models live), `hudi` (who runs Hudi ingests), `moma_source` (where raw
CDC comes from), `failure_notifier` (where failed runs are reported), `catalog` (where lake tables
are registered) and `query_engine` (where federated SQL runs).
"""

from __future__ import annotations

import dagster as dg
from dagster_aws.s3 import S3Resource

from lakehouse.catalog.resources import (
    aws_catalog,
    aws_query_engine,
    local_catalog,
    local_query_engine,
)
from lakehouse.cdc.resources import moma_source_from_env
from lakehouse.dbt.project import DBT_TARGETS, dbt_project
from lakehouse.dbt.resources import LakehouseDbtCliResource
from lakehouse.moma.resources import EmrHudiIngest, LocalHudiIngest, SparkHudiIngest
from lakehouse.operations.resources import FailureNotifier
from lakehouse.settings import (
    check_aws_environment,
    is_set,
    lakehouse_env,
    lakehouse_home,
    optional_env,
    s3_endpoint_env,
    setting,
)
from lakehouse.storage import LocalObjectStore, S3ObjectStore
from lakehouse.warehouse import RedshiftWarehouse, local_warehouse

HUDI_ENGINES = ("python", "spark")


def local_hudi_ingest() -> LocalHudiIngest | SparkHudiIngest:
    """LAKEHOUSE_HUDI_ENGINE: `python` (the default, the project's writer) or `spark` (the
    EMR step's spark-submit arguments under local Spark)."""
    engine = setting("LAKEHOUSE_HUDI_ENGINE", "python")
    if engine not in HUDI_ENGINES:
        raise ValueError(
            f"LAKEHOUSE_HUDI_ENGINE={engine!r} is not one of {', '.join(HUDI_ENGINES)}"
        )
    return SparkHudiIngest() if engine == "spark" else LocalHudiIngest()


def local_resources() -> dict[str, object]:
    home = lakehouse_home()
    lake = LocalObjectStore(root=str(home / "lake"))
    return {
        "lake": lake,
        "failure_notifier": FailureNotifier(lake=lake),
        "moma_source": moma_source_from_env(),
        "hudi": local_hudi_ingest(),
        "dbt": LakehouseDbtCliResource(project_dir=dbt_project, target=DBT_TARGETS["local"]),
        "warehouse": local_warehouse(home),
        "catalog": local_catalog(home, lake),
        "query_engine": local_query_engine(home),
    }


def aws_resources() -> dict[str, object]:
    check_aws_environment()
    s3 = S3Resource(
        region_name=dg.EnvVar("AWS_REGION"),
        # Unset in AWS; set to use MinIO or another S3-compatible server.
        endpoint_url=s3_endpoint_env(),
    )
    lake = S3ObjectStore(
        bucket=dg.EnvVar("LAKEHOUSE_S3_BUCKET"),
        prefix=optional_env("LAKEHOUSE_S3_PREFIX", ""),
        s3=s3,
    )
    return {
        "lake": lake,
        "catalog": aws_catalog(lake),
        "query_engine": aws_query_engine(),
        "moma_source": moma_source_from_env(),
        "hudi": EmrHudiIngest(
            cluster_id=dg.EnvVar("LAKEHOUSE_EMR_CLUSTER_ID"), region_name=dg.EnvVar("AWS_REGION")
        ),
        "failure_notifier": FailureNotifier(
            lake=lake,
            sns_topic_arn=optional_env("LAKEHOUSE_ALERTS_SNS_TOPIC_ARN"),
            region_name=dg.EnvVar("AWS_REGION"),
        ),
        "dbt": LakehouseDbtCliResource(project_dir=dbt_project, target=DBT_TARGETS["aws"]),
        "warehouse": RedshiftWarehouse(
            host=dg.EnvVar("REDSHIFT_HOST"),
            port=dg.EnvVar.int("REDSHIFT_PORT") if is_set("REDSHIFT_PORT") else 5439,
            database=optional_env("REDSHIFT_DATABASE", "demo"),
            user=dg.EnvVar("REDSHIFT_USER"),
            password=dg.EnvVar("REDSHIFT_PASSWORD"),
            # COPY's role; the Spectrum role (required) when no separate one is given.
            copy_role_arn=dg.EnvVar(
                "REDSHIFT_COPY_ROLE_ARN"
                if is_set("REDSHIFT_COPY_ROLE_ARN")
                else "REDSHIFT_SPECTRUM_ROLE_ARN"
            ),
        ),
    }


def resources_for_env(env: str | None = None) -> dict[str, object]:
    env = env or lakehouse_env()
    return {"local": local_resources, "aws": aws_resources}[env]()
