"""The RYLR896 on the serial port: line reading, the radio key, and the start-up sequence.

Start-up (iot reference §3.2): 3 set commands, then 9 check commands, each reply verified; a
mismatch stops start-up with the command, the reply and the expected value. Packets (+RCV) and
receive errors (+ERR=12, +ERR=19) that arrive during start-up are kept and handed to the intake
afterwards, never taken for replies.
The key is never logged: replies and commands that carry it are redacted everywhere.
"""

from __future__ import annotations

import logging
import re
import select
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from gateway.parser import redact

# What the module reports on its own about a packet it received (CRC error, RX header error):
# never the answer to a command, so never taken for one.
RECEIVE_ERRORS = (b"+ERR=12", b"+ERR=19")
BAUD_RATES = (300, 1200, 4800, 9600, 19200, 28800, 38400, 57600, 115200)
CPIN = re.compile(r"[0-9A-F]{32}")
LINE_TIMEOUT_S = 5.0  # a line not completed within this is a partial read
BUSY_GAP_S = 0.05  # lines closer than this are a burst ...
BATCH_WINDOW_S = 0.02  # ... taken in batches of what arrives within this
BATCH_BYTES = 512  # a read at least this big needs no waiting for more
MAX_LINE = 512  # +RCV lines are at most ~270 bytes; anything longer is noise
RESYNC = b"+RCV="  # where a received packet's line starts


class ConfigError(Exception):
    """Bad configuration given by the user (flags, environment, files)."""


class StartupError(Exception):
    """The module did not answer the start-up sequence as expected."""


def load_cpin(cpin_file: str | None, lora_cpin: str | None) -> str:
    """The radio key from --cpin-file or the value of LORA_CPIN (the file wins). The key is
    never echoed."""
    if cpin_file:
        source = f"--cpin-file {cpin_file}"
        try:
            key = Path(cpin_file).read_text().strip()
        except OSError as e:
            raise ConfigError(f"cannot read {source}: {e.strerror}") from None
    elif lora_cpin:
        source, key = "LORA_CPIN", lora_cpin.strip()
    else:
        raise ConfigError("no radio key: set LORA_CPIN or pass --cpin-file (32 hex digits)")
    if len(key) != 32:
        raise ConfigError(
            f"radio key from {source} has {len(key)} characters; it must be 32 hex digits"
        )
    if not CPIN.fullmatch(key):
        raise ConfigError(f"radio key from {source} must be 32 hex digits 0-9, A-F (upper case)")
    return key


class LineReader:
    """Whole lines (terminator included) from a pyserial port, each with its read time.

    Waits for the port to be readable, then takes everything waiting in one read. When lines
    come faster than one per BUSY_GAP_S but a read brings only one or two, it waits
    batch_window and takes what arrived meanwhile too, so one wake-up, one spool transaction
    and one fsync serve several lines (at 115200 baud, 144 lines/s, that halves the gateway's
    CPU); at a node's usual pace nothing waits.

    A line left incomplete when the port has been quiet for line_timeout, or longer than
    MAX_LINE, or cut short by the `+RCV=` of the next packet, is handed on as it is, so the
    parser rejects it (no CRLF) instead of it being glued to the next line.
    """

    def __init__(
        self,
        port,
        clock=time.time,
        line_timeout: float = LINE_TIMEOUT_S,
        batch_window: float = BATCH_WINDOW_S,
        busy_gap: float = BUSY_GAP_S,
    ):
        self.port = port
        self.clock = clock
        self.line_timeout = line_timeout
        self.batch_window = batch_window
        self.busy_gap = busy_gap
        self.buffer = b""
        self.started = 0.0  # monotonic time the partial line in buffer began
        self.last_data = float("-inf")  # monotonic time bytes last arrived
        self.unread: deque[tuple[bytes, float]] = deque()  # lines handed back, read first

    def read(self, timeout: float = 0.2) -> list[tuple[bytes, float]]:
        """Lines completed within timeout seconds (none when the port stays quiet)."""
        if self.unread:
            lines = list(self.unread)
            self.unread.clear()
            return lines
        chunk = self._chunk(timeout)
        lines = self._split(chunk)
        if chunk:
            busy = time.monotonic() - self.last_data < self.busy_gap
            self.last_data = time.monotonic()
            # A big chunk is a batch already (a burst, a backlog in the UART buffer).
            if busy and self.batch_window > 0 and len(chunk) < BATCH_BYTES:
                time.sleep(self.batch_window)
                more = self._chunk(0)
                if more:
                    lines += self._split(more)
                    self.last_data = time.monotonic()
        return lines

    def _chunk(self, timeout: float) -> bytes:
        waiting = self.port.in_waiting
        if not waiting and hasattr(self.port, "fileno"):
            readable, _, _ = select.select([self.port.fileno()], [], [], timeout)
            if not readable:
                return b""
            # At least 1: on a port that went away, that read raises instead of spinning.
            waiting = max(self.port.in_waiting, 1)
        return self.port.read(waiting) if waiting else b""

    def _split(self, chunk: bytes) -> list[tuple[bytes, float]]:
        now = self.clock()
        if chunk and not self.buffer:
            self.started = time.monotonic()
        self.buffer += chunk
        lines = []
        while True:
            end = self.buffer.find(b"\n")
            # A packet that starts before the current line ended means that line lost its
            # terminator (a dropped LF, a bare CR): it is handed on alone, and rejected, rather
            # than swallowing the packet.
            resync = self.buffer.find(RESYNC, 1, end if 0 <= end < MAX_LINE else MAX_LINE)
            if resync > 0:
                lines.append((self.buffer[:resync], now))
                self.buffer = self.buffer[resync:]
                continue
            if end < 0 or end >= MAX_LINE:
                break
            lines.append((self.buffer[: end + 1], now))
            self.buffer = self.buffer[end + 1 :]
            self.started = time.monotonic()
        stale = not chunk and time.monotonic() - self.started >= self.line_timeout
        if len(self.buffer) >= MAX_LINE or (self.buffer and stale):
            lines.append((self.buffer[:MAX_LINE], now))
            self.buffer = self.buffer[MAX_LINE:]
            self.started = time.monotonic()
        return lines


