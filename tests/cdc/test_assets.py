"""The raw CDC assets in Dagster, fed by each kind of source resource."""

import dagster as dg
import pytest

from lakehouse.cdc import source
from lakehouse.cdc.capture import connect
from lakehouse.cdc.resources import (
    DebeziumMomaSource,
    PostgresMomaSource,
    SimulatedMomaSource,
    moma_source_from_env,
)
from lakehouse.defs.cdc.assets import RAW_CDC_KEYS, raw_cdc_capture
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_records

A, W = "moma.public.artists", "moma.public.artworks"


def materialize(lake, moma_source, raise_on_error=True):
    return dg.materialize(
        [raw_cdc_capture],
        resources={"lake": lake, "moma_source": moma_source},
        raise_on_error=raise_on_error,
    )


def metadata(result):
    return {
        e.asset_key: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def test_simulator_snapshot_then_one_batch_per_run(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    sim = SimulatedMomaSource(artists=40, artworks=60, batch_size=10, flush_size=25)
    first = metadata(materialize(lake, sim))
    artists = first[dg.AssetKey(["raw_cdc", A])]
    assert artists["source"] == "simulator"
    assert artists["first_offset"] == 0
    assert artists["records"] == len(topic_records(lake, A)) == artists["next_offset"]
    assert artists["objects"] == len(artists["object_uris"])
    assert artists["object_uris"][0] == f"{tmp_path}/topics/{A}/partition=0/{A}+0+0000000000.avro"
    assert artists["uri"] == f"{tmp_path}/topics/{A}/partition=0/"
    assert artists["bytes"] == sum(o.size for o in lake.list_objects(f"topics/{A}/"))
    second = metadata(materialize(lake, sim))
    total = sum(second[k]["records"] for k in RAW_CDC_KEYS)
    assert total == 10  # one batch of 10 changes across both topics
    for key in RAW_CDC_KEYS:
        assert second[key]["first_offset"] == first[key]["next_offset"]


def test_postgres_source_captures_pending_changes(moma_dsn, tmp_path):
    with connect(moma_dsn, autocommit=True) as conn:
        source.load_generated(conn, 15, 10, 2)
    lake = LocalObjectStore(root=str(tmp_path))
    pg = PostgresMomaSource(dsn=moma_dsn, slot="dagster", publication="lake",
                            publication_autocreate_mode="filtered")  # fmt: skip
    first = metadata(materialize(lake, pg))
    with connect(moma_dsn, autocommit=True) as conn:  # the resource's publication settings
        assert conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = 'lake' ORDER BY 1"
        ).fetchall() == [("artists",), ("artworks",)]
    assert first[dg.AssetKey(["raw_cdc", A])]["records"] == 15
    assert first[dg.AssetKey(["raw_cdc", W])]["source"] == "postgres"
    with connect(moma_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE artworks SET classification = 'Film' WHERE artwork_id = "
            "(SELECT min(artwork_id) FROM artworks)"
        )
    second = metadata(materialize(lake, pg))
    assert second[dg.AssetKey(["raw_cdc", W])]["records"] == 1
    assert second[dg.AssetKey(["raw_cdc", A])]["records"] == 0
    assert topic_records(lake, W)[-1]["classification"] == "Film"


def test_a_bad_source_fails_the_run_with_the_message(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    bad = PostgresMomaSource(dsn="host=127.0.0.1 port=1 dbname=moma user=x connect_timeout=2")
    result = materialize(lake, bad, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot connect to PostgreSQL (host=127.0.0.1 port=1 dbname=moma user=x)" in (
        failure.step_failure_data.error.message
    )


def test_debezium_source_reports_what_the_sink_wrote(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path))
    materialize(lake, SimulatedMomaSource(artists=30, artworks=20, flush_size=7, batches_per_run=0))
    seen = metadata(materialize(lake, DebeziumMomaSource()))
    artists = seen[dg.AssetKey(["raw_cdc", A])]
    assert artists["source"] == "debezium"
    assert artists["next_offset"] == 30
    assert artists["object_uris"] == [f"{tmp_path}/topics/{A}/partition=0/{A}+0+0000000028.avro"]


def test_source_is_chosen_by_configuration(monkeypatch):
    monkeypatch.delenv("MOMA_SOURCE_DSN", raising=False)
    monkeypatch.setenv("LAKEHOUSE_ENV", "local")
    assert isinstance(moma_source_from_env(), SimulatedMomaSource)
    monkeypatch.setenv("MOMA_SOURCE_DSN", "host=db dbname=moma")
    monkeypatch.setenv("MOMA_SOURCE_SLOT", "s2")
    chosen = moma_source_from_env()
    assert isinstance(chosen, PostgresMomaSource)
    assert (chosen.dsn, chosen.slot) == (
        dg.EnvVar("MOMA_SOURCE_DSN"),
        dg.EnvVar("MOMA_SOURCE_SLOT"),
    )
    monkeypatch.setenv("MOMA_SOURCE_SLOT", "s3")  # read when a run launches, not at load
    with dg.build_resources({"source": chosen}) as resolved:
        assert resolved.source.slot == "s3"
        assert (resolved.source.plugin, resolved.source.publication,
                resolved.source.publication_autocreate_mode) == (
            "pgoutput", "dbz_publication", "all_tables",
        )  # fmt: skip
    monkeypatch.setenv("MOMA_SOURCE_PLUGIN", "wal2json")
    monkeypatch.setenv("MOMA_SOURCE_PUBLICATION", "p")
    monkeypatch.setenv("MOMA_SOURCE_PUBLICATION_AUTOCREATE_MODE", "disabled")
    with dg.build_resources({"source": moma_source_from_env()}) as resolved:
        assert (resolved.source.plugin, resolved.source.publication,
                resolved.source.publication_autocreate_mode) == (
            "wal2json", "p", "disabled",
        )  # fmt: skip
    monkeypatch.setenv("LAKEHOUSE_ENV", "aws")
    assert isinstance(moma_source_from_env(), DebeziumMomaSource)


def test_definitions_describe_every_asset():
    from lakehouse.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    for key in RAW_CDC_KEYS:
        node = graph.get(key)
        assert node.description and node.group_name == "cdc_raw"
        assert node.owners == ["team:data-platform"]
        assert {"postgres", "avro", "s3"} <= set(node.tags) | {t.split("/")[-1] for t in node.tags}
    assert repo.get_schedule_def("raw_cdc_capture_every_minute").cron_schedule == "* * * * *"
    assert repo.has_sensor_def("raw_cdc_objects")


@pytest.mark.parametrize("fmt", ["unwrapped", "envelope"])
def test_simulator_format_is_configurable(tmp_path, fmt):
    lake = LocalObjectStore(root=str(tmp_path))
    materialize(lake, SimulatedMomaSource(artists=10, artworks=10, format=fmt))
    first = topic_records(lake, A)[0]
    assert ("after" in first) == (fmt == "envelope")
