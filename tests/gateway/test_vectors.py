"""The gateway side of the shared vectors: payload format, receive lines, the golden message."""

import hashlib
import json

import pytest

from gateway.intake import Intake
from gateway.message import build_message
from gateway.parser import Limits, Received, Rejected, parse_line
from gateway.payload import Reading, crc16, format_data, format_float, send_command, signed_text
from tests.gateway.vectors import PAYLOADS, VECTORS, line_of, reading_of

GOLDEN = VECTORS["message"]


@pytest.mark.parametrize("case", VECTORS["float_format"], ids=lambda c: c["text"])
def test_float_format(case):
    assert format_float(case["value"]) == case["text"]


def test_calibration():
    c = VECTORS["calibration"]
    assert format_float(c["raw_temperature"] + c["factor"]) == c["temperature_text"]


@pytest.mark.parametrize("vector", VECTORS["payloads"], ids=lambda v: v["name"])
def test_payloads(vector):
    data = format_data(reading_of(vector), with_uid=vector["with_uid"])
    assert len(data) == vector["data_length"]
    line = send_command(vector["destination"], data)
    assert line == vector["send"]
    assert len(line.encode()) == vector["send_bytes"]


def test_crc16_check_value():
    assert f"{crc16(VECTORS['crc16']['text'].encode()):04X}" == VECTORS["crc16"]["crc"]


@pytest.mark.parametrize("vector", VECTORS["payloads_v2"], ids=lambda v: v["name"])
def test_payloads_v2(vector):
    reading = reading_of(vector)
    data = format_data(reading)
    line = send_command(vector["destination"], data)
    assert line == vector["send"]
    assert len(data) == vector["data_length"]
    assert data.endswith(f"|{vector['crc']}")
    assert data.removesuffix(f"|{vector['crc']}") == signed_text(reading)
    # Framed as the receiving module frames it, it parses back to the same reading.
    received = parse_line(f"+RCV=116,{len(data)},{data},-61,56\r\n".encode())
    assert received.reading == reading


def test_limits_are_the_calibrated_sensor_range():
    limits = VECTORS["limits"]
    low, high = limits["sensor_temperature"]
    assert [low + limits["calibration"], high + limits["calibration"]] == limits["temperature"]
    assert limits["calibration"] == VECTORS["calibration"]["factor"]
    parser = Limits()
    assert list(parser.temperature) == limits["temperature"]
    assert (list(parser.humidity), list(parser.pressure)) == (
        limits["humidity"],
        limits["pressure"],
    )
    assert list(parser.color) == limits["color"]


def test_v3_message_of_a_format_2_reading():
    reading = reading_of(PAYLOADS["P6"])
    v1 = json.loads(build_message(reading_of(PAYLOADS["P3"]), GOLDEN["gateway_id"], GOLDEN["ts"]))
    v3 = json.loads(build_message(reading, GOLDEN["gateway_id"], GOLDEN["ts"], rssi=-61, snr=56))
    assert {k: v for k, v in v3.items() if k in v1} == v1
    assert {k: v for k, v in v3.items() if k not in v1} == {
        "schema_version": 3,
        "msg_id": "0447383033363932003C0034-1A2B3C4D-17",
        "boot_id": "1A2B3C4D",
        "seq": 17,
        "crc": "9468",
        "rssi": -61,
        "snr": 56,
    }


def test_the_same_packet_from_two_gateways_has_one_msg_id():
    (vector,) = [v for v in VECTORS["receive"] if v.get("payload") == "P6"]
    a = Intake("00000000f62051ce").handle(line_of(vector), 1.0)
    b = Intake("00000000aaaaaaaa").handle(line_of(vector), 1.2)
    assert a.msg_id == b.msg_id == "0447383033363932003C0034-1A2B3C4D-17"
    assert a.payload != b.payload  # gateway_id and ts differ


@pytest.mark.parametrize("vector", VECTORS["receive"], ids=lambda v: v["name"])
def test_receive_lines(vector):
    result = parse_line(line_of(vector))
    if vector["accepted"]:
        assert isinstance(result, Received), result
        assert result.reading == reading_of(PAYLOADS[vector["payload"]])
        assert (result.sender, result.rssi, result.snr) == (
            vector["sender"],
            vector["rssi"],
            vector["snr"],
        )
    else:
        assert isinstance(result, Rejected)
        assert vector["reason"] in result.reason
        assert result.raw == line_of(vector)


def test_the_firmware_payloads_are_what_the_gateway_accepts():
    """Each P1-P3 data, framed as the receiving module frames it, parses back to its inputs."""
    for name in ("P1", "P2", "P3"):
        vector = PAYLOADS[name]
        data = vector["send"].split(",", 2)[2].removesuffix("\r\n")
        line = f"+RCV=116,{len(data)},{data},-61,56\r\n".encode()
        assert parse_line(line).reading == reading_of(vector)


