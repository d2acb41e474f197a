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
        return self._copy(manifest_uri, iam_role, "MANIFEST GZIP JSON 'auto'")

    def copy_csv(self, object_uri: str, iam_role: str) -> str:
        """Redshift: load one CSV object with a header line (the dimension seeds)."""
        return self._copy(object_uri, iam_role, "CSV IGNOREHEADER 1")

    def _copy(self, uri: str, iam_role: str, options: str) -> str:
        return (
            f"COPY {self.qualified} ({self.column_list})\n"
            f"FROM {s3_literal(uri)}\n"
            f"IAM_ROLE {role_literal(iam_role)}\n"
            f"{options}"
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


# Types are upper case, the flags after them lower case: `notnull`, and `identity` or `load_time`.
COLUMN = re.compile(
    r"(?P<name>\w+) (?P<type>[A-Z]+(?: [A-Z]+)?(?:\(\d+(?:,\d+)?\))?)"
    r"(?P<not_null> notnull)?(?: (?P<generated>identity|load_time))?"
)


def _columns(table: str, spec: str) -> tuple[Column, ...]:
    """`name TYPE [notnull] [identity|load_time], ...`; a comma inside a type's parentheses, as
    in NUMERIC(5,2), does not end a column."""
    columns = []
    for item in re.split(r",\s*(?![^(]*\))", spec.strip()):
        if not (m := COLUMN.fullmatch(item)):
            raise WarehouseError(f"{table}: column {item!r} is not `name TYPE [notnull] [flag]`")
        columns.append(Column(m["name"], m["type"], bool(m["not_null"]), m["generated"]))
    return tuple(columns)


def _table(
    qualified: str,
    columns: str,
    distkey: str = "id",
    sortkey: str | None = None,
    partition_column: str | None = None,
) -> Table:
    schema, name = qualified.split(".")
    return Table(
        schema, name, _columns(qualified, columns), distkey, sortkey or distkey, partition_column
    )


# The star schema (iot reference §5.1). `message` gains `landed_hour`, the landing partition
# it was loaded from, so a re-load replaces exactly its own rows.
MESSAGE = _table(
    "sensor.message",
    "id BIGINT identity, guid VARCHAR(36) notnull, ts BIGINT notnull, temp NUMERIC(5,2) notnull, "
    "created TIMESTAMP load_time, landed_hour TIMESTAMP notnull",
    distkey="ts",
    partition_column="landed_hour",
)
LOCATION = _table(
    "sensor.location",
    "id INTEGER notnull, long NUMERIC(10,7) notnull, lat NUMERIC(10,7) notnull, "
    "description VARCHAR(256)",
)
HISTORY = _table(
    "sensor.history",
    "id INTEGER notnull, serviced BIGINT notnull, action VARCHAR(20) notnull, "
    "technician_id INTEGER notnull, notes VARCHAR(256)",
)
SENSOR = _table(
    "sensor.sensor",
    "id INTEGER notnull, guid VARCHAR(36) notnull, mac VARCHAR(18) notnull, "
    "sku VARCHAR(18) notnull, upc VARCHAR(12) notnull, active BOOLEAN, notes VARCHAR(256)",
)
MANUFACTURER = _table(
    "sensor.manufacturer",
    "id INTEGER notnull, name VARCHAR(100) notnull, website VARCHAR(100) notnull, "
    "notes VARCHAR(256)",
)
# The fact: one row per sensor x history event. Its id is the seed's row number, assigned
# deterministically on load (an IDENTITY would number rows in whatever order COPY reads them).
SENSORS = _table(
    "sensor.sensors",
    "id BIGINT notnull, sensor_id INTEGER notnull, manufacturer_id INTEGER notnull, "
    "location_id INTEGER notnull, history_id BIGINT notnull, message_guid VARCHAR(36) notnull",
)
# Load order of the dimensions (iot reference §5.2).
DIMENSIONS = (HISTORY, LOCATION, SENSOR, MANUFACTURER, SENSORS)

SENSOR_MESSAGES = _table(
    "iot.sensor_messages",
    "message_id VARCHAR(64) notnull, device_id VARCHAR(36) notnull, "
    "gateway_id VARCHAR(16) notnull, ts DOUBLE PRECISION notnull, "
    "temperature_c NUMERIC(5,2) notnull, temperature_f NUMERIC(5,2) notnull, "
    "humidity NUMERIC(5,2) notnull, pressure_kpa NUMERIC(5,2) notnull, "
    "pressure_inhg NUMERIC(4,2) notnull, red SMALLINT notnull, green SMALLINT notnull, "
    "blue SMALLINT notnull, ambient SMALLINT notnull, color_clamped BOOLEAN notnull, "
    "rssi INTEGER, snr INTEGER, device VARCHAR(128), msg_received VARCHAR(28), "
    "landed_hour TIMESTAMP notnull, source VARCHAR(1024) notnull, loaded_at TIMESTAMP load_time",
    distkey="device_id",
    sortkey="ts",
    partition_column="landed_hour",
)
QUARANTINE = _table(
    "iot.sensor_messages_quarantine",
    "landed_hour TIMESTAMP notnull, source VARCHAR(1024) notnull, reason VARCHAR(1024) notnull, "
    "message_id VARCHAR(64), record VARCHAR(65535), loaded_at TIMESTAMP load_time",
    distkey="landed_hour",
    partition_column="landed_hour",
)
ALL_TABLES = (*DIMENSIONS, MESSAGE, SENSOR_MESSAGES, QUARANTINE)
