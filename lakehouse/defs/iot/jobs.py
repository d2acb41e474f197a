"""Jobs of the telemetry domain, and the automation that keeps the marts up to date."""

import dagster as dg

from lakehouse.defs.iot.assets import iot_dbt_models, sensor_dimensions
from lakehouse.defs.iot.sensors import PARTITION_ASSETS
from lakehouse.run_policy import domain

iot_partition_job = dg.define_asset_job(
    "iot_partition_job",
    selection=dg.AssetSelection.assets(*PARTITION_ASSETS),
    description="Loads one hourly telemetry partition: lists its landed objects, types and "
    "deduplicates them into iot.sensor_messages (+ quarantine) and appends sensor.message. "
    "Backfill it over hours whose objects were landed late.",
    tags=domain("iot"),
)

iot_marts_job = dg.define_asset_job(
    "iot_marts_job",
    selection=dg.AssetSelection.assets(sensor_dimensions, iot_dbt_models),
    description="Refreshes the sensor star schema's dimensions from the seeds and rebuilds the "
    "IoT dbt models (views, hourly aggregates, latency) with their tests.",
    tags=domain("iot"),
)

# Evaluates the marts' automation conditions: a new partition of sensor.message or
# sensor_messages (or new dimensions) requests a rebuild of the models that read them.
iot_marts_automation = dg.AutomationConditionSensorDefinition(
    "iot_marts_automation",
    target=dg.AssetSelection.assets(iot_dbt_models),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags=domain("iot"),
    description="Rebuilds the IoT dbt models when telemetry partitions or the dimensions they "
    "read are updated, so new telemetry reaches the marts without anyone clicking.",
)
