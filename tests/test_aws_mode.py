"""`aws` runs the same asset code against S3: here an S3-compatible server on loopback."""

import os
import subprocess
import sys

import boto3

from lakehouse.tickit.generator import generate
from tests.support.moto import CREDENTIALS, moto_server
from tests.support.paths import REPO_ROOT

AWS_ENV = {
    **CREDENTIALS,
    "LAKEHOUSE_ENV": "aws",
    "LAKEHOUSE_S3_BUCKET": "acme-lake",
    "LAKEHOUSE_S3_PREFIX": "prod",
    "LAKEHOUSE_EMR_CLUSTER_ID": "j-2AXXXXXXGAPLF",
    "REDSHIFT_HOST": "cluster.example.invalid",
    "REDSHIFT_USER": "dbt",
    "REDSHIFT_PASSWORD": "not-a-secret",
    "REDSHIFT_SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/spectrum",
}

SCRIPT = """
import dagster as dg
from lakehouse.definitions import defs
job = defs.resolve_implicit_global_asset_job_def().get_subset(
    asset_selection={dg.AssetKey("raw_tickit_data")})
result = job.execute_in_process(
    run_config={"ops": {"raw_tickit_data": {"config": {"scale": 0.001, "seed": 5}}}})
assert result.success
"""


def test_raw_tickit_data_lands_in_s3(tmp_path):
    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket="acme-lake")
        env = {**os.environ, **AWS_ENV, "AWS_ENDPOINT_URL_S3": endpoint,
               "DAGSTER_HOME": str(tmp_path)}  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        expected = generate(0.001, 5)
        for name, table in expected.items():
            key = f"prod/raw_tickit_data/{name}/{name}.txt"
            assert s3.get_object(Bucket="acme-lake", Key=key)["Body"].read() == table.data
