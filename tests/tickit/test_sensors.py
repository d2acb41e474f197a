import time

import dagster as dg

from lakehouse.defs.tickit.assets import tickit_dbt_models
from lakehouse.defs.tickit.sensors import tickit_raw_files
from lakehouse.storage import LocalObjectStore
from lakehouse.tickit.generator import generate, write
from lakehouse.tickit.raw_tables import TABLES, raw_key


def tick(instance, lake):
    with dg.build_sensor_context(instance=instance, resources={"lake": lake}) as context:
        return tickit_raw_files(context)


def staged(instance, tables):
    for t in tables:
        instance.report_runless_asset_event(dg.AssetMaterialization(["tickit_external", t]))


def test_requests_staging_of_new_and_replaced_files_only(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    lake = LocalObjectStore(root=str(tmp_path))
    assert isinstance(tick(instance, lake), dg.SkipReason)  # nothing landed yet

    write(lake, generate(0.001, 1))
    request = tick(instance, lake)
    assert isinstance(request, dg.RunRequest)
    externals = {dg.AssetKey(["tickit_external", t]) for t in TABLES}
    assert set(request.asset_selection) == externals | set(tickit_dbt_models.keys)
    assert request.tags == {
        "lakehouse/domain": "tickit",
        "lakehouse/stale_tables": ",".join(sorted(TABLES)),
    }
    assert tick(instance, lake).run_key == request.run_key  # same files, same run key

    time.sleep(0.01)
    staged(instance, TABLES)
    assert isinstance(tick(instance, lake), dg.SkipReason)

    time.sleep(0.01)
    lake.put_bytes(raw_key("sale"), lake.get_bytes(raw_key("sale")))  # replaced by an upload
    request = tick(instance, lake)
    assert dg.AssetKey(["tickit_external", "sale"]) in request.asset_selection
    assert not externals - {dg.AssetKey(["tickit_external", "sale"])} & set(request.asset_selection)
    assert request.tags == {"lakehouse/domain": "tickit", "lakehouse/stale_tables": "sale"}
