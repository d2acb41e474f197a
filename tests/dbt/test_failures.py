"""Retry only what can succeed on retry: a missing relation fails at once with dbt's message;
a warehouse held by another writer is retried."""

import json

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, Failure, materialize

from lakehouse.dbt.assets import dbt_vars, run_dbt
from lakehouse.resources import local_resources
from lakehouse.tickit.assets import tickit_dbt_models


@pytest.fixture
def resources(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    return local_resources()


def test_a_missing_relation_fails_at_once_with_dbts_message(resources):
    # No tickit_external views yet: the staging view cannot be created, now or on any retry.
    result = materialize(
        [tickit_dbt_models],
        selection=AssetSelection.assets("stg_tickit__sales"),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in kinds
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "source_not_null_tickit_external_sale_saleid: Runtime Error" in message
    assert 'Table with name "tickit_external.sale" does not exist' in message


def test_a_held_warehouse_lock_is_retried(resources, tmp_path):
    dbt, lake = resources["dbt"], resources["lake"]
    # Another process's writer (here: this one's) holds the DuckDB file.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")):
        with pytest.raises(Failure) as raised:
            run_dbt(dbt, ["build", "--select", "stg_tickit__sales", *dbt_vars(lake)])
    assert raised.value.allow_retries
    assert "lock" in raised.value.description.lower()


def test_a_macro_blocked_by_the_lock_is_retried_with_dbts_log_message(resources, tmp_path):
    # run-operation leaves no message in run_results.json; dbt's log has it (found in a soak:
    # the catalog sync held the warehouse while TICKIT staged its external tables).
    dbt, lake = resources["dbt"], resources["lake"]
    args = json.dumps({"select": "tickit_external.sale"})
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")):
        with pytest.raises(Failure) as raised:
            run_dbt(dbt, ["run-operation", "stage_external_sources", "--args", args,
                          *dbt_vars(lake)])  # fmt: skip
    assert raised.value.allow_retries
    assert "Could not set lock" in raised.value.description
