import dagster as dg

from lakehouse.tickit.checks import MARTS, tickit_marts_freshness_checks


def evaluate(instance):
    job = dg.define_asset_job(
        "marts_freshness", selection=dg.AssetSelection.checks(*tickit_marts_freshness_checks)
    )
    defs = dg.Definitions(
        assets=[dg.AssetSpec(m) for m in MARTS], asset_checks=tickit_marts_freshness_checks,
        jobs=[job],
    )  # fmt: skip
    result = defs.get_job_def("marts_freshness").execute_in_process(instance=instance)
    return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}


def test_marts_never_built_are_not_fresh():
    assert evaluate(dg.DagsterInstance.ephemeral()) == {m: False for m in MARTS}


def test_marts_built_recently_are_fresh_and_the_others_are_not():
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization("fct_sales"))
    instance.report_runless_asset_event(dg.AssetMaterialization("dim_events"))
    assert evaluate(instance) == {
        "dim_events": True, "dim_non_buyers": False, "fct_listings": False, "fct_sales": True,
    }  # fmt: skip
