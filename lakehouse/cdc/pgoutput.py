"""A decoder of PostgreSQL's `pgoutput` logical replication protocol, version 1.

pgoutput is the output plugin built into every PostgreSQL since 10 (Debezium's default
`plugin.name`). Each replication message is one of the messages below ("Logical Replication
Message Formats" in the PostgreSQL documentation); integers are big-endian and strings are
NUL-terminated. Column values come as text ('t'), NULL ('n') or, for an unchanged TOASTed value
an update does not carry, 'u'. Turning the text into typed values is the capture's business
(`converters`), so this module stays a pure parser that a test can run against its own encoder.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from lakehouse.cdc.source_tables import CdcError

# PostgreSQL's epoch (2000-01-01), which its timestamps count from, in Unix milliseconds.
PG_EPOCH_MS = 946_684_800_000


class PgoutputError(CdcError):
    """Malformed or unexpected pgoutput data."""


class Unchanged:
    """The value of an unchanged TOASTed column ('u'): the update does not carry it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


class Begin(NamedTuple):
    final_lsn: int
    commit_ts: int  # microseconds since 2000-01-01
    xid: int


class Commit(NamedTuple):
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_ts: int


class Origin(NamedTuple):
    lsn: int
    name: str


class RelationColumn(NamedTuple):
    flags: int  # 1: part of the replica identity (the key)
    name: str
    type_oid: int
    typmod: int


class Relation(NamedTuple):
    oid: int
    namespace: str
    name: str
    replident: str
    columns: tuple[RelationColumn, ...]


class Type(NamedTuple):
    oid: int
    namespace: str
    name: str


class Insert(NamedTuple):
    relation: int
    new: tuple


class Update(NamedTuple):
    relation: int
    old_kind: str | None  # 'K' (key columns), 'O' (the whole old row) or None
    old: tuple | None
    new: tuple


class Delete(NamedTuple):
    relation: int
    old_kind: str  # 'K' or 'O'
    old: tuple


class Truncate(NamedTuple):
    options: int  # 1: CASCADE, 2: RESTART IDENTITY
    relations: tuple[int, ...]


class Message(NamedTuple):
    flags: int  # 1: transactional
    lsn: int
    prefix: str
    content: bytes


NAMES = {
    b"B"[0]: "Begin", b"C"[0]: "Commit", b"O"[0]: "Origin", b"R"[0]: "Relation",
    b"Y"[0]: "Type", b"I"[0]: "Insert", b"U"[0]: "Update", b"D"[0]: "Delete",
    b"T"[0]: "Truncate", b"M"[0]: "Message",
}  # fmt: skip

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_BEGIN = struct.Struct(">QqI")
_COMMIT = struct.Struct(">BQQq")
_COLUMN = struct.Struct(">Ii")


class _Reader:
    """A cursor over one message; every read names the message and offset when data runs out."""

    __slots__ = ("data", "pos", "kind")

    def __init__(self, data: bytes, kind: str):
        self.data, self.pos, self.kind = data, 1, kind

    def fail(self, what: str, at: int | None = None) -> PgoutputError:
        at = self.pos if at is None else at
        return PgoutputError(f"pgoutput {self.kind} message: {what} at offset {at}")

    def need(self, n: int) -> int:
        at = self.pos
        if at + n > len(self.data):
            raise self.fail(f"truncated ({n} bytes needed, {len(self.data) - at} left)")
        self.pos = at + n
        return at

    def unpack(self, st: struct.Struct) -> tuple:
        return st.unpack_from(self.data, self.need(st.size))

    def byte(self) -> int:
        return self.data[self.need(1)]

    def string(self) -> str:
        at = self.pos
        end = self.data.find(b"\0", at)
        if end < 0:
            raise self.fail("unterminated string")
        self.pos = end + 1
        try:
            return self.data[at:end].decode()
        except UnicodeDecodeError:
            raise self.fail("string is not UTF-8", at) from None

    def tuple_data(self) -> tuple:
        (n,) = self.unpack(_I16)
        if n < 0:
            raise self.fail(f"negative column count {n}", self.pos - 2)
        data = self.data
        values = []
        for _ in range(n):
            at = self.need(1)
            kind = data[at]
            if kind == 116:  # 't'
                (length,) = self.unpack(_I32)
                if length < 0:
                    raise self.fail(f"negative value length {length}", self.pos - 4)
                start = self.need(length)
                try:
                    values.append(data[start : start + length].decode())
                except UnicodeDecodeError:
                    raise self.fail("column value is not UTF-8", start) from None
            elif kind == 110:  # 'n'
                values.append(None)
            elif kind == 117:  # 'u'
                values.append(UNCHANGED)
            else:  # 'b' only comes with the binary option, which the capture never asks for
                raise self.fail(f"unknown column value kind {bytes([kind])!r}", at)
        return tuple(values)

    def done(self, msg):
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")
        return msg


class _Careful(Exception):
    """The fast path met something it does not check for; the careful parser names it."""


def _fast_tuple(data: bytes, pos: int) -> tuple[tuple, int]:
    (n,) = _I16.unpack_from(data, pos)
    if n < 0:
        raise _Careful
    pos += 2
    size = len(data)
    values = []
    append = values.append
    for _ in range(n):
        kind = data[pos]
        if kind == 116:  # 't'
            (length,) = _I32.unpack_from(data, pos + 1)
            pos += 5
            end = pos + length
            if length < 0 or end > size:
                raise _Careful
            append(data[pos:end].decode())
            pos = end
        elif kind == 110:
            append(None)
            pos += 1
        elif kind == 117:
            append(UNCHANGED)
            pos += 1
        else:
            raise _Careful
    return tuple(values), pos


