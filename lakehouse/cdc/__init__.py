"""MoMA change data capture: PostgreSQL (or the simulator) -> Debezium Avro objects in the lake.

The raw CDC assets, their schedule and sensor are in lakehouse/defs/cdc/; they need the `lake`
(ObjectStore) and `moma_source` (lakehouse.cdc.resources) resources.
"""
