"""The seven raw TICKIT tables: their columns in file order with their Spectrum/Hive types, where
their files lie, their sizes, and the external tables over them.

The columns are read from the dbt sources (dbt_project/models/staging/tickit/_tickit__sources.yml),
which `stage_external_sources` turns into the external tables: one declaration serves dbt, the
generator (which checks the columns it writes against it), the validation and the catalog.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.dbt import DBT_PROJECT_DIR

SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "tickit" / "_tickit__sources.yml"
EXTERNAL_SCHEMA = "tickit_external"  # the dbt source and the external schema (Glue: tickit_dbt)
RAW_PREFIX = "raw_tickit_data"


class TickitSourcesError(ValueError):
    """The dbt sources file does not declare the raw tables as this module reads them."""


def raw_dir(table: str) -> str:
    """The prefix a table's external table reads: every file under it."""
    return f"{RAW_PREFIX}/{table}/"


def raw_key(table: str) -> str:
    """Object key of a table's raw file, the layout the Spectrum external tables read."""
    return f"{raw_dir(table)}{table}.txt"


def load_tables(path: Path = SOURCES_YML) -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type), ...]} of the dbt source `tickit_external`, in file order."""
    try:
        sources = yaml.safe_load(path.read_text())["sources"]
        (source,) = [s for s in sources if s["name"] == EXTERNAL_SCHEMA]
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError) as e:
        raise TickitSourcesError(
            f"{path}: expected one dbt source named {EXTERNAL_SCHEMA} ({type(e).__name__}: {e})"
        ) from None
    tables = {}
    for table in source.get("tables") or []:
        name = table.get("name")
        location = (table.get("external") or {}).get("location", "")
        if not location.endswith(f"/{raw_dir(name)}"):
            raise TickitSourcesError(
                f"{path}: table {name}: external.location must end with /{raw_dir(name)}"
            )
        columns = table.get("columns") or []
        if not columns or not all(c.get("name") and c.get("data_type") for c in columns):
            raise TickitSourcesError(
                f"{path}: table {name}: every column needs a name and a data_type"
            )
        tables[name] = [(c["name"], c["data_type"]) for c in columns]
    if not tables:
        raise TickitSourcesError(f"{path}: source {EXTERNAL_SCHEMA} declares no tables")
    return tables


TABLES = load_tables()

# Rows at scale 1 (the classic TICKIT sizes); category and date are fixed.
BASE_ROWS = {"venue": 202, "event": 8_798, "user": 49_990, "listing": 192_497, "sale": 172_456}
FIXED_ROWS = {"category": 11, "date": 365}


def header(table: str) -> str:
    return "|".join(name for name, _ in TABLES[table])


def scaled_rows(table: str, scale: float) -> int:
    if table in FIXED_ROWS:
        return FIXED_ROWS[table]
    return max(1, round(BASE_ROWS[table] * scale))


def table_spec(table: str, lake_root: str) -> TableSpec:
    """The external table tickit_external.<table> over raw_tickit_data/<table>/."""
    return TableSpec(
        database=EXTERNAL_SCHEMA,
        name=table,
        columns=tuple(Column(name, type_) for name, type_ in TABLES[table]),
        location=f"{lake_root.rstrip('/')}/{raw_dir(table)}",
        format=Format.TEXT_PIPE,
    )
