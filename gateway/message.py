"""The MQTT message the gateway publishes (schema v1, byte-identical to the original).

v1: {"data":{"color":{...},"device_id","gateway_id","humidity","pressure","temperature"},"ts"}
serialized as json.dumps(sort_keys=True, separators=(",", ":")): keys sorted at every level, no
spaces, ASCII only, floats in shortest round-trip form, colour counts as floats (1057.0).

v2 adds top-level keys and nothing else, so v1 readers (the IoT rule selects data.* and ts)
are unaffected: "schema_version": 2, "msg_id" (the same on every re-send of one reading, for
deduplication), "rssi" and "snr" (as the receiving module measured them).

v3 is the message of a format-2 reading (a node that numbers its readings): v2's keys, with
msg_id = "<device>-<boot id>-<counter>" (the same from every gateway that heard the packet),
plus "boot_id" (8 hex), "seq" (the counter) and "crc" (the node's CRC-16, 4 hex), so the
lakehouse can deduplicate across gateways and check the reading end to end.
"""

from __future__ import annotations

import json
import math

from gateway.payload import Reading, crc16, signed_text

SCHEMA_VERSIONS = (1, 2, 3)
# Where the message goes, as the original named it: the topic, and the gateway's MQTT client id
# (its IoT thing), which the IoT rule records as the message's `device`.
TOPIC = "lora-iot-demo"
GATEWAY_CLIENT_ID = "lora-iot-gateway-01"


def build_message(
    reading: Reading,
    gateway_id: str,
    ts: float,
    *,
    msg_id: str | None = None,
    rssi: int | None = None,
    snr: int | None = None,
) -> bytes:
    """The message for one reading: v3 for a format-2 reading (msg_id is its identity then),
    else v2 with msg_id (and optionally rssi/snr), else v1.

    ts is the gateway's wall clock when the serial line was read (epoch seconds).
    """
    values = (reading.temperature, reading.humidity, reading.pressure, ts)
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"non-finite value in a message: {values}")
    message: dict = {
        "data": {
            "color": {
                "ambient": float(reading.ambient),
                "blue": float(reading.blue),
                "green": float(reading.green),
                "red": float(reading.red),
            },
            "device_id": reading.device_id,
            "gateway_id": gateway_id,
            "humidity": float(reading.humidity),
            "pressure": float(reading.pressure),
            "temperature": float(reading.temperature),
        },
        "ts": float(ts),
    }
    if reading.boot_id is not None:
        crc = reading.crc if reading.crc is not None else crc16(signed_text(reading).encode())
        message.update(
            schema_version=3,
            msg_id=reading.key,
            boot_id=f"{reading.boot_id:08X}",
            seq=int(reading.counter),
            crc=f"{crc:04X}",
        )
        message.update({k: int(v) for k, v in (("rssi", rssi), ("snr", snr)) if v is not None})
    elif msg_id is not None:
        message["schema_version"] = 2
        message["msg_id"] = msg_id
        if rssi is not None:
            message["rssi"] = int(rssi)
        if snr is not None:
            message["snr"] = int(snr)
    elif rssi is not None or snr is not None:
        raise ValueError("rssi and snr belong to schema v2, which needs a msg_id")
    return json.dumps(message, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
