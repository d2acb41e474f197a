"""The system left running: `dagster dev` with every sensor and schedule on, a reading published
every 2 s to mosquitto and loaded by lakehouse-iot-bridge, a CDC batch every minute, a TICKIT
upload, an analyst reading every 8 s; about three minutes of it, then a drain. bench/soak.py
runs the same for 30 minutes and reports."""

import json

import pytest

from tests.support.ports import free_port
from tests.support.soak import Soak

DATA_S = 180


@pytest.mark.timeout(900)
def test_left_running_nothing_fails_nothing_piles_up_nothing_is_lost(tmp_path):
    soak = Soak(tmp_path)
    soak.prepare()
    try:
        soak.start_telemetry()  # first: the bridge marks the prepared hour loaded
        soak.start(free_port())
        soak.land_tickit()
        soak.run_for(DATA_S)
        soak.stop_schedules()
        runs = soak.drain(timeout=300)
        report = soak.report(runs)
    finally:
        soak.stop()
    print(json.dumps(report, indent=1))
    log = (tmp_path / "dagster-dev.log").read_text()[-4000:]
    assert report["failed_runs"] == [], log
    # No queue growth: never more than one queued run per sensor or schedule.
    assert max(report["max_queued_per_origin"].values(), default=0) <= 1, report
    assert {"schedule:raw_cdc_capture_every_minute", "sensor:raw_cdc_objects",
            "sensor:tickit_raw_files"} <= set(report["runs_by_origin"])  # fmt: skip
    # Every landed object is reflected in its table; every reading reached sensor_msg_count,
    # loaded by the bridge (a load per batch, reported to the instance), with no partition run.
    assert report["cdc_objects_not_committed"] == []
    assert report["unloaded_telemetry_hours"] == []
    assert report["readings_published"] >= DATA_S // 2 - 5
    assert report["readings_never_seen"] == 0
    assert report["bridge_loads_reported"] >= report["readings_published"] // 10
    assert "sensor:sensor_messages_landed" not in report["runs_by_origin"]
