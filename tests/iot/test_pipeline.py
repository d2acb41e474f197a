"""Landing -> sensor_messages -> sensor.message on DuckDB: quarantine reasons, deduplication
across partitions, idempotent re-loads and the star schema's seed counts."""

import csv
import datetime as dt
import gzip
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.message import build_message
from gateway.payload import Reading
from lakehouse.iot import pipeline
from lakehouse.iot.seeds import SEEDS_DIR, read_seed, star_schema_rows
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import local_warehouse
from tests.iot.support import ARRIVAL, HOUR, NOW, land, message, query

INSTALLED_JOINS = """
    select count(*) from sensor.sensors fct
    join sensor.sensor sn on sn.id = fct.sensor_id
    join sensor.history hist on hist.id = fct.history_id
    where sn.active and hist.action = 'INSTALLED'
"""


@pytest.fixture
def env(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    warehouse = local_warehouse(tmp_path)
    return lake, warehouse, local_warehouse(tmp_path)


def load(lake, warehouse, partition=HOUR, now=NOW):
    pipeline.snapshot_raw(lake, partition)
    typed = pipeline.load_sensor_messages(lake, warehouse, partition, now=now)
    pipeline.load_message(lake, warehouse, partition)
    return typed


def test_every_bad_record_is_quarantined_with_its_reason(env):
    lake, warehouse, db = env
    good = message(0)
    records = [
        good,
        message(1) | {"ts": "1598543132.9"},                      # ts a string
        message(2, humidity=None),                                # null field
        message(3) | {"ts": NOW + 3600},                          # from the future
        message(4) | {"ts": 946684799.0},                         # before 2000
        {k: v for k, v in message(5).items() if k != "ts"},       # missing ts
        message(6, temperature=float("inf")) | {"msg_id": "inf"},  # not finite (json Infinity)
        message(7, pressure=130.0),                               # out of range
        message(8) | {"msg_id": "bad id!"},                       # malformed msg_id
        good,                                                     # a re-delivery
        {"payload_error": "not JSON (Expecting value: line 1 column 1 (char 0))",
         "payload": "hello", "device": "lora-iot-gateway-01", "msg_received": "x"},
    ]  # fmt: skip
    key = land(lake, records)
    # A line that is not JSON at all, appended as a second object of the same hour.
    junk = key.replace(".gz", "-junk.gz")
    lake.put_bytes(junk, gzip.compress(b'{"a":1}\n{not json\n[1,2]\n'))
    typed = load(lake, warehouse)
    assert (typed.rows, typed.quarantined) == (1, 13)
    reasons = query(db, "select source, reason from iot.sensor_messages_quarantine order by 1")
    line = {f"{key}:{n}": r for n, r in enumerate(
        [None, "ts is str '1598543132.9', not a number", "humidity is NoneType None, not a number",
         f"ts {NOW + 3600!r} is in the future (now {NOW:.3f})",
         "ts 946684799.0 is before 2000-01-01", "missing fields: ts",
         "temperature is not finite: inf", "pressure 130.0 is outside [26.0, 126.0]",
         "msg_id 'bad id!' is not 1-64 letters, digits, '-' or '_'",
         f"duplicate message id 0034-000000 (first at {key}:1)",
         "payload is not a JSON object: not JSON (Expecting value: line 1 column 1 (char 0))"],
        start=1) if r}  # fmt: skip
    expected = sorted(line.items()) + [
        (f"{junk}:1", "missing fields: device_id, gateway_id, temperature, humidity, pressure, "
                      "red, green, blue, ambient, ts"),
        (f"{junk}:2", f"{junk}:2: not JSON (Expecting property name enclosed in double quotes "
                      "at column 2)"),
        (f"{junk}:3", f"{junk}:3: a JSON list, not an object"),
    ]  # fmt: skip
    assert sorted(reasons) == sorted(expected)
    assert query(db, "select message_id from iot.sensor_messages") == [("0034-000000",)]


def test_redelivered_messages_in_later_hours_are_quarantined_not_loaded_twice(env):
    lake, warehouse, db = env
    land(lake, [message(0), message(1)])
    next_hour = ARRIVAL + 3600
    land(lake, [message(1), message(2)], arrival=next_hour)  # message 1 re-delivered
    load(lake, warehouse)
    typed = load(lake, warehouse, "2020-08-27-16:00", now=next_hour)
    assert (typed.rows, typed.duplicates) == (1, 1)
    assert query(db, "select message_id, landed_hour from iot.sensor_messages order by 1") == [
        ("0034-000000", dt.datetime(2020, 8, 27, 15)),
        ("0034-000001", dt.datetime(2020, 8, 27, 15)),
        ("0034-000002", dt.datetime(2020, 8, 27, 16)),
    ]
    assert query(db, "select reason from iot.sensor_messages_quarantine") == [
        ("duplicate message id 0034-000001 (already loaded from partition 2020-08-27-15:00)",)
    ]
    # Re-loading the first hour keeps its rows: the duplicate was never loaded in the second.
    load(lake, warehouse)
    assert query(db, "select count(*), count(distinct message_id) from iot.sensor_messages") == [
        (3, 3)
    ]


def test_reloading_a_partition_leaves_the_same_rows(env):
    lake, warehouse, db = env
    land(lake, [message(n) for n in range(5)])
    load(lake, warehouse)
    first = query(db, "select guid, ts, temp from sensor.message order by ts")
    load(lake, warehouse)
    assert query(db, "select guid, ts, temp from sensor.message order by ts") == first
    assert len(first) == 5
    assert first[0] == ("0447383033363932003C0034", 1598543131, Decimal("74.48"))


def test_v1_messages_are_deduplicated_by_device_and_read_time(env):
    lake, warehouse, db = env
    v1 = {k: v for k, v in message(0).items() if k not in ("msg_id", "schema_version")}
    land(lake, [v1, v1])
    typed = load(lake, warehouse)
    assert (typed.rows, typed.duplicates) == (1, 1)
    assert query(db, "select message_id from iot.sensor_messages") == [
        ("0447383033363932003C0034@1598543131.9861386",)
    ]


def numbered(counter: int, gateway_id: str, ts: float, boot_id: int = 0x1A2B3C4D) -> dict:
    """The v3 message a gateway builds for reading `counter` of a format-2 node."""
    reading = Reading("0447383033363932003C0034", 23.6, 45.73, 98.65, 281, 667, 650, 1057,
                      boot_id=boot_id, counter=counter)  # fmt: skip
    return json.loads(build_message(reading, gateway_id, ts, rssi=-61, snr=56))


def test_one_packet_heard_by_two_gateways_is_one_reading_even_across_hours(env):
    lake, warehouse, db = env
    edge = dt.datetime(2020, 8, 27, 16, tzinfo=dt.UTC).timestamp()
    a, b = "00000000f62051ce", "00000000aaaaaaaa"
    # Gateway a hears readings 0-2 before the hour; gateway b hears 1-3, its clock a little
    # later, so its copy of reading 2 lands in the next hour with a ts past the first hour's.
    land(lake, [numbered(n, a, edge - 3 + n) for n in range(3)], arrival=edge - 0.5)
    land(lake, [numbered(1, b, edge - 1.7)], arrival=edge - 0.4)
    land(lake, [numbered(n, b, edge - 2.7 + n) for n in (2, 3)], arrival=edge + 0.5)
    first = load(lake, warehouse, "2020-08-27-15:00", now=edge + 10)
    second = load(lake, warehouse, "2020-08-27-16:00", now=edge + 10)
    assert (first.rows, first.duplicates, second.rows, second.duplicates) == (3, 1, 1, 1)
    rows = query(db, "select message_id, gateway_id from iot.sensor_messages order by ts")
    assert [m for m, _ in rows] == [f"0447383033363932003C0034-1A2B3C4D-{n}" for n in range(4)]
    # Reading 1's two copies land in one hour: whichever object is read first wins.
    assert [gw for _, gw in rows[:1] + rows[2:]] == [a, a, b] and rows[1][1] in (a, b)
    # Re-loading either hour in any order keeps exactly one row per reading.
    load(lake, warehouse, "2020-08-27-16:00", now=edge + 10)
    load(lake, warehouse, "2020-08-27-15:00", now=edge + 10)
    assert query(db, "select count(*), count(distinct message_id) from iot.sensor_messages") == [
        (4, 4)
    ]


def test_a_reading_changed_on_the_way_is_quarantined_for_its_checksum(env):
    lake, warehouse, db = env
    good = numbered(5, "00000000f62051ce", ARRIVAL - 0.1)
    changed = numbered(6, "00000000f62051ce", ARRIVAL - 0.05)
    changed["data"]["temperature"] = 32.6  # one digit, after the node computed its CRC
    land(lake, [good, changed])
    typed = load(lake, warehouse)
    assert (typed.rows, typed.quarantined, typed.reasons["checksum"]) == (1, 1, 1)
    ((reason, message_id),) = query(
        db, "select reason, message_id from iot.sensor_messages_quarantine"
    )
    assert reason.startswith(f"checksum mismatch: crc {changed['crc']} but the fields give ")
    assert message_id == "0447383033363932003C0034-1A2B3C4D-6"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deliveries=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=60),
    order=st.permutations([0, 1, 2]),
)
def test_any_redelivery_pattern_loads_each_message_exactly_once(
    tmp_path_factory, deliveries, order
):
    """Messages delivered any number of times into any of three hours, hours loaded in any
    order: every message is in sensor_messages once, and every extra copy is quarantined."""
    root = tmp_path_factory.mktemp("dedupe")
    lake = LocalObjectStore(root=str(root / "lake"))
    warehouse = local_warehouse(root)
    for hour in range(3):
        batch = [message(n) for n, h in deliveries if h == hour]
        if batch:
            land(lake, batch, arrival=ARRIVAL + 3600 * hour)
    for hour in order:
        partition = f"2020-08-27-{15 + hour}:00"
        pipeline.snapshot_raw(lake, partition)
        pipeline.load_sensor_messages(lake, warehouse, partition, now=NOW + 10_000)
    ids = query(local_warehouse(root), "select message_id from iot.sensor_messages")
    assert sorted(i for (i,) in ids) == sorted({f"0034-{n:06d}" for n, _ in deliveries})
    (quarantined,) = query(
        local_warehouse(root), "select count(*) from iot.sensor_messages_quarantine"
    )[0]
    assert quarantined == len(deliveries) - len(ids)


