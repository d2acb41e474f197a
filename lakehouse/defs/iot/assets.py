"""Telemetry assets: landed messages -> typed sensor_messages -> the sensor star schema -> marts.

Hourly partitions are UTC arrival hours of the landing layout (`message/YYYY/MM/DD/HH/`); the
current hour is a partition too (end_offset=1), so fresh telemetry loads while it arrives.
Resources: `lake` (the landing zone and the load files) and `warehouse` (DuckDB or Redshift).
"""

import datetime as dt

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from lakehouse.dbt.build import LayerTranslator, build_models
from lakehouse.dbt.project import dbt_project
from lakehouse.defs import OWNERS
from lakehouse.iot import pipeline
from lakehouse.iot.landing import PARTITION_FORMAT
from lakehouse.iot.warehouse_tables import DIMENSIONS
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.settings import telemetry_start
from lakehouse.storage import ObjectStore
from lakehouse.warehouse import Warehouse

# Loads into the warehouse run one at a time (the instance gives each pool one slot): writers
# take turns in the warehouse anyway, and deduplication against loaded partitions assumes serial
# loads.
POOL = "iot_warehouse_loads"
# Partitions start with the deployment's first telemetry (LAKEHOUSE_TELEMETRY_START).
HOURLY = dg.HourlyPartitionsDefinition(
    start_date=telemetry_start().strftime(PARTITION_FORMAT), timezone="UTC", end_offset=1
)
DIMENSION_KEYS = {t.name: dg.AssetKey(["sensor", t.name]) for t in DIMENSIONS}
MESSAGE_KEY = dg.AssetKey(["sensor", "message"])
QUARANTINE_KEY = dg.AssetKey("sensor_messages_quarantine")


def load_hour(load, context: dg.AssetExecutionContext, lake: ObjectStore, warehouse: Warehouse):
    """One of the pipeline's loads of the run's hour; bad data or a missing upstream partition
    does not heal by retrying."""
    try:
        return load(lake, warehouse, context.partition_key)
    except pipeline.PipelineError as e:
        raise dg.Failure(str(e), allow_retries=False) from None


def table_metadata(relation: str, rows: int, uri: str, **more) -> dict:
    """What every loaded warehouse table reports: its relation, rows and the files loaded."""
    return {"relation": relation, "rows": rows, "dagster/row_count": rows,
            "uri": dg.MetadataValue.path(uri), **more}  # fmt: skip


@dg.asset(
    partitions_def=HOURLY,
    # By 15 minutes past each hour the landing must have been read since the hour began: nodes
    # report every few seconds, Firehose or the bridge flush within 60 s and the sensor runs
    # every 10 s, so nothing read by :15 means the flow stopped.
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="15 * * * *", lower_bound_delta=dt.timedelta(minutes=15), timezone="UTC"
    ),
    group_name="iot_landing",
    owners=OWNERS,
    kinds={"python", "s3"},
    retry_policy=NETWORK_RETRY,
    description="Gateway messages as the IoT rule flattened them, landed as gzip JSON lines "
    "under message/YYYY/MM/DD/HH/ (UTC arrival hour) by Kinesis Data Firehose in AWS or by "
    "lakehouse-iot-bridge locally. A materialization lists the hour's objects into "
    "message/manifests/partitions/<hour>.manifest: exactly those are loaded downstream.",
)
def sensor_messages_raw(context: dg.AssetExecutionContext, lake: ObjectStore):
    raw = pipeline.snapshot_raw(lake, context.partition_key)
    return dg.MaterializeResult(
        metadata={
            "partition": raw.partition,
            "files": len(raw.objects),
            "bytes": raw.bytes,
            "rows": raw.records,
            "unreadable_lines": raw.unreadable,
            "uri": dg.MetadataValue.path(lake.uri(raw.manifest_key)),
            "uris": dg.MetadataValue.json([lake.uri(k) for k in raw.objects[:100]]),
        }
    )


def warehouse_table(key: str | dg.AssetKey, description: str, **spec) -> dg.AssetSpec:
    """A table of the warehouse that these Python steps load."""
    kinds = {"python", "table"}
    return dg.AssetSpec(
        key, group_name="iot_warehouse", owners=OWNERS, kinds=kinds, description=description, **spec
    )