@dataclass(frozen=True)
class RadioSettings:
    cpin: str
    baud: int = 115200
    address: int = 116
    network_id: int = 6
    band: int = 915000000
    rf_power: int = 15
    mode: int = 0
    parameters: str = "12,7,1,4"

    def steps(self) -> list[tuple[str, str, str]]:
        """(command, expected reply, label) in the order they are sent."""
        return [
            (f"AT+ADDRESS={self.address}", "+OK", "address set"),
            (f"AT+NETWORKID={self.network_id}", "+OK", "network id set"),
            (f"AT+CPIN={self.cpin}", "+OK", "AES-128 key set"),
            ("AT", "+OK", "module responding"),
            ("AT+ADDRESS?", f"+ADDRESS={self.address}", "address"),
            ("AT+NETWORKID?", f"+NETWORKID={self.network_id}", "network id"),
            ("AT+IPR?", f"+IPR={self.baud}", "UART baud rate"),
            ("AT+BAND?", f"+BAND={self.band}", "RF frequency"),
            ("AT+CRFOP?", f"+CRFOP={self.rf_power}", "RF output power"),
            ("AT+MODE?", f"+MODE={self.mode}", "work mode"),
            ("AT+PARAMETER?", f"+PARAMETER={self.parameters}", "RF parameters"),
            ("AT+CPIN?", f"+CPIN={self.cpin}", "AES-128 key"),
        ]


def configure(
    port,
    reader: LineReader,
    settings: RadioSettings,
    log: logging.Logger,
    reply_timeout: float = 2.0,
) -> list[tuple[bytes, float]]:
    """Runs the start-up sequence; returns the +RCV lines that arrived meanwhile."""
    held: list[tuple[bytes, float]] = []
    for command, expected, label in settings.steps():
        shown = redact(command.encode()).decode()
        port.write(command.encode() + b"\r\n")
        reply = _reply(reader, held, reply_timeout)
        if reply is None:
            raise StartupError(
                f"no reply to {shown} within {reply_timeout:g} s: is the module on "
                f"{port.port} and is --baud {settings.baud} its rate (AT+IPR, default 115200)?"
            )
        text = reply.rstrip(b"\r\n")
        if text != expected.encode():
            if not text.isascii() or not text.startswith(b"+"):
                raise StartupError(
                    f"unreadable reply to {shown}: {redact(reply)!r}; a wrong --baud "
                    f"({settings.baud}) garbles the module's answers"
                )
            if command == "AT+CPIN?" and text.startswith(b"+CPIN="):
                raise StartupError(
                    "the module reports a different AES-128 key than the configured one "
                    "(neither is shown)"
                )
            raise StartupError(
                f"{label}: {shown} answered {redact(text).decode()!r}, "
                f"expected {redact(expected.encode()).decode()!r}"
            )
        log.info("%s: %s", label, "matches (not shown)" if "CPIN" in command else text.decode())
    return held


def _reply(reader: LineReader, held: list, timeout: float) -> bytes | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        lines = reader.read(min(left, 0.05))
        for i, (raw, ts) in enumerate(lines):
            if raw.startswith(b"+RCV=") or raw.rstrip(b"\r\n") in RECEIVE_ERRORS:
                held.append((raw, ts))
            elif raw.strip():
                reader.unread.extend(lines[i + 1 :])
                return raw
    return None
