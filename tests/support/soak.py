"""The system left running, as a user runs it: `dagster dev` with every sensor and schedule on,
a gateway publishing a reading every few seconds to mosquitto (mTLS) and lakehouse-iot-bridge
landing and loading them (reporting each batch to the same Dagster instance), CDC captured
every minute, a TICKIT upload, and an analyst querying the warehouse read-only. Shared by
tests/test_soak.py (short) and bench/soak.py (long).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = {"repositoryLocationName": "lakehouse", "repositoryName": "__repository__"}
DIMENSIONS = (
    "sensor/sensor,sensor/location,sensor/history,sensor/manufacturer,sensor/sensors,"
    "stg_sensor__installed_sensors"
)
ANALYST_SQL = "select coalesce(sum(msg_count), 0) from sensor.sensor_msg_count"
NODES = ("0447383033363932003C0034", "0447383033363932003C0036")  # registered, installed
BRIDGE_FLUSH_S = 1
ORIGIN_TAGS = ("dagster/sensor_name", "dagster/schedule_name", "dagster/backfill")
TICK_S = 1_000

RUNS = """query { runsOrError { ... on Runs { results { runId status creationTime startTime
  endTime tags { key value } } } } }"""
SENSORS = """query { sensorsOrError(repositorySelector: {repositoryLocationName: "lakehouse",
  repositoryName: "__repository__"}) { ... on Sensors { results { name
  sensorState { status } } } } }"""
SCHEDULES = """query { schedulesOrError(repositorySelector: {repositoryLocationName: "lakehouse",
  repositoryName: "__repository__"}) { ... on Schedules { results { id name
  scheduleState { status } } } } }"""
STOP_SCHEDULE = """mutation($id: String!) { stopRunningSchedule(id: $id) {
  __typename ... on PythonError { message } } }"""
START_SENSOR = """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
  __typename ... on PythonError { message } } }"""
START_SCHEDULE = """mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) {
  __typename ... on PythonError { message } } }"""


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50": statistics.median(ordered), "p95": p95,
            "max": ordered[-1]}  # fmt: skip


def children(pid: int) -> list[int]:
    """pid and its children (mosquitto runs under stdbuf's exec, so usually pid itself)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return [pid, *map(int, kids)]


def origin(run: dict) -> str:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    for key in ORIGIN_TAGS:
        if key in tags:
            return f"{key.split('/')[1].removesuffix('_name')}:{tags[key]}"
    return "manual"


@dataclass
class Soak:
    root: Path
    reading_every_s: float = 2.0
    read_every_s: float = 8.0
    probe_every_s: float = 2.0
    sample_every_s: float = 5.0
    env: dict = field(init=False)
    url: str = field(init=False)
    readings: list[float] = field(default_factory=list)  # published at
    reads: list[tuple[float, int | None, str]] = field(default_factory=list)  # (at, sum, error)
    # What sensor_msg_count shows, read like the analyst but every probe_every_s: when each
    # reading became visible. Not analyst reads: a failed probe is only a missed sample.
    probes: list[tuple[float, int | None, str]] = field(default_factory=list)
    baseline: int = 0  # sensor_msg_count's total before the first reading is published
    queue: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    # Completed Hudi write commits as first seen: (table, instant file) -> (completed at,
    # checkpoint). Recorded while the system runs, because archival moves the oldest out of
    # `.hoodie` once a table has more than hoodie.keep.max.commits (30, about half an hour here).
    commits: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rss: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _proc: subprocess.Popen | None = None
    _bridge: subprocess.Popen | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self):
        self.home = self.root / "lakehouse"
        self.dagster_home = self.root / "dagster"
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        (self.dagster_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
        self.env = {**os.environ, "LAKEHOUSE_ENV": "local", "LAKEHOUSE_HOME": str(self.home),
                    "DAGSTER_HOME": str(self.dagster_home)}  # fmt: skip
        self.env.pop("MOMA_SOURCE_DSN", None)  # the simulator feeds CDC

    # -- set-up ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 600) -> None:
        proc = subprocess.run([str(a) for a in args], cwd=REPO_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        if proc.returncode:
            raise RuntimeError(f"{' '.join(map(str, args))}\n{proc.stdout[-2000:]}{proc.stderr}")

    def prepare(self) -> None:
        """What a user has before leaving the system running: the sensor dimensions, an hour of
        telemetry loaded and the IoT marts built (so the analyst's view exists)."""
        self.cli(BIN / "python", "-m", "lakehouse.operations.pools")
        self.cli(BIN / "dagster", "asset", "materialize", "--select", DIMENSIONS,
                 "-m", "lakehouse.definitions")  # fmt: skip
        self.land_telemetry(minutes=2)
        self.cli(BIN / "lakehouse-materialize", "--partitions-only")

    # -- the running system ---------------------------------------------------------------

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]

    def start_telemetry(self) -> None:
        """mosquitto with mTLS, lakehouse-iot-bridge landing and loading into this home and
        reporting to this DAGSTER_HOME, and a gateway to publish readings."""
        from tests.iot.support import Publisher, start_bridge_process
        from tests.support.mosquitto import mosquitto_broker

        self.broker = self._stack.enter_context(mosquitto_broker())
        self._bridge = start_bridge_process(
            self.broker, self.home / "lake", self.root / "bridge.log", self.env,
            "--flush-seconds", str(BRIDGE_FLUSH_S),
        )  # fmt: skip
        self.gateway = Publisher(self.broker, client_id="soak-gateway")
        self._stack.callback(self.gateway.close)
        self.boot_id = int(time.time()) & 0xFFFFFFFF  # ids no other run of the soak shares
        self.baseline_read()

    def publish_reading(self) -> None:
        n = len(self.readings)
        at = time.time()
        self.gateway.publish(NODES[n % len(NODES)], n, at, boot_id=self.boot_id)
        self.readings.append(at)

    def start(self, port: int) -> None:
        from tests.support.ports import wait_for_http

        self.url = f"http://127.0.0.1:{port}"
        self._log = open(self.root / "dagster-dev.log", "w")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [BIN / "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for_http(f"{self.url}/server_info", 240, self._proc)
        # Every sensor and schedule on, the stopped-by-default ones too.
        for s in self.graphql(SENSORS)["sensorsOrError"]["results"]:
            if s["sensorState"]["status"] != "RUNNING":
                self.graphql(START_SENSOR, {"s": {**LOCATION, "sensorName": s["name"]}})
        for s in self.graphql(SCHEDULES)["schedulesOrError"]["results"]:
            if s["scheduleState"]["status"] != "RUNNING":
                self.graphql(START_SCHEDULE, {"s": {**LOCATION, "scheduleName": s["name"]}})

    def land_tickit(self) -> None:
        """An upload of raw TICKIT files, as to the bucket."""
        self.cli(BIN / "lakehouse-tickit-gen", "--scale", "0.001", "--seed", "9",
                 "--target", self.home / "lake")  # fmt: skip

    def stop_schedules(self) -> None:
        """No more CDC batches, so the system can drain."""
        for s in self.graphql(SCHEDULES)["schedulesOrError"]["results"]:
            self.graphql(STOP_SCHEDULE, {"id": s["id"]})

    def stop_telemetry(self) -> None:
        if self._bridge is not None and self._bridge.poll() is None:
            self._bridge.send_signal(signal.SIGTERM)
            try:
                self._bridge.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._bridge.kill()
                self._bridge.wait()
        self._stack.close()

    def stop(self) -> None:
        self._stop.set()
        self.stop_telemetry()
        if self._proc is None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._log.close()

    def land_telemetry(self, minutes: float) -> None:
        """Readings landed without the bridge, as lakehouse-iot-gen writes them."""
        from lakehouse.iot.generator import generate
        from lakehouse.storage import LocalObjectStore

        now = time.time()
        lake = LocalObjectStore(root=str(self.home / "lake"))
        generate(lake, end=now, minutes=minutes, seed=int(now), flush_seconds=3600)

    def read_msg_count(self, into: list) -> int | None:
        import duckdb

        from lakehouse.warehouse import local_warehouse

        at = time.time()
        try:
            # Through the warehouse resource: DuckLake, the snapshot committed last.
            ((total,),) = local_warehouse(self.home).query(ANALYST_SQL)
            into.append((at, int(total), ""))
            return int(total)
        except duckdb.Error as e:
            into.append((at, None, str(e).splitlines()[0]))
            return None

    def read_as_analyst(self) -> None:
        self.read_msg_count(self.reads)

    def baseline_read(self) -> None:
        deadline = time.monotonic() + 120
        while (total := self.read_msg_count([])) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        self.baseline = total or 0

    def sample(self) -> None:
        self.observe_commits()
        runs = self.graphql(RUNS)["runsOrError"]["results"]
        depth = Counter(origin(r) for r in runs if r["status"] in ("QUEUED", "NOT_STARTED"))
        self.queue.append((time.time(), dict(depth)))
        for pid, name in self.processes():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except OSError:
                continue
            self.cpu[f"{name}:{pid}"].append(
                (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            )
            self.rss[f"{name}:{pid}"].append(rss_pages * os.sysconf("SC_PAGE_SIZE"))

    def processes(self) -> list[tuple[int, str]]:
        """The dagster dev process group: webserver, daemon, code server, run processes."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[3]) != self._proc.pid:  # process group
                continue
            words = cmd.split()
            if not words:
                continue
            if "execute_run" in words or "execute_step" in words:
                name = "run"
            elif "grpc" in words:
                name = "code-server"
            elif "dagster-daemon" in cmd:
                name = "daemon"
            elif "dagster-webserver" in cmd or "dagster_webserver" in cmd:
                name = "webserver"
            elif "dbt" in Path(words[0]).name or (len(words) > 1 and words[1].endswith("dbt")):
                name = "dbt"
            elif " dev " in f" {cmd} ":
                name = "dagster-dev"
            else:
                name = Path(words[0]).name
            out.append((int(entry.name), str(name)))
        if self._bridge is not None and self._bridge.poll() is None:
            out.append((self._bridge.pid, "bridge"))
        broker = getattr(self, "broker", None)
        if broker is not None and broker.proc is not None and broker.proc.poll() is None:
            out += [(child, "mosquitto") for child in children(broker.proc.pid)]
        return out

    def run_for(self, seconds: float) -> None:
        """Data arriving and an analyst reading, for `seconds`."""
        end = time.monotonic() + seconds
        next_reading = next_read = next_probe = next_sample = time.monotonic()
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_reading:
                self.publish_reading()
                next_reading += self.reading_every_s
            if now >= next_read:
                self.read_as_analyst()
                next_read += self.read_every_s
            if now >= next_probe:
                self.read_msg_count(self.probes)
                next_probe += self.probe_every_s
            if now >= next_sample:
                self.sample()
                next_sample += self.sample_every_s
            time.sleep(0.05)

    def drain(self, timeout: float) -> list[dict]:
        """Waits for quiet (call stop_schedules first): no run queued or in progress for longer
        than two sensor intervals. Returns every run."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            self.read_as_analyst()
            self.sample()
            runs = self.graphql(RUNS)["runsOrError"]["results"]
            busy = [r for r in runs if r["status"] in ("QUEUED", "NOT_STARTED", "STARTING",
                                                        "STARTED", "CANCELING")]  # fmt: skip
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 70:
                return runs
            time.sleep(5)
        return self.graphql(RUNS)["runsOrError"]["results"]

    # -- what happened --------------------------------------------------------------------

    def telemetry_latencies(self) -> tuple[list[float], int]:
        """Seconds from a reading's publication (its read time at the gateway) to the first
        read of sensor_msg_count (probe or analyst) that counts it; and how many readings no
        read ever counted."""
        latencies, unseen = [], 0
        ok_reads = sorted((at, total) for at, total, error in self.probes + self.reads
                          if not error)  # fmt: skip
        for n, published_at in enumerate(self.readings):
            wanted = self.baseline + n + 1
            seen = next((at for at, total in ok_reads if at >= published_at and total >= wanted),
                        None)  # fmt: skip
            if seen is None:
                unseen += 1
            else:
                latencies.append(seen - published_at)
        return latencies, unseen

    def observe_commits(self) -> None:
        """Records the completed write commits (with a DeltaStreamer checkpoint) now in each
        MoMA table's active timeline."""
        from lakehouse.moma.hudi_tables import HUDI_TABLES

        for table in HUDI_TABLES:
            timeline = self.home / "lake" / table.base_key / ".hoodie"
            for f in timeline.glob("*.*commit") if timeline.is_dir() else []:
                if f.suffix not in (".commit", ".deltacommit") or (table.qualified, f.name) in (
                    self.commits
                ):
                    continue
                try:
                    at, meta = f.stat().st_mtime, json.loads(f.read_text() or "{}")
                except (OSError, ValueError):
                    continue  # archived or being written this moment: seen on the next sample
                checkpoint = (meta.get("extraMetadata") or {}).get("deltastreamer.checkpoint.key")
                if checkpoint:
                    self.commits[(table.qualified, f.name)] = (at, int(checkpoint))

    def cdc_latencies(self) -> tuple[list[float], list[str]]:
        """Seconds from each CDC object's write to the completed Hudi commit whose checkpoint
        covers it (every commit seen while the system ran, archived since or not); and the
        objects no commit covers."""
        from lakehouse.defs.cdc.sensors import list_topic_objects
        from lakehouse.moma.hudi_tables import HUDI_TABLES
        from lakehouse.storage import LocalObjectStore

        self.observe_commits()
        lake = LocalObjectStore(root=str(self.home / "lake"))
        latencies, missing = [], []
        for table in HUDI_TABLES:
            commits = sorted(v for (name, _), v in self.commits.items() if name == table.qualified)
            for o in list_topic_objects(lake, [table.topic]):
                done = next((at for at, cp in commits if cp >= o.last_modified_ms), None)
                if done is None:
                    missing.append(f"{table.qualified}: {o.key}")
                else:
                    latencies.append(done - o.last_modified_ms / 1000)
        return latencies, missing

    def unloaded_telemetry(self) -> list[str]:
        """Landed hours whose landed lines are not all in the warehouse, typed or quarantined
        (whoever loaded them: the bridge or a partition run)."""
        import gzip

        from lakehouse.iot.landing import partition_of

        landed = Counter()
        for path in (self.home / "lake" / "message").rglob("*"):
            key = path.relative_to(self.home / "lake").as_posix()
            if path.is_file() and (hour := partition_of(key)):
                landed[hour] += len(gzip.decompress(path.read_bytes()).splitlines())
        sql = """select strftime(landed_hour, '%Y-%m-%d-%H:%M'), count(*) from (
            select landed_hour from iot.sensor_messages
            union all select landed_hour from iot.sensor_messages_quarantine) group by 1"""
        from lakehouse.warehouse import local_warehouse

        # DuckLake: a read never waits for a writer.
        loaded = dict(local_warehouse(self.home).query(sql))
        return [
            f"{hour}: {lines} landed, {loaded.get(hour, 0)} loaded"
            for hour, lines in sorted(landed.items())
            if loaded.get(hour, 0) != lines
        ]

    def bridge_loads_reported(self) -> int:
        """Runless materializations of sensor_messages (the bridge's loads) in the instance."""
        import dagster as dg

        reported, cursor = 0, None
        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            while True:
                page = instance.fetch_materializations(dg.AssetKey("sensor_messages"),
                                                       limit=1000, cursor=cursor)  # fmt: skip
                reported += sum(1 for r in page.records if not r.run_id)
                if not page.has_more:
                    return reported
                cursor = page.cursor

    def startup_latencies(self, runs: list[dict]) -> list[float]:
        """Seconds from a run being launched to its first step starting."""
        import dagster as dg

        out = []
        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            for run in runs:
                events = instance.all_logs(
                    run["runId"],
                    of_type={dg.DagsterEventType.RUN_STARTING, dg.DagsterEventType.STEP_START},
                )
                starting = [
                    e.timestamp
                    for e in events
                    if e.dagster_event_type == dg.DagsterEventType.RUN_STARTING
                ]
                steps = [e.timestamp for e in events
                         if e.dagster_event_type == dg.DagsterEventType.STEP_START]  # fmt: skip
                if starting and steps:
                    out.append(min(steps) - starting[0])
        return out

    def failure_of(self, run_id: str) -> str:
        """The first failed step and the first lines of its error."""
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
                error = record.dagster_event.event_specific_data.error
                return f"{record.step_key}: {' / '.join(error.message.splitlines()[:3])}"
        return "no step failed"

    def report(self, runs: list[dict]) -> dict:
        cdc, cdc_missing = self.cdc_latencies()
        latencies, unseen = self.telemetry_latencies()
        by_status = Counter(r["status"] for r in runs)
        failed = [f"{origin(r)} {r['runId']}: {self.failure_of(r['runId'])}"
                  for r in runs if r["status"] == "FAILURE"]  # fmt: skip
        max_depth = Counter()
        for _, depth in self.queue:
            for who, n in depth.items():
                max_depth[who] = max(max_depth[who], n)
        return {
            "runs_by_status": dict(by_status),
            "failed_runs": failed,
            "runs_by_origin": dict(Counter(origin(r) for r in runs)),
            "max_queued_per_origin": dict(max_depth),
            "queue_depth_over_time": [
                (dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M:%S"), sum(d.values()))
                for at, d in self.queue
            ],
            "cdc_object_to_hudi_commit_s": percentiles(cdc),
            "cdc_objects_not_committed": cdc_missing,
            "reading_to_sensor_msg_count_s": percentiles(latencies),
            "readings_published": len(self.readings),
            "readings_never_seen": unseen,
            "bridge_loads_reported": self.bridge_loads_reported(),
            "unloaded_telemetry_hours": self.unloaded_telemetry(),
            "run_launch_to_first_step_s": percentiles(self.startup_latencies(runs)),
            "analyst_reads": len(self.reads),
            "failed_reads": [
                f"{dt.datetime.fromtimestamp(at, dt.UTC):%H:%M:%S} {error}"
                for at, _, error in self.reads
                if error
            ],  # fmt: skip
            "cpu_s_per_process": {
                k: round(v[-1] - v[0], 1) for k, v in self.cpu.items() if v[-1] - v[0] >= 0.5
            },  # fmt: skip
            "max_rss_mb_per_process": {k: round(max(v) / 2**20) for k, v in self.rss.items()},
        }
