"""The catalog domain's Dagster definitions: sync assets and federated queries.

Resources expected: `lake`, `catalog` and `query_engine` (see lakehouse.catalog.resources).
"""

import dagster as dg

from lakehouse.catalog.assets import catalog_assets
from lakehouse.catalog.federated import federated_assets

defs = dg.Definitions(assets=[*catalog_assets, *federated_assets])
