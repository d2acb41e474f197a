"""The MoMA Hudi tables: one definition per (layout, source table), shared by assets and checks."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, MOMA_SERVER, Table
from lakehouse.hudi import COPY_ON_WRITE, MERGE_ON_READ

PROPS_DIR = Path(__file__).resolve().parents[2] / "infra" / "hudi"
ORDERING_FIELD = "__source_ts_ms"
LAYOUTS = {"moma_cow": COPY_ON_WRITE, "moma_mor": MERGE_ON_READ}


@dataclass(frozen=True)
class HudiTableDef:
    database: str  # moma_cow or moma_mor
    source: Table

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def table_type(self) -> str:
        return LAYOUTS[self.database]

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey([self.database, self.name])

    @property
    def topic(self) -> str:
        return self.source.topic(MOMA_SERVER)

    @property
    def base_key(self) -> str:
        """Where the table lives in the lake, relative to the lake's root."""
        return f"hudi/{self.database}/{self.name}"

    @property
    def props_file(self) -> Path:
        return PROPS_DIR / f"moma_{self.name}.properties"

    @property
    def record_key(self) -> str:
        (key,) = self.source.key
        return key


HUDI_TABLES = [HudiTableDef(db, t) for db in LAYOUTS for t in (ARTISTS, ARTWORKS)]
