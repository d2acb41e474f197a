"""The captured tables: columns, keys and how PostgreSQL types map to Debezium's Avro types.

One `Table` describes a source table whether it comes from the MoMA definitions below (DDL, the
generator, the simulator) or from PostgreSQL's catalog (the real capture). Topic names follow
Debezium: `<server>.<schema>.<table>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from psycopg import sql

from lakehouse import sql as sql_text


class CdcError(Exception):
    """A problem the user can fix: bad input, configuration or source database state."""


# PostgreSQL type (as format_type() prints it, without length) -> Connect/Avro type. Debezium's
# default mappings for the types it renders as plain Avro primitives; INT16 carries connect.type.
PG_TO_AVRO: dict[str, str | dict] = {
    "smallint": {"type": "int", "connect.type": "int16"},
    "integer": "int",
    "bigint": "long",
    "text": "string",
    "character varying": "string",
    "character": "string",
    "boolean": "boolean",
    "real": "float",
    "double precision": "double",
}
# Value a required column takes in a delete's before-image, which under REPLICA IDENTITY DEFAULT
# carries only the key (Debezium fills required fields with the type's zero value).
ZERO = {"int": 0, "long": 0, "string": "", "boolean": False, "float": 0.0, "double": 0.0}


def check_identifier(name: str, what: str) -> str:
    return sql_text.check_identifier(name, sql_text.POSTGRES, what, error=CdcError)


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    nullable: bool = True

    @property
    def avro_type(self) -> str | dict:
        base = self.pg_type.split("(")[0].strip()
        try:
            return PG_TO_AVRO[base]
        except KeyError:
            raise CdcError(
                f"column {self.name} has type {self.pg_type}, which the capture does not support "
                f"(supported: {', '.join(PG_TO_AVRO)})"
            ) from None

    @property
    def primitive(self) -> str:
        t = self.avro_type
        return t["type"] if isinstance(t, dict) else t


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Hudi partition column of the lake table; informational here.
    partition: str | None = None

    @cached_property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def topic(self, server: str) -> str:
        return f"{server}.{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ident(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    def check(self) -> Table:
        """Raises CdcError naming the table if it cannot be captured faithfully."""
        if not self.key:
            raise CdcError(
                f"table {self.qualified} has no primary key; the capture needs one to key "
                "records and deletes (add a PRIMARY KEY)"
            )
        for c in self.columns:
            try:
                _ = c.avro_type
            except CdcError as e:
                raise CdcError(f"table {self.qualified}: {e}") from None
        return self

    def ddl(self) -> sql.Composed:
        cols = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c.name),
                sql.SQL(c.pg_type),
                sql.SQL("" if c.nullable else " NOT NULL"),
            )
            for c in self.columns
        ]
        cols.append(
            sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, self.key)))
        )
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
            self.ident(), sql.SQL(", ").join(cols)
        )


def _cols(spec: str) -> tuple[Column, ...]:
    out = []
    for item in spec.split(","):
        name, pg_type, *flags = item.split()
        out.append(Column(name, pg_type, nullable="notnull" not in flags))
    return tuple(out)


MOMA_DATABASE = "moma"
MOMA_SERVER = "moma"

ARTISTS = Table(
    "public",
    "artists",
    _cols(
        "artist_id integer notnull, name text, nationality text, gender text, "
        "birth_year integer, death_year integer"
    ),
    key=("artist_id",),
    partition="nationality",
)

ARTWORKS = Table(
    "public",
    "artworks",
    _cols(
        "artwork_id integer notnull, title text, artist_id integer notnull, name text, "
        "date integer, medium text, dimensions text, acquisition_date text, credit text, "
        "catalogue text, department text, classification text, object_number text, "
        "diameter_cm text, circumference_cm text, height_cm text, length_cm text, "
        "width_cm text, depth_cm text, weight_kg text, durations integer"
    ),
    key=("artwork_id",),
    partition="classification",
)

MOMA_TABLES = {t.qualified: t for t in (ARTISTS, ARTWORKS)}


def parse_table_list(text: str) -> list[tuple[str, str]]:
    """`public.artists,public.artworks` -> [(schema, table), ...], validated."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        schema, dot, name = item.partition(".")
        if not dot:
            schema, name = "public", item
        out.append((check_identifier(schema, "schema name"), check_identifier(name, "table name")))
    if not out:
        raise CdcError("--tables names no table (expected e.g. public.artists,public.artworks)")
    if len(set(out)) != len(out):
        raise CdcError(f"--tables lists a table twice: {text!r}")
    return out
