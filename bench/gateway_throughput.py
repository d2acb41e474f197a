"""Gateway throughput, CPU and latency: serial line -> lora-gateway -> mosquitto (mTLS).

    uv run python bench/gateway_throughput.py [--serial-seconds 20] [--burst 20000]
                                              [--latency-seconds 60]

A local mosquitto with mTLS (as the tests start it) stands in for AWS IoT Core. For each run a
fresh `lora-gateway` process (default settings: schema v1, QoS 1, spool with synchronous=FULL)
reads a pseudo-terminal whose far end is this script: it answers the RYLR896 start-up commands,
waits until the gateway is connected to the broker, then writes +RCV lines of about 100 bytes
(payload format 2 with its CRC, as the current firmware sends; --payload-version 1 for the
original's 80 bytes), each a distinct reading, and notes when it wrote each. A QoS 1
subscriber notes when each message arrives, so latencies include the broker's hop to a
subscriber (an upper bound of serial line -> broker). Gateway CPU is its user+system time
from /proc over the run.

  serial   what a 115200-baud 8N1 link carries at most (11,520 B/s / 100 B = 115 lines/s):
           gateway CPU as % of one core, and per 1k messages. Target < 10 %.
  burst    --burst lines written as fast as the pty takes them (faster than any serial link):
           lines/s from the first line written to the last message delivered. Target >= 2,000.
  latency  10 lines/s: serial-line write -> delivery, p50/p99/max. Target p99 < 50 ms.

Every run also checks that each line written arrived (at least once). Results go to
bench/results/gateway_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.emulator import Node, seq_of  # noqa: E402
from gateway.payload import format_data  # noqa: E402
from lakehouse.settings import child_environment  # noqa: E402
from tests.gateway.harness import (  # noqa: E402
    BIN,
    GATEWAY_ID,
    TEST_CPIN,
    ScriptedModule,
    Subscriber,
    mqtt_args,
)
from tests.support.mosquitto import Mosquitto, mosquitto_broker  # noqa: E402

STARTUP_COMMANDS = 12  # 3 set + 9 check commands (iot reference §3.2)
SERIAL_BYTES_PER_S = 115_200 / 10  # 8N1: 10 bits on the wire per byte
TICK = os.sysconf("SC_CLK_TCK")


def lines(count: int, payload_version: int = 2) -> list[bytes]:
    """count distinct +RCV lines of a node (the colours encode the sequence number); format 2
    carries boot id, counter and CRC-16, as the current firmware sends."""
    boot_id = 0x1A2B3C4D if payload_version == 2 else None
    node = Node("0447383033363932003C0034", random.Random(1), boot_id)
    out = []
    for seq in range(count):
        data = format_data(node.reading(seq))
        out.append(f"+RCV=116,{len(data)},{data},-61,56\r\n".encode())
    return out


class Radio(ScriptedModule):
    """The module's side of the serial port: answers start-up, then writes lines when told."""

    def __init__(self, link: Path):
        super().__init__(link, after_startup=[], commands=STARTUP_COMMANDS)
        self.__enter__()

    def send(self, batch: list[bytes], rate: float | None) -> list[float]:
        """Writes the lines at rate lines/s (None: as fast as possible); their write times."""
        written = []
        if rate is None:
            for i in range(0, len(batch), 64):
                chunk = batch[i : i + 64]
                now = time.time()
                self.write(b"".join(chunk))
                written += [now] * len(chunk)
            return written
        start = time.monotonic()
        for i, line in enumerate(batch):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            written.append(time.time())
            self.write(line)
        return written

    def close(self) -> None:
        self.__exit__(None, None, None)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def run(
    broker: Mosquitto, name: str, count: int, rate: float | None, payload_version: int = 2
) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-gateway-{name}-") as tmp:
        tmp = Path(tmp)
        batch = lines(count, payload_version)
        radio = Radio(tmp / "ttyLORA")
        subscriber = Subscriber(broker, f"bench-subscriber-{name}")
        cert, key = broker.client_cert(f"bench-gateway-{name}")
        log = tmp / "gateway.log"
        command = [
            str(BIN / "lora-gateway"),
            *("--port", str(radio.link), "--gateway-id", GATEWAY_ID),
            *mqtt_args(broker, cert, key, f"bench-gateway-{name}"),
            *("--spool", str(tmp / "spool.db"), "--stats-interval", "3600"),
        ]
        with open(log, "wb") as err:
            gateway = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=child_environment(LORA_CPIN=TEST_CPIN),
            )
        try:
            wait_for(radio.configured.is_set, 30, "the start-up sequence")
            wait_for(lambda: "connected to" in log.read_text(), 30, "the MQTT connection")
            cpu_before, wall_before = cpu_seconds(gateway.pid), time.monotonic()
            written = radio.send(batch, rate)
            wait_for(lambda: len(subscriber.messages()) >= count, 120, f"{count} messages")
            wall = time.monotonic() - wall_before
            cpu = cpu_seconds(gateway.pid) - cpu_before
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(30)
            subscriber.close()
            radio.close()
        arrived: dict[int, float] = {}
        for t, payload in subscriber.messages():
            color = json.loads(payload)["data"]["color"]
            arrived.setdefault(seq_of(color["red"], color["green"]), t)
        missing = [seq for seq in range(count) if seq not in arrived]
        if missing:
            sys.exit(f"{name}: {len(missing)} of {count} readings never arrived: {missing[:10]}")
        latency_ms = sorted((arrived[seq] - written[seq]) * 1000 for seq in range(count))
        span = max(arrived.values()) - written[0]
        return {
            "run": name,
            "lines": count,
            "rate_offered": rate,
            "lines_per_s": round(count / span, 1),
            "gateway_cpu_s": round(cpu, 3),
            "gateway_cpu_pct_of_core": round(100 * cpu / wall, 2),
            "gateway_cpu_ms_per_1k": round(1000 * cpu / count * 1000, 1),
            "latency_ms_p50": round(statistics.median(latency_ms), 2),
            "latency_ms_p99": round(latency_ms[int(0.99 * (count - 1))], 2),
            "latency_ms_max": round(latency_ms[-1], 2),
            "duplicates": len(subscriber.messages()) - count,
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serial-seconds", type=float, default=20)
    p.add_argument("--burst", type=int, default=20_000, help="lines in the burst run")
    p.add_argument("--latency-seconds", type=float, default=60)
    p.add_argument("--payload-version", type=int, choices=(1, 2), default=2,
                   help="the node's payload format (1: the original's 80-byte lines)")  # fmt: skip
    args = p.parse_args()
    sample = lines(1000, args.payload_version)
    line_bytes = sum(map(len, sample)) / len(sample)
    serial_rate = round(SERIAL_BYTES_PER_S / line_bytes, 1)
    print(f"lines of {line_bytes:.1f} bytes on average: a 115200-baud link carries {serial_rate}/s")
    plan = [
        ("serial", int(serial_rate * args.serial_seconds), serial_rate),
        ("burst", args.burst, None),
        ("latency", int(10 * args.latency_seconds), 10.0),
    ]
    results = []
    with mosquitto_broker() as broker:
        for name, count, rate in plan:
            r = run(broker, name, count, rate, args.payload_version)
            results.append(r)
            print(
                f"{name:>8}: {count:>6,} lines, {r['lines_per_s']:>8,.1f} lines/s, "
                f"gateway CPU {r['gateway_cpu_pct_of_core']:5.1f} % of a core, "
                f"{r['gateway_cpu_ms_per_1k']:6.0f} ms CPU per 1k, latency p50 "
                f"{r['latency_ms_p50']:.1f} ms, p99 {r['latency_ms_p99']:.1f} ms, "
                f"max {r['latency_ms_max']:.1f} ms",
                flush=True,
            )
    out = REPO / "bench" / "results" / "gateway_throughput.json"
    out.parent.mkdir(exist_ok=True)
    summary = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "line_bytes": round(line_bytes, 1),
        "payload_version": args.payload_version,
        "runs": results,
    }
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"results: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
