"""The writer and the CLI against S3 (moto_server on loopback), read back by hudi-rs from S3."""

from __future__ import annotations

from functools import partial

import boto3
import pyarrow as pa
import pytest

from lakehouse.hudi import HudiConfig, HudiTable, TableConfig, WriteOptions
from lakehouse.hudi.emr import PROPS_DIR
from lakehouse.moma.resources import deltastreamer_main as main  # the script: S3 via settings
from lakehouse.storage import S3Connection, filesystem
from tests.hudi import support
from tests.support.moto import CREDENTIALS, moto_lake


@pytest.fixture(scope="module")
def s3():
    with moto_lake() as endpoint:
        yield endpoint


def _reader_options(endpoint: str) -> dict:
    return {
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_region": CREDENTIALS["AWS_REGION"],
    }


@pytest.mark.parametrize("table_type", ["COPY_ON_WRITE", "MERGE_ON_READ"])
def test_upserts_on_s3(s3, table_type):
    uri = f"s3://lake/tables/{table_type.lower()}"
    config = HudiConfig(
        TableConfig("s3t", ("id",), "ts", ("city",), table_type=table_type),
        WriteOptions(delete_mode="hard", compaction_delta_commits=2),
    )
    s3_filesystem = partial(filesystem, s3=S3Connection(endpoint_url=s3))
    table = HudiTable.open_or_create(uri, config, filesystem=s3_filesystem)
    schema = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("city", pa.string()),
                        ("__deleted", pa.string())])  # fmt: skip
    first = table.upsert(pa.Table.from_pylist(
        [{"id": i, "ts": 1, "city": "ab"[i % 2], "__deleted": "false"} for i in range(6)],
        schema=schema))  # fmt: skip
    second = table.upsert(pa.Table.from_pylist(
        [{"id": 0, "ts": 2, "city": "b", "__deleted": "false"},
         {"id": 1, "ts": 2, "city": "b", "__deleted": "true"}], schema=schema))  # fmt: skip
    if table_type == "MERGE_ON_READ":
        assert second.compaction_instant
    opts = {"storage_options": _reader_options(s3)}
    got = support.rows(support.snapshot(uri, **opts), ("id", "city"))
    assert got == [(0, "b"), (2, "a"), (3, "b"), (4, "a"), (5, "b")]
    assert support.rows(support.as_of(uri, first.instant, **opts), ("id", "city")) == [
        (i, "ab"[i % 2]) for i in range(6)
    ]


def test_cli_from_s3_source_to_s3_table(s3, fixtures_dir, capsys):
    client = boto3.client("s3", endpoint_url=s3)
    name = "moma.public.artists+0+0000000000.avro"
    key = f"topics/moma.public.artists/partition=0/{name}"
    body = (fixtures_dir / "debezium" / "unwrapped" / name).read_bytes()
    client.put_object(Bucket="lake", Key=key, Body=body)
    argv = [
        "--table-type", "MERGE_ON_READ", "--op", "BULK_INSERT", "--filter-dupes",
        "--source-ordering-field", "__source_ts_ms",
        "--props", str(PROPS_DIR / "moma_artists.properties"),
        "--target-base-path", "s3://lake/moma/artists_mor/",
        "--target-table", "moma_mor.artists",
        "--hoodie-conf",
        "hoodie.deltastreamer.source.dfs.root=s3://lake/topics/moma.public.artists/partition=0/",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    snap = support.snapshot("s3://lake/moma/artists_mor", storage_options=_reader_options(s3))
    assert snap.num_rows == 300
    assert main(argv) == 0  # nothing new: no commit
    assert '"commit": null' in capsys.readouterr().out
