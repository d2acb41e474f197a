"""The bridge's contract without a network: a message is acknowledged only after the object
holding it is durably written, batches close at the size, age or receive-maximum threshold,
and a payload that is not JSON is landed for quarantine, not dropped; each landed object is
then loaded (a failed load retried, never holding acknowledgements)."""

import json
from types import SimpleNamespace

import pytest

from lakehouse.iot.bridge import Bridge, BridgeSettings, parse_args
from lakehouse.iot.landing import read_records
from lakehouse.storage import LocalObjectStore, StorageError
from tests.iot.support import GOLDEN, land


class Clock:
    def __init__(self, t=1598543132.024):
        self.t = t

    def __call__(self):
        return self.t


class Client:
    def __init__(self):
        self.acks = []

    def ack(self, mid, qos):
        self.acks.append(mid)


class FlakyStore(LocalObjectStore):
    failures: int = 0

    def put_bytes(self, key, data):
        if self.failures:
            object.__setattr__(self, "failures", self.failures - 1)
            raise StorageError("disk full")
        super().put_bytes(key, data)


def bridge(store, clock, **settings):
    s = BridgeSettings(host="localhost", port=8883, cert="c", key="k", ca="a", **settings)
    return Bridge(s, store, clock=clock, client=Client())


def deliver(b, mid, payload=None):
    payload = json.dumps(GOLDEN).encode() if payload is None else payload
    b._on_message(None, None, SimpleNamespace(payload=payload, mid=mid, qos=1))


def landed(store):
    keys = [o.key for o in store.list_objects("message/") if o.key.endswith(".gz")]
    return [r for k in keys for _, r in read_records(store.get_bytes(k), k)]


def test_acknowledges_only_after_the_age_threshold_writes_the_object(tmp_path):
    store, clock = LocalObjectStore(root=str(tmp_path)), Clock()
    b = bridge(store, clock, flush_seconds=2)
    deliver(b, 1)
    clock.t += 1
    deliver(b, 2)
    b.tick()
    assert b.client.acks == [] and landed(store) == []
    clock.t += 1.0
    b.tick()
    assert b.client.acks == [1, 2]
    records = landed(store)
    assert [r["device_id"] for r in records] == ["0447383033363932003C0034"] * 2
    assert records[0]["msg_received"] == "2020-08-27T15:45:32.024+0000"


def test_size_and_receive_maximum_close_a_batch_at_once(tmp_path):
    store, clock = LocalObjectStore(root=str(tmp_path)), Clock()
    b = bridge(store, clock, flush_bytes=10**9, receive_maximum=3)
    for mid in (1, 2, 3):
        deliver(b, mid)
    assert b.client.acks == [1, 2, 3]  # the broker would send no more before these acks
    size = bridge(store, clock, flush_bytes=400)
    deliver(size, 7)
    assert size.client.acks == []
    deliver(size, 8)  # two records pass 400 bytes
    assert size.client.acks == [7, 8]


def test_a_failed_write_acknowledges_nothing_and_is_retried(tmp_path):
    store, clock = FlakyStore(root=str(tmp_path), failures=1), Clock()
    b = bridge(store, clock, flush_seconds=1)
    deliver(b, 1)
    clock.t += 1
    b.tick()
    assert b.client.acks == [] and len(b.writer.buffer) == 1
    clock.t += 3  # past the back-off
    b.tick()
    assert b.client.acks == [1] and len(landed(store)) == 1


@pytest.mark.parametrize(
    ("payload", "error"),
    [(b"\xff\xfe", "not JSON"), (b"hello", "not JSON (Expecting value"), (b"[1,2]", "a JSON list")],
)
def test_payloads_that_are_not_json_objects_are_landed_with_their_error(tmp_path, payload, error):
    store, clock = LocalObjectStore(root=str(tmp_path)), Clock()
    b = bridge(store, clock, flush_seconds=1)
    deliver(b, 5, payload)
    clock.t += 1
    b.tick()
    (record,) = landed(store)
    assert record["payload_error"].startswith(error)
    assert record["payload"] == payload.decode("utf-8", "backslashreplace")
    assert b.client.acks == [5]


def test_flags_are_checked_with_clear_errors(tmp_path, capsys):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(SystemExit):
        parse_args(["--cert", str(cert), "--key", str(cert)])
    assert "--ca (or BRIDGE_CA) is required: MQTT runs over mTLS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--cert", str(cert), "--key", str(cert), "--ca", str(cert),
                    "--flush-seconds", "0.5"])  # fmt: skip
    assert "--flush-seconds must be at least 1, got 0.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--cert", str(tmp_path / "none"), "--key", str(cert), "--ca", str(cert)])
    assert f"--cert {tmp_path / 'none'}: no such file" in capsys.readouterr().err


class Loader:
    def __init__(self, failures=0):
        self.calls, self.failures = [], failures

    def __call__(self, keys):
        if self.failures:
            self.failures -= 1
            raise OSError("warehouse unreachable")
        self.calls.append(list(keys))


def test_each_landed_object_is_loaded_once_after_its_messages_are_acknowledged(tmp_path):
    store, clock, loader = LocalObjectStore(root=str(tmp_path)), Clock(), Loader()
    b = Bridge(BridgeSettings(host="h", port=1, cert="c", key="k", ca="a", flush_seconds=1),
               store, clock=clock, client=Client(), loader=loader)  # fmt: skip
    deliver(b, 1)
    b.tick()
    assert loader.calls == [] and b.client.acks == []
    clock.t += 1
    b.tick()
    (key,) = [o.key for o in store.list_objects("message/") if o.key.endswith(".gz")]
    assert b.client.acks == [1] and loader.calls == [[key]]
    b.tick()
    assert loader.calls == [[key]]


def test_a_failed_load_does_not_hold_acknowledgements_and_is_retried(tmp_path):
    store, clock, loader = LocalObjectStore(root=str(tmp_path)), Clock(), Loader(failures=1)
    b = Bridge(BridgeSettings(host="h", port=1, cert="c", key="k", ca="a", flush_seconds=1),
               store, clock=clock, client=Client(), loader=loader)  # fmt: skip
    deliver(b, 1)
    clock.t += 1
    b.tick()
    assert b.client.acks == [1] and loader.calls == [] and len(b.to_load) == 1
    deliver(b, 2)
    clock.t += 1
    b.tick()  # still backing off (2 s): the second object waits with the first
    assert loader.calls == [] and len(b.to_load) == 2
    clock.t += 1
    b.tick()
    assert len(loader.calls) == 1 and len(loader.calls[0]) == 2
    assert b.to_load == [] and b.client.acks == [1, 2]


def test_a_restarted_bridge_loads_the_recent_objects_no_load_marked(tmp_path):
    from lakehouse.iot.pipeline import loaded_marker_key

    store, clock = LocalObjectStore(root=str(tmp_path)), Clock()
    keys = [land(store, [GOLDEN], arrival=clock.t + offset) for offset in (-7200, -3600, 0, 1)]
    store.put_bytes(loaded_marker_key(keys[2]), b"{}")
    b = bridge(store, clock)
    # Two hours ago is left to the partition run; the last hour and this one are looked at.
    assert sorted(b.unloaded_recent()) == sorted([keys[1], keys[3]])
