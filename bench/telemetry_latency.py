"""Telemetry latency, reading -> sensor_messages, and the bridge's throughput.

    uv run python bench/telemetry_latency.py [--minutes 5] [--rate 10] [--messages 30000]

Latency: an emulated RYLR896 sends --rate readings/s to lora-gateway, which publishes them to
a real mosquitto (mTLS, as the tests start it) and lakehouse-iot-bridge lands them with a 1 s
flush. A loader loop in this process does each second what the landing sensor's runs do:
scans the landing prefix with the sensor's cursor and, for each hour with new objects, runs
snapshot_raw + load_sensor_messages (DuckDB). A message's latency is the time it is first
visible in iot.sensor_messages minus its `ts` (the gateway's read time of the serial line).
Dagster's own scheduling (the sensor's 30 s interval, run start-up) is not in this figure.

Throughput: --messages v2 messages (the gateway's message builder) published as fast as one
QoS 1 client can, through the bridge at the default 1 MB / 60 s buffering; messages/s is the
records of the full (1 MB) objects over the time from the first publish to the last of them.

Results go to bench/results/telemetry_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402

from gateway.emulator import Node  # noqa: E402
from gateway.message import GATEWAY_CLIENT_ID, TOPIC, build_message  # noqa: E402
from lakehouse.iot import pipeline  # noqa: E402
from lakehouse.iot.landing import LANDING_PREFIX, partition_of, read_records  # noqa: E402
from lakehouse.sensing import ObjectCursor, scan  # noqa: E402
from lakehouse.settings import child_environment  # noqa: E402
from lakehouse.storage import LocalObjectStore  # noqa: E402
from lakehouse.warehouse import local_warehouse  # noqa: E402
from tests.support.mosquitto import mosquitto_broker  # noqa: E402

BIN = Path(sys.executable).parent
TEST_CPIN = "92A0ECEC9000DA0DCF0CAAB0ABA2E0EF"  # the original's public key: a test vector only
ORIGINAL = {"min_s": 1, "avg_s": 30, "max_s": 64}  # Firehose -> Redshift (iot reference §5.5)


def start_bridge(tmp: Path, broker, *flags: str) -> subprocess.Popen:
    cert, key = broker.client_cert("lakehouse-iot-bridge")
    log = open(tmp / "bridge.log", "ab")  # noqa: SIM115 - handed to the process
    proc = subprocess.Popen(
        [str(BIN / "lakehouse-iot-bridge"), "--host", "localhost", "--port", str(broker.port),
         "--cert", str(cert), "--key", str(key), "--ca", str(broker.ca_cert),
         "--target", str(tmp / "lake"), "--stats-interval", "5", "--no-load", *flags],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 60
    while "connected to" not in (tmp / "bridge.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((tmp / "bridge.log").read_text()[-2000:])
        time.sleep(0.1)
    return proc


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(minutes: float, rate: float) -> dict:
    count = int(minutes * 60 * rate)
    with mosquitto_broker() as broker, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lake = LocalObjectStore(root=str(tmp / "lake"))
        warehouse = local_warehouse(tmp)
        bridge = start_bridge(tmp, broker, "--flush-seconds", "1")
        link = tmp / "ttyLORA"
        emitted = tmp / "emitted.jsonl"
        emulator = subprocess.Popen(
            [str(BIN / "rylr896-emulator"), "--link", str(link), "--rate", str(rate),
             "--count", str(count), "--emitted-log", str(emitted)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        emulator.stdout.readline()
        cert, key = broker.client_cert(GATEWAY_CLIENT_ID)
        gateway = subprocess.Popen(
            [str(BIN / "lora-gateway"), "--port", str(link), "--gateway-id", "00000000f62051ce",
             "--endpoint", "localhost", "--mqtt-port", str(broker.port), "--cert", str(cert),
             "--key", str(key), "--ca", str(broker.ca_cert), "--topic", TOPIC,
             "--spool", str(tmp / "spool.db"), "--schema-version", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=child_environment(LORA_CPIN=TEST_CPIN),
        )  # fmt: skip
        visible: dict[str, float] = {}
        ticks: list[float] = []
        cursor = ObjectCursor()
        deadline = time.monotonic() + minutes * 60 + 120
        print(f"latency: {count} readings at {rate:g}/s ...", flush=True)
        try:
            while len(visible) < count and time.monotonic() < deadline:
                started = time.monotonic()
                landed = lake.list_objects(f"{LANDING_PREFIX}/")
                new, cursor = scan(landed, cursor, lookback_ms=60_000)
                for partition in sorted({partition_of(o.key) for o in new} - {None}):
                    pipeline.snapshot_raw(lake, partition)
                    pipeline.load_sensor_messages(lake, warehouse, partition)
                    seen = time.time()
                    rows = warehouse.query(
                        "select message_id, ts from iot.sensor_messages where landed_hour = ?",
                        [pipeline.partition_hour(partition)],
                    )
                    for message_id, ts in rows:
                        visible.setdefault(message_id, seen - ts)
                ticks.append(time.monotonic() - started)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        finally:
            for proc in (gateway, bridge, emulator):
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        sent = sum(1 for line in emitted.read_text().splitlines() if json.loads(line)["valid"])
    values = list(visible.values())
    return {
        "readings_sent": sent,
        "readings_loaded": len(values),
        "rate_per_s": rate,
        "minutes": minutes,
        "flush_seconds": 1,
        "min_s": round(min(values), 3),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(percentile(values, 95), 3),
        "max_s": round(max(values), 3),
        "mean_s": round(statistics.fmean(values), 3),
        "loader_tick_p50_s": round(statistics.median(ticks), 3),
        "loader_tick_max_s": round(max(ticks), 3),
    }


def throughput(messages: int) -> dict:
    with mosquitto_broker() as broker, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lake = LocalObjectStore(root=str(tmp / "lake"))
        bridge = start_bridge(tmp, broker)  # default 1 MB / 60 s
        node = Node("0447383033363932003C0034", random.Random(1))
        payloads = [
            build_message(
                node.reading(i),
                "00000000f62051ce",
                1.7e9 + i / 10,
                msg_id=f"{i:032x}",
                rssi=-60,
                snr=9,
            )  # fmt: skip
            for i in range(messages)
        ]
        cert, key = broker.client_cert("bench-publisher")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
        client.tls_set(ca_certs=str(broker.ca_cert), certfile=str(cert), keyfile=str(key),
                       tls_version=ssl.PROTOCOL_TLSv1_2)  # fmt: skip
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("localhost", broker.port)
        client.loop_start()
        print(f"throughput: {messages} messages through 1 MB / 60 s batches ...", flush=True)
        start = time.time()
        infos = [client.publish(TOPIC, p, qos=1) for p in payloads]
        infos[-1].wait_for_publish(300)
        published = time.time()
        # Full batches are written as they fill; the last partial one would wait for its 60 s
        # age, so once no object has appeared for 5 s the bridge is stopped, which writes it.
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 5:
            now_seen = len(list(lake.list_objects(f"{LANDING_PREFIX}/")))
            if now_seen != seen:
                seen, quiet_since = now_seen, time.monotonic()
            time.sleep(0.2)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
        client.loop_stop()
        objects = [o for o in lake.list_objects(f"{LANDING_PREFIX}/") if partition_of(o.key)]
        counts = [sum(1 for _ in read_records(lake.get_bytes(o.key), o.key)) for o in objects]
        # The objects written by size, not the tail flushed at the stop.
        sized = sorted(objects, key=lambda o: o.last_modified_ms)[:-1]
        sized_records = sum(c for o, c in zip(objects, counts, strict=True) if o in sized)
        last = max(o.last_modified_ms for o in sized) / 1000
    return {
        "messages": messages,
        "landed": sum(counts),
        "objects": len(objects),
        "records_per_full_object": round(sized_records / len(sized)) if sized else None,
        "publish_rate_per_s": round(messages / (published - start)),
        "bridge_rate_per_s": round(sized_records / (last - start)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=5.0, help="latency run length")
    p.add_argument("--rate", type=float, default=10.0, help="readings per second")
    p.add_argument("--messages", type=int, default=30_000, help="throughput run size")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args(argv)
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "original": ORIGINAL}
    if not args.skip_latency:
        results["latency"] = latency(args.minutes, args.rate)
        r = results["latency"]
        print(f"reading -> sensor_messages over {r['readings_loaded']} of {r['readings_sent']} "
              f"readings: min {r['min_s']} s, p50 {r['p50_s']} s, p95 {r['p95_s']} s, max "
              f"{r['max_s']} s (original 1 s / ~30 s / 64 s; target p95 <= 10 s)")  # fmt: skip
    if not args.skip_throughput:
        results["throughput"] = throughput(args.messages)
        t = results["throughput"]
        print(f"bridge at 1 MB / 60 s: {t['bridge_rate_per_s']} messages/s "
              f"({t['records_per_full_object']} per object; the publisher managed "
              f"{t['publish_rate_per_s']}/s)")  # fmt: skip
    out = REPO / "bench/results/telemetry_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)  # absent on a fresh clone
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
