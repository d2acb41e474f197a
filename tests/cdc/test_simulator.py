"""The built-in change simulator: snapshot, batches, determinism and interrupted writes."""

import json

import pytest

from lakehouse.cdc.generator import ChangeScript, generate_rows
from lakehouse.cdc.simulator import SimulatorSettings, simulate
from lakehouse.cdc.sink import checkpoint_key
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, CdcError
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_objects, topic_records

SMALL = SimulatorSettings(seed=11, artists=100, artworks=250, batch_size=20)
TOPICS = ["moma.public.artists", "moma.public.artworks"]


def all_bytes(store):
    return {o.key: store.get_bytes(o.key) for o in store.list_objects("")}


def test_snapshot_objects_are_named_and_sized_like_the_sink(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    simulate(store, batches=0, settings=SMALL, flush_size=30)
    artists = topic_objects(store, "moma.public.artists")
    assert [(start, len(records)) for start, _, records, _ in artists] == [
        (0, 30),
        (30, 30),
        (60, 30),
        (90, 10),
    ]
    assert (
        artists[0][1]
        == "topics/moma.public.artists/partition=0/moma.public.artists+0+0000000000.avro"
    )
    artworks = topic_records(store, "moma.public.artworks")
    assert len(artworks) == 250
    for records in (topic_records(store, "moma.public.artists"), artworks):
        assert {r["__op"] for r in records} == {"r"}
        assert {r["__deleted"] for r in records} == {"false"}
        assert len({r["__lsn"] for r in records}) == 1
        ts = [r["__source_ts_ms"] for r in records]
        assert ts == sorted(ts)
    rows = generate_rows(100, 250, 11)
    flat = [
        {k: v for k, v in r.items() if not k.startswith("__")}
        for r in topic_records(store, "moma.public.artists")
    ]
    assert flat == rows[ARTISTS.qualified]


def test_batches_continue_the_offsets_and_replay_to_the_generator_state(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    simulate(store, batches=0, settings=SMALL, flush_size=1000)
    report = simulate(store, batches=4, settings=SMALL, flush_size=1000)
    assert report.next_offsets == {
        t: len(topic_records(store, t)) for t in TOPICS
    }  # gap-free, and the report agrees with the objects
    # Applying the records in offset order gives the state the change script ends in.
    state = {}
    for topic, table in zip(TOPICS, (ARTISTS, ARTWORKS), strict=True):
        rows = {}
        for r in topic_records(store, topic):
            key = r[table.key[0]]
            if r["__op"] == "d":
                assert r["__deleted"] == "true" and all(
                    r[c.name] is None for c in table.columns if c.nullable
                )
                del rows[key]
            else:
                rows[key] = {c.name: r[c.name] for c in table.columns}
        state[table.qualified] = rows
    script = ChangeScript(generate_rows(100, 250, 11), 11)
    for n in range(1, 5):
        script.batch(n, 20)
    assert state == script.state
    ops = [r["__op"] for t in TOPICS for r in topic_records(store, t)]
    assert {"c", "u", "d"} <= set(ops)
    lsns = [r["__lsn"] for r in topic_records(store, "moma.public.artists")]
    assert lsns == sorted(lsns)


def test_same_seed_same_bytes(tmp_path):
    one, two = (
        LocalObjectStore(root=str(tmp_path / "1")),
        LocalObjectStore(root=str(tmp_path / "2")),
    )
    for store in (one, two):
        simulate(store, batches=0, settings=SMALL, flush_size=40)
        simulate(store, batches=3, settings=SMALL, flush_size=40)
    assert all_bytes(one) == all_bytes(two)
    three = LocalObjectStore(root=str(tmp_path / "3"))
    simulate(
        three,
        batches=3,
        settings=SimulatorSettings(seed=12, artists=100, artworks=250),
        flush_size=40,
    )
    assert all_bytes(three) != all_bytes(one)


class FailingStore(LocalObjectStore):
    """Fails the Nth put, as a crash between two writes would leave things."""

    fail_at: int = -1

    def put_bytes(self, key, data):
        object.__setattr__(self, "fail_at", self.fail_at - 1)
        if self.fail_at == 0:
            raise OSError("simulated crash")
        super().put_bytes(key, data)


@pytest.mark.parametrize("fail_at", [1, 2, 3, 5, 8, 12, 14, 17, 19])
def test_interrupted_runs_resume_to_the_same_objects(tmp_path, fail_at):
    clean = LocalObjectStore(root=str(tmp_path / "clean"))
    simulate(clean, batches=3, settings=SMALL, flush_size=40)
    broken = FailingStore(root=str(tmp_path / "broken"), fail_at=fail_at + 1)
    with pytest.raises((OSError, CdcError)):
        simulate(broken, batches=3, settings=SMALL, flush_size=40)
    resumed = LocalObjectStore(root=str(tmp_path / "broken"))
    done = json.loads(resumed.get_bytes(checkpoint_key("moma")))["source"] if fail_at > 1 else {}
    simulate(resumed, batches=3 - done.get("batches", 0), settings=SMALL, flush_size=40)
    assert all_bytes(resumed) == all_bytes(clean)


def test_envelope_objects_flatten_to_the_unwrapped_ones(tmp_path):
    flat = LocalObjectStore(root=str(tmp_path / "flat"))
    env = LocalObjectStore(root=str(tmp_path / "env"))
    simulate(flat, batches=2, settings=SMALL, flush_size=64)
    simulate(env, batches=2, settings=SMALL, flush_size=64, fmt="envelope")
    for topic in TOPICS:
        envelopes = topic_records(env, topic)
        flattened = []
        for e in envelopes:
            image = e["before"] if e["op"] == "d" else e["after"]
            src = e["source"]
            flattened.append(
                {
                    **image,
                    "__op": e["op"],
                    "__db": src["db"],
                    "__table": src["table"],
                    "__schema": src["schema"],
                    "__lsn": src["lsn"],
                    "__source_ts_ms": src["ts_ms"],
                    "__deleted": "true" if e["op"] == "d" else "false",
                }
            )
        assert flattened == topic_records(flat, topic)
        snapshot = [e["source"]["snapshot"] for e in envelopes if e["op"] == "r"]
        assert set(snapshot[:-1]) == {"true"}
    last = [
        e["source"]["snapshot"]
        for e in topic_records(env, "moma.public.artworks")
        if e["op"] == "r"
    ][-1]
    assert last == "last"


def test_other_settings_on_the_same_target_are_refused(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    simulate(store, batches=1, settings=SMALL)
    before = all_bytes(store)
    with pytest.raises(CdcError, match=r"was written with \{'seed': 11\}"):
        simulate(
            store, settings=SimulatorSettings(seed=99, artists=100, artworks=250, batch_size=20)
        )
    with pytest.raises(CdcError, match="cannot continue it with --format envelope"):
        simulate(store, settings=SMALL, fmt="envelope")
    assert all_bytes(store) == before


def test_objects_without_offsets_are_not_overwritten(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    simulate(store, batches=0, settings=SMALL)
    store.delete(checkpoint_key("moma"))
    before = all_bytes(store)
    with pytest.raises(CdcError, match=r"moma.public.artists\+0\+0000000000.avro already exists"):
        simulate(store, settings=SMALL)
    assert all_bytes(store) == before


def test_tables_choose_the_simulated_topics(tmp_path, capsys):
    from lakehouse.cdc.cli import main

    both, one = tmp_path / "both", tmp_path / "one"
    common = ["--simulate", "3", "--flush-size", "400", "--seed", "5"]
    assert main([*common, "--target", str(both)]) == 0
    assert main([*common, "--target", str(one), "--tables", "public.artists"]) == 0
    store = LocalObjectStore(root=str(one))
    assert {o.key.split("/")[1] for o in store.list_objects("topics/")} == {TOPICS[0]}
    # The artists topic is the one a capture of both tables writes, byte for byte.
    assert {k: v for k, v in all_bytes(store).items() if k.startswith("topics/")} == {
        k: v
        for k, v in all_bytes(LocalObjectStore(root=str(both))).items()
        if k.startswith(f"topics/{TOPICS[0]}/")
    }
    with pytest.raises(CdcError, match=r"was written with \{'tables': \['public.artists'\]\}"):
        simulate(store, batches=1, settings=SimulatorSettings(seed=5))
    capsys.readouterr()

    nope = tmp_path / "nope"
    assert main(["--simulate", "3", "--tables", "public.nope", "--target", str(nope)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lakehouse-cdc: error: --tables: the simulator has no table public.nope (it simulates "
        "public.artists, public.artworks)\n"
    )
    assert not nope.exists() or not any(nope.rglob("*"))
