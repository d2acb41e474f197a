"""The star schema's dimension data: the reference seeds plus the registered LoRa nodes.

`seeds/{history,location,sensor,manufacturer,sensors}.csv` are the reference rows (iot reference
§5.3, with D-10's fix: history ids 1..30 are unique). `seeds/lora_nodes.csv` registers the LoRa
P2P nodes whose telemetry the gateway publishes: each becomes a `sensor` row (device id as
guid), an INSTALLED `history` event and a `sensors` fact row, so the views join its messages
exactly like the original sensors'. Its manufacturer becomes a `manufacturer` row if new.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lakehouse.iot.warehouse_tables import DIMENSIONS, Table

SEEDS_DIR = Path(__file__).resolve().parent / "seeds"


class SeedError(ValueError):
    pass


def read_seed(name: str, directory: Path = SEEDS_DIR) -> list[dict[str, str]]:
    path = directory / f"{name}.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for number, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise SeedError(f"{path}:{number}: wrong number of fields")
    return rows


def star_schema_rows(
    registry: list[dict[str, str]] | None = None, directory: Path = SEEDS_DIR
) -> dict[str, list[dict[str, str]]]:
    """Rows per dimension table, in load order, with the registry's nodes added."""
    rows = {t.name: read_seed(t.name, directory) for t in DIMENSIONS}
    for n, fact in enumerate(rows["sensors"], start=1):
        fact["id"] = str(n)  # the row number, deterministically (iot reference §5.2)
    if registry is None:
        registry = read_seed("lora_nodes", directory)
    manufacturers = {m["name"]: m["id"] for m in rows["manufacturer"]}
    known_guids = {s["guid"] for s in rows["sensor"]}
    for node in registry:
        if node["guid"] in known_guids:
            raise SeedError(f"lora_nodes.csv: guid {node['guid']} is registered twice")
        known_guids.add(node["guid"])
        if node["manufacturer"] not in manufacturers:
            new_id = str(len(rows["manufacturer"]) + 1)
            rows["manufacturer"].append(
                {
                    "id": new_id,
                    "name": node["manufacturer"],
                    "website": node["website"],
                    "notes": "",
                }
            )
            manufacturers[node["manufacturer"]] = new_id
        sensor_id = str(len(rows["sensor"]) + 1)
        history_id = str(len(rows["history"]) + 1)
        rows["sensor"].append(
            {
                "id": sensor_id,
                "guid": node["guid"],
                "mac": node["mac"],
                "sku": node["sku"],
                "upc": node["upc"],
                "active": "1",
                "notes": node["notes"],
            }  # fmt: skip
        )
        rows["history"].append(
            {
                "id": history_id,
                "serviced": node["installed"],
                "action": "INSTALLED",
                "technician_id": node["technician_id"],
                "notes": "",
            }  # fmt: skip
        )
        rows["sensors"].append(
            {
                "id": str(len(rows["sensors"]) + 1),
                "sensor_id": sensor_id,
                "manufacturer_id": manufacturers[node["manufacturer"]],
                "location_id": node["location_id"],
                "history_id": history_id,
                "message_guid": node["guid"],
            }  # fmt: skip
        )
    return rows


def to_csv(table: Table, rows: list[dict[str, str]]) -> bytes:
    """The CSV a COPY ... CSV IGNOREHEADER 1 loads: header, then every field quoted."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    names = [c.name for c in table.loaded]
    writer.writerow(names)
    for row in rows:
        writer.writerow([row[n] for n in names])
    return out.getvalue().encode()


def registered_devices(directory: Path = SEEDS_DIR) -> list[str]:
    return [node["guid"] for node in read_seed("lora_nodes", directory)]
