from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.sensing import ObjectCursor, scan
from lakehouse.storage import ObjectInfo


def obj(key, ms):
    return ObjectInfo(key=key, size=1, last_modified_ms=ms)


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


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 50)), max_size=30),
       st.integers(1, 5))  # fmt: skip
def test_every_write_is_reported_exactly_once(writes, ticks):
    """Writes land in arbitrary key order with non-decreasing clocks; a sensor ticking between
    them reports each (key, version) once, when the clock skew stays inside the look-back."""
    store: dict[str, int] = {}
    cursor, reported, clock = ObjectCursor(), [], 0
    chunks = [writes[i::ticks] for i in range(ticks)]
    for chunk in chunks:
        for key, step in chunk:
            clock += step
            store[key] = clock
        new, cursor = scan([obj(k, v) for k, v in store.items()], cursor, lookback_ms=10**6)
        reported += [(o.key, o.last_modified_ms) for o in new]
    assert len(reported) == len(set(reported))
    assert set(store.items()) <= set(reported)
