"""The one storage layer: a local directory or S3, through pyarrow.fs.

`filesystem(uri)` turns a local path, `file://` or `s3://` URI into (pyarrow filesystem, path
within it); it is the only place that decides local-or-S3 and the only reader of the S3
endpoint (the AWS SDK's precedence, `settings.s3_endpoint_url`). Everything that stores bytes
goes through it: the `ObjectStore` resources (`lake`), and through them the CDC sink, the
telemetry landing writer and the pipelines; the Hudi library receives it by injection
(`HudiTable.open(uri, filesystem=...)`), as hudi-rs's Storage receives its object store.

Object keys are '/'-separated and relative to the store's root. A write is atomic: readers see
the whole object or nothing (locally a temporary file renamed over the target, on S3 because
an object appears only when its upload completes).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import dagster as dg
import pyarrow.fs as pafs
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from lakehouse.settings import aws_region, s3_endpoint_url

S3_SCHEMES = ("s3://", "s3a://")


class StorageError(Exception):
    """One line naming the URI (or key) and what is wrong with it."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified_ms: int


@dataclass(frozen=True)
class S3Connection:
    """How to reach S3: an endpoint (an S3-compatible server) and region; credentials from the
    AWS default chain unless given."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    anonymous: bool = False
    max_attempts: int | None = None

    @classmethod
    def from_settings(cls) -> S3Connection:
        return cls(endpoint_url=s3_endpoint_url(), region=aws_region())


@functools.lru_cache(maxsize=16)
def s3_filesystem(connection: S3Connection) -> pafs.S3FileSystem:
    """One S3FileSystem per connection: building its client costs more than a request."""
    kwargs: dict = {"anonymous": connection.anonymous}
    if connection.region:
        kwargs["region"] = connection.region
    if connection.endpoint_url:
        parsed = urlparse(connection.endpoint_url)
        if not parsed.netloc:
            raise StorageError(
                f"S3 endpoint {connection.endpoint_url!r} is not a URL like http://host:port"
            )
        kwargs["endpoint_override"] = parsed.netloc
        kwargs["scheme"] = parsed.scheme
    if connection.access_key_id:
        kwargs["access_key"] = connection.access_key_id
        kwargs["secret_key"] = connection.secret_access_key
        kwargs["session_token"] = connection.session_token
    if connection.max_attempts:
        kwargs["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(connection.max_attempts)
    return pafs.S3FileSystem(**kwargs)


def filesystem(uri: str, s3: S3Connection | None = None) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path within it) for a local path, a `file://` or an `s3://bucket/key` URI.

    S3 is reached as `s3` says, by default as the settings say (AWS_ENDPOINT_URL_S3, else
    AWS_ENDPOINT_URL; AWS_REGION)."""
    if uri.startswith(S3_SCHEMES):
        path = uri.split("://", 1)[1].rstrip("/")
        if not path or path.startswith("/"):
            raise StorageError(f"{uri}: names no bucket (use s3://bucket/key)")
        return s3_filesystem(s3 or S3Connection.from_settings()), path
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        raise StorageError(f"{uri}: unsupported scheme; use a local path or s3://bucket/key")
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def is_local(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def write_atomic(fs: pafs.FileSystem, path: str, data: bytes) -> None:
    """Write a whole object so that readers see either nothing or all of it."""
    if not is_local(fs):
        # An S3 object appears only when its upload completes.
        with fs.open_output_stream(path) as out:
            out.write(data)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A hidden name in the same directory: listings skip it, and the rename stays on one disk.
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
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def read_bytes(fs: pafs.FileSystem, path: str, uri: str) -> bytes:
    """A whole object, in one read: on S3 a stream would fetch it in several ranged requests
    and could join two versions of an object replaced meanwhile."""
    try:
        with fs.open_input_file(path) as f:
            return f.read()
    except FileNotFoundError as e:
        raise StorageError(f"no object {uri}") from e
    except IsADirectoryError as e:
        raise StorageError(f"no object {uri}: it is a directory") from e


def list_files(fs: pafs.FileSystem, root: str, prefix: str = "") -> list[ObjectInfo]:
    """Files under root whose relative key starts with prefix, in key order; hidden local
    files (in-flight temporary files) are not listed."""
    # A prefix need not be a directory ("raw/ab" matches "raw/abc"), so list its parent.
    parent = prefix.rpartition("/")[0]
    selector = pafs.FileSelector(
        f"{root}/{parent}" if parent else root, allow_not_found=True, recursive=True
    )
    skip_hidden = is_local(fs)
    found = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        key = info.path[len(root) + 1 :]
        if not key.startswith(prefix):
            continue
        below = key[len(parent) + 1 :] if parent else key
        if skip_hidden and any(part.startswith(".") for part in below.split("/")):
            continue
        mtime_ms = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else 0
        found.append(ObjectInfo(key, info.size or 0, mtime_ms))
    return sorted(found, key=lambda o: o.key)


def delete_file(fs: pafs.FileSystem, path: str) -> None:
    """Deletes a file; a missing one is not an error."""
    try:
        fs.delete_file(path)
    except FileNotFoundError:
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
    """Objects under a root URI, on the filesystem `filesystem` gives for it."""

    _location: object = PrivateAttr(default=None)

    @property
    def root_uri(self) -> str:
        raise NotImplementedError

    def s3_connection(self) -> S3Connection | None:
        """How this store reaches S3; None: as the settings say."""
        return None

    def filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        """`filesystem` with this store's S3 connection: what the Hudi library is given."""
        return filesystem(uri, self.s3_connection())

    def _root(self) -> tuple[pafs.FileSystem, str]:
        if self._location is None:
            self._location = self.filesystem(self.root_uri)
        return self._location

    def uri(self, key: str) -> str:
        """URI of an object, or of a prefix when key ends in '/'."""
        slash = "/" if key.endswith("/") else ""
        return f"{self.root_uri.rstrip('/')}/{check_key(key.rstrip('/'))}{slash}"

    def _path(self, key: str) -> tuple[pafs.FileSystem, str]:
        fs, root = self._root()
        return fs, f"{root}/{check_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write an object so that readers see either nothing or all of it."""
        write_atomic(*self._path(key), data)

    def get_bytes(self, key: str) -> bytes:
        return read_bytes(*self._path(key), self.uri(key))

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under prefix, in key order."""
        yield from list_files(*self._root(), prefix)

    def delete(self, key: str) -> None:
        delete_file(*self._path(key))

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local file with the object's bytes, for readers that need a path."""
        fs, path = self._path(key)
        if is_local(fs):
            if not os.path.isfile(path):
                raise StorageError(f"no object {self.uri(key)}")
            yield Path(path)
            return
        with tempfile.NamedTemporaryFile(suffix=PurePosixPath(key).suffix) as f:
            f.write(self.get_bytes(key))
            f.flush()
            yield Path(f.name)


class LocalObjectStore(ObjectStore):
    """A directory that stands in for a bucket."""

    root: str

    @property
    def root_path(self) -> Path:
        return Path(self.root).resolve()

    @property
    def root_uri(self) -> str:
        return str(self.root_path)

    def path(self, key: str) -> Path:
        return self.root_path / check_key(key)


class S3ObjectStore(ObjectStore):
    """An S3 bucket, or an S3-compatible server via s3.endpoint_url, under an optional prefix."""

    bucket: str
    prefix: str = ""
    s3: S3Resource

    @property
    def root_uri(self) -> str:
        base = f"s3://{self.bucket}"
        return f"{base}/{self.prefix.strip('/')}" if self.prefix.strip("/") else base

    def s3_connection(self) -> S3Connection:
        s3 = self.s3
        if s3.profile_name:
            raise StorageError(
                f"{self.root_uri}: S3Resource.profile_name is not supported; set AWS_PROFILE"
            )
        default = S3Connection.from_settings()
        return S3Connection(
            endpoint_url=s3.endpoint_url or default.endpoint_url,
            region=s3.region_name or default.region,
            access_key_id=s3.aws_access_key_id,
            secret_access_key=s3.aws_secret_access_key,
            session_token=s3.aws_session_token,
            anonymous=bool(s3.use_unsigned_session),
            max_attempts=s3.max_attempts,
        )


def store_for_uri(uri: str) -> ObjectStore:
    """The store a command-line `--target` names: `s3://bucket/prefix` (reached as the settings
    say) or a local directory."""
    filesystem(uri)  # rejects other schemes and a missing bucket, naming the URI
    if uri.startswith(S3_SCHEMES):
        bucket, _, prefix = uri.split("://", 1)[1].partition("/")
        return S3ObjectStore(bucket=bucket, prefix=prefix, s3=S3Resource())
    return LocalObjectStore(root=uri)
