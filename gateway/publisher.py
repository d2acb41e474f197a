"""Publishes the spool to AWS IoT Core (or any MQTT broker) with awsiotsdk: MQTT 3.1.1 over
mTLS, QoS 1, persistent session, keep-alive; a message leaves the spool only after its PUBACK.

The publisher runs inside the gateway's reading loop: `pump()` never blocks, and the SDK's
callbacks (on its own thread) only record results for the next pump. So a reading is
published right after it is committed to the spool, with no hand-over to another thread.

The first connection is retried with exponential backoff while readings keep being spooled;
after that the SDK reconnects by itself (also with exponential backoff) and re-sends what was
in flight. At most `window` messages are handed to the SDK at a time, so a long outage grows
the spool on disk, not memory.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass

from awscrt import mqtt
from awsiot import mqtt_connection_builder

from gateway.spool import Spool

# Acknowledged messages are deleted from the spool in batches: one transaction (and fsync) per
# batch instead of per message. A crash before the delete only means those are sent again.
ACK_BATCH = 200
ACK_DELAY_S = 0.25


@dataclass(frozen=True)
class MqttSettings:
    endpoint: str
    port: int
    cert: str
    key: str
    ca: str
    client_id: str
    topic: str
    keep_alive_secs: int = 6
    reconnect_max_secs: int = 60
    connect_timeout_secs: float = 10.0
    operation_timeout_secs: float = 30.0


class Stats:
    def __init__(self):
        self.published = 0
        self.publish_failures = 0
        self.interruptions = 0
        self.connected = False  # set by the SDK's callbacks


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        spool: Spool,
        window: int = 100,
        log: logging.Logger | None = None,
    ):
        self.settings = settings
        self.spool = spool
        self.window = window
        self.log = log or logging.getLogger("gateway.publisher")
        self.stats = Stats()
        self.done: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()
        self.connection: mqtt.Connection | None = None
        self.connecting = None  # the future of a first connect under way
        self.established = False  # from then on the SDK reconnects by itself
        self.next_attempt = 0.0
        self.delay = 1.0
        self.in_flight: set[int] = set()
        self.retry: list[int] = []
        self.acked: list[int] = []  # acknowledged, not yet deleted from the spool
        self.acked_since = 0.0
        self.cursor = 0  # spool ids up to here were handed to the SDK

    def busy(self) -> bool:
        """Whether there is more to send as soon as there is room (a backlog or retries)."""
        return self.stats.connected and (bool(self.retry) or self.spool.last_id > self.cursor)

    def pump(self) -> None:
        """Settles acknowledgements, moves the first connection on, and publishes what fits."""
        self._settle()
        if not self.established:
            self._connect_step()
        if self.stats.connected:
            self._fill()

    def close(self, grace: float = 5.0) -> None:
        """Waits up to grace seconds for in-flight acknowledgements, then disconnects."""
        deadline = time.monotonic() + grace
        while self.in_flight and self.stats.connected and time.monotonic() < deadline:
            self._settle()
            time.sleep(0.02)
        self._settle(flush=True)
        if self.connection is not None and self.stats.connected:
            try:
                self.connection.disconnect().result(5)
            except Exception as e:
                self.log.warning("MQTT disconnect: %s", e)

    # -- connection -------------------------------------------------------------------------

    def _build(self) -> mqtt.Connection:
        s = self.settings
        return mqtt_connection_builder.mtls_from_path(
            endpoint=s.endpoint,
            port=s.port,
            cert_filepath=s.cert,
            pri_key_filepath=s.key,
            ca_filepath=s.ca,
            client_id=s.client_id,
            clean_session=False,
            keep_alive_secs=s.keep_alive_secs,
            ping_timeout_ms=min(3000, s.keep_alive_secs * 500),
            protocol_operation_timeout_ms=int(s.operation_timeout_secs * 1000),
            reconnect_min_timeout_secs=1,
            reconnect_max_timeout_secs=s.reconnect_max_secs,
            tcp_connect_timeout_ms=int(s.connect_timeout_secs * 1000),
            on_connection_interrupted=self._interrupted,
            on_connection_resumed=self._resumed,
            enable_metrics_collection=False,
        )

    def _connect_step(self) -> None:
        s = self.settings
        if self.connecting is None:
            if time.monotonic() >= self.next_attempt:
                self.connection = self._build()
                self.connecting = self.connection.connect()
            return
        if not self.connecting.done():
            return
        try:
            result = self.connecting.result()
        except Exception as e:
            self.log.warning(
                "MQTT endpoint %s:%d unreachable: %s; readings stay in the spool, retrying in %g s",
                s.endpoint,
                s.port,
                getattr(e, "name", None) or e,
                self.delay,
            )
            self.connecting = self.connection = None
            self.next_attempt = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, s.reconnect_max_secs)
            return
        self.connecting = None
        self.established = self.stats.connected = True
        self.log.info(
            "connected to %s:%d as %s (session present: %s)",
            s.endpoint,
            s.port,
            s.client_id,
            result.get("session_present"),
        )

    def _interrupted(self, connection, error, **kwargs) -> None:
        self.stats.connected = False
        self.stats.interruptions += 1
        self.log.warning("MQTT connection interrupted: %s; readings stay in the spool", error)

    def _resumed(self, connection, return_code, session_present, **kwargs) -> None:
        self.stats.connected = True
        self.log.info(
            "MQTT connection resumed: %s, session present: %s", return_code, session_present
        )

    # -- messages ---------------------------------------------------------------------------

    def _settle(self, flush: bool = False) -> None:
        """Deletes acknowledged messages (in batches); queues failed ones for another attempt."""
        acked = []
        while True:
            try:
                spool_id, error = self.done.get_nowait()
            except queue.Empty:
                break
            self.in_flight.discard(spool_id)
            if error is None:
                acked.append(spool_id)
            else:
                self.stats.publish_failures += 1
                self.retry.append(spool_id)
                self.log.warning("publish of spool id %d failed: %s; will retry", spool_id, error)
        if acked:
            if not self.acked:
                self.acked_since = time.monotonic()
            self.acked += acked
            self.stats.published += len(acked)
        due = len(self.acked) >= ACK_BATCH or time.monotonic() - self.acked_since >= ACK_DELAY_S
        if self.acked and (flush or due):
            self.spool.ack(self.acked)
            self.acked = []

    def _fill(self) -> None:
        room = self.window - len(self.in_flight)
        if room <= 0:
            return
        rows = []
        if self.retry:
            again, self.retry = self.retry[:room], self.retry[room:]
            rows += self.spool.get(again)
        if len(rows) < room and self.spool.last_id > self.cursor:
            fresh = self.spool.pending(self.cursor, room - len(rows))
            # Nothing left past the cursor means the rest was evicted (spool full).
            self.cursor = fresh[-1][0] if fresh else self.spool.last_id
            rows += fresh
        for spool_id, payload in rows:
            future, _ = self.connection.publish(
                self.settings.topic, payload, mqtt.QoS.AT_LEAST_ONCE
            )
            self.in_flight.add(spool_id)
            future.add_done_callback(lambda f, i=spool_id: self.done.put((i, f.exception())))
