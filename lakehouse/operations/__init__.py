import dagster as dg

from lakehouse.operations.sensors import record_run_failures

defs = dg.Definitions(sensors=[record_run_failures])
