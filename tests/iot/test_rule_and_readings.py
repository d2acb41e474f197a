import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.iot.readings import Quarantined, to_reading
from lakehouse.iot.rule import flatten, msg_received
from tests.support.paths import REPO_ROOT

VECTORS_LIMITS = json.loads((REPO_ROOT / "firmware/test_vectors.json").read_text())["limits"]

# The golden wire message (iot reference §3.4), colours as the floats the gateway sends.
GOLDEN = json.loads(
    '{"data":{"color":{"ambient":1057.0,"blue":650.0,"green":667.0,"red":281.0},'
    '"device_id":"0447383033363932003C0034","gateway_id":"00000000f62051ce",'
    '"humidity":45.73,"pressure":98.65,"temperature":23.6},"ts":1598543131.9861386}'
)
ARRIVAL = dt.datetime.fromtimestamp(1598543132.024, dt.UTC)
NOW = 1598543200.0


def golden_record():
    return flatten(GOLDEN, "lora-iot-gateway-01", ARRIVAL)


def test_rule_flattens_to_twelve_keys_with_true_utc_arrival(fixtures_dir):
    record = golden_record()
    assert sorted(record) == sorted(["device_id", "gateway_id", "temperature", "humidity",
        "pressure", "red", "green", "blue", "ambient", "ts", "device", "msg_received"])  # fmt: skip
    assert record["device"] == "lora-iot-gateway-01"
    assert record["msg_received"] == "2020-08-27T15:45:32.024+0000"
    captured = json.loads((fixtures_dir / "iot/sample_message_rule_result.json").read_text())
    # The capture's msg_received is local time labelled +0000 (X-C5); everything else matches.
    assert {k: v for k, v in record.items() if k != "msg_received"} == {
        k: v for k, v in captured.items() if k != "msg_received"
    }


def test_msg_received_is_utc_whatever_the_local_zone():
    eastern = dt.timezone(dt.timedelta(hours=-4))
    assert msg_received(ARRIVAL.astimezone(eastern)) == "2020-08-27T15:45:32.024+0000"


def test_conversions_match_the_final_record(fixtures_dir):
    reading = to_reading(golden_record(), NOW)
    final = json.loads((fixtures_dir / "iot/sample_message_final.json").read_text())
    assert reading["temperature_f"] == final["temperature"] == 74.48
    assert reading["humidity"] == final["humidity"] == 45.73
    assert reading["pressure_inhg"] == final["pressure"] == 29.13
    colours = ("red", "green", "blue", "ambient")
    assert [reading[c] for c in colours] == [final[c] for c in colours] == [17, 42, 40, 66]
    assert (reading["temperature_c"], reading["pressure_kpa"]) == (23.6, 98.65)
    assert reading["ts"] == final["ts"] and reading["device"] == final["device"]
    assert reading["color_clamped"] is False


@pytest.mark.parametrize(
    ("counts", "scaled"),
    [((224, 141, 116, 554), (14, 9, 7, 34)), ((2343, 1190, 543, 4011), (146, 74, 34, 250)),
     ((230, 692, 833, 1116), (14, 43, 52, 69)), ((16, 38, 53, 80), (1, 2, 3, 5)),
     ((4097, 0, 4097, 0), (255, 0, 255, 0))],
)  # fmt: skip
def test_colour_vectors(counts, scaled):
    record = golden_record() | dict(zip(("red", "green", "blue", "ambient"), counts, strict=True))
    reading = to_reading(record, NOW)
    assert (reading["red"], reading["green"], reading["blue"], reading["ambient"]) == scaled


def test_more_unit_vectors_and_clamping():
    reading = to_reading(golden_record() | {"temperature": 23.85, "pressure": 99.58}, NOW)
    assert (reading["temperature_f"], reading["pressure_inhg"]) == (74.93, 29.41)
    clamped = to_reading(golden_record() | {"ambient": 5000.0}, NOW)
    assert clamped["ambient"] == 255 and clamped["color_clamped"] is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"humidity": None}, "humidity is NoneType None, not a number"),
     ({"temperature": "23.6"}, "temperature is str '23.6', not a number"),
     ({"pressure": float("nan")}, "pressure is not finite: nan"),
     ({"humidity": -12.88}, "humidity -12.88 is outside [0.0, 100.0]"),
     ({"ts": 946684799.0}, "ts 946684799.0 is before 2000-01-01"),
     ({"ts": NOW + 3600}, f"ts {NOW + 3600!r} is in the future"),
     ({"device_id": "0447383033363932003c0034"}, "device_id '0447383033363932003c0034' is not"),
     ({"red": -1.0}, "red -1.0 is negative"),
     ({"green": True}, "green is bool True, not a number")],
)  # fmt: skip
def test_bad_records_are_quarantined_with_the_reason(change, reason):
    result = to_reading(golden_record() | change, NOW)
    assert isinstance(result, Quarantined)
    assert result.reason.startswith(reason)


def test_missing_fields_are_named():
    record = golden_record()
    del record["humidity"], record["ts"]
    assert to_reading(record, NOW) == Quarantined("missing fields: humidity, ts")
    assert to_reading(flatten({"nonsense": 1}, "gw", ARRIVAL), NOW).reason.startswith(
        "missing fields: device_id, gateway_id, temperature"
    )


