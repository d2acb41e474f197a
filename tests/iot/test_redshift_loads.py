"""The aws path against a recording redshift_connector: the exact SQL, manifests that list
exactly one partition's files, and all of a load in one transaction."""

import datetime as dt
import json

import pytest
import redshift_connector

from lakehouse.iot import pipeline
from lakehouse.iot.load import LoadError
from lakehouse.iot.warehouse_tables import MESSAGE, QUARANTINE, SENSOR_MESSAGES
from lakehouse.warehouse import RedshiftWarehouse
from tests.iot.support import HOUR, MemoryS3Store, land, message
from tests.support.fake_redshift import FakeConnection, FakeCursor

ROLE = "arn:aws:iam::123456789012:role/lakehouse-copy"
WAREHOUSE = RedshiftWarehouse(
    host="cluster.example.invalid", user="loader", password="x", copy_role_arn=ROLE
)
NO_ROLE = RedshiftWarehouse(host="cluster.example.invalid", user="loader", password="x")


class RecordingCursor(FakeCursor):
    def __init__(self, log, params):
        super().__init__(log)
        self.params = params

    def execute(self, sql, args=None, **kwargs):
        self.params.append(args)
        return super().execute(sql, args, **kwargs)


class RecordingConnection(FakeConnection):
    def __init__(self, log, params):
        super().__init__(log)
        self.params = params

    def cursor(self):
        return RecordingCursor(self.log, self.params)


@pytest.fixture
def redshift(monkeypatch):
    log, params, kwargs = [], [], {}

    def connect(**kw):
        kwargs.update(kw)
        return RecordingConnection(log, params)

    monkeypatch.setattr(redshift_connector, "connect", connect)
    return log, params, kwargs


def ddl(*tables):
    return [s for t in tables for s in t.create("redshift")]


def test_sensor_messages_load_is_one_transaction_of_exact_statements(redshift):
    log, params, kwargs = redshift
    lake = MemoryS3Store()
    land(lake, [message(0), message(1), {"junk": True}])
    pipeline.snapshot_raw(lake, HOUR)
    typed = pipeline.load_sensor_messages(lake, WAREHOUSE, HOUR, now=1598543200.0)
    assert (typed.rows, typed.quarantined) == (2, 1)
    hour = dt.datetime(2020, 8, 27, 15)
    assert log == [
        *ddl(SENSOR_MESSAGES, QUARANTINE),
        # The objects the hour holds: one the bridge loaded after the snapshot is kept.
        'SELECT DISTINCT split_part(source, \':\', 1) FROM "iot"."sensor_messages" '
        "WHERE landed_hour = %s",
        'SELECT DISTINCT split_part(source, \':\', 1) FROM "iot"."sensor_messages_quarantine" '
        "WHERE landed_hour = %s",
        'SELECT message_id, landed_hour FROM "iot"."sensor_messages" '
        "WHERE landed_hour <> %s AND ts BETWEEN %s AND %s",
        'DELETE FROM "iot"."sensor_messages" WHERE "landed_hour" = %s',
        'COPY "iot"."sensor_messages" ("message_id", "device_id", "gateway_id", "ts", '
        '"temperature_c", "temperature_f", "humidity", "pressure_kpa", "pressure_inhg", "red", '
        '"green", "blue", "ambient", "color_clamped", "rssi", "snr", "device", "msg_received", '
        '"landed_hour", "source")\n'
        "FROM 's3://acme-lake/prod/sensor_messages/manifests/2020-08-27-15.manifest'\n"
        f"IAM_ROLE '{ROLE}'\n"
        "MANIFEST GZIP JSON 'auto'",
        'DELETE FROM "iot"."sensor_messages_quarantine" WHERE "landed_hour" = %s',
        'COPY "iot"."sensor_messages_quarantine" ("landed_hour", "source", "reason", '
        '"message_id", "record")\n'
        "FROM 's3://acme-lake/prod/sensor_messages_quarantine/manifests/2020-08-27-15.manifest'\n"
        f"IAM_ROLE '{ROLE}'\n"
        "MANIFEST GZIP JSON 'auto'",
        "-- commit",
    ]
    assert params[4:] == [
        (hour,),
        (hour,),
        # The other partitions' rows a copy of these readings could be in (read a day apart).
        (hour, 1598543131.9861386 - 86400, 1598543132.9861386 + 86400),
        (hour,),
        None,
        (hour,),
        None,
    ]
    assert kwargs["ssl"] is True and kwargs["user"] == "loader"


