"""A Hudi table's files: its base URI on an injected filesystem (hudi-rs's `Storage` over an
`ObjectStore`).

This package reads no environment and knows no deployment: the caller passes a
`filesystem(uri) -> (pyarrow filesystem, path within it)` function (the lakehouse passes
`lakehouse.storage.filesystem`). Without one, only local paths and file:// URIs are readable.

Paths inside a table are '/'-separated and relative to the table's base path. A write becomes
visible all at once: locally through a temporary file and a rename, on an object store because
an object appears only when its upload completes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.fs as pafs

from lakehouse.hudi.config import HudiConfigError

TMP_DIR = ".hoodie/.temp"

# uri -> (filesystem, path within it)
FileSystemFor = Callable[[str], tuple[pafs.FileSystem, str]]


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the base path
    size: int
    mtime_ms: int


def local_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a local path or file:// URI; anything else needs one injected."""
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" in path:
        raise HudiConfigError(f"{uri}: no filesystem given for this scheme (pass filesystem=)")
    return pafs.LocalFileSystem(), os.path.abspath(path)


class Storage:
    """A base URI on the filesystem `filesystem` gives for it (local paths by default)."""

    def __init__(self, uri: str, filesystem: FileSystemFor | None = None):
        self.uri = uri.rstrip("/")
        self.filesystem = filesystem or local_filesystem
        try:
            self.fs, self.root = self.filesystem(self.uri)
        except HudiConfigError:
            raise
        except Exception as e:  # the injected function's own error: a bad URI or endpoint
            raise HudiConfigError(str(e)) from e
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self._dirs: set[str] = set()  # directories this object made or found (local only)

    def full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def uri_of(self, rel: str) -> str:
        return f"{self.uri}/{rel}" if rel else self.uri

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.full(rel)).type != pafs.FileType.NotFound

    def is_dir(self, rel: str) -> bool:
        return self.fs.get_file_info(self.full(rel)).type == pafs.FileType.Directory

    def read(self, rel: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.full(rel)) as f:
                return f.read()
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{self.uri_of(rel)} does not exist") from e

    def open_input(self, rel: str):
        return self.fs.open_input_file(self.full(rel))

    def mkdir(self, rel: str) -> None:
        # S3 has no directories; prefixes exist once an object does. Locally os.makedirs costs
        # a fraction of LocalFileSystem.create_dir for a new directory.
        if self.local and rel not in self._dirs:
            os.makedirs(self.full(rel), exist_ok=True)
            self._dirs.add(rel)

    def write(self, rel: str, data: bytes) -> None:
        """Write a whole file so that readers see either nothing or all of it."""
        target = self.full(rel)
        if self.local:
            self.mkdir(rel.rpartition("/")[0])
            # Temporary files live under .hoodie/.temp, where no reader looks for data files.
            self.mkdir(TMP_DIR)
            tmp = f"{self.full(TMP_DIR)}/.write-{uuid.uuid4().hex}.tmp"
            try:
                with self.fs.open_output_stream(tmp) as f:
                    f.write(data)
                self.fs.move(tmp, target)
            except BaseException:
                try:
                    self.fs.delete_file(tmp)
                except (FileNotFoundError, OSError):
                    pass
                raise
        else:
            with self.fs.open_output_stream(target) as f:
                f.write(data)

    def open_output(self, rel: str):
        """A stream for a large file (a data file); not atomic, so data files are only ever
        written under names no committed instant refers to."""
        self.mkdir(rel.rpartition("/")[0])
        return self.fs.open_output_stream(self.full(rel))

    def size(self, rel: str) -> int:
        return self.fs.get_file_info(self.full(rel)).size

    def write_new(self, rel: str, data: bytes) -> None:
        """Write a file that must not exist yet (timeline instants are immutable)."""
        if self.exists(rel):
            raise FileExistsError(f"{self.uri_of(rel)} already exists")
        self.write(rel, data)

    def delete(self, rel: str) -> bool:
        try:
            self.fs.delete_file(self.full(rel))
            return True
        except FileNotFoundError:
            return False

    def delete_dir(self, rel: str) -> None:
        self._dirs = {d for d in self._dirs if d != rel and not d.startswith(rel + "/")}
        try:
            self.fs.delete_dir(self.full(rel))
        except FileNotFoundError:
            pass

    def list(self, rel: str = "", recursive: bool = False) -> list[FileEntry]:
        """Files (not directories) under rel, with paths relative to the base path."""
        selector = pafs.FileSelector(self.full(rel), allow_not_found=True, recursive=recursive)
        prefix = len(self.root) + 1
        out = []
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else 0
            out.append(FileEntry(info.path[prefix:], info.size or 0, mtime))
        return out

    def list_dirs(self, rel: str = "") -> list[str]:
        selector = pafs.FileSelector(self.full(rel), allow_not_found=True, recursive=False)
        prefix = len(self.root) + 1
        return [
            i.path[prefix:]
            for i in self.fs.get_file_info(selector)
            if i.type == pafs.FileType.Directory
        ]
