"""lakehouse-iot-bridge: the local stand-in for "IoT topic rule + Kinesis Data Firehose".

    lakehouse-iot-bridge --host localhost --port 8883 --cert bridge.crt --key bridge.key \\
        --ca ca.crt --topic lora-iot-demo --flush-seconds 60

Subscribes to the gateway's topic over MQTT 5 with mTLS, a persistent session (clean start off,
session expiry) and QoS 1; flattens each message as the topic rule does; buffers records in a
LandingWriter and writes a gzip JSON-lines object under <prefix>/YYYY/MM/DD/HH/ when the buffer
reaches --flush-bytes or --flush-seconds. Messages are acknowledged (PUBACK, manual acks) only
after their object and manifest are durably written, so a bridge killed at any moment loses
nothing: the broker re-delivers whatever was not acknowledged, and sensor_messages drops the
re-delivered copies by message id. A payload that is not a JSON object is landed with its error
and quarantined downstream.

Each landed object is then loaded into the warehouse at once (lakehouse.iot.pipeline.load_landed:
sensor_messages, its quarantine and sensor.message, idempotent per object and message id), so
the views over them show it within seconds, and when DAGSTER_HOME is set each load is reported
to that Dagster instance as runless materializations of `sensor_messages` and `sensor/message`
for the object's hourly partition. Loads run outside the MQTT thread and never hold up
acknowledgements: an object whose load fails is retried, and the hourly partition run (which
the landing sensor requests for objects no load has marked) reconciles it in any case.

The broker sends at most --receive-maximum unacknowledged messages; when that many are buffered
the batch is written early, since no more can arrive before it is acknowledged. Every flag has
an environment variable (shown in --help); nothing secret is passed on the command line (the
private key is a file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.message import GATEWAY_CLIENT_ID, TOPIC
from lakehouse.iot.landing import LANDING_PREFIX, LandingWriter
from lakehouse.iot.rule import flatten, unparsed
from lakehouse.settings import dagster_home, lakehouse_home, setting
from lakehouse.storage import ObjectStore, store_for_uri

if TYPE_CHECKING:
    import dagster as dg

    from lakehouse.warehouse import Warehouse

log = logging.getLogger("lakehouse.iot.bridge")


@dataclass(frozen=True)
class BridgeSettings:
    host: str
    port: int
    cert: str
    key: str
    ca: str
    client_id: str = "lakehouse-iot-bridge"
    topic: str = TOPIC
    device: str = GATEWAY_CLIENT_ID
    prefix: str = LANDING_PREFIX
    flush_bytes: int = 1_000_000
    flush_seconds: float = 60.0
    receive_maximum: int = 65535
    session_expiry: int = 7 * 24 * 3600
    keep_alive: int = 30


class Stats:
    def __init__(self):
        self.received = 0
        self.landed = 0
        self.batches = 0
        self.write_failures = 0
        self.connects = 0
        self.loaded = 0  # objects loaded into the warehouse
        self.load_failures = 0  # in a row


MAX_PENDING_LOADS = 1_000  # objects; beyond, the oldest are left to the partition run


class WarehouseLoader:
    """Loads landed objects into the warehouse and reports each to Dagster (when given an
    instance) as runless materializations of the hour's `sensor_messages` and `sensor/message`."""

    def __init__(
        self, lake: ObjectStore, warehouse: Warehouse, instance: dg.DagsterInstance | None
    ):
        self.lake, self.warehouse, self.instance = lake, warehouse, instance

    def __call__(self, keys: list[str]) -> None:
        import dagster as dg

        from lakehouse.iot.pipeline import load_landed

        for load in load_landed(self.lake, self.warehouse, keys):
            if load.already_loaded or self.instance is None:
                continue
            metadata = {
                "partition": load.partition,
                "landing_object": dg.MetadataValue.path(self.lake.uri(load.key)),
                "messages": load.messages,
                "rows": load.rows,
            }
            for asset_key, extra in (
                (
                    "sensor_messages",
                    {"quarantined": load.quarantined, "duplicates": load.duplicates},
                ),
                (("sensor", "message"), {}),
            ):
                self.instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=asset_key,
                        partition=load.partition,
                        description="micro-batch loaded by lakehouse-iot-bridge",
                        metadata=metadata | extra,
                    )
                )


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        store: ObjectStore,
        clock=time.time,
        client=None,
        loader: Callable[[list[str]], None] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.loader = loader
        self.to_load: list[str] = []  # landed keys waiting for (another) load attempt
        self.load_retry_at = 0.0
        self.writer = LandingWriter(
            store,
            prefix=settings.prefix,
            flush_bytes=settings.flush_bytes,
            flush_seconds=settings.flush_seconds,
            clock=clock,
        )
        self.lock = threading.Lock()
        self.unacked: list[tuple[int, int]] = []  # (mid, qos) of the buffered messages
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.retry_at = 0.0
        self.client = client or self._client()

    def _client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=s.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certfile=s.cert, keyfile=s.key)
        client.tls_set_context(context)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- MQTT callbacks (paho's network thread) -------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.stats.connects += 1
        log.info("connected to %s:%d as %s (session present: %s)", self.settings.host,
                 self.settings.port, self.settings.client_id, flags.session_present)  # fmt: skip
        # Subscribing again is harmless when the session kept the subscription.
        client.subscribe(self.settings.topic, options=SubscribeOptions(qos=1))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self.stop_event.is_set():
            log.warning("disconnected: %s; reconnecting (unacknowledged messages will be "
                        "re-delivered)", reason_code)  # fmt: skip

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        arrival = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        try:
            message = json.loads(msg.payload)
            error = None if isinstance(message, dict) else f"a JSON {type(message).__name__}"
        except (ValueError, UnicodeDecodeError) as e:
            message, error = None, f"not JSON ({e})"
        if error is None:
            record = flatten(message, self.settings.device, arrival)
        else:
            record = unparsed(msg.payload, error, self.settings.device, arrival)
        with self.lock:
            self.stats.received += 1
            self.writer.append(record)
            self.unacked.append((msg.mid, msg.qos))
            if len(self.unacked) >= self.settings.receive_maximum or self.writer.due():
                self._flush_locked()

    # -- flushing ---------------------------------------------------------------------------

    def _flush_locked(self) -> None:
        if not self.writer.buffer or self.clock() < self.retry_at:
            return
        try:
            batch = self.writer.flush()
        except Exception as e:  # the buffer is kept; nothing is acknowledged
            self.stats.write_failures += 1
            self.retry_at = self.clock() + min(30, 2**self.stats.write_failures)
            log.error("writing a batch of %d messages failed: %s; retrying",
                      len(self.writer.buffer), e)  # fmt: skip
            return
        self.stats.write_failures = 0
        self.stats.batches += 1
        self.stats.landed += batch.records
        for mid, qos in self.unacked:
            if qos > 0:
                self.client.ack(mid, qos)
        self.unacked = []
        log.debug("landed %d messages in %s", batch.records, batch.objects[0])
        if self.loader is not None:
            self.to_load.extend(batch.objects)
            if len(self.to_load) > MAX_PENDING_LOADS:
                dropped = self.to_load[:-MAX_PENDING_LOADS]
                del self.to_load[:-MAX_PENDING_LOADS]
                log.warning("%d landed objects not loaded; the hourly partition runs will load "
                            "them (first: %s)", len(dropped), dropped[0])  # fmt: skip

    def tick(self) -> None:
        with self.lock:
            if self.writer.due() or (self.stop_event.is_set() and self.writer.buffer):
                self._flush_locked()
            keys = list(self.to_load) if self.clock() >= self.load_retry_at else []
        if keys:
            self._load(keys)

    def _load(self, keys: list[str]) -> None:
        """Outside the lock: the MQTT thread keeps receiving (and landing) while a load runs."""
        try:
            self.loader(keys)
        except Exception as e:  # landed and acknowledged: retried here, or by the partition run
            self.stats.load_failures += 1
            self.load_retry_at = self.clock() + min(30, 2**self.stats.load_failures)
            log.error("loading %d landed objects failed: %s; retrying (first: %s)", len(keys),
                      str(e).splitlines()[0] if str(e) else type(e).__name__, keys[0])  # fmt: skip
            return
        self.stats.load_failures = 0
        self.stats.loaded += len(keys)
        with self.lock:
            loaded = set(keys)
            self.to_load = [k for k in self.to_load if k not in loaded]

    # -- running ----------------------------------------------------------------------------

    def connect(self) -> None:
        s = self.settings
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = s.session_expiry
        properties.ReceiveMaximum = s.receive_maximum
        delay = 1.0
        while not self.stop_event.is_set():
            try:
                self.client.connect(s.host, s.port, keepalive=s.keep_alive, clean_start=False,
                                    properties=properties)  # fmt: skip
                return
            except (OSError, ssl.SSLError) as e:
                log.warning(
                    "cannot connect to %s:%d: %s; retrying in %g s", s.host, s.port, e, delay
                )
                self.stop_event.wait(delay)
                delay = min(delay * 2, 30.0)

    def unloaded_recent(self) -> list[str]:
        """Landed objects of this hour and the last that no load has marked: a bridge killed
        between landing and loading picks them up when it starts again."""
        from lakehouse.iot.landing import hour_prefix, partition_of
        from lakehouse.iot.pipeline import loaded_by_bridge

        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC).replace(minute=0, second=0,
                                                                      microsecond=0)  # fmt: skip
        found = []
        for hour in (now - dt.timedelta(hours=1), now):
            marked = loaded_by_bridge(self.store, hour)
            prefix = hour_prefix(self.settings.prefix, hour)
            found += [o.key for o in self.store.list_objects(prefix)
                      if partition_of(o.key) and o.key not in marked]  # fmt: skip
        return found

    def run(self, stats_interval: float = 60.0) -> int:
        if self.loader is not None:
            self.to_load = self.unloaded_recent()
            if self.to_load:
                log.info("loading %d landed objects no load has marked yet", len(self.to_load))
        self.connect()
        self.client.loop_start()
        next_stats = time.monotonic() + stats_interval
        try:
            while not self.stop_event.is_set():
                self.tick()
                if time.monotonic() >= next_stats:
                    self.log_stats()
                    next_stats += stats_interval
                self.stop_event.wait(0.05)
            self.tick()  # a clean stop writes and acknowledges what is buffered
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        self.log_stats()
        return 0 if not self.writer.buffer else 1

    def stop(self) -> None:
        self.stop_event.set()

    def log_stats(self) -> None:
        s = self.stats
        log.info("received %d, landed %d in %d objects, loaded %d objects, buffered %d",
                 s.received, s.landed, s.batches, s.loaded, len(self.writer.buffer))  # fmt: skip


