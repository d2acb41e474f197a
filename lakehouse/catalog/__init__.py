"""Lake tables in a catalog: one spec per table rendered as Hive DDL, Glue requests and local
DuckDB relations; sync assets that follow each Hudi commit; federated queries over the catalog.

`defs` (lakehouse/catalog/definitions.py) is imported on first use, so modules that only need
the specs (e.g. lakehouse.tickit.raw_tables) do not load the asset graph.
"""


def __getattr__(name: str):
    if name == "defs":
        from lakehouse.catalog.definitions import defs

        return defs
    raise AttributeError(f"module 'lakehouse.catalog' has no attribute {name!r}")
