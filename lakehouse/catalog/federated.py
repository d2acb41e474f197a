"""Federated queries: the live `moma` PostgreSQL source joined with the lake's Hudi tables.

Each query is written once in Trino's dialect (Trino runs it in AWS, over its `postgresql` and
Glue-backed `hudi` catalogs; DuckDB runs the sqlglot transpilation locally). The result lands in
the lake as Parquet under `federated/<name>/` and is registered as `federated.<name>`.
Locally without MOMA_SOURCE_DSN the source is the embedded replica derived from the raw CDC
topics, and the metadata says so. The assets that run them are in lakehouse/defs/catalog/.
"""

from dataclasses import dataclass

from lakehouse.catalog.query_engines import QueryEngine, to_dialect
from lakehouse.catalog.replica import source_replica
from lakehouse.catalog.spec import Column, Format, TableSpec
from lakehouse.cdc.source_tables import ARTISTS
from lakehouse.storage import ObjectStore

DATABASE = "federated"


@dataclass(frozen=True)
class FederatedQuery:
    name: str
    description: str
    sql: str  # Trino dialect
    columns: tuple[Column, ...]
    lake_tables: tuple[str, ...]  # qualified Hudi tables it reads, e.g. moma_cow.artworks

    def spec(self, lake_root: str) -> TableSpec:
        location = f"{lake_root.rstrip('/')}/{DATABASE}/{self.name}/"
        return TableSpec(DATABASE, self.name, self.columns, location, Format.PARQUET,
                         description=self.description)  # fmt: skip


# Soft-deleted rows stay in the Hudi tables (`__deleted = 'true'`, data columns NULL), so
# the queries filter them out.
QUERIES = [
    FederatedQuery(
        name="artworks_per_nationality",
        description="Artworks in the lake (moma_cow.artworks) per nationality of their artist "
        "in the live source database (public.artists): the federated join of the original demo.",
        sql="""
SELECT a.nationality,
       count(*) AS artworks,
       count(DISTINCT a.artist_id) AS artists
FROM postgresql.public.artists AS a
JOIN hudi.moma_cow.artworks AS w ON w.artist_id = a.artist_id
WHERE coalesce(w."__deleted", 'false') <> 'true'
GROUP BY a.nationality
ORDER BY artworks DESC, a.nationality
""",
        columns=(
            Column("nationality", "string"),
            Column("artworks", "bigint"),
            Column("artists", "bigint"),
        ),  # fmt: skip
        lake_tables=("moma_cow.artworks",),
    ),
    FederatedQuery(
        name="artists_source_vs_lake",
        description="Artists per nationality in the live source (public.artists) next to the "
        "live rows of moma_cow.artists in the lake: where the lake lags the source.",
        sql="""
WITH source AS (
    SELECT coalesce(nationality, '') AS nationality, count(*) AS artists
    FROM postgresql.public.artists
    GROUP BY 1
), lake AS (
    -- Hudi keeps an empty partition value as NULL (partition __HIVE_DEFAULT_PARTITION__),
    -- which Trino's Hudi connector reads as the text '\\N' and DuckDB as NULL.
    SELECT coalesce(nullif(l.nationality, '\\N'), '') AS nationality, count(*) AS artists
    FROM hudi.moma_cow.artists AS l
    WHERE coalesce(l."__deleted", 'false') <> 'true'
    GROUP BY 1
)
SELECT coalesce(s.nationality, l.nationality) AS nationality,
       coalesce(s.artists, 0) AS source_artists,
       coalesce(l.artists, 0) AS lake_artists
FROM source AS s FULL OUTER JOIN lake AS l ON s.nationality = l.nationality
ORDER BY 1
""",
        columns=(
            Column("nationality", "string"),
            Column("source_artists", "bigint"),
            Column("lake_artists", "bigint"),
        ),  # fmt: skip
        lake_tables=("moma_cow.artists",),
    ),
]


def run_federated(query: FederatedQuery, engine: QueryEngine, lake: ObjectStore) -> tuple:
    """(rows, how the source was reached, the SQL the engine ran)."""
    source_tables = None
    if engine.live_source is None:
        replica = source_replica(lake, ARTISTS)
        source_tables = {ARTISTS.name: replica.rows}
        source = replica.describe()
    else:
        source = engine.live_source
    rows = engine.query(query.sql, source_tables)
    return rows, source, to_dialect(query.sql, engine.dialect)
