"""The AWS IoT topic rule, locally: flatten a gateway message and stamp its arrival.

SELECT data.device_id, data.gateway_id, data.temperature, data.humidity, data.pressure,
       data.color.red, data.color.green, data.color.blue, data.color.ambient, ts,
       clientid() AS device,
       parse_time("yyyy-MM-dd'T'HH:mm:ss.SSSZ", timestamp(), "UTC") AS msg_received,
       schema_version, msg_id, rssi, snr,                    -- v2 extras, absent in v1
       boot_id, seq, crc                                     -- v3 (node identity, checksum)

as in infra/iot/iot.yaml. A payload that is not a JSON object cannot be flattened; the bridge
lands it through `unparsed()` instead, so that it is quarantined with its reason, not lost.
"""

from __future__ import annotations

import datetime as dt

DATA_FIELDS = ("device_id", "gateway_id", "temperature", "humidity", "pressure")
COLOR_FIELDS = ("red", "green", "blue", "ambient")
V2_FIELDS = ("schema_version", "msg_id", "rssi", "snr")
V3_FIELDS = ("boot_id", "seq", "crc")  # a numbered reading's identity and the node's CRC-16


def msg_received(arrival: dt.datetime) -> str:
    """Broker arrival time as the rule prints it: true UTC, milliseconds, '+0000'."""
    utc = arrival.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def flatten(message: dict, client_id: str, arrival: dt.datetime) -> dict:
    """The rule's output record. Fields the message lacks are simply absent, as in AWS IoT SQL;
    validation happens downstream, where a bad record is quarantined with its reason."""
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    color = data.get("color") if isinstance(data.get("color"), dict) else {}
    record = {k: data[k] for k in DATA_FIELDS if k in data}
    record.update({k: color[k] for k in COLOR_FIELDS if k in color})
    if "ts" in message:
        record["ts"] = message["ts"]
    record.update({k: message[k] for k in (*V2_FIELDS, *V3_FIELDS) if k in message})
    record["device"] = client_id
    record["msg_received"] = msg_received(arrival)
    return record


def unparsed(payload: bytes, error: str, client_id: str, arrival: dt.datetime) -> dict:
    """The landed record of a payload that is not a JSON object: its text and why."""
    return {
        "payload_error": error,
        "payload": payload.decode("utf-8", "backslashreplace")[:10_000],
        "device": client_id,
        "msg_received": msg_received(arrival),
    }
