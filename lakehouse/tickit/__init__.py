"""TICKIT: the deterministic generator of the seven raw tables, their layout and validation.

The assets (raw files, external tables, dbt models), schedule and sensor are in
lakehouse/defs/tickit/.
"""
