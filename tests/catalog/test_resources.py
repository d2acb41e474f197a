"""The catalog and query engine each environment gets."""

import dagster as dg

from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import DuckDBEngine, TrinoEngine
from lakehouse.resources import resources_for_env

AWS_ENV = {
    "LAKEHOUSE_ENV": "aws",
    "AWS_REGION": "eu-west-1",
    "LAKEHOUSE_S3_BUCKET": "acme-lake",
    "LAKEHOUSE_S3_PREFIX": "prod",
    "LAKEHOUSE_EMR_CLUSTER_ID": "j-2AXXXXXXGAPLF",
    "REDSHIFT_HOST": "cluster.example.invalid",
    "REDSHIFT_USER": "dbt",
    "REDSHIFT_PASSWORD": "not-a-secret",
    "REDSHIFT_SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/spectrum",
    "AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:9",
    "TRINO_HOST": "trino.internal",
    "TRINO_PASSWORD": "from-the-environment",
}


def test_local_uses_the_warehouse_file_dbt_uses(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("MOMA_SOURCE_DSN", raising=False)
    resources = resources_for_env("local")
    catalog, engine = resources["catalog"], resources["query_engine"]
    assert isinstance(catalog, LocalCatalog) and isinstance(engine, DuckDBEngine)
    assert catalog.warehouse == engine.warehouse == resources["warehouse"]
    assert catalog.lake_root == resources["lake"].root_uri
    assert engine.postgres_dsn is None and engine.live_source is None
    monkeypatch.setenv("MOMA_SOURCE_DSN", "host=127.0.0.1 dbname=moma user=u password=p")
    engine = resources_for_env("local")["query_engine"]
    assert engine.postgres_dsn == dg.EnvVar("MOMA_SOURCE_DSN")  # not the secret itself


def test_aws_uses_glue_and_trino(monkeypatch):
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    resources = resources_for_env("aws")
    catalog, engine = resources["catalog"], resources["query_engine"]
    assert isinstance(catalog, GlueCatalog) and isinstance(engine, TrinoEngine)
    with dg.build_resources({"catalog": catalog}) as resolved:  # as a run launches it
        assert resolved.catalog.root == "s3://acme-lake/prod"
        assert resolved.catalog.endpoint_url == "http://127.0.0.1:9"
    assert catalog.endpoint_url == dg.EnvVar("AWS_ENDPOINT_URL_GLUE")  # read per run
    assert (engine.host, engine.port, engine.http_scheme) == ("trino.internal", 443, "https")
    assert engine.password == dg.EnvVar("TRINO_PASSWORD")
