"""Where the raw CDC objects come from, chosen by configuration (resource key `moma_source`).

- `SimulatedMomaSource`: the built-in change simulator; needs nothing (the embedded default).
- `PostgresMomaSource`: the real capture from a PostgreSQL `moma` database (MOMA_SOURCE_DSN).
- `DebeziumMomaSource`: AWS, where Debezium and the S3 sink write the objects; the asset only
  reports what has landed.
"""

from __future__ import annotations

import dagster as dg

from lakehouse.cdc.capture import CaptureSettings, capture
from lakehouse.cdc.records import decode_container
from lakehouse.cdc.simulator import SimulatorSettings, simulate
from lakehouse.cdc.sink import CaptureReport, WrittenObject, parse_object_key, topic_prefix
from lakehouse.cdc.source_tables import MOMA_SERVER, MOMA_TABLES, parse_table_list
from lakehouse.settings import is_set, lakehouse_env, optional_env
from lakehouse.storage import ObjectStore


class MomaSource(dg.ConfigurableResource):
    """Brings the raw CDC topics of the `moma` database up to date in the lake."""

    @property
    def mode(self) -> str:
        raise NotImplementedError

    @property
    def topics(self) -> list[str]:
        return [t.topic(MOMA_SERVER) for t in MOMA_TABLES.values()]

    def capture(self, lake: ObjectStore) -> CaptureReport:
        raise NotImplementedError


class SimulatedMomaSource(MomaSource):
    """Each capture writes `batches_per_run` simulated transactions (the snapshot first)."""

    seed: int = 42
    artists: int = 1_000
    artworks: int = 2_000
    batch_size: int = 25
    batches_per_run: int = 1
    flush_size: int = 10_000
    format: str = "unwrapped"

    @property
    def mode(self) -> str:
        return "simulator"

    def capture(self, lake: ObjectStore) -> CaptureReport:
        settings = SimulatorSettings(self.seed, self.artists, self.artworks, self.batch_size)
        return simulate(
            lake,
            batches=self.batches_per_run,
            settings=settings,
            fmt=self.format,
            flush_size=self.flush_size,
        )


class PostgresMomaSource(MomaSource):
    """Captures what is pending in the slot (`lakehouse-cdc --once`)."""

    dsn: str
    slot: str = "lakehouse_cdc"
    server_name: str = MOMA_SERVER
    tables: str = "public.artists,public.artworks"
    flush_size: int = 10_000
    rotate_interval_ms: int = 60_000
    format: str = "unwrapped"
    plugin: str = "pgoutput"
    publication: str = "dbz_publication"
    publication_autocreate_mode: str = "all_tables"

    @property
    def mode(self) -> str:
        return "postgres"

    @property
    def topics(self) -> list[str]:
        return [f"{self.server_name}.{s}.{t}" for s, t in parse_table_list(self.tables)]

    def capture(self, lake: ObjectStore) -> CaptureReport:
        return capture(CaptureSettings.from_options(self, once=True), lake)


class DebeziumMomaSource(MomaSource):
    """Debezium + the Confluent S3 sink write the topics (infra/cdc/); this only reports the
    newest object of each topic and the next offset it implies."""

    server_name: str = MOMA_SERVER

    @property
    def mode(self) -> str:
        return "debezium"

    def capture(self, lake: ObjectStore) -> CaptureReport:
        objects, next_offsets = [], {}
        for topic in self.topics:
            keys = [
                (parsed[1], o)
                for o in lake.list_objects(topic_prefix(topic))
                if (parsed := parse_object_key(o.key)) and parsed[0] == topic
            ]
            if not keys:
                next_offsets[topic] = 0
                continue
            start, last = max(keys, key=lambda k: k[0])
            records = len(decode_container(lake.get_bytes(last.key))[1])
            objects.append(WrittenObject(topic, last.key, start, records, last.size))
            next_offsets[topic] = start + records
        return CaptureReport(lake.root_uri, objects, next_offsets)


def moma_source_from_env() -> MomaSource:
    """aws: Debezium. local: the real capture if MOMA_SOURCE_DSN is set, else the simulator."""
    if lakehouse_env() == "aws":
        return DebeziumMomaSource()
    if is_set("MOMA_SOURCE_DSN"):
        return PostgresMomaSource(
            dsn=dg.EnvVar("MOMA_SOURCE_DSN"),
            slot=optional_env("MOMA_SOURCE_SLOT", "lakehouse_cdc"),
            plugin=optional_env("MOMA_SOURCE_PLUGIN", "pgoutput"),
            publication=optional_env("MOMA_SOURCE_PUBLICATION", "dbz_publication"),
            publication_autocreate_mode=optional_env(
                "MOMA_SOURCE_PUBLICATION_AUTOCREATE_MODE", "all_tables"
            ),
        )
    return SimulatedMomaSource()
