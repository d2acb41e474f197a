"""The publisher's bookkeeping against a stand-in connection (the real one is exercised against
mosquitto in test_integration): the window, deletion only after PUBACK, re-sends of the same
bytes, and nothing sent while disconnected."""

import json
from concurrent.futures import Future

from awscrt import mqtt

from gateway.publisher import MqttSettings, Publisher
from gateway.spool import Spool
from tests.gateway.test_spool import accepted

SETTINGS = MqttSettings("localhost", 8883, "c", "k", "ca", "lora-iot-gateway-01", "lora-iot-demo")


class FakeConnection:
    def __init__(self):
        self.sent: list[tuple[str, bytes, mqtt.QoS, Future]] = []

    def publish(self, topic, payload, qos):
        future = Future()
        self.sent.append((topic, payload, qos, future))
        return future, len(self.sent)

    def disconnect(self):
        done = Future()
        done.set_result({})
        return done


def connected_publisher(tmp_path, window=3):
    spool = Spool(tmp_path / "spool.db")
    publisher = Publisher(SETTINGS, spool, window=window)
    publisher.connection = FakeConnection()
    publisher.established = publisher.stats.connected = True
    return publisher, spool, publisher.connection


def numbers(sent) -> list[int]:
    return [json.loads(payload)["n"] for _, payload, _, _ in sent]


def test_window_and_deletion_only_after_puback(tmp_path):
    publisher, spool, connection = connected_publisher(tmp_path)
    spool.add([accepted(n) for n in range(5)])
    assert publisher.busy()
    publisher.pump()
    assert numbers(connection.sent) == [0, 1, 2]  # the window
    assert {(t, q) for t, _, q, _ in connection.sent} == {("lora-iot-demo", mqtt.QoS.AT_LEAST_ONCE)}
    publisher.pump()
    assert len(connection.sent) == 3 and spool.depth() == 5  # nothing acknowledged yet
    for _, _, _, future in connection.sent[:2]:
        future.set_result({"packet_id": 1})
    publisher.pump()
    assert numbers(connection.sent) == [0, 1, 2, 3, 4]
    publisher.close(grace=0)
    assert spool.depth() == 3  # the two acknowledged are gone, the rest waits
    assert [json.loads(p)["n"] for _, p in spool.pending(0, 10)] == [2, 3, 4]
    assert publisher.stats.published == 2


def test_a_failed_publish_is_sent_again_with_the_same_bytes(tmp_path):
    publisher, spool, connection = connected_publisher(tmp_path)
    spool.add([accepted(n) for n in range(2)])
    publisher.pump()
    connection.sent[0][3].set_exception(TimeoutError("no PUBACK"))
    connection.sent[1][3].set_result({})
    publisher.pump()
    assert numbers(connection.sent) == [0, 1, 0]
    assert connection.sent[2][1] == connection.sent[0][1]
    assert publisher.stats.publish_failures == 1
    connection.sent[2][3].set_result({})
    publisher.close(grace=0)
    assert spool.depth() == 0


def test_nothing_is_sent_while_disconnected(tmp_path):
    publisher, spool, connection = connected_publisher(tmp_path)
    publisher.stats.connected = False  # as the SDK's interruption callback leaves it
    spool.add([accepted(n) for n in range(2)])
    assert not publisher.busy()
    publisher.pump()
    assert connection.sent == [] and spool.depth() == 2
    publisher.stats.connected = True  # resumed
    publisher.pump()
    assert numbers(connection.sent) == [0, 1]
