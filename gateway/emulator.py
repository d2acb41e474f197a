"""rylr896-emulator: a REYAX RYLR896 on a pseudo-terminal, with a sensor node sending to it.

    rylr896-emulator --link /tmp/ttyLORA --rate 0.2      # then: lora-gateway --port /tmp/ttyLORA

It answers the AT commands as the module does (iot reference §1.3) and emits
`+RCV=<addr>,<len>,<data>,<rssi>,<snr>` lines for the node's readings while a program has the port
open and has spoken to it. Knobs: rate, packet loss, corrupt lines, wrong key (garbled data),
wrong baud (garbled bytes when the port's speed differs from AT+IPR), and disconnects (the pty
goes away and comes back under the same --link path). Each emitted line can be logged as JSON
(--emitted-log) so tests know exactly what was sent.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import random
import re
import select
import signal
import sys
import termios
import time
import tty
from pathlib import Path

from gateway import settings
from gateway.payload import Reading, format_data

CORRUPTIONS = ("length", "non-ascii", "missing-field", "nan", "module-error")
HEX = re.compile(r"[0-9A-F]+")


class Module:
    """The RYLR896's AT command interpreter (no I/O)."""

    def __init__(self, uid: str, cpin: str = ""):
        self.uid = uid
        self.values = {
            "ADDRESS": "116",  # stored settings of the original's modules (§1.2)
            "NETWORKID": "6",
            "IPR": "115200",
            "BAND": "915000000",
            "CRFOP": "15",
            "MODE": "0",
            "PARAMETER": "12,7,1,4",
            "CPIN": cpin,
        }
        self.sent: list[str] = []  # AT+SEND data, for tests of a node

    @staticmethod
    def _valid(key: str, value: str) -> bool:
        ints = {"ADDRESS": (0, 65535), "NETWORKID": (0, 16), "CRFOP": (0, 15), "MODE": (0, 2)}
        if key in ints:
            low, high = ints[key]
            return value.isdigit() and low <= int(value) <= high
        if key == "IPR":
            return value in (
                "300",
                "1200",
                "4800",
                "9600",
                "19200",
                "28800",
                "38400",
                "57600",
                "115200",
            )
        if key == "BAND":
            return value.isdigit() and 862000000 <= int(value) <= 1020000000
        if key == "CPIN":
            return len(value) == 32 and bool(HEX.fullmatch(value))
        if key == "PARAMETER":
            parts = value.split(",")
            if len(parts) != 4 or not all(p.isdigit() for p in parts):
                return False
            sf, bw, cr, pre = map(int, parts)
            return 7 <= sf <= 12 and 0 <= bw <= 9 and 1 <= cr <= 4 and 4 <= pre <= 7
        return False

    def handle(self, line: bytes) -> bytes:
        """One command line (with its terminator) -> the reply line."""
        if not line.endswith(b"\r\n"):
            return b"+ERR=1\r\n"
        text = line[:-2].decode("ascii", "replace")
        if not text.startswith("AT"):
            return b"+ERR=2\r\n"
        if text == "AT":
            return b"+OK\r\n"
        m = re.fullmatch(r"AT\+([A-Z]+)(\?|=(.*))", text)
        if not m:
            return b"+ERR=4\r\n"
        key, query, value = m[1], m[2] == "?", m[3]
        if key == "UID" and query:
            return f"+UID={self.uid}\r\n".encode()
        if key == "VER" and query:
            return b"+VER=RYLR89C_V1.2.7\r\n"
        if key == "SEND" and not query:
            parts = value.split(",", 2)
            if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
                return b"+ERR=4\r\n"
            if int(parts[1]) != len(parts[2]):
                return b"+ERR=5\r\n"
            if len(parts[2]) > 240:
                return b"+ERR=13\r\n"
            self.sent.append(parts[2])
            return b"+OK\r\n"
        if key not in self.values:
            return b"+ERR=4\r\n"
        if query:
            if key == "CPIN" and not self.values[key]:
                return b"+CPIN=No Password!\r\n"
            return f"+{key}={self.values[key]}\r\n".encode()
        if not self._valid(key, value):
            return b"+ERR=4\r\n"
        self.values[key] = value
        return b"+OK\r\n"


