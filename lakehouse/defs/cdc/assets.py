"""The raw CDC zone: one asset per topic, `raw_cdc/<server>.<schema>.<table>`."""

import dagster as dg

from lakehouse.cdc.resources import MomaSource
from lakehouse.cdc.sink import topic_prefix
from lakehouse.cdc.source_tables import MOMA_DATABASE, MOMA_SERVER, MOMA_TABLES, CdcError
from lakehouse.defs import OWNERS
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore

GROUP = "cdc_raw"
RAW_CDC_TOPICS = [t.topic(MOMA_SERVER) for t in MOMA_TABLES.values()]


def raw_cdc_key(topic: str) -> dg.AssetKey:
    return dg.AssetKey(["raw_cdc", topic])


RAW_CDC_KEYS = [raw_cdc_key(t) for t in RAW_CDC_TOPICS]


@dg.multi_asset(
    name="raw_cdc_capture",
    specs=[
        dg.AssetSpec(
            raw_cdc_key(t.topic(MOMA_SERVER)),
            description=f"Change events of {MOMA_DATABASE}.{t.qualified} as Debezium "
            "Avro values (ExtractNewRecordState: the row plus __op, __db, __table, __schema, "
            "__lsn, __source_ts_ms, __deleted), in Kafka Connect S3 sink objects under "
            f"{topic_prefix(t.topic(MOMA_SERVER))}. Written by the capture from PostgreSQL "
            "(MOMA_SOURCE_DSN), by the built-in simulator when no database is configured, or by "
            "Debezium and the S3 sink in AWS.",
            group_name=GROUP,
            owners=OWNERS,
            kinds={"postgres", "avro", "s3"},
            metadata={"topic": t.topic(MOMA_SERVER), "primary_key": ",".join(t.key)},
        )
        for t in MOMA_TABLES.values()
    ],
    can_subset=False,
    retry_policy=NETWORK_RETRY,
)
def raw_cdc_capture(context: dg.AssetExecutionContext, moma_source: MomaSource, lake: ObjectStore):
    try:
        report = moma_source.capture(lake)
    except CdcError as e:
        raise dg.Failure(str(e), allow_retries=False) from None
    for topic in RAW_CDC_TOPICS:
        written = report.for_topic(topic)
        next_offset = report.next_offsets.get(topic, 0)
        yield dg.MaterializeResult(
            asset_key=raw_cdc_key(topic),
            metadata={
                "source": moma_source.mode,
                "uri": dg.MetadataValue.path(lake.uri(topic_prefix(topic))),
                "objects": len(written),
                "records": sum(o.records for o in written),
                "bytes": sum(o.bytes for o in written),
                "first_offset": written[0].start_offset if written else next_offset,
                "next_offset": next_offset,
                "object_uris": dg.MetadataValue.json([lake.uri(o.key) for o in written]),
            },
        )