def test_golden_message_is_byte_identical(fixtures_dir):
    reading = reading_of(PAYLOADS[GOLDEN["payload"]])
    message = build_message(reading, GOLDEN["gateway_id"], GOLDEN["ts"])
    assert message == GOLDEN["json"].encode()
    assert len(message) == GOLDEN["bytes"] == 224
    assert hashlib.sha256(message).hexdigest() == GOLDEN["sha256"]
    # The pretty fixture shows colours as ints; as values it is the same message.
    original = json.loads((fixtures_dir / "iot/sample_message_original.json").read_text())
    assert json.loads(message) == original


def test_golden_message_from_the_received_line():
    """A6 end to end: the P3 line, read at the golden ts, gives the golden bytes."""
    (vector,) = [v for v in VECTORS["receive"] if v.get("payload") == "P3"]
    intake = Intake(GOLDEN["gateway_id"])
    accepted = intake.handle(line_of(vector), GOLDEN["ts"])
    assert accepted.payload == GOLDEN["json"].encode()
    assert (accepted.rssi, accepted.snr, accepted.device_id) == (-61, 56, PAYLOADS["P3"]["uid"])


def test_v2_adds_only_top_level_keys():
    reading = reading_of(PAYLOADS["P3"])
    v1 = json.loads(build_message(reading, GOLDEN["gateway_id"], GOLDEN["ts"]))
    v2 = json.loads(
        build_message(reading, GOLDEN["gateway_id"], GOLDEN["ts"], msg_id="m-1", rssi=-61, snr=56)
    )
    assert {k: v for k, v in v2.items() if k in v1} == v1
    assert {k: v for k, v in v2.items() if k not in v1} == {
        "schema_version": 2,
        "msg_id": "m-1",
        "rssi": -61,
        "snr": 56,
    }


def test_v2_serialization_is_exact():
    reading = Reading("0447383033363932003C0034", 23.6, 45.73, 98.65, 281, 667, 650, 1057)
    assert build_message(reading, "00000000f62051ce", 1.5, msg_id="ab", rssi=-61, snr=7) == (
        b'{"data":{"color":{"ambient":1057.0,"blue":650.0,"green":667.0,"red":281.0},'
        b'"device_id":"0447383033363932003C0034","gateway_id":"00000000f62051ce",'
        b'"humidity":45.73,"pressure":98.65,"temperature":23.6},'
        b'"msg_id":"ab","rssi":-61,"schema_version":2,"snr":7,"ts":1.5}'
    )


def test_non_finite_values_are_never_serialized():
    reading = Reading("0447383033363932003C0034", float("nan"), 45.73, 98.65, 1, 2, 3, 4)
    with pytest.raises(ValueError, match="non-finite"):
        build_message(reading, "00000000f62051ce", 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        format_data(reading)


def test_rejected_lines_are_logged_escaped_and_counted(caplog):
    intake = Intake("00000000f62051ce")
    bad = [line_of(v) for v in VECTORS["receive"] if not v["accepted"]]
    with caplog.at_level("INFO", logger="gateway.intake"):
        assert [intake.handle(raw, 1.0) for raw in bad] == [None] * len(bad)
    assert intake.counts["accepted"] == 0
    assert intake.counts["rejected"] + intake.counts["module_replies"] == len(bad)
    assert intake.counts["module_replies"] == 2
    assert r"0447383033363932003C0034|23.4\xc3|41.89" in caplog.text
    assert r"1116,-61,56\r\n" in caplog.text


def test_rejected_lines_are_rate_limited_with_a_summary(caplog):
    """A noisy radio cannot flood the log: LOG_BURST lines in full per window, then a count."""
    from gateway.intake import LOG_BURST, LOG_RAW_CHARS, LOG_WINDOW_S, RejectLog

    now = [0.0]
    intake = Intake("00000000f62051ce")
    intake.reject_log = RejectLog(intake.log, clock=lambda: now[0])
    noise = b"+RCV=" + b"x" * 400 + b"\r\n"
    with caplog.at_level("INFO", logger="gateway.intake"):
        for _ in range(1000):
            intake.handle(noise, 1.0)
        intake.handle(b"+ERR=12\r\n", 1.0)
        assert len(caplog.records) == LOG_BURST
        assert all(len(r.getMessage()) < LOG_RAW_CHARS + 200 for r in caplog.records)
        now[0] = LOG_WINDOW_S + 1
        intake.handle(noise, 1.0)  # the next window: the summary, then this line in full
    summary = caplog.records[LOG_BURST].getMessage()
    assert summary.startswith("1 module line(s), 990 rejected line(s) not logged one by one")
    assert len(caplog.records) == LOG_BURST + 2
    assert intake.counts["rejected"] == 1001
