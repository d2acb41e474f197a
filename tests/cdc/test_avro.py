"""The sink's container files against fastavro's writer, block by block (the columnar record
encoder itself is tested in tests/hudi/test_avro_encoder.py)."""

import io
import json

import fastavro
import numpy as np
import pyarrow as pa

from lakehouse.cdc import avro


def test_container_blocks_end_where_fastavros_do():
    """Records of varying size over many 64,000-byte blocks: the same blocks, the same bytes
    after the header (whose schema text is ours, not fastavro's rendering)."""
    rng = np.random.default_rng(3)
    texts = ["x" * int(k) for k in rng.integers(0, 400, 3_000)]
    schema = {"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}
    marker = bytes(range(16))
    ours = avro.container(json.dumps(schema), avro.join_rows(
        avro.field_pieces(pa.array(texts), "string", None), len(texts)), marker)  # fmt: skip
    buf = io.BytesIO()
    fastavro.writer(buf, schema, [{"s": t} for t in texts], sync_interval=avro.SYNC_INTERVAL,
                    sync_marker=marker)  # fmt: skip
    theirs = buf.getvalue()
    blocks = [b.num_records for b in fastavro.block_reader(io.BytesIO(theirs))]
    assert len(blocks) > 5
    assert [b.num_records for b in fastavro.block_reader(io.BytesIO(ours))] == blocks
    assert ours[ours.index(marker) + 16 :] == theirs[theirs.index(marker) + 16 :]


def test_an_empty_container_is_just_the_header():
    data = avro.container('"string"', pa.array([], pa.binary()), b"m" * 16)
    reader = fastavro.reader(io.BytesIO(data))
    assert list(reader) == [] and reader.metadata == {
        "avro.schema": '"string"',
        "avro.codec": "null",
    }
