"""The raw CDC sensor: cursor semantics asserted as exact JSON, locally and against S3."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from lakehouse.cdc.resources import SimulatedMomaSource
from lakehouse.cdc.simulator import SimulatorSettings, simulate
from lakehouse.cdc.sink import object_key
from lakehouse.defs.cdc.assets import raw_cdc_capture
from lakehouse.defs.cdc.sensors import build_raw_cdc_sensor, raw_cdc_objects
from lakehouse.storage import LocalObjectStore, S3ObjectStore
from tests.support.moto import CREDENTIALS, moto_server

A, W = "moma.public.artists", "moma.public.artworks"
HUDI = [dg.AssetKey(["hudi", "artists_cow"]), dg.AssetKey(["hudi", "artworks_cow"])]
T0 = 1_700_000_000_000


def sensor(**kw):
    return build_raw_cdc_sensor(asset_selection=HUDI, lookback_ms=10_000, **kw)


def tick(sensor_def, lake, cursor):
    """One evaluation: (result, cursor after it)."""
    with dg.build_sensor_context(
        cursor=cursor, resources={"lake": lake}, instance=dg.DagsterInstance.ephemeral()
    ) as context:
        result = sensor_def(context)
        return result, context.cursor


def put(lake, key, data, mtime_ms):
    lake.put_bytes(key, data)
    os.utime(lake.path(key), ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))


def test_cursor_through_new_unchanged_out_of_order_rewritten_and_deleted(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    s = sensor()
    k0, k3, w0 = object_key(A, 0), object_key(A, 3), object_key(W, 0)
    put(lake, k0, b"abc", T0)
    put(lake, k3, b"defg", T0 + 5)
    put(lake, w0, b"hi", T0 + 5)
    put(lake, "topics/moma.public.artists/partition=0/notes.txt", b"x", T0 + 9)  # not an object

    result, cursor = tick(s, lake, None)  # first tick: everything, oldest first
    assert isinstance(result, dg.RunRequest)
    assert result.tags == {"lakehouse/domain": "moma", "lakehouse/raw_cdc_topics": f"{A},{W}",
                           "lakehouse/raw_cdc_objects": "3"}  # fmt: skip
    assert cursor == (
        f'{{"seen":{{"{k0}":[{T0},3],"{k3}":[{T0 + 5},4],"{w0}":[{T0 + 5},2]}},'
        f'"watermark_ms":{T0 + 5}}}'
    )
    # The selection is the sensor's target (the Hudi assets); the run key names the objects.
    assert tick(s, lake, None)[0].run_key == result.run_key

    result, again = tick(s, lake, cursor)  # nothing new
    assert isinstance(result, dg.SkipReason) and again == cursor

    # An object with a key *before* the newest key, and an older timestamp, shows up late.
    k2 = object_key(A, 2)
    put(lake, k2, b"late", T0 + 1)
    result, cursor = tick(s, lake, cursor)
    assert result.tags["lakehouse/raw_cdc_objects"] == "1"
    assert cursor == (
        f'{{"seen":{{"{k0}":[{T0},3],"{k2}":[{T0 + 1},4],"{k3}":[{T0 + 5},4],'
        f'"{w0}":[{T0 + 5},2]}},"watermark_ms":{T0 + 5}}}'
    )

    # An object rewritten after the cursor (the capture re-writing an uncommitted object).
    put(lake, k0, b"abcdef", T0 + 20)
    result, cursor = tick(s, lake, cursor)
    assert result.tags == {"lakehouse/domain": "moma", "lakehouse/raw_cdc_topics": A,
                           "lakehouse/raw_cdc_objects": "1"}  # fmt: skip
    assert cursor == (
        f'{{"seen":{{"{k0}":[{T0 + 20},6],"{k2}":[{T0 + 1},4],"{k3}":[{T0 + 5},4],'
        f'"{w0}":[{T0 + 5},2]}},"watermark_ms":{T0 + 20}}}'
    )

    # Deleted objects: no run, and they leave the cursor.
    lake.delete(k2)
    lake.delete(w0)
    result, cursor = tick(s, lake, cursor)
    assert isinstance(result, dg.SkipReason)
    assert cursor == (
        f'{{"seen":{{"{k0}":[{T0 + 20},6],"{k3}":[{T0 + 5},4]}},"watermark_ms":{T0 + 20}}}'
    )

    # Far past the look-back, old entries are pruned; an object that is older than the newest
    # one but was not seen is still handed on.
    k9 = object_key(A, 9)
    put(lake, k9, b"new", T0 + 60_000)
    put(lake, object_key(A, 8), b"ancient", T0 + 40_000)
    result, cursor = tick(s, lake, cursor)
    assert result.tags["lakehouse/raw_cdc_objects"] == "2"
    assert cursor == f'{{"seen":{{"{k9}":[{T0 + 60_000},3]}},"watermark_ms":{T0 + 60_000}}}'


def test_a_burst_is_handed_on_in_batches_of_max_objects(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    s = sensor(max_objects=2)
    for i in range(5):
        put(lake, object_key(A, i), b"x" * (i + 1), T0 + (4 - i))  # newest key is oldest
    cursor, batches = None, []
    for _ in range(4):
        result, cursor = tick(s, lake, cursor)
        batches.append(
            None if isinstance(result, dg.SkipReason) else result.tags["lakehouse/raw_cdc_objects"]
        )
        if len(batches) == 1:  # the watermark is the newest object handed on, not listed
            assert json.loads(cursor)["watermark_ms"] == T0 + 1
    assert batches == ["2", "2", "1", None]
    assert cursor == (
        '{"seen":{'
        + ",".join(f'"{object_key(A, i)}":[{T0 + 4 - i},{i + 1}]' for i in range(5))
        + f'}},"watermark_ms":{T0 + 4}}}'
    )


def test_run_config_comes_from_the_objects(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    put(lake, object_key(W, 0), b"x", T0)
    s = sensor(
        run_config_fn=lambda objs: {"ops": {"ingest": {"config": {"keys": [o.key for o in objs]}}}}
    )
    result, _ = tick(s, lake, None)
    assert result.run_config == {"ops": {"ingest": {"config": {"keys": [object_key(W, 0)]}}}}


def test_the_default_sensor_targets_what_depends_on_the_raw_topics(tmp_path):
    downstream = dg.AssetSpec(["hudi", "artists_cow"], deps=[dg.AssetKey(["raw_cdc", A])])
    defs = dg.Definitions(
        assets=[raw_cdc_capture, downstream],
        sensors=[raw_cdc_objects],
        resources={
            "lake": LocalObjectStore(root=str(tmp_path)),
            "moma_source": SimulatedMomaSource(),
        },
    )
    repo = defs.get_repository_def()
    sensor_def = repo.get_sensor_def("raw_cdc_objects")
    selection = sensor_def.asset_selection.resolve(repo.asset_graph)
    assert selection == {dg.AssetKey(["hudi", "artists_cow"])}


def test_against_s3_every_page_rewrites_and_deletes(monkeypatch):
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    with moto_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="lake")
        lake = S3ObjectStore(
            bucket="lake",
            prefix="cdc",
            s3=S3Resource(endpoint_url=endpoint, region_name="us-east-1"),
        )
        # Real objects from the simulator, and enough extra keys for a second listing page.
        report = simulate(
            lake,
            batches=1,
            flush_size=500,
            settings=SimulatorSettings(artists=600, artworks=700, batch_size=10),
        )
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(
                        Bucket="lake", Key="cdc/" + object_key(W, 10_000 + i), Body=b"y"
                    ),
                    range(1_010),
                )
            )
        listed = sum(
            page.get("KeyCount", 0)
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket="lake", Prefix=f"cdc/topics/{W}/"
            )
        )
        assert listed > 1_000  # more than one page

        s = build_raw_cdc_sensor(asset_selection=HUDI, max_objects=5_000)
        result, cursor = tick(s, lake, None)
        total = 1_010 + len(report.objects)
        assert result.tags["lakehouse/raw_cdc_objects"] == str(total)
        state = json.loads(cursor)
        assert len(state["seen"]) == total
        assert state["watermark_ms"] == max(ms for ms, _ in state["seen"].values())
        assert isinstance(tick(s, lake, cursor)[0], dg.SkipReason)

        rewritten = object_key(A, 0)
        lake.put_bytes(rewritten, lake.get_bytes(rewritten) + b"")  # same bytes: not new
        result, cursor2 = tick(s, lake, cursor)
        same_second = json.loads(cursor2)["seen"][rewritten] == state["seen"][rewritten]
        assert isinstance(result, dg.SkipReason) == same_second
        lake.put_bytes(rewritten, b"rewritten with other content")
        result, cursor3 = tick(s, lake, cursor2)
        assert result.tags == {"lakehouse/domain": "moma", "lakehouse/raw_cdc_topics": A,
                           "lakehouse/raw_cdc_objects": "1"}  # fmt: skip
        assert json.loads(cursor3)["seen"][rewritten][1] == len(b"rewritten with other content")

        lake.delete(object_key(W, 10_000))
        result, cursor4 = tick(s, lake, cursor3)
        assert isinstance(result, dg.SkipReason)
        assert object_key(W, 10_000) not in json.loads(cursor4)["seen"]
        assert len(json.loads(cursor4)["seen"]) == total - 1


@pytest.mark.parametrize("bad", [{"asset_selection": HUDI, "job": object()}, {}])
def test_exactly_one_target(bad):
    with pytest.raises(ValueError, match="exactly one of asset_selection and job"):
        build_raw_cdc_sensor(**bad)
