"""dbt's events reach the instance as dbt emits them; only a table's Output waits for its row
count (readable once dbt has released the warehouse), and with it its checks and everything built
on it, so each asset is still recorded before its checks and before its downstream assets."""

import dagster as dg
import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.dbt.build import with_row_counts
from lakehouse.warehouse import DuckDBWarehouse

SCHEMA = "marts"


@st.composite
def dbt_builds(draw):
    """A project of models (each a view or a table, built in dependency order, each followed by
    its tests) as the manifest and the event stream dagster-dbt yields for a `dbt build`."""
    count = draw(st.integers(1, 8))
    nodes, events = {}, []
    for i in range(count):
        parents = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        materialized = draw(st.sampled_from(["view", "table", "incremental"]))
        unique_id = f"model.lakehouse.m{i}"
        nodes[unique_id] = {
            "config": {"materialized": materialized},
            "schema": SCHEMA,
            "alias": f"m{i}",
            "depends_on": {"nodes": [f"model.lakehouse.m{p}" for p in sorted(parents)]},
        }
        events.append(dg.Output(None, output_name=f"m{i}", metadata={"unique_id": unique_id}))
        for t in range(draw(st.integers(0, 2))):
            events.append(dg.AssetCheckResult(asset_key=f"m{i}", check_name=f"t{t}", passed=True))
        if draw(st.booleans()):  # a source test: on an asset this step does not build
            events.append(dg.AssetCheckResult(asset_key=f"src{i}", check_name="s", passed=True))
    return {"nodes": nodes}, events


def key_of(event) -> str:
    return (event.output_name if isinstance(event, dg.Output) else
            event.asset_key.to_user_string())  # fmt: skip


def identity(event) -> tuple[str, str]:
    return key_of(event), getattr(event, "check_name", "")


@settings(max_examples=60, deadline=None)
@given(build=dbt_builds())
def test_events_stream_and_tables_wait_for_their_row_counts(tmp_path_factory, build):
    manifest, events = build
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    nodes = manifest["nodes"]
    tables = {n["alias"] for n in nodes.values() if n["config"]["materialized"] != "view"}
    with duckdb.connect(str(path)) as con:
        con.execute(f"create schema {SCHEMA}")
        for name in tables:  # m<i> has i rows
            con.execute(f"create table {SCHEMA}.{name} as select * from range({name[1:]})")

    pulled = 0

    def stream():
        nonlocal pulled
        for event in events:
            pulled += 1
            yield event

    yielded = []  # (event, how many events dbt had emitted when it was passed on)
    for event in with_row_counts(stream(), manifest, DuckDBWarehouse(path=str(path)),
                                 lambda name: dg.AssetKey(name)):  # fmt: skip
        yielded.append((event, pulled))

    # Every event once, nothing invented.
    assert sorted(map(identity, events)) == sorted(identity(e) for e, _ in yielded)
    # Waiting: the tables and everything built on one (their Outputs and their checks).
    waiting = set()
    for node in nodes.values():
        upstream = {nodes[p]["alias"] for p in node["depends_on"]["nodes"]}
        if node["alias"] in tables or upstream & waiting:
            waiting.add(node["alias"])
    order = {}
    for position, (event, seen) in enumerate(yielded):
        name = key_of(event)
        if name in waiting:
            assert seen == len(events), f"{name} was passed on before dbt finished"
        else:
            emitted = [identity(e) for e in events].index(identity(event)) + 1
            assert seen == emitted, f"{name} waited for later events"
        if isinstance(event, dg.Output):
            order[name] = position
            if name in tables:
                assert event.metadata["dagster/row_count"].value == int(name[1:])
            else:
                assert "dagster/row_count" not in event.metadata
            for parent in nodes[event.metadata["unique_id"].value]["depends_on"]["nodes"]:
                assert order[nodes[parent]["alias"]] < position, f"{name} before its upstream"
        elif name in order or name.startswith("m"):
            assert order[name] < position, f"a check of {name} before {name}"
