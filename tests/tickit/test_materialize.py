"""The whole TICKIT graph, materialized locally into a temporary LAKEHOUSE_HOME."""

import pytest
from dagster import DagsterInstance, materialize

from lakehouse.defs.tickit.assets import raw_tickit_data, tickit_dbt_models, tickit_external
from lakehouse.resources import local_resources
from lakehouse.tickit.generator import generate
from lakehouse.tickit.raw_tables import TABLES, raw_key
from lakehouse.warehouse import local_warehouse

SCALE = 0.01
ASSETS = [raw_tickit_data, tickit_external, tickit_dbt_models]
RUN_CONFIG = {"ops": {"raw_tickit_data": {"config": {"scale": SCALE, "seed": 42}}}}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("lakehouse_home")
    mp.setenv("LAKEHOUSE_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def first_run(home):
    result = materialize(
        ASSETS,
        resources=local_resources(),
        run_config=RUN_CONFIG,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def count(home, relation):
    return local_warehouse(home).query(f"select count(*) from {relation}")[0][0]  # noqa: S608


def test_every_asset_materializes_and_every_dbt_test_passes(first_run):
    keys = {m.asset_key.to_user_string() for m in first_run.get_asset_materialization_events()
            for m in [m.event_specific_data.materialization]}  # fmt: skip
    assert len(keys) == 1 + len(TABLES) + 13
    checks = first_run.get_asset_check_evaluations()
    assert len(checks) == 75
    failed = [c.check_name for c in checks if not c.passed]
    assert failed == []


def test_marts_have_the_generated_row_counts(home, first_run):
    generated = generate(SCALE, 42)
    assert count(home, "tickit_dbt.fct_sales") == generated["sale"].rows
    assert count(home, "tickit_dbt.dim_events") == generated["event"].rows
    for table, model in [("sale", "sales"), ("listing", "listings"), ("user", "users")]:
        assert count(home, f"tickit_dbt.stg_tickit__{model}") == generated[table].rows
    ((buyers, sellers),) = local_warehouse(home).query(
        "select count(distinct buyerid), count(distinct sellerid) from tickit_external.sale"
    )
    assert count(home, "tickit_dbt.int_buyers_extracted_from_users") == buyers
    assert count(home, "tickit_dbt.dim_non_buyers") == generated["user"].rows - buyers
    assert count(home, "tickit_dbt.int_sellers_extracted_from_users") == sellers
    assert count(home, "tickit_dbt.fct_listings") < generated["listing"].rows


def test_row_counts_and_paths_are_reported_as_metadata(first_run):
    by_key = {
        e.event_specific_data.materialization.asset_key.to_user_string():
        e.event_specific_data.materialization.metadata
        for e in first_run.get_asset_materialization_events()
    }  # fmt: skip
    generated = generate(SCALE, 42)
    assert by_key["fct_sales"]["dagster/row_count"].value == generated["sale"].rows
    assert "dagster/row_count" not in by_key["stg_tickit__sales"]  # a view: counting costs a scan
    assert by_key["tickit_external/sale"]["rows"].value == generated["sale"].rows
    assert by_key["raw_tickit_data"]["rows/sale"].value == generated["sale"].rows
    assert by_key["raw_tickit_data"]["uri"].value.endswith("/lake/raw_tickit_data/")


def test_malformed_raw_file_fails_by_name_and_line_and_keeps_the_marts(home, first_run):
    before = count(home, "tickit_dbt.fct_sales")
    path = home / "lake" / raw_key("sale")
    lines = path.read_text().split("\n")
    lines[4] = lines[4].rsplit("|", 1)[0]  # drop the last field of the 4th data row
    path.write_text("\n".join(lines))
    result = materialize(
        [tickit_external, tickit_dbt_models],
        resources=local_resources(),
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert f"{path}: CSV Error on Line: 5" in message
    assert "Expected Number of Columns: 10 Found: 9" in message
    assert count(home, "tickit_dbt.fct_sales") == before
