import gzip
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.iot.landing import LandingWriter, encode, partition_of, read_records
from lakehouse.iot.readings import Quarantined
from lakehouse.storage import LocalObjectStore

KEY = re.compile(
    r"message/2020/08/27/15/lakehouse-telemetry-1-2020-08-27-15-45-(\d\d)-[0-9a-f-]{36}\.gz"
)


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_flushes_by_age_with_a_manifest_listing_exactly_its_object(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    clock = Clock(1598543131.0)
    writer = LandingWriter(store, flush_seconds=1, clock=clock)
    assert writer.add({"n": 1}) is None
    clock.t += 0.5
    assert writer.add({"n": 2}) is None
    clock.t += 0.6
    batch = writer.add({"n": 3})
    assert batch.records == 3
    (key,) = batch.objects
    assert KEY.fullmatch(key)
    assert partition_of(key) == "2020-08-27-15:00"
    manifest = json.loads(store.get_bytes(batch.manifest))
    assert manifest == {"entries": [{"url": store.uri(key), "mandatory": True}]}
    assert batch.manifest.startswith("message/manifests/2020/08/27/15/")
    assert [r for _, r in read_records(store.get_bytes(key), key)] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert writer.flush() is None  # nothing left


def test_flushes_by_size(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    writer = LandingWriter(store, flush_bytes=100, flush_seconds=60, clock=Clock(1598543131.0))
    batches = [b for i in range(20) if (b := writer.add({"payload": "x" * 20, "i": i}))]
    assert len(batches) == 6 and all(b.records == 3 for b in batches)


def test_reads_concatenated_objects_and_quarantines_bad_lines():
    data = gzip.compress(b'{"a":1}{"a":2}\nnot json\n[1,2]\n {"a":3} \n')
    out = list(read_records(data, "k.gz"))
    assert [(n, r) for n, r in out if isinstance(r, dict)] == [
        (1, {"a": 1}),
        (1, {"a": 2}),
        (4, {"a": 3}),
    ]
    bad = [(n, r.reason) for n, r in out if isinstance(r, Quarantined)]
    assert bad == [(2, "k.gz:2: not JSON (Expecting value at column 1)"),
                   (3, "k.gz:3: a JSON list, not an object")]  # fmt: skip


def test_not_gzip_is_quarantined_not_raised():
    ((n, result),) = list(read_records(b"plain text", "k.gz"))
    assert n == 0 and result.reason.startswith("k.gz: not a gzip UTF-8 object")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(), json_values, max_size=4), max_size=20))
def test_round_trip(records):
    assert [r for _, r in read_records(encode(records), "k.gz")] == records


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(payload):
    for data in (payload, gzip.compress(payload)):
        for _, result in read_records(data, "k.gz"):
            assert isinstance(result, dict | Quarantined)
