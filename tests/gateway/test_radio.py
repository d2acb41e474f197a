"""Start-up sequence (A4), the radio key, line reading and the emulated module's AT answers."""

import logging

import pytest

from gateway.emulator import Module
from gateway.radio import (
    ConfigError,
    LineReader,
    RadioSettings,
    StartupError,
    configure,
    load_cpin,
)
from tests.gateway.harness import TEST_CPIN
from tests.gateway.vectors import VECTORS

LOG = logging.getLogger("tests.radio")
GOOD = VECTORS["receive"][0]["line"].encode()
A4_COMMANDS = [
    b"AT+ADDRESS=116\r\n",
    b"AT+NETWORKID=6\r\n",
    f"AT+CPIN={TEST_CPIN}\r\n".encode(),
    b"AT\r\n",
    b"AT+ADDRESS?\r\n",
    b"AT+NETWORKID?\r\n",
    b"AT+IPR?\r\n",
    b"AT+BAND?\r\n",
    b"AT+CRFOP?\r\n",
    b"AT+MODE?\r\n",
    b"AT+PARAMETER?\r\n",
    b"AT+CPIN?\r\n",
]


class FakeSerial:
    """A pyserial stand-in whose far end is the emulator's Module (AT replies), optionally with
    packets arriving before given replies."""

    port = "/dev/fake"

    def __init__(self, module: Module, inject: dict[int, list[bytes]] | None = None):
        self.module = module
        self.inject = inject or {}
        self.written: list[bytes] = []
        self.incoming = b""

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.incoming += b"".join(self.inject.get(len(self.written), []))
        self.incoming += self.module.handle(data)

    @property
    def in_waiting(self) -> int:
        return len(self.incoming)

    def read(self, n: int) -> bytes:
        data, self.incoming = self.incoming[:n], self.incoming[n:]
        return data


def module() -> Module:
    return Module("0447383033363932003C0035", cpin="")


def test_startup_sends_the_twelve_commands_in_order_and_never_logs_the_key(caplog):
    port = FakeSerial(module())
    with caplog.at_level(logging.DEBUG):
        held = configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.5)
    assert port.written == A4_COMMANDS
    assert held == []
    assert "AES-128 key: matches (not shown)" in caplog.text
    assert TEST_CPIN not in caplog.text


def test_packets_during_startup_are_held_not_taken_for_replies():
    """X-G8: a +RCV, or a receive error, arriving where a reply is expected is kept for the
    intake."""
    other = b"+RCV=116,3,abc,-40,9\r\n"
    crc = b"+ERR=12\r\n"  # a packet failed its CRC
    port = FakeSerial(module(), inject={1: [GOOD], 2: [crc], 7: [GOOD, other]})
    held = configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.5)
    assert [raw for raw, _ in held] == [GOOD, crc, GOOD, other]
    assert port.written == A4_COMMANDS


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "PARAMETER",
            "9,7,1,4",
            "RF parameters: AT+PARAMETER? answered '+PARAMETER=9,7,1,4', "
            "expected '+PARAMETER=12,7,1,4'",
        ),
        ("BAND", "868000000", "expected '+BAND=915000000'"),
        ("IPR", "57600", "UART baud rate: AT+IPR? answered '+IPR=57600'"),
    ],
)
def test_a_setting_that_differs_stops_startup(setting, value, message):
    m = module()
    m.values[setting] = value
    port = FakeSerial(m)
    with pytest.raises(StartupError) as e:
        configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.5)
    assert message in str(e.value)


def test_a_refused_set_command_stops_startup_without_showing_the_key():
    port = FakeSerial(module())
    with pytest.raises(StartupError) as e:
        configure(
            port,
            LineReader(port),
            RadioSettings("92A0ECEC9000DA0DCF0CAAB0ABA2E0EX"),
            LOG,
            reply_timeout=0.5,
        )
    assert "AT+CPIN=<redacted> answered '+ERR=4', expected '+OK'" in str(e.value)
    assert "92A0ECEC" not in str(e.value)


def test_a_different_key_read_back_is_reported_without_either_key():
    class KeyForgetting(Module):
        def handle(self, line):
            reply = super().handle(line)
            return (
                b"+CPIN=00000000000000000000000000000000\r\n" if line == b"AT+CPIN?\r\n" else reply
            )

    port = FakeSerial(KeyForgetting("0447383033363932003C0035"))
    with pytest.raises(StartupError) as e:
        configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.5)
    assert "different AES-128 key" in str(e.value) and "0000" not in str(e.value)


def test_garbled_replies_point_at_the_baud_rate():
    class WrongBaud(FakeSerial):
        def write(self, data):
            self.written.append(data)
            self.incoming += b"\x8f\xf0\x1e\xfe\r\n"

    port = WrongBaud(module())
    with pytest.raises(StartupError, match=r"unreadable reply to AT\+ADDRESS=116.*wrong --baud"):
        configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.5)