def test_seed_counts_are_the_references(env):
    lake, warehouse, db = env
    counts = "select " + ", ".join(
        f"(select count(*) from sensor.{t})"
        for t in ("history", "location", "sensor", "manufacturer", "sensors", "message")
    )
    pipeline.load_dimensions(lake, warehouse, registry=[])
    assert query(db, counts) == [(30, 6, 6, 1, 30, 0)]
    assert query(db, INSTALLED_JOINS) == [(6,)]
    assert query(db, "select count(distinct id), min(id), max(id) from sensor.history") == [
        (30, 1, 30)
    ]
    # With the registered LoRa nodes: one sensor, INSTALLED event and fact row each, one
    # manufacturer more; a second load replaces rather than appends.
    pipeline.load_dimensions(lake, warehouse)
    pipeline.load_dimensions(lake, warehouse)
    assert query(db, counts) == [(33, 6, 9, 2, 33, 0)]
    assert query(db, INSTALLED_JOINS) == [(9,)]


def test_sensor_one_has_the_reference_attributes(env):
    lake, warehouse, db = env
    pipeline.load_dimensions(lake, warehouse)
    assert query(db, """
        select sn.sku, sn.mac, loc.lat, loc.long, loc.description,
            make_timestamp(hist.serviced * 1000000)
        from sensor.sensors fct join sensor.sensor sn on sn.id = fct.sensor_id
        join sensor.history hist on hist.id = fct.history_id
        join sensor.location loc on loc.id = fct.location_id
        where sn.id = 1 and hist.action = 'INSTALLED'""") == [
        ("PR49-24A", "8e:fa:46:09:14:b2", Decimal("37.7068476"), Decimal("-122.4191599"),
         "Research Lab #2203", dt.datetime(2018, 1, 31, 12))
    ]  # fmt: skip


