"""MoMA change data capture: PostgreSQL (or the simulator) -> Debezium Avro objects in the lake.

Resources expected: `lake` (ObjectStore) and `moma_source` (see lakehouse.cdc.resources).
"""

import dagster as dg

from lakehouse.cdc.assets import raw_cdc_capture
from lakehouse.cdc.schedules import raw_cdc_capture_every_minute, raw_cdc_capture_job
from lakehouse.cdc.sensors import raw_cdc_objects

defs = dg.Definitions(
    assets=[raw_cdc_capture],
    jobs=[raw_cdc_capture_job],
    schedules=[raw_cdc_capture_every_minute],
    sensors=[raw_cdc_objects],
)
