"""Checks on telemetry: the star schema's join grain, message-id uniqueness, the freshness of
the raw landing and of the marts."""

import datetime as dt

import dagster as dg

from lakehouse.iot.assets import DIMENSION_KEYS, iot_dbt_models, sensor_messages_raw
from lakehouse.warehouse import Warehouse

MARTS = ["sensor_msg_detail", "sensor_msg_count", "sensor_avg_temp", "sensor_avg_temp_current",
         "sensor_hourly", "message_latency"]  # fmt: skip


@dg.asset_check(
    asset=DIMENSION_KEYS["sensors"],
    description="Every active sensor has exactly one INSTALLED fact row, and history ids are "
    "unique (X-W1, X-W2): otherwise the views would drop or multiply its messages.",
)
def one_installed_event_per_sensor(warehouse: Warehouse) -> dg.AssetCheckResult:
    wrong = warehouse.query(
        "select sn.guid, count(hist.id) as installed "
        "from sensor.sensor as sn "
        "left join sensor.sensors as fct on fct.sensor_id = sn.id "
        "left join sensor.history as hist on hist.id = fct.history_id "
        "and hist.action = 'INSTALLED' "
        "where sn.active group by sn.guid having count(hist.id) <> 1 order by sn.guid"
    )
    duplicated = warehouse.query(
        "select id from sensor.history group by id having count(*) > 1 order by id"
    )
    return dg.AssetCheckResult(
        passed=not wrong and not duplicated,
        metadata={
            "sensors_without_one_installed_row": dg.MetadataValue.json(
                {guid: n for guid, n in wrong}
            ),
            "duplicated_history_ids": dg.MetadataValue.json([i for (i,) in duplicated]),
        },
    )


@dg.asset_check(
    asset="sensor_messages",
    description="No message id appears twice in iot.sensor_messages, across all partitions.",
)
def unique_message_ids(warehouse: Warehouse) -> dg.AssetCheckResult:
    duplicated = warehouse.query(
        "select message_id, count(*) from iot.sensor_messages group by message_id "
        "having count(*) > 1 order by message_id limit 20"
    )
    return dg.AssetCheckResult(
        passed=not duplicated,
        metadata={"duplicated": dg.MetadataValue.json({m: n for m, n in duplicated})},
    )


# Telemetry arrives every few seconds, so a mart older than an hour means the flow stopped.
iot_marts_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[k for k in iot_dbt_models.keys if k.path[-1] in MARTS],
    lower_bound_delta=dt.timedelta(hours=1),
    severity=dg.AssetCheckSeverity.WARN,
)

# Raw telemetry: by 15 minutes past each hour, that hour's partition must have been read. Nodes
# report every few seconds, Firehose or the bridge flush within 60 s and the sensor runs every
# 30 s, so a missing partition at :15 means the flow stopped.
raw_telemetry_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[sensor_messages_raw],
    deadline_cron="15 * * * *",
    timezone="UTC",
    severity=dg.AssetCheckSeverity.WARN,
)

iot_marts_freshness = dg.build_sensor_for_freshness_checks(
    freshness_checks=[*iot_marts_freshness_checks, *raw_telemetry_freshness_checks],
    name="iot_marts_freshness",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
