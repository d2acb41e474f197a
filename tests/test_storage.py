import re

import boto3
import pytest
from dagster_aws.s3 import S3Resource

from lakehouse.storage import LocalObjectStore, S3ObjectStore, StorageError, store_for_uri
from tests.support.moto import CREDENTIALS, moto_server


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_store(s3_endpoint, monkeypatch, request):
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    bucket = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return S3ObjectStore(bucket=bucket, prefix="lake", s3=S3Resource(endpoint_url=s3_endpoint))


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalObjectStore(root=str(tmp_path / "lake"))
    return request.getfixturevalue("s3_store")


def test_put_get_list_delete(store):
    store.put_bytes("raw/b/2.txt", b"two")
    store.put_bytes("raw/a/1.txt", b"one")
    store.put_bytes("other/x.txt", b"x")
    assert store.get_bytes("raw/a/1.txt") == b"one"
    listed = list(store.list_objects("raw/"))
    assert [o.key for o in listed] == ["raw/a/1.txt", "raw/b/2.txt"]
    assert [o.size for o in listed] == [3, 3]
    assert all(o.last_modified_ms > 1_600_000_000_000 for o in listed)
    # A prefix need not end at a folder boundary.
    assert [o.key for o in store.list_objects("raw/a")] == ["raw/a/1.txt"]
    store.delete("raw/a/1.txt")
    assert [o.key for o in store.list_objects("raw/")] == ["raw/b/2.txt"]
    with pytest.raises(StorageError, match="no object .*raw/a/1.txt"):
        store.get_bytes("raw/a/1.txt")


def test_overwrite_replaces_whole_object(store):
    store.put_bytes("k.txt", b"first version")
    store.put_bytes("k.txt", b"2nd")
    assert store.get_bytes("k.txt") == b"2nd"
    with store.local_copy("k.txt") as path:
        assert path.read_bytes() == b"2nd"


def test_s3_listing_paginates(s3_store):
    for i in range(1005):  # list_objects_v2 returns at most 1000 keys a page
        s3_store.put_bytes(f"many/{i:05d}", b"")
    assert [o.key for o in s3_store.list_objects("many/")] == [f"many/{i:05d}" for i in range(1005)]


def test_s3_uri_includes_prefix(s3_store):
    assert s3_store.uri("raw_tickit_data/") == f"s3://{s3_store.bucket}/lake/raw_tickit_data/"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a\\b"])
def test_rejects_keys_that_escape_or_alias(tmp_path, key):
    with pytest.raises(StorageError, match="invalid object key"):
        LocalObjectStore(root=str(tmp_path)).put_bytes(key, b"")


def test_local_temp_files_are_invisible(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / ".x.txt.abc.tmp").write_bytes(b"partial")
    store.put_bytes("raw/x.txt", b"whole")
    assert [o.key for o in store.list_objects("raw/")] == ["raw/x.txt"]


def test_store_for_uri(tmp_path):
    assert isinstance(store_for_uri(str(tmp_path)), LocalObjectStore)
    s3 = store_for_uri("s3://bucket/some/prefix")
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    with pytest.raises(StorageError, match="only local directories and s3://"):
        store_for_uri("gs://bucket/x")