def warehouse_loader(lake: ObjectStore) -> WarehouseLoader:
    """The LAKEHOUSE_ENV warehouse resource, and the Dagster instance of DAGSTER_HOME if set."""
    import dagster as dg

    from lakehouse.resources import resources_for_env

    warehouse = resources_for_env()["warehouse"]
    instance = dg.DagsterInstance.get() if dagster_home() else None
    where = f"Dagster instance {dagster_home()}" if instance else "no Dagster instance"
    log.info("loading landed objects into %s (%s)", type(warehouse).__name__, where)
    return WarehouseLoader(lake, warehouse, instance)


def env(name: str, default=None):
    return setting(name, default)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    home = lakehouse_home()
    p = argparse.ArgumentParser(prog="lakehouse-iot-bridge", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    mq = p.add_argument_group("MQTT (the broker the gateway publishes to)")
    mq.add_argument("--host", default=env("BRIDGE_MQTT_HOST", "localhost"), help="BRIDGE_MQTT_HOST")
    mq.add_argument("--port", type=int, default=int(env("BRIDGE_MQTT_PORT", "8883")),
                    help="BRIDGE_MQTT_PORT")  # fmt: skip
    mq.add_argument("--cert", default=env("BRIDGE_CERT"), help="BRIDGE_CERT: client certificate")
    mq.add_argument("--key", default=env("BRIDGE_KEY"), help="BRIDGE_KEY: client private key file")
    mq.add_argument("--ca", default=env("BRIDGE_CA"), help="BRIDGE_CA: CA of the broker")
    mq.add_argument("--client-id", default=env("BRIDGE_CLIENT_ID", "lakehouse-iot-bridge"),
                    help="BRIDGE_CLIENT_ID: also names the persistent session")  # fmt: skip
    mq.add_argument("--topic", default=env("BRIDGE_TOPIC", TOPIC), help="BRIDGE_TOPIC")
    mq.add_argument("--device", default=env("BRIDGE_DEVICE", GATEWAY_CLIENT_ID),
                    help="BRIDGE_DEVICE: the `device` field (the rule's clientid(); a broker does "
                    "not tell subscribers who published)")  # fmt: skip
    mq.add_argument("--receive-maximum", type=int,
                    default=int(env("BRIDGE_RECEIVE_MAXIMUM", "65535")),
                    help="BRIDGE_RECEIVE_MAXIMUM: unacked messages in flight")  # fmt: skip
    mq.add_argument("--session-expiry", type=int,
                    default=int(env("BRIDGE_SESSION_EXPIRY", str(7 * 24 * 3600))),
                    help="BRIDGE_SESSION_EXPIRY: seconds the broker keeps the session")  # fmt: skip
    la = p.add_argument_group("landing (the Firehose stand-in)")
    la.add_argument("--target", default=env("BRIDGE_TARGET", str(home / "lake")),
                    help="BRIDGE_TARGET: lake directory or s3://bucket/prefix")  # fmt: skip
    la.add_argument("--prefix", default=env("BRIDGE_PREFIX", LANDING_PREFIX), help="BRIDGE_PREFIX")
    la.add_argument("--flush-bytes", type=int, default=int(env("BRIDGE_FLUSH_BYTES", "1000000")),
                    help="BRIDGE_FLUSH_BYTES: write a batch at this size")  # fmt: skip
    la.add_argument("--flush-seconds", type=float,
                    default=float(env("BRIDGE_FLUSH_SECONDS", "60")),
                    help="BRIDGE_FLUSH_SECONDS: or when its first message is this old")  # fmt: skip
    la.add_argument("--no-load", action="store_true",
                    default=env("BRIDGE_LOAD", "1").lower() in ("0", "false", "no"),
                    help="BRIDGE_LOAD=0: only land; leave loading to the hourly partition runs "
                    "(by default each landed object is loaded into the LAKEHOUSE_ENV warehouse "
                    "and, with DAGSTER_HOME set, reported to that Dagster instance)")  # fmt: skip
    p.add_argument(
        "--stats-interval", type=float, default=float(env("BRIDGE_STATS_INTERVAL", "60"))
    )
    p.add_argument("--log-level", default=env("BRIDGE_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    for flag, variable in (("cert", "BRIDGE_CERT"), ("key", "BRIDGE_KEY"), ("ca", "BRIDGE_CA")):
        value = getattr(args, flag)
        if not value:
            p.error(f"--{flag} (or {variable}) is required: MQTT runs over mTLS")
        if not Path(value).is_file():
            p.error(f"--{flag} {value}: no such file")
    if args.flush_seconds < 1:
        p.error(f"--flush-seconds must be at least 1, got {args.flush_seconds:g}")
    if args.flush_bytes < 1:
        p.error(f"--flush-bytes must be positive, got {args.flush_bytes}")
    if not 1 <= args.receive_maximum <= 65535:
        p.error(f"--receive-maximum must be 1..65535, got {args.receive_maximum}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    settings = BridgeSettings(
        host=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
        client_id=args.client_id, topic=args.topic, device=args.device, prefix=args.prefix,
        flush_bytes=args.flush_bytes, flush_seconds=args.flush_seconds,
        receive_maximum=args.receive_maximum, session_expiry=args.session_expiry,
    )  # fmt: skip
    store = store_for_uri(args.target)
    try:
        loader = None if args.no_load else warehouse_loader(store)
    except Exception as e:  # a missing variable, an unknown LAKEHOUSE_ENV, a bad DAGSTER_HOME
        print(f"lakehouse-iot-bridge: cannot load into the warehouse: {e}", file=sys.stderr)
        return 2
    try:
        bridge = Bridge(settings, store, loader=loader)
    except (ssl.SSLError, OSError) as e:
        print(f"lakehouse-iot-bridge: cannot load the TLS files: {e}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        bridge.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("landing %s under %s (flush at %d bytes or %g s)", args.topic,
             bridge.store.uri(f"{settings.prefix}/"), settings.flush_bytes,
             settings.flush_seconds)  # fmt: skip
    return bridge.run(args.stats_interval)


if __name__ == "__main__":
    sys.exit(main())