def test_silence_is_a_clear_error():
    class Silent(FakeSerial):
        def write(self, data):
            self.written.append(data)

    port = Silent(module())
    with pytest.raises(StartupError, match=r"no reply to AT\+ADDRESS=116 within 0.3 s"):
        configure(port, LineReader(port), RadioSettings(TEST_CPIN), LOG, reply_timeout=0.3)


def test_load_cpin(tmp_path):
    assert load_cpin(None, TEST_CPIN) == TEST_CPIN
    key_file = tmp_path / "cpin"
    key_file.write_text(TEST_CPIN + "\n")
    assert load_cpin(str(key_file), "ignored") == TEST_CPIN
    with pytest.raises(ConfigError, match="has 31 characters; it must be 32 hex digits") as e:
        load_cpin(None, TEST_CPIN[:-1])
    assert TEST_CPIN[:-1] not in str(e.value)
    with pytest.raises(ConfigError, match="must be 32 hex digits 0-9, A-F"):
        load_cpin(None, TEST_CPIN.lower())
    with pytest.raises(ConfigError, match="no radio key: set LORA_CPIN or pass --cpin-file"):
        load_cpin(None, None)
    with pytest.raises(ConfigError, match=r"cannot read --cpin-file .*missing: No such file"):
        load_cpin(str(tmp_path / "missing"), None)


class ChunkPort:
    """A port that delivers the given chunks one read at a time; b"" is a quiet read."""

    def __init__(self, chunks):
        self.chunks = list(chunks)

    @property
    def in_waiting(self):
        if self.chunks and not self.chunks[0]:
            self.chunks.pop(0)
            return 0
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n):
        return self.chunks.pop(0) if self.chunks else b""


def test_line_reader_splits_chunks_and_keeps_partial_lines():
    port = ChunkPort([b"+OK\r\n+RC", b"V=1,2", b",ab,-1,2\r\n\r\n"])
    reader = LineReader(port, clock=lambda: 7.0, batch_window=0)
    assert reader.read() == [(b"+OK\r\n", 7.0)]
    assert reader.read() == []
    assert reader.read() == [(b"+RCV=1,2,ab,-1,2\r\n", 7.0), (b"\r\n", 7.0)]


def test_line_reader_batches_a_burst_but_not_a_lone_line():
    """Lines in quick succession come out together; a line after a quiet spell does not wait."""
    times = iter([1.0, 2.0, 3.0, 4.0])
    port = ChunkPort([b"a\r\n", b"", b"b\r\n", b"c\r\n", b"d\r\n"])
    reader = LineReader(port, clock=lambda: next(times), batch_window=0.001, busy_gap=3600)
    assert reader.read() == [(b"a\r\n", 1.0)]  # nothing came before it: no waiting
    assert reader.read() == []  # a quiet read; within busy_gap, so the next line is a burst
    assert reader.read() == [(b"b\r\n", 3.0), (b"c\r\n", 4.0)]  # each with its own read time


def test_line_reader_hands_on_a_stale_partial_line_alone():
    """X-G3: a line cut by a timeout is rejected on its own, not glued to the next one."""
    port = ChunkPort([b"+RCV=116,59,04473830", b"", b"+OK\r\n"])
    reader = LineReader(port, line_timeout=0.0)
    assert reader.read() == []
    assert [raw for raw, _ in reader.read()] == [b"+RCV=116,59,04473830"]
    assert [raw for raw, _ in reader.read()] == [b"+OK\r\n"]


def test_line_reader_cuts_overlong_noise():
    port = ChunkPort([b"x" * 1200 + b"\r\n"])
    reader = LineReader(port)
    lines = [raw for raw, _ in reader.read()]
    assert lines == [b"x" * 512]
    assert [raw for raw, _ in reader.read()] == [b"x" * 512]


def test_emulated_module_answers_like_the_rylr896():
    m = Module("0447383033363932003C0034")
    assert m.handle(b"AT\r\n") == b"+OK\r\n"
    assert m.handle(b"AT+UID?\r\n") == b"+UID=0447383033363932003C0034\r\n"
    assert m.handle(b"AT+VER?\r\n") == b"+VER=RYLR89C_V1.2.7\r\n"
    assert m.handle(b"AT+ADDRESS=70000\r\n") == b"+ERR=4\r\n"
    assert m.handle(b"AT+NETWORKID=7\r\n") == b"+OK\r\n"
    assert m.handle(b"AT+NETWORKID?\r\n") == b"+NETWORKID=7\r\n"
    assert m.handle(b"AT\n") == b"+ERR=1\r\n"
    assert m.handle(b"XY\r\n") == b"+ERR=2\r\n"
    assert m.handle(b"AT+FOO?\r\n") == b"+ERR=4\r\n"
    for p in VECTORS["payloads"]:  # what the node's firmware sends, the module takes
        assert m.handle(p["send"].encode()) == b"+OK\r\n"
    assert m.handle(b"AT+SEND=116,5,abc\r\n") == b"+ERR=5\r\n"
    assert m.handle(b"AT+SEND=116,241," + b"1" * 241 + b"\r\n") == b"+ERR=13\r\n"
