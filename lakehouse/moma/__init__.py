"""MoMA in the lake: Apache Hudi tables (Copy-on-Write and Merge-on-Read) fed by CDC.

Resources expected: `lake` (ObjectStore) and `hudi` (see lakehouse.moma.resources).
"""

import dagster as dg

from lakehouse.moma.assets import hudi_tables
from lakehouse.moma.checks import hudi_checks

defs = dg.Definitions(assets=hudi_tables, asset_checks=hudi_checks)

__all__ = ["defs", "hudi_checks", "hudi_tables"]
