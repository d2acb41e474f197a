"""The pgoutput decoder against an encoder written here from PostgreSQL's "Logical Replication
Message Formats" (protocol version 1): decode(encode(x)) == x for any message, and truncated or
garbled input fails with an error naming the message type and the offset."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.cdc import pgoutput as p


def be(fmt, *values) -> bytes:
    return struct.pack(">" + fmt, *values)


def cstring(text: str) -> bytes:
    return text.encode() + b"\0"


def tuple_data(values) -> bytes:
    out = be("h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is p.UNCHANGED:
            out += b"u"
        else:
            data = v.encode()
            out += b"t" + be("i", len(data)) + data
    return out


def encode(msg) -> bytes:
    if isinstance(msg, p.Begin):
        return b"B" + be("Q", msg.final_lsn) + be("q", msg.commit_ts) + be("I", msg.xid)
    if isinstance(msg, p.Commit):
        return b"C" + be("B", msg.flags) + be("QQq", msg.commit_lsn, msg.end_lsn, msg.commit_ts)
    if isinstance(msg, p.Origin):
        return b"O" + be("Q", msg.lsn) + cstring(msg.name)
    if isinstance(msg, p.Relation):
        out = b"R" + be("I", msg.oid) + cstring(msg.namespace) + cstring(msg.name)
        out += msg.replident.encode() + be("h", len(msg.columns))
        for c in msg.columns:
            out += be("B", c.flags) + cstring(c.name) + be("I", c.type_oid) + be("i", c.typmod)
        return out
    if isinstance(msg, p.Type):
        return b"Y" + be("I", msg.oid) + cstring(msg.namespace) + cstring(msg.name)
    if isinstance(msg, p.Insert):
        return b"I" + be("I", msg.relation) + b"N" + tuple_data(msg.new)
    if isinstance(msg, p.Update):
        old = b"" if msg.old is None else msg.old_kind.encode() + tuple_data(msg.old)
        return b"U" + be("I", msg.relation) + old + b"N" + tuple_data(msg.new)
    if isinstance(msg, p.Delete):
        return b"D" + be("I", msg.relation) + msg.old_kind.encode() + tuple_data(msg.old)
    if isinstance(msg, p.Truncate):
        rels = b"".join(be("I", r) for r in msg.relations)
        return b"T" + be("i", len(msg.relations)) + be("B", msg.options) + rels
    assert isinstance(msg, p.Message)
    return (
        b"M" + be("B", msg.flags) + be("Q", msg.lsn) + cstring(msg.prefix)
        + be("i", len(msg.content)) + msg.content
    )  # fmt: skip


u8 = st.integers(0, 255)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
name = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=20)
value = st.one_of(
    st.none(), st.just(p.UNCHANGED), st.text(st.characters(blacklist_categories=("Cs",)))
)
row = st.lists(value, max_size=8).map(tuple)
columns = st.lists(
    st.builds(p.RelationColumn, st.sampled_from([0, 1]), name, u32, st.integers(-1, 2**31 - 1)),
    max_size=6,
).map(tuple)
messages = st.one_of(
    st.builds(p.Begin, u64, i64, u32),
    st.builds(p.Commit, st.just(0), u64, u64, i64),
    st.builds(p.Origin, u64, name),
    st.builds(p.Relation, u32, name, name, st.sampled_from("dnfi"), columns),
    st.builds(p.Type, u32, name, name),
    st.builds(p.Insert, u32, row),
    st.builds(p.Update, u32, st.just(None), st.just(None), row),
    st.builds(p.Update, u32, st.sampled_from("KO"), row, row),
    st.builds(p.Delete, u32, st.sampled_from("KO"), row),
    st.builds(p.Truncate, st.integers(0, 3), st.lists(u32, max_size=5).map(tuple)),
    st.builds(p.Message, st.sampled_from([0, 1]), u64, name, st.binary(max_size=40)),
)


@given(st.lists(messages, min_size=1, max_size=12))
def test_decoding_inverts_the_protocols_encoding(sequence):
    assert [p.decode(encode(m)) for m in sequence] == sequence


@given(messages, st.data())
def test_truncated_messages_name_their_type_and_offset(msg, data):
    raw = encode(msg)
    cut = data.draw(st.integers(1, len(raw) - 1)) if len(raw) > 1 else None
    if cut is None:
        return
    with pytest.raises(p.PgoutputError) as e:
        p.decode(raw[:cut])
    text = str(e.value)
    assert text.startswith(f"pgoutput {p.NAMES[raw[0]]} message: ")
    assert " at offset " in text and "\n" not in text
    at = int(text.rsplit(" at offset ", 1)[1])
    assert 1 <= at <= cut


@given(messages, st.binary(min_size=1, max_size=8))
def test_trailing_garbage_is_reported_not_ignored(msg, extra):
    raw = encode(msg)
    with pytest.raises(p.PgoutputError, match=rf"^pgoutput {p.NAMES[raw[0]]} message: "):
        p.decode(raw + extra)


@given(messages, st.data())
def test_the_fast_path_accepts_exactly_what_the_careful_parser_accepts(msg, data):
    """Changes take a fast path; on any byte string, it gives what the checked parse gives."""
    raw = bytearray(encode(msg))
    for _ in range(data.draw(st.integers(0, 3))):  # overwrite, cut or extend at random
        at = data.draw(st.integers(0, len(raw)))
        change = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if change == "set" and at < len(raw):
            raw[at] = data.draw(st.sampled_from([0, 0xFF, 0x80, ord("t"), ord("n"), ord("N")]))
        elif change == "cut":
            del raw[at:]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    raw = bytes(raw)
    try:
        careful = p.decode_carefully(raw)
    except p.PgoutputError as e:
        with pytest.raises(p.PgoutputError) as fast:
            p.decode(raw)
        assert str(fast.value) == str(e)
    else:
        assert p.decode(raw) == careful


def test_specific_garbage_is_named():
    cases = {
        b"": "pgoutput message: empty at offset 0",
        b"Z123": "pgoutput message: unknown message type b'Z' at offset 0",
        b"I\0\0\0\1X": "pgoutput Insert message: expected 'N', got b'X' at offset 5",
        b"I\0\0\0\1N\0\1x": "pgoutput Insert message: unknown column value kind b'x' at offset 8",
        b"D\0\0\0\1N": "pgoutput Delete message: expected 'K' or 'O', got b'N' at offset 5",
        b"I\0\0\0\1N\xff\xff": "pgoutput Insert message: negative column count -1 at offset 6",
        b"U\0\0\0\1K\0\0N\x80\0": "pgoutput Update message: negative column count -32768 at "
        "offset 9",
        b"I\0\0\0\1N\0\1t\0\0\0\5ab": "pgoutput Insert message: truncated (5 bytes needed, "
        "2 left) at offset 13",
        b"I\0\0\0\1N\0\1t\0\0\0\2\xff\xfe": "pgoutput Insert message: column value is not "
        "UTF-8 at offset 13",
        b"Y\0\0\0\1abc": "pgoutput Type message: unterminated string at offset 5",
        b"B" + be("QqI", 1, 2, 3) + b"!": "pgoutput Begin message: 1 trailing bytes at offset 21",
    }
    for raw, message in cases.items():
        with pytest.raises(p.PgoutputError) as e:
            p.decode(raw)
        assert str(e.value) == message, raw


def test_integers_are_big_endian_and_timestamps_count_from_2000():
    begin = p.decode(b"B" + bytes(range(1, 9)) + be("q", 1_500) + be("I", 0x01020304))
    assert begin == p.Begin(0x0102030405060708, 1_500, 0x01020304)
    assert p.commit_ts_ms(1_500) == 946_684_800_001  # 2000-01-01 00:00:00.0015, truncated
    assert p.commit_ts_ms(-1) == 946_684_799_999
