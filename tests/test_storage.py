"""The one storage layer (lakehouse.storage): the same tests on a local directory and on S3
(moto_server on loopback, reached through the endpoint variables as a deployment reaches it)."""

import re
import threading
from pathlib import Path

import boto3
import pyarrow.fs as pafs
import pytest
from dagster_aws.s3 import S3Resource

from lakehouse.storage import (
    LocalObjectStore,
    S3ObjectStore,
    StorageError,
    delete_file,
    filesystem,
    list_files,
    read_bytes,
    store_for_uri,
    write_atomic,
)
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
    with pytest.raises(StorageError, match="^gs://bucket/x: unsupported scheme"):
        store_for_uri("gs://bucket/x")


@pytest.fixture(params=["local", "s3"])
def root_uri(request, tmp_path, monkeypatch):
    """A root URI of either kind. S3 is found only through the environment, with the AWS SDK's
    precedence: the service-specific variable names moto, the global one a dead port."""
    if request.param == "local":
        return str(tmp_path / "lake")
    endpoint = request.getfixturevalue("s3_endpoint")
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    bucket = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/lake"


def test_one_layer_for_local_and_s3(root_uri):
    fs, root = filesystem(root_uri)
    kind = pafs.S3FileSystem if root_uri.startswith("s3://") else pafs.LocalFileSystem
    assert isinstance(fs, kind)
    write_atomic(fs, f"{root}/t/a/1.txt", b"one")
    write_atomic(fs, f"{root}/t/ab.txt", b"ab")
    write_atomic(fs, f"{root}/u.txt", b"u")
    write_atomic(fs, f"{root}/t/a/1.txt", b"one again")  # an overwrite replaces it
    assert read_bytes(fs, f"{root}/t/a/1.txt", "uri") == b"one again"
    assert [(o.key, o.size) for o in list_files(fs, root, "t/a")] == [
        ("t/a/1.txt", 9),
        ("t/ab.txt", 2),
    ]
    assert [o.key for o in list_files(fs, root, "t/a/")] == ["t/a/1.txt"]
    assert list_files(fs, root, "nothing/") == []
    delete_file(fs, f"{root}/t/a/1.txt")
    delete_file(fs, f"{root}/t/a/1.txt")  # gone already: not an error
    assert [o.key for o in list_files(fs, root)] == ["t/ab.txt", "u.txt"]
    with pytest.raises(StorageError) as error:
        read_bytes(fs, f"{root}/t/a/1.txt", f"{root_uri}/t/a/1.txt")
    assert str(error.value) == f"no object {root_uri}/t/a/1.txt"


def test_a_reader_sees_a_whole_object_or_the_previous_one(root_uri):
    """Atomic visibility: while one thread overwrites an object again and again, another
    reads it; every read is one whole version, never a truncated or mixed one."""
    fs, root = filesystem(root_uri)
    path = f"{root}/atomic.bin"
    versions = [bytes([i]) * (2 << 20) for i in range(1, 4)]
    write_atomic(fs, path, versions[0])
    done, seen, bad = threading.Event(), set(), []

    def read_until_done():
        while not done.is_set():
            data = read_bytes(fs, path, root_uri)
            if data in versions:
                seen.add(data[0])
            else:
                bad.append(len(data))

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for round_ in range(12):
            write_atomic(fs, path, versions[round_ % 3])
    finally:
        done.set()
        reader.join()
    assert bad == []
    assert len(seen) >= 1
    if root_uri.startswith("/"):  # no temporary file is left or listed
        assert [o.key for o in list_files(fs, root)] == ["atomic.bin"]
        assert sorted(p.name for p in Path(root).iterdir()) == ["atomic.bin"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/x", "gs://bucket/x: unsupported scheme; use a local path or s3://bucket/key"),
        ("s3://", "s3://: names no bucket (use s3://bucket/key)"),
        ("s3:///key", "s3:///key: names no bucket (use s3://bucket/key)"),
    ],
)
def test_a_bad_uri_is_one_storage_error_naming_it(uri, message):
    with pytest.raises(StorageError) as error:
        filesystem(uri)
    assert str(error.value) == message


def test_a_missing_object_is_one_line_naming_its_uri(store):
    with pytest.raises(StorageError) as error:
        store.get_bytes("raw/missing.txt")
    assert str(error.value) == f"no object {store.uri('raw/missing.txt')}"
    with (
        pytest.raises(StorageError, match="^no object .*raw/missing.txt$"),
        store.local_copy("raw/missing.txt"),
    ):
        pass


def test_the_store_gives_hudi_its_own_s3_connection(s3_store):
    """What the Hudi library is given: the lake's filesystem (its endpoint), for any URI."""
    fs, path = s3_store.filesystem(s3_store.uri("hudi/t"))
    write_atomic(fs, f"{path}/x", b"x")
    assert s3_store.get_bytes("hudi/t/x") == b"x"
    local_fs, local = s3_store.filesystem("/tmp/props")
    assert isinstance(local_fs, pafs.LocalFileSystem) and local == "/tmp/props"
