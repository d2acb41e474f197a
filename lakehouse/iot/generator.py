"""lakehouse-iot-gen: telemetry for a machine without a radio or a broker.

    lakehouse-iot-gen --minutes 60            # the last hour, into $LAKEHOUSE_HOME/lake

Each registered LoRa node (lakehouse/iot/seeds/lora_nodes.csv) sends a reading every --interval
seconds; the readings are the gateway emulator's node model, the messages are built by the
gateway's own message builder (v3 by default: nodes with payload format 2, whose boot id is
drawn from the node and the run's start, so runs over other times never collide; v2 with a
msg_id, or v1, on request), flattened by the IoT rule and written
through the landing writer with its clock set to each message's arrival, so the objects land in
exactly the layout and hour folders the bridge or Firehose would produce. Same seed, same
messages (the object names carry a random batch id, as Firehose's do).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import uuid

from gateway.emulator import Node
from gateway.message import GATEWAY_CLIENT_ID, build_message
from lakehouse.iot.landing import LANDING_PREFIX, LandingWriter, partition_of
from lakehouse.iot.rule import flatten
from lakehouse.iot.seeds import registered_devices
from lakehouse.settings import lakehouse_home
from lakehouse.storage import ObjectStore, store_for_uri

GATEWAY_ID = "00000000f62051ce"
MSG_IDS = uuid.UUID("5d1b4a52-3f6e-4f8e-9a57-8a2f0c1e7b10")
TRANSIT_S = 0.036  # gateway -> broker, the median of the original (iot reference §4.5)


def generate(
    lake: ObjectStore,
    *,
    end: float,
    minutes: float,
    interval: float = 5.0,
    seed: int = 7,
    devices: list[str] | None = None,
    prefix: str = LANDING_PREFIX,
    flush_seconds: float = 60.0,
    schema_version: int = 3,
) -> dict[str, int]:
    """Writes the readings of [end - minutes, end]; returns the number of messages per device."""
    if minutes <= 0 or interval <= 0:
        raise ValueError("--minutes and --interval must be positive")
    devices = devices or registered_devices()
    rng = random.Random(seed)
    start = end - minutes * 60
    nodes = [
        Node(uid, random.Random(seed + 1 + i), boot_id(uid, start) if schema_version == 3 else None)
        for i, uid in enumerate(devices)
    ]
    # Nodes are not synchronised: each starts at its own offset within the first interval.
    schedule = []
    for i in range(len(nodes)):
        t = start + rng.uniform(0, interval)
        seq = 0
        while t <= end:
            schedule.append((t, i, seq))
            seq += 1
            t += interval + rng.uniform(-0.05, 0.05)
    schedule.sort()
    arrival = [start]
    writer = LandingWriter(
        lake, prefix=prefix, flush_seconds=flush_seconds, clock=lambda: arrival[0]
    )
    counts = {uid: 0 for uid in devices}
    for ts, i, seq in schedule:
        node = nodes[i]
        # Unique per node and reading time, so runs over other times never collide.
        msg_id = uuid.uuid5(MSG_IDS, f"{node.uid}/{ts!r}").hex if schema_version == 2 else None
        extras = schema_version >= 2
        payload = build_message(node.reading(seq), GATEWAY_ID, ts, msg_id=msg_id,
                                rssi=rng.randrange(-90, -40) if extras else None,
                                snr=rng.randrange(5, 12) if extras else None)  # fmt: skip
        arrival[0] = min(ts + TRANSIT_S, end)
        when = dt.datetime.fromtimestamp(arrival[0], dt.UTC)
        writer.add(flatten(json.loads(payload), GATEWAY_CLIENT_ID, when))
        counts[node.uid] += 1
    writer.flush()
    return counts


def boot_id(uid: str, start: float) -> int:
    """A node's boot id for a run starting at start: the same for the same run, and another
    for a run over other times, whose counters start from 0 again."""
    return uuid.uuid5(MSG_IDS, f"{uid}/boot/{start!r}").int & 0xFFFFFFFF


def has_telemetry(lake: ObjectStore, prefix: str = LANDING_PREFIX) -> bool:
    return any(partition_of(o.key) for o in lake.list_objects(f"{prefix}/"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    home = lakehouse_home()
    p = argparse.ArgumentParser(prog="lakehouse-iot-gen", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument(
        "--target", default=str(home / "lake"), help="lake directory or s3://bucket/prefix"
    )
    p.add_argument("--minutes", type=float, default=60.0, help="how much history to write")
    p.add_argument("--end", type=float, help="epoch seconds of the last reading (default: now)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between a node's readings")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--flush-seconds", type=float, default=60.0, help="landing buffer age")
    p.add_argument("--schema-version", type=int, choices=(1, 2, 3), default=3,
                   help="3: nodes numbering their readings (payload format 2)")  # fmt: skip
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing when the landing prefix already holds telemetry")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lake = store_for_uri(args.target)
    if args.if_empty and has_telemetry(lake):
        print(f"telemetry already landed under {lake.uri(LANDING_PREFIX + '/')}; nothing generated")
        return 0
    try:
        counts = generate(lake, end=args.end if args.end is not None else time.time(),
                          minutes=args.minutes, interval=args.interval, seed=args.seed,
                          flush_seconds=args.flush_seconds,
                          schema_version=args.schema_version)  # fmt: skip
    except ValueError as e:
        print(f"lakehouse-iot-gen: {e}", file=sys.stderr)
        return 2
    total = sum(counts.values())
    where = lake.uri(f"{LANDING_PREFIX}/")
    print(f"wrote {total} messages from {len(counts)} LoRa nodes under {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
