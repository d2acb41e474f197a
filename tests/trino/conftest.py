"""One real Trino for the whole test session, with the catalogs a Trino on EMR has: `hive` and
`hudi` on the Glue API (moto_server) over S3 (the same moto_server), and `postgresql` on a real
PostgreSQL holding the `moma` source database. Started once: it takes about 30 s."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

import boto3
import pytest

from lakehouse.catalog.glue import GlueCatalog
from lakehouse.storage import S3Connection, filesystem
from tests.support.moto import CREDENTIALS, moto_server
from tests.support.postgres import SUPERUSER, SUPERUSER_PASSWORD, PostgresServer, postgres_server
from tests.support.trino import TrinoServer, lakehouse_catalogs, trino_server

REGION = CREDENTIALS["AWS_REGION"]
BUCKET = "lake"
MOMA_DATABASE = "moma"


@dataclass(frozen=True)
class Stack:
    endpoint: str  # moto_server: S3 and Glue
    postgres: PostgresServer
    trino: TrinoServer

    def glue(self, lake_root: str | None = None) -> GlueCatalog:
        return GlueCatalog(region_name=REGION, endpoint_url=self.endpoint, lake_root=lake_root)

    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION)

    @property
    def moma_dsn(self) -> str:
        return self.postgres.dsn(MOMA_DATABASE)

    @property
    def storage_options(self) -> dict[str, str]:
        """How hudi-rs reaches moto's S3."""
        return {"aws_endpoint_url": self.endpoint, "aws_allow_http": "true",
                "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "aws_region": REGION}  # fmt: skip

    @property
    def filesystem(self):
        """How the project's Hudi reader reaches moto's S3 (lakehouse.storage.filesystem)."""
        return partial(filesystem, s3=S3Connection(endpoint_url=self.endpoint, region=REGION))


@pytest.fixture(scope="session")
def stack():
    saved = dict(os.environ)
    os.environ.update(CREDENTIALS)
    try:
        with moto_server() as endpoint, postgres_server() as pg:
            os.environ["AWS_ENDPOINT_URL"] = endpoint  # the Hudi writer and reader on S3
            pg.create_database(MOMA_DATABASE)
            boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
                Bucket=BUCKET
            )
            key, secret = CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
            catalogs = lakehouse_catalogs(endpoint, REGION, key, secret, pg.port, MOMA_DATABASE,
                                          SUPERUSER, SUPERUSER_PASSWORD)  # fmt: skip
            with trino_server(catalogs) as trino:
                yield Stack(endpoint, pg, trino)
    finally:
        os.environ.clear()
        os.environ.update(saved)
