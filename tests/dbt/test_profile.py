"""dbt's `local` target and the Python code open the same warehouse: the profile's attachment is
the one place dbt learns where it is, and the plugin takes its turn on that warehouse's lock."""

import jinja2
import pytest
import yaml
from dbt.adapters.duckdb.credentials import DuckDBCredentials

from lakehouse.dbt import DBT_PROJECT_DIR
from lakehouse.dbt.ducklake_plugin import Plugin
from lakehouse.warehouse import ALIAS, DUCKLAKE_SQLITE, SQLITE_BUSY_TIMEOUT_MS, local_warehouse


def local_output(home) -> dict:
    """The `local` output of profiles.yml as dbt renders it with LAKEHOUSE_HOME=home."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters["as_number"] = int
    env = {"LAKEHOUSE_HOME": str(home)}
    text = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    rendered = environment.from_string(text).render(
        env_var=lambda name, default=None: env.get(name, default)
    )
    return yaml.safe_load(rendered)["lakehouse"]["outputs"]["local"]


def test_the_profile_attaches_the_warehouse_python_opens(tmp_path):
    local = local_output(tmp_path)
    warehouse = local_warehouse(tmp_path)
    (attachment,) = local["attach"]
    assert local["database"] == attachment["alias"] == ALIAS
    assert attachment["path"] == DUCKLAKE_SQLITE + warehouse.catalog
    assert attachment["options"]["data_path"].rstrip("/") == warehouse.data_path
    assert attachment["options"]["meta_busy_timeout"] == SQLITE_BUSY_TIMEOUT_MS


def test_the_plugin_takes_turns_on_the_attached_warehouse(tmp_path):
    credentials = DuckDBCredentials.from_dict(local_output(tmp_path))
    plugin = Plugin("ducklake", {}, credentials=credentials)
    assert plugin.warehouse.catalog == local_warehouse(tmp_path).catalog
    assert plugin.warehouse.lock_path == local_warehouse(tmp_path).lock_path


def test_a_profile_without_the_warehouse_is_refused_in_one_line(tmp_path):
    local = local_output(tmp_path)
    local["attach"][0]["alias"] = "elsewhere"
    local["database"] = "elsewhere"
    credentials = DuckDBCredentials.from_dict(local)
    refused = r"^profiles.yml: target `local` must attach one `ducklake:sqlite:<catalog>`"
    with pytest.raises(ValueError, match=refused) as e:
        Plugin("ducklake", {}, credentials=credentials)
    assert "\n" not in str(e.value)
