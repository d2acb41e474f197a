"""Lake tables in a catalog: one spec per table rendered as Hive DDL, Glue requests and local
DuckDB relations, the Hudi state a sync registers, and the federated queries over the catalog.

The sync and federated assets are in lakehouse/defs/catalog/.
"""
