"""The seven TICKIT tables: names, columns in file order, and their Spectrum/Hive types.

The dbt sources (dbt_project/models/staging/tickit/_tickit__sources.yml) declare the same
columns; tests/tickit/test_raw_tables.py keeps the two in step.
"""

from __future__ import annotations

from lakehouse.catalog.spec import Column, Format, TableSpec

TABLES: dict[str, list[tuple[str, str]]] = {
    "category": [
        ("catid", "int"),
        ("catgroup", "varchar(20)"),
        ("catname", "varchar(20)"),
        ("catdesc", "varchar(50)"),
    ],
    "date": [
        ("dateid", "int"),
        ("caldate", "date"),
        ("day", "smallint"),
        ("month", "smallint"),
        ("year", "smallint"),
        ("week", "smallint"),
        ("qtr", "smallint"),
        ("holiday", "boolean"),
    ],
    "event": [
        ("eventid", "int"),
        ("venueid", "int"),
        ("catid", "int"),
        ("dateid", "int"),
        ("eventname", "varchar(200)"),
        ("starttime", "timestamp"),
    ],
    "listing": [
        ("listid", "int"),
        ("sellerid", "int"),
        ("eventid", "int"),
        ("dateid", "int"),
        ("numtickets", "smallint"),
        ("priceperticket", "decimal(8,2)"),
        ("totalprice", "decimal(8,2)"),
        ("listtime", "timestamp"),
    ],
    "sale": [
        ("saleid", "int"),
        ("listid", "int"),
        ("sellerid", "int"),
        ("buyerid", "int"),
        ("eventid", "int"),
        ("dateid", "int"),
        ("qtysold", "smallint"),
        ("pricepaid", "decimal(8,2)"),
        ("commission", "decimal(8,2)"),
        ("saletime", "timestamp"),
    ],
    "user": [
        ("userid", "int"),
        ("username", "char(8)"),
        ("firstname", "varchar(30)"),
        ("lastname", "varchar(30)"),
        ("city", "varchar(30)"),
        ("state", "char(2)"),
        ("email", "varchar(100)"),
        ("phone", "char(14)"),
        ("likesports", "boolean"),
        ("liketheatre", "boolean"),
        ("likeconcerts", "boolean"),
        ("likejazz", "boolean"),
        ("likeclassical", "boolean"),
        ("likeopera", "boolean"),
        ("likerock", "boolean"),
        ("likevegas", "boolean"),
        ("likebroadway", "boolean"),
        ("likemusicals", "boolean"),
    ],
    "venue": [
        ("venueid", "int"),
        ("venuename", "varchar(100)"),
        ("venuecity", "varchar(30)"),
        ("venuestate", "char(2)"),
        ("venueseats", "integer"),
    ],
}

# Rows at scale 1 (the classic TICKIT sizes); category and date are fixed.
BASE_ROWS = {"venue": 202, "event": 8_798, "user": 49_990, "listing": 192_497, "sale": 172_456}
FIXED_ROWS = {"category": 11, "date": 365}


def raw_key(table: str) -> str:
    """Object key of a table's raw file, the layout the Spectrum external tables read."""
    return f"raw_tickit_data/{table}/{table}.txt"


def header(table: str) -> str:
    return "|".join(name for name, _ in TABLES[table])


def scaled_rows(table: str, scale: float) -> int:
    if table in FIXED_ROWS:
        return FIXED_ROWS[table]
    return max(1, round(BASE_ROWS[table] * scale))


def table_spec(table: str, lake_root: str) -> TableSpec:
    """The external table tickit_external.<table> over raw_tickit_data/<table>/."""
    return TableSpec(
        database="tickit_external",
        name=table,
        columns=tuple(Column(name, type_) for name, type_ in TABLES[table]),
        location=f"{lake_root.rstrip('/')}/raw_tickit_data/{table}/",
        format=Format.TEXT_PIPE,
    )
