"""Processes and clients the gateway tests share: the emulator, the gateway, an MQTT subscriber."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

from awscrt import mqtt
from awsiot import mqtt_connection_builder

from gateway.emulator import Module, seq_of
from tests.support.mosquitto import Mosquitto

BIN = Path(sys.executable).parent
# The original's public, compromised key: a test vector only (iot reference X-F1).
TEST_CPIN = "92A0ECEC9000DA0DCF0CAAB0ABA2E0EF"
GATEWAY_ID = "00000000f62051ce"
TOPIC = "lora-iot-demo"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def start_emulator(tmp: Path, *args: str, name: str = "ttyLORA") -> tuple[subprocess.Popen, Path]:
    link = tmp / name
    proc = subprocess.Popen(
        [str(BIN / "rylr896-emulator"), "--link", str(link), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = proc.stdout.readline().strip()
    assert ready == str(link), proc.stderr.read()
    return proc, link


def gateway_command(link: Path, *args: str) -> list[str]:
    return [str(BIN / "lora-gateway"), "--port", str(link), "--gateway-id", GATEWAY_ID, *args]


def mqtt_args(broker: Mosquitto, cert: Path, key: Path, client_id: str) -> list[str]:
    flags = {
        "--endpoint": broker.host,
        "--mqtt-port": broker.port,
        "--cert": cert,
        "--key": key,
        "--ca": broker.ca_cert,
        "--client-id": client_id,
        "--topic": TOPIC,
    }
    return [str(x) for pair in flags.items() for x in pair]


def start_gateway(log: Path, command: list[str], env: dict | None = None) -> subprocess.Popen:
    environ = {**os.environ, "LORA_CPIN": TEST_CPIN, **(env or {})}
    with open(log, "ab") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=environ)


def read_emitted(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Subscriber:
    """A persistent-session QoS 1 subscriber that records every delivery with its arrival time."""

    def __init__(self, broker: Mosquitto, client_id: str = "test-subscriber"):
        cert, key = broker.client_cert(client_id)
        self.lock = threading.Lock()
        self.received: list[tuple[float, bytes]] = []
        self.connection = mqtt_connection_builder.mtls_from_path(
            endpoint=broker.host,
            port=broker.port,
            cert_filepath=str(cert),
            pri_key_filepath=str(key),
            ca_filepath=str(broker.ca_cert),
            client_id=client_id,
            clean_session=False,
            keep_alive_secs=6,
            reconnect_min_timeout_secs=1,
            reconnect_max_timeout_secs=2,
            on_connection_resumed=self._resumed,
            enable_metrics_collection=False,
        )
        self.connection.connect().result(10)
        self._subscribe()

    def _subscribe(self):
        future, _ = self.connection.subscribe(TOPIC, mqtt.QoS.AT_LEAST_ONCE, self._on_message)
        future.result(10)

    def _resumed(self, connection, return_code, session_present, **kwargs):
        if not session_present:
            threading.Thread(target=self._subscribe, daemon=True).start()

    def _on_message(self, topic, payload, **kwargs):
        with self.lock:
            self.received.append((time.time(), bytes(payload)))

    def messages(self) -> list[tuple[float, bytes]]:
        with self.lock:
            return list(self.received)

    def seqs(self) -> set[int]:
        return {seq_of_message(p) for _, p in self.messages()}

    def close(self):
        self.connection.disconnect().result(10)


def seq_of_message(payload: bytes) -> int:
    color = json.loads(payload)["data"]["color"]
    return seq_of(color["red"], color["green"])


class ScriptedModule:
    """A pty whose far end is the emulator's Module: it answers the start-up commands, then
    writes the given lines once, exactly (and whatever `write` is given later). For tests and
    benchmarks that need byte-exact input."""

    def __init__(self, link: Path, after_startup: list[bytes], commands: int = 12):
        self.link = link
        self.after_startup = after_startup
        self.commands = commands
        self.received: list[bytes] = []
        self.module = Module("0447383033363932003C0035")
        self.stop = threading.Event()
        self.configured = threading.Event()  # the start-up commands are answered

    def __enter__(self):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        os.symlink(os.ttyname(slave), self.link)
        os.close(slave)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        pending = b""
        while not self.stop.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.05)
            if not readable:
                continue
            try:
                pending += os.read(self.master, 4096)
            except OSError:  # nobody has the port open yet
                time.sleep(0.02)
                continue
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.received.append(line + b"\n")
                os.write(self.master, self.module.handle(line + b"\n"))
                if len(self.received) == self.commands:
                    for out in self.after_startup:
                        self.write(out)
                    self.configured.set()

    def write(self, data: bytes) -> None:
        """Writes all of data to the port (a pty takes a large write in parts)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        os.close(self.master)
        self.link.unlink()
