"""Telemetry: the gateway's messages landed in the lake, typed into the warehouse's sensor star
schema, and the IoT marts.

The assets, checks, jobs and sensors are in lakehouse/defs/iot/, so the bridge, the generator
and the rule/landing modules start without loading Dagster's asset graph and the dbt manifest.
"""
