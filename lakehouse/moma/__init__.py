"""MoMA in the lake: Apache Hudi tables (Copy-on-Write and Merge-on-Read) fed by CDC.

The table definitions and who runs an ingest (the `hudi` resource) are here; the assets and
checks are in lakehouse/defs/moma/ and need the `lake` and `hudi` resources.
"""
