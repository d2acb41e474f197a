"""Property-based tests of the receive-line parser: over 100k random and mutated lines, nothing
crashes, and a message is built exactly for the lines an independent oracle accepts."""

import json
import logging
import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.intake import Intake
from gateway.parser import Received, Rejected, parse_line
from tests.gateway.vectors import VECTORS, line_of

# The oracle: the whole grammar of a valid line as one regex, written independently of the
# parser, plus the numeric checks (iot reference §3.3).
# Integers never have a leading zero (the firmware's printf and the module never write one).
INT = rb"(?:0|[1-9]\d{0,4})"
SINT = rb"(?:0|-?[1-9]\d{0,3})"
DEC = rb"-?(?:0|[1-9]\d{0,3})\.\d\d"
VALID = re.compile(
    rb"\+RCV=("
    + INT
    + rb"),([1-9]\d{0,2}),(([0-9A-F]{24})\|("
    + DEC
    + rb")\|("
    + DEC
    + rb")\|("
    + DEC
    + rb")\|("
    + INT
    + rb")\|("
    + INT
    + rb")\|("
    + INT
    + rb")\|("
    + INT
    + rb")"
    rb"(?:\|2\|([0-9A-F]{8})\|(0|[1-9]\d{0,9})\|([0-9A-F]{4}))?),("
    + SINT
    + rb"),("
    + SINT
    + rb")\r\n"
)
LIMITS = VECTORS["limits"]


