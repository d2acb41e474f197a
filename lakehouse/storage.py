"""Object storage: a directory under LAKEHOUSE_HOME locally, an S3 bucket in AWS.

Assets only talk to `ObjectStore`; which implementation they get is decided in
`lakehouse.resources`. Keys are always '/'-separated and relative to the store's root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from lakehouse.settings import s3_endpoint_url


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified_ms: int


class StorageError(Exception):
    pass


def check_key(key: str) -> str:
    """Reject keys that could escape the store's root or alias another key."""
    p = PurePosixPath(key)
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid object key {key!r}: must be a relative path without '.', '..'")
    if "\\" in key or "\x00" in key:
        raise StorageError(f"invalid object key {key!r}: contains a backslash or NUL")
    return str(p)


class ObjectStore(dg.ConfigurableResource):
    """Interface shared by the local and S3 stores."""

    @property
    def root_uri(self) -> str:
        raise NotImplementedError

    def uri(self, key: str) -> str:
        """URI of an object, or of a prefix when key ends in '/'."""
        slash = "/" if key.endswith("/") else ""
        return f"{self.root_uri.rstrip('/')}/{check_key(key.rstrip('/'))}{slash}"

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write an object so that readers see either nothing or all of it."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under prefix, in key order."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local file with the object's bytes, for readers that need a path."""
        suffix = PurePosixPath(key).suffix
        with tempfile.NamedTemporaryFile(suffix=suffix) as f:
            f.write(self.get_bytes(key))
            f.flush()
            yield Path(f.name)


class LocalObjectStore(ObjectStore):
    """A directory that stands in for a bucket; writes are atomic renames."""

    root: str

    @property
    def root_path(self) -> Path:
        return Path(self.root).resolve()

    @property
    def root_uri(self) -> str:
        return str(self.root_path)

    def path(self, key: str) -> Path:
        return self.root_path / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as e:
            raise StorageError(f"no object {self.uri(key)}") from e

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root_path
        start = base / prefix if prefix else base
        # A prefix need not be a directory ("raw/ab" matches "raw/abc"), so walk its parent.
        walk_from = start if start.is_dir() else start.parent
        if not walk_from.is_dir():
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(walk_from):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):  # in-flight temp files are invisible
                    continue
                p = Path(dirpath) / name
                key = p.relative_to(base).as_posix()
                if key.startswith(prefix):
                    st = p.stat()
                    found.append(ObjectInfo(key, st.st_size, st.st_mtime_ns // 1_000_000))
        yield from sorted(found, key=lambda o: o.key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise StorageError(f"no object {self.uri(key)}")
        yield path


class S3ObjectStore(ObjectStore):
    """An S3 bucket, or an S3-compatible server via s3.endpoint_url, under an optional prefix."""

    bucket: str
    prefix: str = ""
    s3: S3Resource
    _client: object = PrivateAttr(default=None)

    @property
    def root_uri(self) -> str:
        base = f"s3://{self.bucket}"
        return f"{base}/{self.prefix.strip('/')}" if self.prefix.strip("/") else base

    def _key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix.strip('/')}/{key}" if self.prefix.strip("/") else key

    def client(self):
        # One client per store: building a boto3 client costs far more than a request.
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def put_bytes(self, key: str, data: bytes) -> None:
        # A single PUT is atomic on S3: readers never see a partial object.
        self.client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        client = self.client()
        try:
            return client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except client.exceptions.NoSuchKey as e:
            raise StorageError(f"no object {self.uri(key)}") from e

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        root = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=root + prefix):
            for obj in page.get("Contents", []):
                yield ObjectInfo(
                    key=obj["Key"][len(root) :],
                    size=obj["Size"],
                    last_modified_ms=int(obj["LastModified"].timestamp() * 1000),
                )

    def delete(self, key: str) -> None:
        self.client().delete_object(Bucket=self.bucket, Key=self._key(key))


def store_for_uri(uri: str, endpoint_url: str | None = None) -> ObjectStore:
    """The store a command-line `--target` names: `s3://bucket/prefix` or a local directory."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise StorageError(f"target {uri!r} names no bucket")
        return S3ObjectStore(
            bucket=bucket,
            prefix=prefix,
            s3=S3Resource(endpoint_url=endpoint_url or s3_endpoint_url()),
        )
    if "://" in uri:
        raise StorageError(f"target {uri!r}: only local directories and s3:// URIs are supported")
    return LocalObjectStore(root=uri)
