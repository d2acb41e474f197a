"""The dbt CLI resource, minus work this project does not use.

The one place that overrides dagster-dbt internals. dagster-dbt 0.29 (`DbtCliResource.cli`) has
no public switch for either step below; tests/dbt/test_startup.py fails if an upgrade renames
them and the steps come back (a second dbt process per command, an adapter in the run).
"""

from functools import cached_property
from importlib.metadata import version as package_version

from dagster_dbt import DbtCliResource
from packaging import version


class LakehouseDbtCliResource(DbtCliResource):
    """DbtCliResource that runs one dbt process per command and opens no dbt adapter in the run."""

    @cached_property
    def _cli_version(self) -> version.Version:
        # Upstream runs `dbt --version` (to tell dbt Fusion from dbt-core) before each run's
        # first dbt command: ~5 s of dbt's own start-up that tells nothing new, since the `dbt`
        # on PATH is the dbt-core installed with this environment.
        return version.parse(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        # Upstream opens a dbt adapter in the run process (profile, project and macros loaded)
        # for fetch_row_counts and fetch_column_metadata, which this project does not call: row
        # counts come from the `warehouse` resource. On DuckDB that adapter also holds a handle
        # on the warehouse file, which locks out the next dbt command of the same run.
        return None
