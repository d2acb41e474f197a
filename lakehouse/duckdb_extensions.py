"""DuckDB extensions loaded from their PyPI wheels (`duckdb-extension-<name>`), never fetched
from the network at run time: each wheel ships `extensions/v<duckdb version>/<file>`."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from lakehouse.sql import DUCKDB, quote_literal


class ExtensionError(RuntimeError):
    pass


def packaged_extension(package: str, file_stem: str) -> Path:
    """The extension file inside the wheel of `package` built for the installed duckdb."""
    module = importlib.import_module(package)
    version = f"v{duckdb.__version__}"
    path = Path(module.__file__).parent / "extensions" / version / f"{file_stem}.duckdb_extension"
    if not path.exists():
        wheel = package.replace("_", "-")
        raise ExtensionError(f"{path} is missing: {wheel} must match duckdb {version}")
    return path


def load_extension(
    con: duckdb.DuckDBPyConnection, package: str, file_stem: str, load_as: str | None = None
) -> None:
    """Loads `file_stem` from `package`'s wheel. DuckDB derives the entry point from the file
    name, so `load_as` loads it through a copy of that name (postgres ships as `postgres`, but
    its entry point is `postgres_scanner`)."""
    path = packaged_extension(package, file_stem)
    if load_as and load_as != file_stem:
        target = Path(tempfile.gettempdir()) / f"lakehouse-duckdb-v{duckdb.__version__}"
        copy = target / f"{load_as}.duckdb_extension"
        if not copy.exists() or copy.stat().st_size != path.stat().st_size:
            target.mkdir(parents=True, exist_ok=True)
            partial = target / f".{load_as}.{os.getpid()}.tmp"
            shutil.copyfile(path, partial)
            os.replace(partial, copy)
        path = copy
    con.execute(f"load {quote_literal(str(path), DUCKDB, 'extension path')}")
