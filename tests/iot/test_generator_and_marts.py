"""The broker-free generator, and the dbt marts over what it lands (DuckDB, dbt build)."""

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.dbt.project import DBT_PROJECT_DIR
from lakehouse.iot import pipeline
from lakehouse.iot.generator import generate, has_telemetry, main
from lakehouse.iot.landing import partition_of, read_records
from lakehouse.iot.load import ensure_tables, replace_partition, transaction, write_part
from lakehouse.iot.readings import message_id, to_reading
from lakehouse.iot.seeds import registered_devices
from lakehouse.iot.warehouse_tables import MESSAGE
from lakehouse.storage import LocalObjectStore
from lakehouse.warehouse import local_warehouse
from tests.iot.support import query

END = 1779530430.0  # 2026-05-23 10:00:30 UTC
SENSOR_1 = "03e39872-e105-4be4-83c0-9ade818465dc"


def landed(lake):
    return [
        r
        for o in lake.list_objects("message/")
        if partition_of(o.key)
        for _, r in read_records(lake.get_bytes(o.key), o.key)
    ]


def test_generator_lands_every_registered_node_deterministically(tmp_path):
    a = LocalObjectStore(root=str(tmp_path / "a"))
    b = LocalObjectStore(root=str(tmp_path / "b"))
    counts = generate(a, end=END, minutes=10, seed=3)
    generate(b, end=END, minutes=10, seed=3)
    assert set(counts) == set(registered_devices())
    assert all(115 <= n <= 121 for n in counts.values())  # every ~5 s for 10 minutes
    records = landed(a)
    assert sorted(map(json.dumps, records)) == sorted(map(json.dumps, landed(b)))
    assert Counter(r["device_id"] for r in records) == Counter(counts)
    hours = {partition_of(o.key) for o in a.list_objects("message/")} - {None}
    assert hours == {"2026-05-23-09:00", "2026-05-23-10:00"}
    assert all(r["schema_version"] == 3 for r in records)
    # Each node numbers its readings from 0 within its (run's) boot, and each checksum holds.
    for device in counts:
        mine = sorted((r for r in records if r["device_id"] == device), key=lambda r: r["ts"])
        assert [r["seq"] for r in mine] == list(range(counts[device]))
        assert len({r["boot_id"] for r in mine}) == 1
    assert all("message_id" in to_reading(r, END + 60) for r in records)
    # A run over the next ten minutes is another boot: no message id is reused.
    c = LocalObjectStore(root=str(tmp_path / "c"))
    generate(c, end=END + 600, minutes=10, seed=3)
    assert not {message_id(r) for r in records} & {message_id(r) for r in landed(c)}


def test_cli_writes_once_with_if_empty(tmp_path, capsys):
    target = str(tmp_path / "lake")
    args = ["--target", target, "--minutes", "2", "--end", str(END)]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert main([*args, "--if-empty"]) == 0
    assert "nothing generated" in capsys.readouterr().out
    assert has_telemetry(LocalObjectStore(root=target))
    assert main(["--target", target, "--minutes", "0"]) == 2
    assert "--minutes and --interval must be positive" in capsys.readouterr().err


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    """Dimensions, 40 minutes of generated LoRa telemetry, three reference-style messages of
    sensor 1 (guid, ts, temp, as the original's generator sent), then `dbt build` of the IoT
    models with "now" at the end of the telemetry."""
    home = tmp_path_factory.mktemp("marts")
    lake = LocalObjectStore(root=str(home / "lake"))
    warehouse = local_warehouse(home)
    pipeline.load_dimensions(lake, warehouse)
    counts = generate(lake, end=END, minutes=40, seed=11)
    for hour in sorted({partition_of(o.key) for o in lake.list_objects("message/")} - {None}):
        pipeline.snapshot_raw(lake, hour)
        pipeline.load_sensor_messages(lake, warehouse, hour, now=END)
        pipeline.load_message(lake, warehouse, hour)
    reference = [
        {
            "guid": SENSOR_1,
            "ts": 1583292719 + 60 * i,
            "temp": t,
            "landed_hour": "2020-03-04 03:00:00",
        }
        for i, t in enumerate((105.56, 88.70, 72.35))
    ]
    manifest = write_part(
        lake, "sensor/message", dt.datetime(2020, 3, 4, 3), reference
    ).manifest_key
    with transaction(warehouse) as session:
        ensure_tables(session, [MESSAGE])
        replace_partition(session, MESSAGE, lake, manifest, dt.datetime(2020, 3, 4, 3))
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LAKE_ROOT": str(home / "lake"),
           "DBT_TARGET": "local"}  # fmt: skip
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "build", "--select", "tag:iot", "--vars", json.dumps({"iot_now": int(END)}),
         "--target-path", str(home / "target"), "--log-path", str(home / "logs")],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    return local_warehouse(home), counts


def test_msg_count_is_exact_per_device(marts):
    db, counts = marts
    assert dict(query(db, "select guid, msg_count from sensor.sensor_msg_count")) == {
        **counts,
        SENSOR_1: 3,
    }


def test_sensor_one_detail_row_is_the_references(marts):
    db, _ = marts
    rows = query(db, f"""select recorded, temp, sku, mac, lat, long, location, installed
                         from sensor.sensor_msg_detail where guid = '{SENSOR_1}'
                         order by recorded""")  # fmt: skip
    assert rows[0] == (dt.datetime(2020, 3, 4, 3, 31, 59), Decimal("105.56"), "PR49-24A",
                       "8e:fa:46:09:14:b2", Decimal("37.7068476"), Decimal("-122.4191599"),
                       "Research Lab #2203", dt.datetime(2018, 1, 31, 12))  # fmt: skip
    assert len(rows) == 3


def test_current_window_counts_the_last_thirty_minutes(marts):
    db, _ = marts
    expected = dict(query(db, f"""select device_id, count(*) from iot.sensor_messages
                                  where floor(ts) between {END - 1800} and {END}
                                  group by 1"""))  # fmt: skip
    current = {g: n for _, n, g, *_ in query(db, "select * from sensor.sensor_avg_temp_current")}
    assert current == expected
    assert all(355 <= n <= 362 for n in current.values())  # ~5 s cadence over 30 minutes


def test_hourly_aggregates_and_latency(marts):
    db, counts = marts
    hourly = query(
        db,
        """select device_id, hour, readings, min_temperature_f, max_temperature_f
                          from sensor.sensor_hourly order by 1, 2""",
    )
    per_device = Counter()
    for device, hour, readings, low, high in hourly:
        assert hour.minute == 0 and low <= high
        per_device[device] += readings
    assert per_device == Counter(counts)
    assert len(hourly) == 2 * len(counts)  # 09:20:30-10:00:30 spans two reading hours
    ((low, high),) = query(
        db, "select min(diff_seconds), max(diff_seconds) from sensor.message_latency"
    )
    assert low >= 0 and high > 0