def crc_ccitt_false(data: bytes) -> int:
    """Bit by bit, independently of the gateway's table-driven one."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


QUIET = logging.getLogger("tests.fuzz.quiet")
QUIET.setLevel(logging.CRITICAL)  # 100k rejections; their log text is tested in test_vectors

SEEDS = [line_of(v) for v in VECTORS["receive"]]
ALPHABET = b"0123456789.-|,+ABCDEFRCV=\r\n nai\xff\x00"


def oracle(raw: bytes) -> dict | None:
    m = VALID.fullmatch(raw)
    if not m:
        return None
    addr, length, data, uid, t, h, p, r, g, b, a, boot, counter, crc, rssi, snr = m.groups()
    t, h, p = float(t), float(h), float(p)
    counts = [int(c) for c in (r, g, b, a)]
    if crc is not None and (
        int(crc, 16) != crc_ccitt_false(data[: -len(crc) - 1]) or int(counter) >= 2**32
    ):
        return None
    ok = (
        int(addr) == 116
        and 1 <= int(length) <= 240
        and int(length) == len(data)
        and LIMITS["temperature"][0] <= t <= LIMITS["temperature"][1]
        and LIMITS["humidity"][0] <= h <= LIMITS["humidity"][1]
        and LIMITS["pressure"][0] <= p <= LIMITS["pressure"][1]
        and all(LIMITS["color"][0] <= c <= LIMITS["color"][1] for c in counts)
        and -200 <= int(rssi) <= 0
        and -128 <= int(snr) <= 127
    )
    if not ok:
        return None
    return {
        "device_id": uid.decode(),
        "temperature": t,
        "humidity": h,
        "pressure": p,
        "color": dict(zip(("red", "green", "blue", "ambient"), map(float, counts), strict=True)),
        "identity": None if boot is None else (boot.decode(), int(counter), crc.decode()),
    }


def no_constants(name):
    raise AssertionError(f"published JSON contains {name}")


class Checker:
    def __init__(self):
        self.intake = Intake("00000000f62051ce", schema_version=2, log=QUIET)
        self.lines = self.accepted = 0

    def check(self, raw: bytes) -> None:
        self.lines += 1
        result = parse_line(raw)
        assert isinstance(result, Received | Rejected)
        accepted = self.intake.handle(raw, 1598543131.9861386)
        expected = oracle(raw)
        if expected is None:
            assert accepted is None, raw
            return
        assert accepted is not None, (raw, result)
        self.accepted += 1
        message = json.loads(accepted.payload, parse_constant=no_constants)
        data = message["data"]
        identity = expected.pop("identity")
        assert {k: data[k] for k in expected} == expected
        if identity is None:
            assert message["schema_version"] == 2
        else:
            assert (message["boot_id"], message["seq"], message["crc"]) == identity
            assert message["msg_id"] == f"{data['device_id']}-{identity[0]}-{identity[1]}"
        assert (message["rssi"], message["snr"]) == (result.rssi, result.snr)
        assert accepted.payload.isascii()


def valid_line(rng: random.Random) -> bytes:
    uid = "".join(rng.choice("0123456789ABCDEF") for _ in range(24))
    t, h, p = rng.uniform(-44, 116), rng.uniform(0, 100), rng.uniform(26, 126)
    colors = [rng.choice((0, 4097, 65535, rng.randrange(0, 5000))) for _ in range(4)]
    data = "|".join([uid, f"{t:.2f}", f"{h:.2f}", f"{p:.2f}", *map(str, colors)])
    if rng.random() < 0.5:  # format 2
        data += f"|2|{rng.getrandbits(32):08X}|{rng.choice((0, rng.getrandbits(32)))}"
        data += f"|{crc_ccitt_false(data.encode()):04X}"
    rssi, snr = rng.randrange(-140, 1), rng.randrange(-20, 80)
    return f"+RCV=116,{len(data)},{data},{rssi},{snr}\r\n".encode()


def mutate(rng: random.Random, line: bytes) -> bytes:
    buf = bytearray(line)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        op = rng.randrange(6)
        i = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(i, len(buf) - 1)] = rng.choice(ALPHABET)
        elif op == 1 and buf:
            del buf[min(i, len(buf) - 1)]
        elif op == 2:
            buf.insert(i, rng.choice(ALPHABET))
        elif op == 3:
            j = rng.randrange(i, len(buf) + 1)
            buf[i:i] = buf[i:j]
        elif op == 4:
            buf = buf[:i]
        else:
            buf[min(i, len(buf) - 1) : min(i, len(buf) - 1) + 1] = rng.randbytes(rng.randrange(4))
    return bytes(buf)


def bulk_lines(rng: random.Random, n: int):
    for _ in range(n):
        kind = rng.random()
        if kind < 0.25:
            yield valid_line(rng)
        elif kind < 0.75:
            yield mutate(rng, valid_line(rng) if rng.random() < 0.5 else rng.choice(SEEDS))
        elif kind < 0.9:
            yield rng.randbytes(rng.randrange(0, 120)) + b"\r\n"
        else:
            yield b"+RCV=" + bytes(rng.choice(ALPHABET) for _ in range(rng.randrange(80))) + b"\r\n"


# Structured draws that hypothesis can shrink field by field.
number = st.one_of(
    st.from_regex(r"\A-?[0-9]{1,4}\.[0-9]{2}\Z"),
    st.sampled_from([" nan", "inf", "-inf", "NaN", "1e5", "23.6", "23.600", "", "-", "1_0.00"]),
)
count = st.one_of(st.integers(-5, 70000).map(str), st.sampled_from(["", "+1", "0x1", "1.0", "٣"]))
uid = st.one_of(
    st.from_regex(r"\A[0-9A-F]{24}\Z"), st.text(max_size=26).filter(lambda s: "\n" not in s)
)


@st.composite
def structured_line(draw):
    fields = [draw(uid), draw(number), draw(number), draw(number)] + [draw(count) for _ in range(4)]
    if draw(st.booleans()):
        boot = draw(st.one_of(st.from_regex(r"\A[0-9A-F]{8}\Z"), st.sampled_from(["", "1a2b3c4d"])))
        signed = "|".join(
            [*fields, draw(st.sampled_from(["2", "2", "3", "02"])), boot, draw(count)]
        )
        crc = crc_ccitt_false(signed.encode("utf-8", "replace"))
        crc = draw(
            st.one_of(
                st.just(f"{crc:04X}"),
                st.just(f"{crc:04x}"),
                st.integers(0, 65535).map("{:04X}".format),
            )
        )
        fields = signed.split("|") + [crc]
    elif draw(st.booleans()):
        fields = fields[: draw(st.integers(0, 8))] + draw(st.lists(count, max_size=2))
    data = "|".join(fields)
    length = draw(st.one_of(st.just(len(data.encode())), st.integers(-1, 300)))
    addr = draw(st.sampled_from([116, 116, 116, 0, 117, 65536]))
    tail = draw(st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", "", "\r\n\r\n", "\r"]))
    rssi = draw(st.integers(-250, 10))
    return f"+RCV={addr},{length},{data},{rssi},{draw(st.integers(-130, 130))}{tail}".encode()


def test_over_100k_random_and_mutated_lines():
    checker = Checker()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(structured_line(), min_size=1, max_size=20))
    def structured(lines):
        for raw in lines:
            checker.check(raw)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, 2**64))
    def bulk(seed):
        for raw in bulk_lines(random.Random(seed), 350):
            checker.check(raw)

    structured()
    bulk()
    assert checker.lines >= 100_000
    # Both outcomes are exercised in quantity, so the equivalence above means something.
    assert checker.accepted > 10_000
    assert checker.lines - checker.accepted > 50_000


class Chunks:
    """A serial port that delivers a byte stream in the given chunks, then stays quiet."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks

    @property
    def in_waiting(self) -> int:
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n: int) -> bytes:
        return self.chunks.pop(0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", "\r", ""]), min_size=1, max_size=30),
    st.integers(0, 2**32),
    st.lists(st.integers(1, 200), min_size=1, max_size=40),
)
def test_the_reader_resynchronises_on_every_packet(terminators, seed, cuts):
    """A line that lost its LF, or ended in a bare CR, or lost its whole terminator, is handed
    on alone (and rejected); the packet after it is still read intact."""
    from gateway.radio import LineReader

    rng = random.Random(seed)
    lines = [valid_line(rng)[:-2] + t.encode() for t in terminators]
    stream = b"".join(lines)
    chunks, i = [], 0
    for n in cuts:
        chunks.append(stream[i : i + n])
        i += n
    chunks.append(stream[i:])
    reader = LineReader(Chunks([c for c in chunks if c]), line_timeout=0.0, batch_window=0)
    out = []
    for _ in range(len(chunks) + 2):
        out += [raw for raw, _ in reader.read(0)]
    assert b"".join(out) == stream  # nothing lost, nothing added
    assert len(out) == len(lines)
    for raw, line in zip(out, lines, strict=True):
        assert raw == line
        accepted = isinstance(parse_line(raw), Received)
        assert accepted == line.endswith(b"\r\n")
