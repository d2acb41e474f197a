"""dbt in this project: the project directory, here so that modules reading its files (the
TICKIT sources) need not load dagster-dbt."""

from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
