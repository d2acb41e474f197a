"""An embedded replica of the `moma` source tables, for federated queries when no PostgreSQL is
configured locally (MOMA_SOURCE_DSN unset).

The change simulator keeps no copy of the tables it pretends to change (only its checkpoint), so
the replica is derived from what it wrote: the raw CDC topics in the lake. Per key, the change
with the greatest `__source_ts_ms` wins, the later one in log order on a tie, and keys whose
latest change is a delete are left out: the rows the source database holds after the last
captured transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lakehouse.catalog.spec import CatalogError
from lakehouse.cdc.records import decode_container
from lakehouse.cdc.sink import parse_object_key, topic_prefix
from lakehouse.cdc.source_tables import MOMA_SERVER, PG_TO_AVRO, Table
from lakehouse.storage import ObjectStore

_ARROW = {"int": pa.int32(), "long": pa.int64(), "string": pa.string(), "boolean": pa.bool_(),
          "float": pa.float32(), "double": pa.float64()}  # fmt: skip


@dataclass(frozen=True)
class Replica:
    table: Table
    rows: pa.Table
    topic: str
    objects: int
    changes: int

    def describe(self) -> str:
        return (
            f"embedded replica of {self.table.qualified}: {self.rows.num_rows} rows derived from "
            f"{self.changes} change events in {self.objects} objects of the raw CDC topic "
            f"{self.topic} (no PostgreSQL configured: MOMA_SOURCE_DSN is unset)"
        )


def _arrow_type(pg_type: str) -> pa.DataType:
    avro = PG_TO_AVRO[pg_type.split("(")[0].strip()]
    return _ARROW[avro["type"] if isinstance(avro, dict) else avro]


def source_replica(lake: ObjectStore, table: Table, server: str = MOMA_SERVER) -> Replica:
    topic = table.topic(server)
    objects = sorted(
        (parsed[1], o.key)
        for o in lake.list_objects(topic_prefix(topic))
        if (parsed := parse_object_key(o.key)) and parsed[0] == topic
    )
    (key,) = table.key
    records: list[dict] = []
    for _, object_key in objects:
        _, batch = decode_container(lake.get_bytes(object_key))
        if batch and "__source_ts_ms" not in batch[0]:
            raise CatalogError(
                f"{lake.uri(object_key)}: records are not in the unwrapped format (no "
                "__source_ts_ms); the replica reads what the S3 sink writes with "
                "ExtractNewRecordState"
            )
        records.extend(batch)
    schema = pa.schema([(c.name, _arrow_type(c.pg_type)) for c in table.columns])
    if not records:
        return Replica(table, schema.empty_table(), topic, len(objects), 0)
    keys = np.array([r[key] for r in records], dtype=np.int64)
    ts = np.array([r["__source_ts_ms"] for r in records], dtype=np.int64)
    position = np.arange(len(records))
    order = np.lexsort((position, ts, keys))  # by key, then time, then log position
    last = np.r_[keys[order][1:] != keys[order][:-1], True]
    latest = [records[i] for i in order[last]]
    live = [r for r in latest if r.get("__deleted") != "true" and r.get("__op") != "d"]
    rows = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in live], schema)
    return Replica(table, rows, topic, len(objects), len(records))
