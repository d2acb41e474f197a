"""Retry only what can succeed on retry: a missing relation fails at once with dbt's message;
a warehouse held by another writer is waited for."""

import json
import subprocess
import sys

import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from lakehouse.dbt.build import dbt_vars, run_dbt
from lakehouse.defs.tickit.assets import tickit_dbt_models
from lakehouse.resources import local_resources
from lakehouse.tickit.generator import generate, write

HOLD_TURN = """
import sys, time
from pathlib import Path
from lakehouse.warehouse import local_warehouse
with local_warehouse(Path(sys.argv[1])).transaction():
    print("turn taken", flush=True)
    time.sleep(3)
"""


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


def test_dbt_waits_for_another_writers_turn(resources, tmp_path):
    """dbt takes the warehouse's writer turn like every other writer (lakehouse.dbt.
    ducklake_plugin): while a load holds it, dbt waits instead of failing on a lock."""
    dbt, lake = resources["dbt"], resources["lake"]
    write(lake, {"sale": generate(0.001, 1)["sale"]})
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TURN, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "turn taken"
    args = json.dumps({"select": "tickit_external.sale"})
    run_dbt(dbt, ["run-operation", "stage_external_sources", "--args", args, *dbt_vars(lake)])
    assert holder.poll() is not None  # dbt ran after the holder's turn, not beside it
    views = resources["warehouse"].query(
        "select table_name from information_schema.tables where table_schema = 'tickit_external'"
    )
    assert views == [("sale",)]
