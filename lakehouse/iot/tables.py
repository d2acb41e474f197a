"""The warehouse tables of telemetry, declared once and rendered as DDL and load SQL.

Two schemas: `sensor`, the original star schema (iot reference §5.1) with the `message` table
and the dimensions; `iot`, the typed, deduplicated `sensor_messages` and their quarantine.
Every load is scoped to a manifest that lists exactly the files to load: Redshift COPYs it
(`MANIFEST GZIP JSON 'auto'`, or `CSV IGNOREHEADER 1` for the dimensions), DuckDB reads the same
files with read_json / read_csv. Names come from these specs and pass `quote_ident`; the only
literals in COPY (the manifest URI and the IAM role) are validated before they are quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.warehouse import REDSHIFT, WarehouseError, quote_ident

S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()/=:+-]+)?")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the same text is valid in Redshift and DuckDB
    not_null: bool = False
    generated: str | None = None  # "identity" or "load_time": the warehouse fills it, not a load

    def ddl(self, table: Table, dialect: str) -> str:
        parts = [quote_ident(self.name), self.type]
        if self.generated == "identity" and dialect == REDSHIFT:
            parts.append("IDENTITY(1,1)")
        elif self.generated == "load_time":
            # Redshift's GETDATE() is UTC and per statement; DuckDB's now() is per transaction.
            parts.append(
                "DEFAULT GETDATE()" if dialect == REDSHIFT else "DEFAULT (now() AT TIME ZONE 'UTC')"
            )
        if self.not_null:
            parts.append("NOT NULL")
        return " ".join(parts)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    distkey: str
    sortkey: str
    partition_column: str | None = None  # loads delete and re-insert one value of it

    def __post_init__(self):
        for name in (self.schema, self.name, *(c.name for c in self.columns)):
            quote_ident(name)
        names = {c.name for c in self.columns}
        if not {self.distkey, self.sortkey, self.partition_column or self.distkey} <= names:
            raise WarehouseError(f"{self.qualified}: keys must be columns of the table")

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def loaded(self) -> tuple[Column, ...]:
        """The columns a load fills (the warehouse fills the generated ones)."""
        return tuple(c for c in self.columns if c.generated is None)

    @property
    def column_list(self) -> str:
        return ", ".join(quote_ident(c.name) for c in self.loaded)

    def create(self, dialect: str) -> list[str]:
        body = ",\n  ".join(c.ddl(self, dialect) for c in self.columns)
        statements = [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}"]
        keys = ""
        if dialect == REDSHIFT:
            keys = f"\nDISTKEY ({quote_ident(self.distkey)}) SORTKEY ({quote_ident(self.sortkey)})"
        statements.append(f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {body}\n){keys}")
        return statements

    def delete_partition(self, dialect: str) -> str:
        mark = "%s" if dialect == REDSHIFT else "?"
        return f"DELETE FROM {self.qualified} WHERE {quote_ident(self.partition_column)} = {mark}"  # noqa: S608

    def delete_all(self) -> str:
        # DELETE, not TRUNCATE: Redshift's TRUNCATE commits, and a full refresh must be atomic.
        return f"DELETE FROM {self.qualified}"  # noqa: S608

    def copy_json(self, manifest_uri: str, iam_role: str) -> str:
        """Redshift: load exactly the gzip JSON-lines files a manifest lists."""
        return (
            f"COPY {self.qualified} ({self.column_list})\n"
            f"FROM {s3_literal(manifest_uri)}\n"
            f"IAM_ROLE {role_literal(iam_role)}\n"
            "MANIFEST GZIP JSON 'auto'"
        )

    def copy_csv(self, object_uri: str, iam_role: str) -> str:
        """Redshift: load one CSV object with a header line (the dimension seeds)."""
        return (
            f"COPY {self.qualified} ({self.column_list})\n"
            f"FROM {s3_literal(object_uri)}\n"
            f"IAM_ROLE {role_literal(iam_role)}\n"
            "CSV IGNOREHEADER 1"
        )

    def duckdb_columns(self) -> str:
        return "{" + ", ".join(f"'{c.name}': '{c.type}'" for c in self.loaded) + "}"

    def _duckdb_insert(self, source: str) -> str:
        """DuckDB: INSERT ... SELECT from `source`. DuckLake has no sequences, so an identity
        column continues from the table's maximum; writers take turns, so ids stay unique."""
        columns = values = self.column_list
        identity = [c for c in self.columns if c.generated == "identity"]
        if identity:
            name = quote_ident(identity[0].name)
            columns = f"{name}, {columns}"
            values = (
                f"(SELECT coalesce(max({name}), 0) FROM {self.qualified}) "  # noqa: S608
                f"+ row_number() OVER (), {values}"
            )
        return f"INSERT INTO {self.qualified} ({columns})\nSELECT {values}\nFROM {source}"  # noqa: S608

    def insert_json(self) -> str:
        """DuckDB: the same load from the manifest's files (a list bound as the parameter)."""
        return self._duckdb_insert(
            "read_json(?, format = 'newline_delimited', compression = 'gzip', "
            f"columns = {self.duckdb_columns()})"
        )

    def insert_csv(self) -> str:
        return self._duckdb_insert(
            "read_csv(?, header = true, quote = '\"', escape = '\"', "
            f"allow_quoted_nulls = false, columns = {self.duckdb_columns()})"
        )


