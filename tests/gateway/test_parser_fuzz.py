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
VALID = re.compile(
    rb"\+RCV=(\d{1,5}),(\d{1,3}),(([0-9A-F]{24})\|(-?\d{1,4}\.\d\d)\|(-?\d{1,4}\.\d\d)\|"
    rb"(-?\d{1,4}\.\d\d)\|(\d{1,5})\|(\d{1,5})\|(\d{1,5})\|(\d{1,5})),(-?\d{1,4}),(-?\d{1,4})\r\n"
)
QUIET = logging.getLogger("tests.fuzz.quiet")
QUIET.setLevel(logging.CRITICAL)  # 100k rejections; their log text is tested in test_vectors

SEEDS = [line_of(v) for v in VECTORS["receive"]]
ALPHABET = b"0123456789.-|,+ABCDEFRCV=\r\n nai\xff\x00"


def oracle(raw: bytes) -> dict | None:
    m = VALID.fullmatch(raw)
    if not m:
        return None
    addr, length, data, uid, t, h, p, r, g, b, a, rssi, snr = m.groups()
    t, h, p = float(t), float(h), float(p)
    counts = [int(c) for c in (r, g, b, a)]
    ok = (
        int(addr) == 116
        and 1 <= int(length) <= 240
        and int(length) == len(data)
        and -40 <= t <= 120
        and 0 <= h <= 100
        and 26 <= p <= 126
        and all(0 <= c <= 65535 for c in counts)
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
        assert {k: data[k] for k in expected} == expected
        assert (message["rssi"], message["snr"]) == (result.rssi, result.snr)
        assert accepted.payload.isascii()


def valid_line(rng: random.Random) -> bytes:
    uid = "".join(rng.choice("0123456789ABCDEF") for _ in range(24))
    t, h, p = rng.uniform(-40, 120), rng.uniform(0, 100), rng.uniform(26, 126)
    colors = [rng.choice((0, 4097, 65535, rng.randrange(0, 5000))) for _ in range(4)]
    data = "|".join([uid, f"{t:.2f}", f"{h:.2f}", f"{p:.2f}", *map(str, colors)])
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