class Node:
    """A sensor node's readings; colour counts encode the sequence number, so every reading is
    distinct (red + 4096 * green = seq mod 2**24). With a boot id it numbers its readings as
    payload format 2 does (the counter is the sequence number)."""

    def __init__(self, uid: str, rng: random.Random, boot_id: int | None = None):
        self.uid, self.rng, self.boot_id = uid, rng, boot_id

    def reading(self, seq: int) -> Reading:
        r = self.rng
        return Reading(
            self.uid,
            round(21.0 + 4.0 * math.sin(seq / 60) + r.uniform(-0.3, 0.3), 2),
            round(45.0 + 5.0 * math.cos(seq / 90) + r.uniform(-0.5, 0.5), 2),
            round(99.4 + r.uniform(-0.3, 0.3), 2),
            seq % 4096,
            (seq // 4096) % 4096,
            r.randrange(0, 4098),
            r.randrange(0, 4098),
            boot_id=self.boot_id,
            counter=None if self.boot_id is None else seq,
        )


def seq_of(red: float, green: float) -> int:
    """The sequence number a Node encoded in a reading's colours."""
    return int(red) + 4096 * int(green)


class Emulator:
    def __init__(self, args: argparse.Namespace, module_cpin: str = "", node_cpin: str = ""):
        self.args = args
        self.rng = random.Random(args.seed)
        self.module = Module(args.uid, module_cpin)
        self.module.values["IPR"] = str(args.ipr)
        boot_id = None
        if args.payload_version == 2:
            boot_id = int(args.boot_id, 16) if args.boot_id else self.rng.getrandbits(32)
        self.node = Node(args.node_uid, random.Random(args.seed + 1), boot_id)
        self.node_cpin = node_cpin
        self.master = -1
        self.slave_name = ""
        self.attached = False
        self.right_speed = True
        self.pending = b""
        self.seq = 0
        self.emitted = 0
        self.stop = False
        self.log = open(args.emitted_log, "a", buffering=1) if args.emitted_log else None  # noqa: SIM115

    # -- the pseudo-terminal --------------------------------------------------------------

    def open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing until the reader configures it
        self.master, self.slave_name = master, os.ttyname(slave)
        os.close(slave)  # from now on, reads on master fail with EIO until someone opens it
        self.attached = False
        if self.args.link:
            tmp = f"{self.args.link}.tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, self.args.link)

    def peer_open(self) -> bool:
        """Whether a program has the port open now. Bytes written while nobody has it open
        would be thrown away by the next opener (pyserial flushes input on open), as a UART
        drops what nobody reads, so the node's packets are not sent then."""
        poll = select.poll()
        poll.register(self.master, select.POLLIN)
        return not any(events & select.POLLHUP for _, events in poll.poll(0))

    def close_pty(self) -> None:
        if self.master >= 0:
            os.close(self.master)
        self.master = -1
        self.attached = False

    def speed_matches(self) -> bool:
        """Whether the reader configured the port at the module's rate (AT+IPR)."""
        try:
            fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return True
        try:
            speed = termios.tcgetattr(fd)[5]
        finally:
            os.close(fd)
        return speed == getattr(termios, f"B{self.module.values['IPR']}")

    def write(self, data: bytes) -> bool:
        try:
            os.write(self.master, data)
            return True
        except OSError:
            self.attached = False
            return False

    def garble(self, data: bytes) -> bytes:
        return bytes(self.rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in data)

    # -- commands and packets -------------------------------------------------------------

    def on_input(self, data: bytes) -> None:
        self.attached = True
        self.right_speed = self.speed_matches()
        self.pending += data
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            reply = self.module.handle(line + b"\n")
            if not self.right_speed:
                reply = self.garble(reply[:-2]) + b"\r\n"
            self.write(reply)

    def receiving(self) -> bool:
        """The module hears the node only on its network, at its address (or broadcast)."""
        v = self.module.values
        to_us = self.args.destination in (0, int(v["ADDRESS"]))
        return to_us and int(v["NETWORKID"]) == self.args.node_network_id

    def packet(self) -> tuple[bytes, str, bool]:
        """The next +RCV line, its kind and whether a correct gateway must accept it."""
        seq = self.seq
        self.seq += 1
        data = format_data(self.node.reading(seq)).encode()
        kind, valid = "reading", True
        wrong_key = self.args.wrong_key or (
            self.node_cpin and self.node_cpin != self.module.values["CPIN"]
        )
        if wrong_key:
            data, kind, valid = self.garble(data), "wrong-key", False
        rssi, snr = self.rng.randrange(-120, -30), self.rng.randrange(-10, 60)
        length = len(data)
        if valid and self.rng.random() < self.args.corrupt:
            kind, valid = "corrupt-" + self.rng.choice(CORRUPTIONS), False
            fields = data.split(b"|")
            if kind == "corrupt-length":
                length += 1
            elif kind == "corrupt-non-ascii":
                i = self.rng.randrange(len(data))
                data = data[:i] + b"\xc3" + data[i + 1 :]
            elif kind == "corrupt-missing-field":
                data = b"|".join(fields[:-1])
                length = len(data)
            elif kind == "corrupt-nan":
                data = b"|".join([fields[0], b" nan", *fields[2:]])
                length = len(data)
            else:
                return b"+ERR=12\r\n", kind, False
        line = b"+RCV=%d,%d,%s,%d,%d\r\n" % (self.args.sender, length, data, rssi, snr)
        if not self.right_speed:
            line, kind, valid = self.garble(line[:-2]) + b"\r\n", "wrong-baud", False
        return line, kind, valid

    def emit(self) -> None:
        if self.rng.random() < self.args.loss:
            self.record({"seq": self.seq, "kind": "lost", "valid": False})
            self.seq += 1
            return
        seq = self.seq
        line, kind, valid = self.packet()
        written_at = time.time()  # before the write, so latencies measured from it are not short
        if self.write(line):
            self.emitted += 1
            self.record(
                {
                    "seq": seq,
                    "t": written_at,
                    "kind": kind,
                    "valid": valid,
                    "line": line.decode("ascii", "backslashreplace"),
                }
            )

    def record(self, entry: dict) -> None:
        if self.log:
            self.log.write(json.dumps(entry) + "\n")

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        self.open_pty()
        print(a.link or self.slave_name, flush=True)
        interval = 1.0 / a.rate if a.rate > 0 else 0.0
        next_emit = time.monotonic()
        next_disconnect = time.monotonic() + a.disconnect_every if a.disconnect_every else None
        while not self.stop:
            now = time.monotonic()
            if next_disconnect is not None and now >= next_disconnect:
                self.close_pty()
                time.sleep(a.disconnect_for)
                self.open_pty()
                next_disconnect = time.monotonic() + a.disconnect_every
                continue
            sending = self.attached and self.receiving() and (a.count is None or self.seq < a.count)
            timeout = max(0.0, next_emit - now) if sending else 0.05
            readable, _, _ = select.select([self.master], [], [], timeout)
            if readable:
                try:
                    data = os.read(self.master, 4096)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    self.attached = False  # nobody has the port open
                    time.sleep(0.02)
                    continue
                self.on_input(data)
            if not sending:
                next_emit = time.monotonic()
                continue
            burst = 0
            if not self.peer_open():
                self.attached = False
            while time.monotonic() >= next_emit and burst < 64 and self.attached:
                self.emit()
                next_emit += interval
                burst += 1
                if a.count is not None and self.seq >= a.count:
                    break
        self.close_pty()
        if a.link and os.path.islink(a.link):
            os.unlink(a.link)
        if self.log:
            self.log.close()
        return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rylr896-emulator",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--link", help="symlink to the pty's device (kept across disconnects)")
    p.add_argument("--rate", type=float, default=0.2, help="packets/s; 0 = as fast as possible")
    p.add_argument("--count", type=int, help="stop sending after this many packets")
    p.add_argument("--loss", type=float, default=0.0, help="probability a packet is lost")
    p.add_argument("--corrupt", type=float, default=0.0, help="probability of a corrupt line")
    p.add_argument("--wrong-key", action="store_true", help="garble all data (AES key mismatch)")
    p.add_argument("--disconnect-every", type=float, help="seconds between disconnects")
    p.add_argument("--disconnect-for", type=float, default=2.0, help="seconds a disconnect lasts")
    p.add_argument("--ipr", type=int, default=115200, help="the module's UART rate")
    p.add_argument("--uid", default="0447383033363932003C0035", help="this module's UID")
    p.add_argument("--node-uid", default="0447383033363932003C0034", help="the node's UID")
    p.add_argument("--sender", type=int, default=116, help="the node's module address")
    p.add_argument("--destination", type=int, default=116, help="where the node sends")
    p.add_argument("--node-network-id", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--payload-version",
        type=int,
        choices=(1, 2),
        default=2,
        help="the node's payload format: 2 adds boot id, counter and CRC-16; 1 is the original",
    )
    p.add_argument("--boot-id", help="format 2: the node's boot id, 8 hex digits (default: seeded)")
    p.add_argument("--emitted-log", help="append one JSON line per packet to this file")
    args = p.parse_args(argv)
    if args.disconnect_every and not args.link:
        p.error("--disconnect-every needs --link (the device name changes on reconnect)")
    for name in ("loss", "corrupt"):
        if not 0 <= getattr(args, name) <= 1:
            p.error(f"--{name} must be a probability between 0 and 1")
    if args.boot_id is not None and not re.fullmatch(r"[0-9A-Fa-f]{1,8}", args.boot_id):
        p.error(f"--boot-id {args.boot_id!r} is not up to 8 hex digits")
    if args.link:
        Path(args.link).parent.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    module_cpin, node_cpin = settings.emulated_keys()
    emulator = Emulator(parse_args(argv), module_cpin, node_cpin)

    def stop(signum, frame):
        emulator.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return emulator.run()


if __name__ == "__main__":
    sys.exit(main())
