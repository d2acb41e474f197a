"""The unattended system: `dagster dev` (webserver + daemon) sees new raw files through its
sensor, launches a run, and the run materializes the marts; checked through GraphQL."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg

from lakehouse.definitions import defs
from lakehouse.tickit.generator import generate
from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port, wait_for_http

BIN = Path(sys.executable).parent

RUNS = """query { runsOrError(filter: {tags: [{key: "dagster/sensor_name",
  value: "tickit_raw_files"}]}) { ... on Runs { results { runId status } } } }"""
FCT_SALES = """query { assetOrError(assetKey: {path: ["fct_sales"]}) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label
  ... on IntMetadataEntry { intValue } } } } } }"""


def graphql(url, query):
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_sensor_launches_a_run_that_materializes_the_marts(tmp_path):
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
    )
    lakehouse_home = tmp_path / "lakehouse"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "LAKEHOUSE_ENV": "local",
           "LAKEHOUSE_HOME": str(lakehouse_home)}  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "dagster-dev.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [BIN / "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_http(f"{url}/server_info", 180, proc)
        # New raw files land in the lake, as an upload to the bucket would.
        subprocess.run(
            [BIN / "lakehouse-tickit-gen", "--scale", "0.001", "--seed", "9",
             "--target", str(lakehouse_home / "lake")],
            check=True, capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        runs = wait_for(
            lambda: [r for r in graphql(url, RUNS)["runsOrError"]["results"]
                     if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")],
            300, "a finished run launched by the sensor",
        )  # fmt: skip
        (run,) = runs
        assert run["status"] == "SUCCESS", (tmp_path / "dagster-dev.log").read_text()[-5000:]
        (materialization,) = graphql(url, FCT_SALES)["assetOrError"]["assetMaterializations"]
        assert materialization["runId"] == run["runId"]
        counts = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}
        assert counts["dagster/row_count"] == generate(0.001, 9)["sale"].rows
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_daily_schedule_at_a_given_time_requests_the_models_job():
    schedule = defs.get_schedule_def("tickit_marts_daily")
    when = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.job_name in (None, "tickit_models_job")
    assert schedule.job_name == "tickit_models_job"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "UTC")