def s3_literal(uri: str) -> str:
    if not S3_URI.fullmatch(uri):
        raise WarehouseError(f"COPY source {uri!r} is not a plain s3:// URI")
    return f"'{uri}'"


def role_literal(arn: str) -> str:
    if not ROLE_ARN.fullmatch(arn):
        raise WarehouseError(f"IAM role {arn!r} is not an IAM role ARN")
    return f"'{arn}'"


def _cols(*specs) -> tuple[Column, ...]:
    return tuple(Column(*s) if isinstance(s, tuple) else s for s in specs)


# The star schema (iot reference §5.1). `message` gains `landed_hour`, the landing partition
# it was loaded from, so a re-load replaces exactly its own rows.
MESSAGE = Table(
    "sensor",
    "message",
    _cols(
        Column("id", "BIGINT", generated="identity"),
        ("guid", "VARCHAR(36)", True),
        ("ts", "BIGINT", True),
        ("temp", "NUMERIC(5,2)", True),
        Column("created", "TIMESTAMP", generated="load_time"),
        ("landed_hour", "TIMESTAMP", True),
    ),
    distkey="ts",
    sortkey="ts",
    partition_column="landed_hour",
)
LOCATION = Table(
    "sensor",
    "location",
    _cols(
        ("id", "INTEGER", True),
        ("long", "NUMERIC(10,7)", True),
        ("lat", "NUMERIC(10,7)", True),
        ("description", "VARCHAR(256)"),
    ),
    distkey="id",
    sortkey="id",
)
HISTORY = Table(
    "sensor",
    "history",
    _cols(
        ("id", "INTEGER", True),
        ("serviced", "BIGINT", True),
        ("action", "VARCHAR(20)", True),
        ("technician_id", "INTEGER", True),
        ("notes", "VARCHAR(256)"),
    ),
    distkey="id",
    sortkey="id",
)
SENSOR = Table(
    "sensor",
    "sensor",
    _cols(
        ("id", "INTEGER", True),
        ("guid", "VARCHAR(36)", True),
        ("mac", "VARCHAR(18)", True),
        ("sku", "VARCHAR(18)", True),
        ("upc", "VARCHAR(12)", True),
        ("active", "BOOLEAN"),
        ("notes", "VARCHAR(256)"),
    ),
    distkey="id",
    sortkey="id",
)
MANUFACTURER = Table(
    "sensor",
    "manufacturer",
    _cols(
        ("id", "INTEGER", True),
        ("name", "VARCHAR(100)", True),
        ("website", "VARCHAR(100)", True),
        ("notes", "VARCHAR(256)"),
    ),
    distkey="id",
    sortkey="id",
)
# The fact: one row per sensor x history event. Its id is the seed's row number, assigned
# deterministically on load (an IDENTITY would number rows in whatever order COPY reads them).
SENSORS = Table(
    "sensor",
    "sensors",
    _cols(
        ("id", "BIGINT", True),
        ("sensor_id", "INTEGER", True),
        ("manufacturer_id", "INTEGER", True),
        ("location_id", "INTEGER", True),
        ("history_id", "BIGINT", True),
        ("message_guid", "VARCHAR(36)", True),
    ),
    distkey="id",
    sortkey="id",
)
# Load order of the dimensions (iot reference §5.2).
DIMENSIONS = (HISTORY, LOCATION, SENSOR, MANUFACTURER, SENSORS)

SENSOR_MESSAGES = Table(
    "iot",
    "sensor_messages",
    _cols(
        ("message_id", "VARCHAR(64)", True),
        ("device_id", "VARCHAR(36)", True),
        ("gateway_id", "VARCHAR(16)", True),
        ("ts", "DOUBLE PRECISION", True),
        ("temperature_c", "NUMERIC(5,2)", True),
        ("temperature_f", "NUMERIC(5,2)", True),
        ("humidity", "NUMERIC(5,2)", True),
        ("pressure_kpa", "NUMERIC(5,2)", True),
        ("pressure_inhg", "NUMERIC(4,2)", True),
        ("red", "SMALLINT", True),
        ("green", "SMALLINT", True),
        ("blue", "SMALLINT", True),
        ("ambient", "SMALLINT", True),
        ("color_clamped", "BOOLEAN", True),
        ("rssi", "INTEGER"),
        ("snr", "INTEGER"),
        ("device", "VARCHAR(128)"),
        ("msg_received", "VARCHAR(28)"),
        ("landed_hour", "TIMESTAMP", True),
        ("source", "VARCHAR(1024)", True),
        Column("loaded_at", "TIMESTAMP", generated="load_time"),
    ),
    distkey="device_id",
    sortkey="ts",
    partition_column="landed_hour",
)
QUARANTINE = Table(
    "iot",
    "sensor_messages_quarantine",
    _cols(
        ("landed_hour", "TIMESTAMP", True),
        ("source", "VARCHAR(1024)", True),
        ("reason", "VARCHAR(1024)", True),
        ("message_id", "VARCHAR(64)"),
        ("record", "VARCHAR(65535)"),
        Column("loaded_at", "TIMESTAMP", generated="load_time"),
    ),
    distkey="landed_hour",
    sortkey="landed_hour",
    partition_column="landed_hour",
)
ALL_TABLES = (*DIMENSIONS, MESSAGE, SENSOR_MESSAGES, QUARANTINE)
