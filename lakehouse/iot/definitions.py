"""The telemetry domain's Dagster definitions: landing, typed messages, star schema, marts.

Resources expected: `lake` (ObjectStore), `warehouse` (Warehouse) and `dbt` (the dbt CLI).
"""

import dagster as dg

from lakehouse.iot.assets import (
    iot_dbt_models,
    message,
    sensor_dimensions,
    sensor_messages,
    sensor_messages_raw,
)
from lakehouse.iot.checks import one_installed_event_per_sensor, unique_message_ids
from lakehouse.iot.jobs import iot_marts_automation, iot_marts_job, iot_partition_job
from lakehouse.iot.sensors import sensor_messages_landed

defs = dg.Definitions(
    assets=[sensor_messages_raw, sensor_messages, message, sensor_dimensions, iot_dbt_models],
    asset_checks=[one_installed_event_per_sensor, unique_message_ids],
    jobs=[iot_partition_job, iot_marts_job],
    sensors=[sensor_messages_landed, iot_marts_automation],
)
