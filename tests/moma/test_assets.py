"""The MoMA Hudi assets: raw CDC in, Hudi tables out, read back with hudi-rs (the oracle)."""

import dagster as dg
import pyarrow as pa
import pytest

from lakehouse.cdc.resources import SimulatedMomaSource
from lakehouse.cdc.sink import object_key
from lakehouse.defs.cdc.assets import raw_cdc_capture
from lakehouse.defs.moma.assets import hudi_table_assets
from lakehouse.defs.moma.checks import hudi_checks
from lakehouse.hudi import HudiTable
from lakehouse.hudi.schema import META_FIELDS
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.moma.resources import LocalHudiIngest
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_records
from tests.hudi.support import read_optimized, snapshot

COLUMNS = {
    "artists": ("artist_id", "name", "nationality", "__deleted", "__source_ts_ms"),
    "artworks": ("artwork_id", "title", "classification", "__deleted", "__source_ts_ms"),
}


def run(lake, sim, selection=None, raise_on_error=True):
    assets = [raw_cdc_capture, *hudi_table_assets]
    return dg.materialize(
        assets,
        selection=selection,
        resources={"lake": lake, "moma_source": sim, "hudi": LocalHudiIngest()},
        raise_on_error=raise_on_error,
    )


def materializations(result) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def expected_rows(lake, table) -> list[tuple]:
    """In-memory model: per key, the change with the greatest __source_ts_ms wins, the later
    one in log order on a tie; deletes stay as rows (soft deletes)."""
    latest: dict = {}
    for r in topic_records(lake, table.topic):
        key = r[table.record_key]
        if key not in latest or r["__source_ts_ms"] >= latest[key]["__source_ts_ms"]:
            latest[key] = r
    return sorted((tuple(r[c] for c in COLUMNS[table.name]) for r in latest.values()), key=repr)


def table_rows(arrow, table) -> list[tuple]:
    return sorted((tuple(r[c] for c in COLUMNS[table.name]) for r in arrow.to_pylist()), key=repr)


@pytest.fixture
def sim():
    return SimulatedMomaSource(artists=120, artworks=200, batch_size=40, batches_per_run=4)


def test_runs_of_changes_match_the_model_in_hudi_rs(tmp_path, sim):
    lake = LocalObjectStore(root=str(tmp_path))
    with dg.instance_for_test() as instance:
        for round_ in range(3):
            result = dg.materialize(
                [raw_cdc_capture, *hudi_table_assets, *hudi_checks],
                resources={"lake": lake, "moma_source": sim, "hudi": LocalHudiIngest()},
                instance=instance,
            )
            checks = result.get_asset_check_evaluations()
            assert len(checks) == 8 and all(c.passed for c in checks), round_
            for table in HUDI_TABLES:
                base = lake.uri(table.base_key)
                assert table_rows(snapshot(base), table) == expected_rows(lake, table), (
                    table.qualified,
                    round_,
                )
    # Merge-on-Read keeps changes in log files until compaction, so the read-optimized view
    # (base files only) differs from the snapshot.
    mor = next(t for t in HUDI_TABLES if t.database == "moma_mor" and t.name == "artists")
    assert any((tmp_path / mor.base_key).rglob(".*.log.*"))
    base = lake.uri(mor.base_key)
    assert table_rows(read_optimized(base), mor) != table_rows(snapshot(base), mor)


def test_metadata_describes_the_commit_and_a_rerun_without_new_objects(tmp_path, sim):
    lake = LocalObjectStore(root=str(tmp_path))
    first = materializations(run(lake, sim))
    cow = first["moma_cow/artists"]
    records = topic_records(lake, "moma.public.artists")
    live_keys = {r["artist_id"] for r in records}
    timeline = sorted(p.name for p in (tmp_path / "hudi/moma_cow/artists/.hoodie").glob("*.commit"))
    assert cow["commit_instant"] + ".commit" == timeline[-1]
    assert cow["commit_action"] == "commit"
    assert cow["engine"] == "python"
    assert cow["new_commit"] is True
    assert cow["records_inserted"] == len(live_keys)  # the first commit inserts every key once
    assert cow["records_written"] == len(live_keys)
    assert cow["source_files"] == len(
        list((tmp_path / "topics/moma.public.artists").rglob("*.avro"))
    )
    assert cow["bytes_written"] == sum(
        p.stat().st_size for p in (tmp_path / "hudi/moma_cow/artists").rglob("*.parquet")
    )
    assert cow["uri"] == str(tmp_path / "hudi/moma_cow/artists")
    assert first["moma_mor/artists"]["commit_action"] == "deltacommit"

    # Only the Hudi assets again: no new objects, so no new commit, and the metadata says so.
    again = materializations(run(lake, sim, selection=[t.asset_key for t in HUDI_TABLES]))
    assert again["moma_cow/artists"]["new_commit"] is False
    assert again["moma_cow/artists"]["commit_instant"] == cow["commit_instant"]
    assert again["moma_cow/artists"]["source_files"] == 0


def test_a_corrupt_object_fails_with_its_name_and_leaves_the_table_untouched(tmp_path, sim):
    lake = LocalObjectStore(root=str(tmp_path))
    run(lake, sim)
    hoodie = tmp_path / "hudi/moma_cow/artworks/.hoodie"
    before = sorted(p.name for p in hoodie.iterdir())
    bad = object_key("moma.public.artworks", 999_999)
    lake.put_bytes(bad, b"Obj\x01 this is not an Avro container")
    result = run(lake, sim, selection=[HUDI_TABLES[1].asset_key], raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "moma_cow.artworks" in message and bad in message
    assert sorted(p.name for p in hoodie.iterdir()) == before


def test_every_table_has_its_own_single_writer_pool():
    pools = {}
    for asset in hudi_table_assets:
        (node,) = asset.specs
        pools[node.key.to_user_string()] = asset.op.pool
    assert pools == {
        "moma_cow/artists": "hudi/moma_cow.artists",
        "moma_cow/artworks": "hudi/moma_cow.artworks",
        "moma_mor/artists": "hudi/moma_mor.artists",
        "moma_mor/artworks": "hudi/moma_mor.artworks",
    }


def test_matches_source_fails_on_a_row_the_source_never_had(tmp_path, sim):
    lake = LocalObjectStore(root=str(tmp_path))
    run(lake, sim)
    table = HUDI_TABLES[0]  # moma_cow.artists
    hudi = HudiTable.open(lake.uri(table.base_key))
    stray = hudi.snapshot().slice(0, 1).drop_columns(list(META_FIELDS))
    stray = stray.set_column(
        stray.schema.get_field_index("artist_id"), "artist_id", pa.array([987_654], pa.int32())
    )
    hudi.upsert(stray)
    result = dg.materialize(
        [*hudi_table_assets, *hudi_checks],
        selection=dg.AssetSelection.checks_for_assets(table.asset_key),
        resources={"lake": lake, "hudi": LocalHudiIngest()},
    )
    outcome = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert outcome["unique_record_keys"].passed
    assert not outcome["matches_source"].passed
    assert outcome["matches_source"].metadata["unexpected_keys"].value == 1
    assert outcome["matches_source"].metadata["examples_unexpected"].value == [987_654]
