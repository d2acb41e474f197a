"""The sink's buffering: objects by flush size and by rotate interval, and changes seen twice."""

from lakehouse.cdc.records import Change
from lakehouse.cdc.sink import CdcSink
from lakehouse.cdc.source_tables import ARTISTS
from lakehouse.storage import LocalObjectStore
from tests.cdc.topics import topic_objects

A = "moma.public.artists"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def change(i, name="x"):
    return Change("u", ARTISTS, {"artist_id": i, "name": name}, 1000 + i, 5, (1000, i))


def sink_for(tmp_path, clock, rotate_interval_ms):
    return CdcSink(LocalObjectStore(root=str(tmp_path)), server="moma", db="moma",
                   tables=[ARTISTS], flush_size=3, rotate_interval_ms=rotate_interval_ms,
                   clock=clock)  # fmt: skip


def sizes(tmp_path):
    return [len(r) for _, _, r, _ in topic_objects(LocalObjectStore(root=str(tmp_path)), A)]


def test_objects_by_size_then_by_rotate_interval(tmp_path):
    clock = Clock()
    sink = sink_for(tmp_path, clock, 1_000)
    assert all(sink.add(change(i)) for i in range(4))
    assert sizes(tmp_path) == [3]  # the fourth waits for more or for the interval
    sink.rotate()
    assert sizes(tmp_path) == [3]
    clock.now += 1.0
    sink.rotate()
    assert sizes(tmp_path) == [3, 1]
    assert sink.oldest_buffered() is None
    assert [o.records for o in sink.report().objects] == [3, 1]


def test_interval_zero_writes_by_size_only(tmp_path):
    clock = Clock()
    sink = sink_for(tmp_path, clock, 0)
    sink.add(change(0))
    clock.now += 3600
    sink.rotate()
    sink.add(change(1))
    assert sizes(tmp_path) == []
    assert sink.oldest_buffered() == (1000, 0)
    sink.flush_all()
    assert sizes(tmp_path) == [2]


def test_a_change_already_held_or_written_is_skipped(tmp_path):
    sink = sink_for(tmp_path, Clock(), 0)
    assert [sink.add(change(i)) for i in (0, 1, 2, 1, 3, 3)] == [True] * 3 + [False, True, False]
    sink.flush_all()
    resumed = sink_for(tmp_path, Clock(), 0)  # from the checkpoint: positions up to (1000, 3)
    assert [resumed.add(change(i, "again")) for i in (2, 3, 4)] == [False, False, True]