def _fast_change(data: bytes, tag: int):
    """Insert, Update or Delete, the bulk of a stream, with the fewest steps; anything amiss
    raises, and `decode` then parses the message again carefully for the error."""
    (rel,) = _U32.unpack_from(data, 1)
    mark = data[5]
    old_kind = old = None
    pos = 6
    if mark == 75 or mark == 79:  # K, O
        if tag == 73:
            raise _Careful
        old_kind = "K" if mark == 75 else "O"
        old, pos = _fast_tuple(data, 6)
        if tag == 68:
            if pos != len(data):
                raise _Careful
            return Delete(rel, old_kind, old)
        mark = data[pos]
        pos += 1
    if mark != 78 or tag == 68:  # N
        raise _Careful
    new, pos = _fast_tuple(data, pos)
    if pos != len(data):
        raise _Careful
    return Insert(rel, new) if tag == 73 else Update(rel, old_kind, old, new)


def decode(data: bytes):
    """One pgoutput message as the named tuple of its type."""
    if data and data[0] in (73, 85, 68):
        try:
            return _fast_change(data, data[0])
        except (_Careful, IndexError, struct.error, UnicodeDecodeError):
            pass  # the careful parse below raises the error that says where
    return decode_carefully(data)


def decode_carefully(data: bytes):
    """`decode`, every step checked: a malformed message fails naming its type and offset."""
    if not data:
        raise PgoutputError("pgoutput message: empty at offset 0")
    tag = data[0]
    kind = NAMES.get(tag)
    if kind is None:
        raise PgoutputError(f"pgoutput message: unknown message type {bytes([tag])!r} at offset 0")
    r = _Reader(data, kind)
    if tag == 73:  # I
        (rel,) = r.unpack(_U32)
        at = r.need(1)
        if data[at] != 78:  # N
            raise r.fail(f"expected 'N', got {data[at : at + 1]!r}", at)
        return r.done(Insert(rel, r.tuple_data()))
    if tag == 85:  # U
        (rel,) = r.unpack(_U32)
        at = r.need(1)
        old_kind = old = None
        if data[at] in (75, 79):  # K, O
            old_kind, old = chr(data[at]), r.tuple_data()
            at = r.need(1)
        if data[at] != 78:
            raise r.fail(f"expected 'K', 'O' or 'N', got {data[at : at + 1]!r}", at)
        return r.done(Update(rel, old_kind, old, r.tuple_data()))
    if tag == 68:  # D
        (rel,) = r.unpack(_U32)
        at = r.need(1)
        if data[at] not in (75, 79):
            raise r.fail(f"expected 'K' or 'O', got {data[at : at + 1]!r}", at)
        return r.done(Delete(rel, chr(data[at]), r.tuple_data()))
    if tag == 66:  # B
        return r.done(Begin(*r.unpack(_BEGIN)))
    if tag == 67:  # C
        return r.done(Commit(*r.unpack(_COMMIT)))
    if tag == 82:  # R
        (oid,) = r.unpack(_U32)
        namespace, name = r.string(), r.string()
        replident = chr(r.byte())
        (n,) = r.unpack(_I16)
        if n < 0:
            raise r.fail(f"negative column count {n}", r.pos - 2)
        columns = []
        for _ in range(n):
            flags = r.byte()
            col = r.string()
            columns.append(RelationColumn(flags, col, *r.unpack(_COLUMN)))
        return r.done(Relation(oid, namespace, name, replident, tuple(columns)))
    if tag == 89:  # Y
        (oid,) = r.unpack(_U32)
        return r.done(Type(oid, r.string(), r.string()))
    if tag == 79:  # O
        (lsn,) = r.unpack(_U64)
        return r.done(Origin(lsn, r.string()))
    if tag == 84:  # T
        (n,) = r.unpack(_I32)
        if n < 0:
            raise r.fail(f"negative relation count {n}", r.pos - 4)
        options = r.byte()
        rels = struct.unpack_from(f">{n}I", data, r.need(4 * n))
        return r.done(Truncate(options, rels))
    # M
    flags = r.byte()
    (lsn,) = r.unpack(_U64)
    prefix = r.string()
    (length,) = r.unpack(_I32)
    if length < 0:
        raise r.fail(f"negative content length {length}", r.pos - 4)
    start = r.need(length)
    return r.done(Message(flags, lsn, prefix, data[start : start + length]))


def commit_ts_ms(pg_us: int) -> int:
    """A pgoutput timestamp (microseconds since 2000-01-01) in Unix epoch milliseconds."""
    return PG_EPOCH_MS + pg_us // 1000


def _bool(text: str) -> bool:
    return text == "t"


# Type OIDs of the types tables.PG_TO_AVRO maps, with the Python value each text form becomes:
# the values wal2json's JSON gives for the same columns, so both plugins write the same bytes.
TYPE_OIDS: dict[str, int] = {
    "smallint": 21, "integer": 23, "bigint": 20, "text": 25, "character varying": 1043,
    "character": 1042, "boolean": 16, "real": 700, "double precision": 701,
}  # fmt: skip
CONVERTERS = {21: int, 23: int, 20: int, 25: None, 1043: None, 1042: None, 16: _bool,
              700: float, 701: float}  # fmt: skip
