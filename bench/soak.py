"""The system left running for 30 minutes on this machine (not in CI):

    uv run python bench/soak.py [--minutes 30] [--reading-every 2] [--read-every 8]

`dagster dev` with every sensor and schedule on, in a fresh temporary LAKEHOUSE_HOME and
DAGSTER_HOME (the committed dagster.yaml); a gateway publishes a reading every --reading-every
seconds to mosquitto (mTLS), where lakehouse-iot-bridge lands it (1 s flush), loads it and
reports the load to the same instance; the CDC schedule writes a batch a minute, one TICKIT
upload, an analyst reads `sensor_msg_count` read-only every --read-every seconds. Then the
schedules stop and the system drains.

Reports runs by status, queue depth over time, CDC object -> Hudi commit latency, reading ->
`sensor_msg_count` latency (publication to the first read that counts it, read every 2 s),
run launch -> first step, failed analyst reads, CPU seconds and peak RSS per process (the
bridge and mosquitto too); writes bench/results/soak.json.
Targets: 0 failed runs and reads, <= 1 queued run per sensor/schedule, CDC p95 <= 90 s,
telemetry p95 <= 10 s and max <= 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.ports import free_port  # noqa: E402
from tests.support.soak import Soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--reading-every", type=float, default=2)
    parser.add_argument("--read-every", type=float, default=8)
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        soak = Soak(Path(tmp), reading_every_s=args.reading_every,
                    read_every_s=args.read_every)  # fmt: skip
        soak.prepare()
        try:
            soak.start_telemetry()  # first: the bridge marks the prepared hour loaded
            soak.start(free_port())
            soak.land_tickit()
            soak.run_for(args.minutes * 60)
            soak.stop_schedules()
            report = soak.report(soak.drain(timeout=600))
        finally:
            soak.stop()
    report = {"minutes": args.minutes, "cores": os.cpu_count(), "loadavg_at_start": load,
              **report}  # fmt: skip
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "queue_depth_over_time"}, indent=1))
    depths = [d for _, d in report["queue_depth_over_time"]]
    print(f"queue depth (all origins): max {max(depths, default=0)}, samples {depths}")


if __name__ == "__main__":
    main()