def test_the_original_history_with_its_duplicate_id_still_gives_six_installed_joins(env, tmp_path):
    """X-W1: the original file carries id 14 twice and no 15; the INSTALLED joins survive it."""
    lake, warehouse, db = env
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in SEEDS_DIR.glob("*.csv"):
        (seeds / path.name).write_bytes(path.read_bytes())
    rows = read_seed("history")
    rows[14]["id"] = "14"  # the row meant to be id 15
    with (seeds / "history.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    data = star_schema_rows(registry=[], directory=seeds)
    assert [r["id"] for r in data["history"]].count("14") == 2
    from lakehouse.iot import seeds as seeds_module

    original = seeds_module.SEEDS_DIR
    seeds_module.SEEDS_DIR = seeds
    try:
        pipeline.load_dimensions(lake, warehouse, registry=[])
    finally:
        seeds_module.SEEDS_DIR = original
    assert query(db, INSTALLED_JOINS) == [(6,)]


def test_missing_upstream_partition_is_a_clear_error(env):
    lake, warehouse, _ = env
    with pytest.raises(
        pipeline.PipelineError, match="no raw manifest: materialize sensor_messages_raw"
    ):
        pipeline.load_sensor_messages(lake, warehouse, HOUR)
    with pytest.raises(pipeline.PipelineError, match="is not YYYY-MM-DD-HH:00"):
        pipeline.snapshot_raw(lake, "2020-08-27")


def test_raw_snapshot_lists_only_its_hours_landed_objects(env):
    lake, _, _ = env
    first = land(lake, [message(0)])
    land(lake, [message(1)], arrival=ARRIVAL + 3600)
    raw = pipeline.snapshot_raw(lake, HOUR)
    assert raw.objects == [first] and raw.records == 1
    manifest = json.loads(lake.get_bytes(raw.manifest_key))
    assert manifest == {"entries": [{"url": lake.uri(first), "mandatory": True}]}