def test_message_copy_loads_exactly_the_new_partitions_file(redshift):
    log, params, _ = redshift
    lake = MemoryS3Store()
    land(lake, [message(0), message(1)])
    land(lake, [message(3600)], arrival=1598546732.0)  # the next hour
    for hour in (HOUR, "2020-08-27-16:00"):
        pipeline.snapshot_raw(lake, hour)
        pipeline.load_sensor_messages(lake, WAREHOUSE, hour, now=1598550000.0)
    log.clear()
    loaded = pipeline.load_message(lake, WAREHOUSE, "2020-08-27-16:00")
    assert loaded.rows == 1
    assert log == [
        *ddl(MESSAGE),
        'DELETE FROM "sensor"."message" WHERE "landed_hour" = %s',
        'COPY "sensor"."message" ("guid", "ts", "temp", "landed_hour")\n'
        "FROM 's3://acme-lake/prod/sensor/message/manifests/2020-08-27-16.manifest'\n"
        f"IAM_ROLE '{ROLE}'\n"
        "MANIFEST GZIP JSON 'auto'",
        # The hour's readings from objects outside sensor_messages' snapshot (the bridge's).
        'INSERT INTO "sensor"."message" (guid, ts, temp, landed_hour) SELECT device_id, '
        'CAST(floor(ts) AS BIGINT), temperature_f, landed_hour FROM "iot"."sensor_messages" '
        "WHERE landed_hour = %s AND split_part(source, ':', 1) NOT IN (%s)",
        "-- commit",
    ]
    manifest = json.loads(lake.get_bytes("sensor/message/manifests/2020-08-27-16.manifest"))
    assert manifest == {"entries": [{"url": "s3://acme-lake/prod/sensor/message/2020/08/27/16/"
                                     "part-00000.json.gz", "mandatory": True}]}  # fmt: skip
    rows = pipeline.read_part_rows(lake, "sensor/message/manifests/2020-08-27-16.manifest")
    assert rows == [{"guid": "0447383033363932003C0034", "ts": 1598546731, "temp": 74.48,
                     "landed_hour": "2020-08-27 16:00:00"}]  # fmt: skip


def test_dimensions_are_replaced_in_one_transaction_with_csv_copies(redshift):
    log, _, _ = redshift
    lake = MemoryS3Store()
    pipeline.load_dimensions(lake, WAREHOUSE)
    dml = [s for s in log if not s.startswith("CREATE")]
    copies = [
        f'DELETE FROM "sensor"."{name}"\0COPY "sensor"."{name}" ({cols})\n'
        f"FROM 's3://acme-lake/prod/sensor/{name}/{name}.csv'\n"
        f"IAM_ROLE '{ROLE}'\nCSV IGNOREHEADER 1"
        for name, cols in [
            ("history", '"id", "serviced", "action", "technician_id", "notes"'),
            ("location", '"id", "long", "lat", "description"'),
            ("sensor", '"id", "guid", "mac", "sku", "upc", "active", "notes"'),
            ("manufacturer", '"id", "name", "website", "notes"'),
            ("sensors", '"id", "sensor_id", "manufacturer_id", "location_id", "history_id", '
                        '"message_guid"'),
        ]
    ]  # fmt: skip
    assert dml == [part for c in copies for part in c.split("\0")] + ["-- commit"]
    assert lake.get_bytes("sensor/manufacturer/manufacturer.csv") == (
        b'"id","name","website","notes"\n"1","National Control Devices, LLC","https://ncd.io/",""\n'
        b'"2","Arduino","https://www.arduino.cc/",""\n'
    )


def test_a_failed_load_rolls_back_and_names_the_missing_role(redshift):
    log, _, _ = redshift
    lake = MemoryS3Store()
    land(lake, [message(0)])
    pipeline.snapshot_raw(lake, HOUR)
    with pytest.raises(LoadError, match="set REDSHIFT_COPY_ROLE_ARN"):
        pipeline.load_sensor_messages(lake, NO_ROLE, HOUR, now=1598543200.0)
    assert log[-2:] == ['DELETE FROM "iot"."sensor_messages" WHERE "landed_hour" = %s',
                        "-- rollback"]  # fmt: skip
    assert "-- commit" not in log


def test_message_ddl_is_the_reference_schema():
    assert MESSAGE.create("redshift")[-1] == (
        'CREATE TABLE IF NOT EXISTS "sensor"."message" (\n'
        '  "id" BIGINT IDENTITY(1,1),\n'
        '  "guid" VARCHAR(36) NOT NULL,\n'
        '  "ts" BIGINT NOT NULL,\n'
        '  "temp" NUMERIC(5,2) NOT NULL,\n'
        '  "created" TIMESTAMP DEFAULT GETDATE(),\n'
        '  "landed_hour" TIMESTAMP NOT NULL\n'
        ')\nDISTKEY ("ts") SORTKEY ("ts")'
    )


@pytest.mark.parametrize(
    ("uri", "role"),
    [("s3://acme-lake/x'; drop table sensor.message; --", ROLE),
     ("/local/path/manifest", ROLE),
     ("s3://acme-lake/m", "arn:aws:iam::123456789012:role/x' iam_role 'y")],
)  # fmt: skip
def test_copy_literals_are_validated(uri, role):
    from lakehouse.warehouse import WarehouseError

    with pytest.raises(WarehouseError):
        MESSAGE.copy_json(uri, role)
