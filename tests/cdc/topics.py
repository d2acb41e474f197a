"""Reading back what a capture wrote, checking the sink's naming and offsets on the way."""

import io
import re

import fastavro

from lakehouse.cdc.sink import topic_prefix

KEY = re.compile(r"^topics/(?P<topic>[^/]+)/partition=0/(?P=topic)\+0\+(?P<offset>\d{10})\.avro$")


def topic_objects(store, topic) -> list[tuple[int, str, list[dict], fastavro.reader]]:
    """[(start offset, key, records, reader)] in offset order; asserts gap-free offsets from 0."""
    out = []
    for o in store.list_objects(topic_prefix(topic)):
        m = KEY.match(o.key)
        assert m and m["topic"] == topic, o.key
        reader = fastavro.reader(io.BytesIO(store.get_bytes(o.key)))
        out.append((int(m["offset"]), o.key, list(reader), reader))
    out.sort()
    expected = 0
    for start, key, records, _ in out:
        assert start == expected, f"{key}: starts at {start}, expected {expected} (gap or overlap)"
        assert records, f"{key} is empty"
        expected += len(records)
    return out


def topic_records(store, topic) -> list[dict]:
    return [r for _, _, records, _ in topic_objects(store, topic) for r in records]
