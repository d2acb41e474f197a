"""The shared firmware/gateway test vectors (firmware/test_vectors.json)."""

import json

from gateway.payload import Reading
from tests.support.paths import REPO_ROOT

VECTORS = json.loads((REPO_ROOT / "firmware/test_vectors.json").read_text())
PAYLOADS = {p["name"]: p for p in VECTORS["payloads"] + VECTORS["payloads_v2"]}


def reading_of(vector: dict) -> Reading:
    return Reading(
        vector["uid"],
        vector["temperature"],
        vector["humidity"],
        vector["pressure"],
        vector["red"],
        vector["green"],
        vector["blue"],
        vector["ambient"],
        *(
            (int(vector["boot_id"], 16), vector["counter"], int(vector["crc"], 16))
            if "boot_id" in vector
            else ()
        ),
    )


def line_of(vector: dict) -> bytes:
    return bytes.fromhex(vector["line_hex"]) if "line_hex" in vector else vector["line"].encode()
