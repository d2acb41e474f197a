import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.sensing import ObjectCursor, scan
from lakehouse.storage import ObjectInfo


def obj(key, ms, size=1):
    return ObjectInfo(key=key, size=size, last_modified_ms=ms)


def test_first_tick_takes_everything():
    new, cursor = scan([obj("b", 2000), obj("a", 1000)], ObjectCursor(), lookback_ms=500)
    assert [o.key for o in new] == ["a", "b"]
    assert cursor.to_json() == '{"seen":{"b":2000},"watermark_ms":2000}'


def test_nothing_new():
    cursor = ObjectCursor.from_json('{"seen":{"b":2000},"watermark_ms":2000}')
    new, after = scan([obj("a", 1000), obj("b", 2000)], cursor, lookback_ms=500)
    assert new == []
    assert after.to_json() == '{"seen":{"b":2000},"watermark_ms":2000}'


def test_out_of_key_order_late_and_replaced_objects():
    cursor = ObjectCursor(watermark_ms=10_000, seen={"h/09/x": 9_800, "h/10/y": 10_000})
    listing = [
        obj("h/08/late", 9_900),  # an earlier key, uploaded slowly: inside the look-back
        obj("h/09/x", 10_400),  # replaced under the same key
        obj("h/10/y", 10_000),  # already seen
        obj("h/10/z", 10_000),  # same millisecond as the watermark, not seen yet
        obj("h/07/old", 8_000),  # behind the look-back window: taken as seen long ago
    ]
    new, after = scan(listing, cursor, lookback_ms=1_000)
    assert [(o.key, o.last_modified_ms) for o in new] == [
        ("h/08/late", 9_900), ("h/10/z", 10_000), ("h/09/x", 10_400),
    ]  # fmt: skip
    assert after.to_json() == (
        '{"seen":{"h/08/late":9900,"h/09/x":10400,"h/10/y":10000,"h/10/z":10000},'
        '"watermark_ms":10400}'
    )


def test_deleted_objects_leave_the_cursor():
    cursor = ObjectCursor(watermark_ms=2_000, seen={"a": 1_900, "b": 2_000})
    new, after = scan([obj("b", 2_000)], cursor, lookback_ms=500)
    assert new == []
    assert after.to_json() == '{"seen":{"b":2000},"watermark_ms":2000}'


def test_with_size_a_same_second_replacement_is_new():
    """S3 listings have one-second resolution: a replacement in the same second differs only
    in size, which the cursor then records as part of the version."""
    new, cursor = scan([obj("a", 5000, 10)], ObjectCursor(), lookback_ms=500, with_size=True)
    assert [o.key for o in new] == ["a"]
    assert cursor.to_json() == '{"seen":{"a":[5000,10]},"watermark_ms":5000}'
    assert ObjectCursor.from_json(cursor.to_json()) == cursor
    new, after = scan([obj("a", 5000, 14)], cursor, lookback_ms=500, with_size=True)
    assert [(o.key, o.size) for o in new] == [("a", 14)]
    assert after.to_json() == '{"seen":{"a":[5000,14]},"watermark_ms":5000}'
    # Without the size, the same listing is nothing new.
    assert scan([obj("a", 5000, 14)], ObjectCursor(5000, {"a": 5000}), lookback_ms=500)[0] == []


def test_a_limit_hands_on_the_oldest_and_keeps_the_rest_new():
    listing = [obj("k4", 100), obj("k3", 101), obj("k2", 102), obj("k1", 103), obj("k0", 104)]
    new, cursor = scan(listing, ObjectCursor(), lookback_ms=50, limit=2)
    assert [o.key for o in new] == ["k4", "k3"]
    # The watermark stays at what was handed on, so the rest cannot fall out of the window.
    assert cursor.to_json() == '{"seen":{"k3":101,"k4":100},"watermark_ms":101}'
    new, cursor = scan(listing, cursor, lookback_ms=50, limit=2)
    assert [o.key for o in new] == ["k2", "k1"]
    new, cursor = scan(listing, cursor, lookback_ms=50, limit=2)
    assert [o.key for o in new] == ["k0"]
    assert cursor.to_json() == (
        '{"seen":{"k0":104,"k1":103,"k2":102,"k3":101,"k4":100},"watermark_ms":104}'
    )
    assert scan(listing, cursor, lookback_ms=50, limit=2)[0] == []


def test_held_objects_hold_the_watermark_even_behind_a_newer_one_handed_on():
    listing = [obj("old-hour", 100), obj("next-hour", 120), obj("old-hour-late", 200)]
    pick = lambda new: [o for o in new if o.key.startswith("old-hour")]  # noqa: E731
    new, cursor = scan(listing, ObjectCursor(), lookback_ms=50, pick=pick)
    assert [o.key for o in new] == ["old-hour", "old-hour-late"]
    # At 200 the watermark would leave next-hour (120) behind the 50 ms look-back: it stays at 120.
    assert cursor.to_json() == '{"seen":{"old-hour":100,"old-hour-late":200},"watermark_ms":120}'
    new, cursor = scan(listing, cursor, lookback_ms=50, pick=pick)
    assert new == []
    new, cursor = scan(listing, cursor, lookback_ms=50)
    assert [o.key for o in new] == ["next-hour"]
    assert cursor.to_json() == '{"seen":{"old-hour-late":200},"watermark_ms":200}'


def test_a_cursor_that_is_not_one_is_named():
    with pytest.raises(ValueError, match="not an object cursor"):
        ObjectCursor.from_json('{"key":"a","last_modified_ms":1,"recent":{}}')


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 50), st.integers(1, 3)),
        max_size=30,
    ),
    st.integers(1, 5),
    st.booleans(),
    st.none() | st.integers(1, 4),
)
def test_every_write_is_reported_exactly_once(writes, ticks, with_size, limit):
    """Writes land in arbitrary key order with non-decreasing clocks; a sensor ticking between
    them (and on until it has nothing new) reports each (key, version) once, when the clock
    skew stays inside the look-back. Versions are (time, size) with `with_size`, else times,
    so a same-millisecond rewrite of another size is a new version only then."""

    def version(o):
        return (o.last_modified_ms, o.size) if with_size else o.last_modified_ms

    store: dict[str, tuple[int, int]] = {}
    cursor, reported, clock = ObjectCursor(), [], 0
    chunks = [writes[i::ticks] for i in range(ticks)]

    def tick():
        nonlocal cursor
        listing = [obj(k, ms, size) for k, (ms, size) in store.items()]
        new, cursor = scan(listing, cursor, lookback_ms=10**6, with_size=with_size, limit=limit)
        assert limit is None or len(new) <= limit
        reported.extend((o.key, version(o)) for o in new)
        return new

    for chunk in chunks:
        for key, step, size in chunk:
            clock += step
            store[key] = (clock, size)
        tick()
    while tick():
        pass
    assert len(reported) == len(set(reported))
    assert {(k, version(obj(k, ms, size))) for k, (ms, size) in store.items()} <= set(reported)
