"""An S3-compatible server (moto_server) on a free loopback port, for tests of the S3 paths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port, wait_for_http

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Starts moto_server and yields its endpoint URL; stops it on exit."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/", 30, proc)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def moto_lake(bucket: str = "lake") -> Iterator[str]:
    """moto_server with its credentials and endpoint in the environment (set before any client,
    or a JVM, starts) and an empty `bucket`; yields the endpoint."""
    import boto3
    import pytest

    with moto_server() as endpoint:
        mp = pytest.MonkeyPatch()
        for key, value in CREDENTIALS.items():
            mp.setenv(key, value)
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        try:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
            yield endpoint
        finally:
            mp.undo()
