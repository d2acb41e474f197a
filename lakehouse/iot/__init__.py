"""Telemetry: the gateway's messages landed in the lake, typed into the warehouse's sensor star
schema, and the IoT marts.

`defs` (the domain's Dagster definitions, lakehouse/iot/definitions.py) is imported on first
use, so the bridge, the generator and the rule/landing modules start without loading Dagster's
asset graph and the dbt manifest.
"""


def __getattr__(name: str):
    if name == "defs":
        from lakehouse.iot.definitions import defs

        return defs
    raise AttributeError(f"module 'lakehouse.iot' has no attribute {name!r}")