def test_v2_extras_pass_through_the_rule_and_name_the_message():
    v2 = GOLDEN | {"schema_version": 2, "msg_id": "a" * 32, "rssi": -61, "snr": 9}
    record = flatten(v2, "lora-iot-gateway-01", ARRIVAL)
    assert {k: record[k] for k in ("schema_version", "msg_id", "rssi", "snr")} == {
        "schema_version": 2, "msg_id": "a" * 32, "rssi": -61, "snr": 9
    }  # fmt: skip
    reading = to_reading(record, NOW)
    assert (reading["message_id"], reading["rssi"], reading["snr"]) == ("a" * 32, -61, 9)
    assert to_reading(golden_record(), NOW)["message_id"] == (
        "0447383033363932003C0034@1598543131.9861386"
    )
    assert to_reading(record | {"rssi": 1.5}, NOW) == Quarantined(
        "rssi is float 1.5, not an integer"
    )


# The golden reading from a format-2 node (firmware/test_vectors.json P6): message v3.
V3 = GOLDEN | {"schema_version": 3, "msg_id": "0447383033363932003C0034-1A2B3C4D-17",
               "boot_id": "1A2B3C4D", "seq": 17, "crc": "9468", "rssi": -61, "snr": 56}  # fmt: skip


def test_v3_identity_is_the_message_id_and_its_checksum_holds():
    record = flatten(V3, "lora-iot-gateway-01", ARRIVAL)
    assert {k: record[k] for k in ("boot_id", "seq", "crc")} == {
        "boot_id": "1A2B3C4D", "seq": 17, "crc": "9468"
    }  # fmt: skip
    reading = to_reading(record, NOW)
    assert reading["message_id"] == "0447383033363932003C0034-1A2B3C4D-17"
    # Another gateway heard the same packet: the same message id, whatever its own msg_id says.
    other = record | {"gateway_id": "00000000aaaaaaaa", "ts": record["ts"] + 0.4, "msg_id": "x"}
    assert to_reading(other, NOW)["message_id"] == reading["message_id"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"temperature": 23.8}, "checksum mismatch: crc 9468 but the fields give "),
     ({"red": 282.0}, "checksum mismatch: crc 9468 but the fields give "),
     ({"seq": 18}, "checksum mismatch: crc 9468 but the fields give "),
     ({"boot_id": "1A2B3C4E"}, "checksum mismatch"),
     ({"device_id": "0447383033363932003C0035"}, "checksum mismatch"),
     ({"red": 281.5}, "checksum not verifiable: colour counts"),
     ({"crc": "946"}, "crc '946' is not 4 upper-case hex digits"),
     ({"boot_id": 439041101}, "boot_id 439041101 is not 8 upper-case hex digits"),
     ({"seq": -1}, "seq -1 is not a 32-bit counter"),
     ({"seq": 2**32}, "seq 4294967296 is not a 32-bit counter")],
)  # fmt: skip
def test_v3_checksum_failures_are_quarantined_with_the_reason(change, reason):
    record = flatten(V3, "lora-iot-gateway-01", ARRIVAL) | change
    result = to_reading(record, NOW)
    assert isinstance(result, Quarantined), result
    assert result.reason.startswith(reason)


def test_v3_without_part_of_its_identity_is_quarantined():
    record = flatten(V3, "lora-iot-gateway-01", ARRIVAL)
    del record["crc"]
    assert to_reading(record, NOW) == Quarantined("missing fields: crc")


def test_the_calibrated_range_is_accepted():
    """The node's -4 °C calibration sends down to -44 °C (firmware/test_vectors.json limits)."""
    assert to_reading(golden_record() | {"temperature": -44.0}, NOW)["temperature_c"] == -44.0
    assert to_reading(golden_record() | {"temperature": 116.0}, NOW)["temperature_c"] == 116.0
    assert isinstance(to_reading(golden_record() | {"temperature": -44.01}, NOW), Quarantined)
    assert isinstance(to_reading(golden_record() | {"temperature": 116.01}, NOW), Quarantined)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = ["device_id", "gateway_id", "temperature", "humidity", "pressure", "red", "green", "blue",
          "ambient", "ts", "msg_id", "rssi", "snr", "payload_error", "boot_id", "seq",
          "crc"]  # fmt: skip


@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5))
def test_any_record_is_typed_or_quarantined_never_an_exception(changes):
    result = to_reading(golden_record() | changes, NOW)
    if isinstance(result, Quarantined):
        assert result.reason
    else:
        assert set(result) >= {"message_id", "temperature_f", "pressure_inhg", "ts"}
        assert 0 <= result["red"] <= 255 and -44 <= result["temperature_c"] <= 116


def test_the_marts_range_tests_are_the_calibrated_range():
    """dbt's range tests (°F) say what the shared vectors say (°C), converted."""
    text = (REPO_ROOT / "dbt_project/models/iot/marts/_iot__marts.yml").read_text()
    low, high = (round(c * 1.8 + 32, 2) for c in VECTORS_LIMITS["temperature"])
    assert (low, high) == (-47.2, 240.8)
    assert f"temp between {low} and 999.99" in text
    assert f"avg_temp between {low} and {high}" in text
    assert f"min_temperature_f >= {low} and max_temperature_f <= {high}" in text
    h_low, h_high = VECTORS_LIMITS["humidity"]
    p_low, p_high = VECTORS_LIMITS["pressure"]
    assert f"min_humidity >= {h_low:g} and max_humidity <= {h_high:g}" in text
    assert f"min_pressure_kpa >= {p_low:g} and max_pressure_kpa <= {p_high:g}" in text
