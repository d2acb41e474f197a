"""The durable spool: order, acknowledgement, the bound and its policies, and a SIGKILL."""

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.intake import Accepted
from gateway.spool import Spool, SpoolError


def accepted(n: int) -> Accepted:
    return Accepted(
        json.dumps({"n": n}).encode(),
        f"id-{n}",
        "0447383033363932003C0034",
        1598543131.0 + n,
        -61,
        56,
    )


def numbers(rows) -> list[int]:
    return [json.loads(payload)["n"] for _, payload in rows]


def test_order_ack_and_reopen(tmp_path):
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.add([accepted(n) for n in range(5)])
    rows = spool.pending(0, 3)
    assert numbers(rows) == [0, 1, 2]
    spool.ack([rows[0][0], rows[2][0]])
    assert spool.depth() == 3
    spool.close()
    again = Spool(path)  # what was not acknowledged survives a restart
    assert numbers(again.pending(0, 10)) == [1, 3, 4]
    last = again.pending(0, 10)[-1][0]
    again.ack([r[0] for r in again.pending(0, 10)])
    again.add([accepted(9)])
    (row,) = again.pending(0, 10)
    assert row[0] > last  # ids are never reused, so a publish cursor only moves forward
    assert again.get([rows[1][0], row[0]]) == [row]  # acknowledged ids are gone
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_drop_oldest_when_full(tmp_path, caplog):
    spool = Spool(tmp_path / "s.db", max_messages=3, policy="drop-oldest")
    spool.add([accepted(n) for n in range(2)])
    assert spool.add([accepted(n) for n in range(2, 5)]) == 2
    assert numbers(spool.pending(0, 10)) == [2, 3, 4]
    assert spool.counter("dropped") == 2 and spool.depth() == 3
    assert "spool full (3 messages): drop-oldest dropped 2 reading(s)" in caplog.text


def test_drop_oldest_evicts_the_lowest_ids_first(tmp_path):
    """Eviction order by spool id: a full spool gives up its oldest readings, one by one."""
    spool = Spool(tmp_path / "s.db", max_messages=4, policy="drop-oldest")
    spool.add([accepted(n) for n in range(4)])
    ids = [i for i, _ in spool.pending(0, 10)]
    spool.add([accepted(4)])
    assert [i for i, _ in spool.pending(0, 10)] == ids[1:] + [ids[-1] + 1]
    spool.add([accepted(5), accepted(6)])
    assert numbers(spool.pending(0, 10)) == [3, 4, 5, 6]
    assert [i for i, _ in spool.pending(0, 10)] == [ids[3], ids[3] + 1, ids[3] + 2, ids[3] + 3]


class SpoolModel:
    """The spool's contract: the readings it keeps, oldest first, and how many it dropped."""

    def __init__(self, max_messages: int, policy: str):
        self.max, self.policy = max_messages, policy
        self.kept: list[int] = []
        self.dropped = 0

    def add(self, ns: list[int]) -> int:
        free = self.max - len(self.kept)
        dropped = 0
        if len(ns) > free:
            if self.policy == "drop-newest":
                dropped, ns = len(ns) - free, ns[:free]
            else:
                overflow = max(len(ns) - self.max, 0)
                ns = ns[overflow:]
                evict = len(ns) - free
                self.kept = self.kept[evict:]
                dropped = overflow + evict
        self.kept += ns
        self.dropped += dropped
        return dropped


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    max_messages=st.integers(1, 6),
    policy=st.sampled_from(["drop-oldest", "drop-newest"]),
    steps=st.lists(st.one_of(st.integers(1, 8), st.just(0)), max_size=15),
    data=st.data(),
)
def test_the_spool_keeps_exactly_what_the_model_keeps(
    tmp_path_factory, max_messages, policy, steps, data
):
    """Adds (k > 0 readings) and acknowledgements (0) in any order against the model above."""
    spool = Spool(tmp_path_factory.mktemp("s") / "s.db", max_messages=max_messages, policy=policy)
    model = SpoolModel(max_messages, policy)
    n = 0
    for k in steps:
        if k:
            assert spool.add([accepted(i) for i in range(n, n + k)]) == model.add(
                list(range(n, n + k))
            )
            n += k
        elif model.kept:
            rows = spool.pending(0, 99)
            acked = data.draw(st.sets(st.sampled_from(rows)))
            spool.ack([i for i, _ in acked])
            gone = set(numbers(acked))
            model.kept = [x for x in model.kept if x not in gone]
        rows = spool.pending(0, 99)
        assert numbers(rows) == model.kept
        ids = [i for i, _ in rows]
        assert ids == sorted(set(ids))  # oldest first, ids never reused
        assert spool.depth() == len(model.kept) and spool.counter("dropped") == model.dropped
    spool.close()


def test_a_batch_larger_than_the_spool_keeps_its_newest(tmp_path):
    spool = Spool(tmp_path / "s.db", max_messages=3, policy="drop-oldest")
    spool.add([accepted(0)])
    assert spool.add([accepted(n) for n in range(1, 6)]) == 3
    assert numbers(spool.pending(0, 10)) == [3, 4, 5] and spool.depth() == 3
    assert spool.last_id == spool.pending(0, 10)[-1][0]


def test_last_id_survives_a_restart_and_only_grows(tmp_path):
    spool = Spool(tmp_path / "s.db")
    assert spool.last_id == 0
    spool.add([accepted(n) for n in range(3)])
    last = spool.last_id
    assert last == spool.pending(0, 10)[-1][0]
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.last_id == last
    again.ack([i for i, _ in again.pending(0, 10)])
    again.add([accepted(9)])
    assert again.last_id > last


def test_drop_newest_when_full(tmp_path):
    spool = Spool(tmp_path / "s.db", max_messages=3, policy="drop-newest")
    spool.add([accepted(n) for n in range(2)])
    assert spool.add([accepted(n) for n in range(2, 5)]) == 2
    assert spool.add([accepted(5)]) == 1
    assert numbers(spool.pending(0, 10)) == [0, 1, 2]
    assert spool.counter("dropped") == 3


def test_bad_settings_name_what_is_wrong(tmp_path):
    with pytest.raises(SpoolError, match=r"cannot open the spool .*/missing/dir/s.db"):
        Spool(tmp_path / "missing/dir/s.db")
    with pytest.raises(SpoolError, match="is not one of drop-oldest, drop-newest"):
        Spool(tmp_path / "s.db", policy="drop-all")
    with pytest.raises(SpoolError, match="must be at least 1"):
        Spool(tmp_path / "s.db", max_messages=0)


WRITER = textwrap.dedent(
    """
    import sys
    from gateway.spool import Spool
    from tests.gateway.test_spool import accepted
    spool = Spool(sys.argv[1])
    n = 0
    while True:
        spool.add([accepted(n + i) for i in range(7)])
        n += 7
        print(n, flush=True)
    """
)


def test_sigkill_mid_write_loses_no_committed_reading(tmp_path):
    path = tmp_path / "spool.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    committed = 0
    for line in proc.stdout:
        committed = int(line)
        if committed >= 700:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    spool = Spool(path)
    assert spool.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    found = numbers(spool.pending(0, 10**6))
    # Every reported commit is there, whole transactions only, in order, each row complete.
    assert found == list(range(len(found)))
    assert len(found) >= committed and len(found) % 7 == 0
    assert spool.depth() == len(found)
