"""The dbt CLI resource, minus work this project does not use."""

from functools import cached_property
from importlib.metadata import version as package_version

from dagster_dbt import DbtCliResource
from packaging import version


class LakehouseDbtCliResource(DbtCliResource):
    """DbtCliResource that takes dbt's version from the installed dbt-core package.

    dagster-dbt otherwise runs `dbt --version` before each run's first dbt command, which costs
    about 5 s here (dbt's own start-up) and tells nothing new: the `dbt` on PATH is the
    project's own, installed with this environment.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        # dagster-dbt opens a dbt adapter in the run process only for fetch_row_counts and
        # fetch_column_metadata, which this project does not call (row counts come from the
        # `warehouse` resource). On DuckDB that adapter also holds a handle on the warehouse
        # file, which locks out the next dbt command of the same run.
        return None