@dg.multi_asset(
    specs=[
        warehouse_table(key, description, deps=[sensor_messages_raw], partitions_def=HOURLY)
        for key, description in [
            (
                "sensor_messages",
                "iot.sensor_messages: every landed record typed and converted as the original "
                "Lambda did (°F, inHg, colours scaled to 0-255), deduplicated by message id "
                "(msg_id, or device and gateway read time) within the hour and against the hours "
                "already loaded. Replaced per partition in one transaction.",
            ),
            (
                QUARANTINE_KEY,
                "iot.sensor_messages_quarantine: the records of each hour that were not loaded, "
                "with the reason (not JSON, missing field, wrong type, out of range, timestamp "
                "before 2000 or in the future, duplicate message id) and the record.",
            ),
        ]
    ],
    retry_policy=NETWORK_RETRY,
    pool=POOL,
)
def sensor_messages(context: dg.AssetExecutionContext, lake: ObjectStore, warehouse: Warehouse):
    typed = load_hour(pipeline.load_sensor_messages, context, lake, warehouse)
    yield dg.MaterializeResult(
        asset_key="sensor_messages",
        metadata=table_metadata(
            "iot.sensor_messages",
            typed.rows,
            lake.uri(typed.typed_manifest),
            partition=typed.partition,
            files=typed.files,
            bytes=typed.bytes,
            devices=dg.MetadataValue.json(dict(sorted(typed.devices.items()))),
            quarantined=typed.quarantined,
            duplicates=typed.duplicates,
        ),
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata=table_metadata(
            "iot.sensor_messages_quarantine",
            typed.quarantined,
            lake.uri(typed.quarantine_manifest),
            partition=typed.partition,
            bytes=typed.quarantine_bytes,
            reasons=dg.MetadataValue.json(dict(sorted(typed.reasons.items()))),
        ),
    )


@dg.asset(
    key=MESSAGE_KEY,
    deps=["sensor_messages"],
    partitions_def=HOURLY,
    group_name="iot_warehouse",
    owners=OWNERS,
    kinds={"python", "table"},
    retry_policy=NETWORK_RETRY,
    pool=POOL,
    description="sensor.message, the star schema's streaming fact (guid = device id, ts in "
    "epoch seconds, temp in °F): each hour's rows written as one gzip JSON-lines file with a "
    "manifest, then delete-then-insert of the hour in one transaction (Redshift: COPY ... "
    "MANIFEST GZIP JSON 'auto'; DuckDB: read_json of the same files).",
)
def message(context: dg.AssetExecutionContext, lake: ObjectStore, warehouse: Warehouse):
    loaded = load_hour(pipeline.load_message, context, lake, warehouse)
    return dg.MaterializeResult(
        metadata=table_metadata(
            "sensor.message",
            loaded.rows,
            lake.uri(loaded.manifest_key),
            partition=loaded.partition,
            files=loaded.files,
            bytes=loaded.bytes,
        )
    )


@dg.multi_asset(
    specs=[
        warehouse_table(
            key,
            f"sensor.{name}: a dimension of the sensor star schema"
            + (" (the fact: one row per sensor x history event)" if name == "sensors" else "")
            + ", fully refreshed from the seed CSVs in lakehouse/iot/seeds/ (the reference rows "
            "plus the LoRa nodes registered in lora_nodes.csv), uploaded to "
            f"sensor/{name}/{name}.csv and loaded with the other dimensions in one transaction.",
        )
        for name, key in DIMENSION_KEYS.items()
    ],
    retry_policy=NETWORK_RETRY,
    pool=POOL,
)
def sensor_dimensions(lake: ObjectStore, warehouse: Warehouse):
    loaded = pipeline.load_dimensions(lake, warehouse)
    for name, key in DIMENSION_KEYS.items():
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(
                f"sensor.{name}",
                loaded.rows[name],
                lake.uri(loaded.keys[name]),
                files=1,
                bytes=loaded.bytes[name],
            ),
        )


# -- dbt marts ------------------------------------------------------------------------------

DBT_GROUPS = {"staging": "iot_staging", "marts": "iot_marts"}

# New telemetry reaches the marts without a dbt process per batch: the views read
# sensor.message and iot.sensor_messages live, so they are built only when missing or when
# their SQL changes; the one table (sensor_hourly) is rebuilt every 10 minutes. A run per load
# would take the warehouse's writer turn and queue behind the loads for nothing.
MARTS_AUTOMATION = {
    "view": dg.AutomationCondition.on_missing() | dg.AutomationCondition.code_version_changed(),
    "table": dg.AutomationCondition.cron_tick_passed("*/10 * * * *")
    & ~dg.AutomationCondition.in_progress(),
}

# Telemetry arrives every few seconds, so a mart older than an hour means the flow stopped.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select="tag:iot",
    retry_policy=NETWORK_RETRY,
    dagster_dbt_translator=LayerTranslator(
        DBT_GROUPS, OWNERS, MARTS_AUTOMATION, freshness={"marts": MARTS_FRESHNESS}
    ),
)
def iot_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: ObjectStore, warehouse: Warehouse
):
    """Views over the star schema (the original's four, plus latency) and hourly aggregates."""
    yield from build_models(context, dbt, lake, warehouse)
