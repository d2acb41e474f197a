"""Checks on telemetry: the star schema's join grain and message-id uniqueness. (Freshness of
the landing and the marts is their FreshnessPolicy, in lakehouse/defs/iot/assets.py.)"""

import dagster as dg

from lakehouse.defs.iot.assets import DIMENSION_KEYS
from lakehouse.warehouse import Warehouse


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
