"""The dbt project, kept apart from the @dbt_assets so `dagster-dbt project prepare-and-package
--file lakehouse/dbt/project.py` can import it without building any assets."""

from dagster_dbt import DbtProject

from lakehouse.dbt import DBT_PROJECT_DIR
from lakehouse.settings import lakehouse_env

DBT_TARGETS = {"local": "local", "aws": "redshift"}

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=DBT_TARGETS[lakehouse_env()],
)
# The manifest is built once, by `make manifest` (lakehouse.dbt.manifest), when the code location
# is built or deployed. Not prepare_if_dev(): under `dagster dev` every run process would parse
# the project again (~10 s of a run's start-up). Only a fresh clone without one parses here.
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
