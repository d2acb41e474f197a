"""The asset graph in a browser: dagster-webserver on loopback, driven by headless Chromium.

Uses Debian's chromium (never a downloaded browser). Set LAKEHOUSE_UPDATE_SCREENSHOT=1 to
refresh docs/asset_graph.png, the picture the README shows.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.definitions import defs
from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port, wait_for_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    dagster_home = tmp / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "LAKEHOUSE_ENV": "local",
           "LAKEHOUSE_HOME": str(tmp / "lakehouse")}  # fmt: skip
    # One real materialization, so the asset page has metadata to show.
    subprocess.run(
        [BIN / "dagster", "asset", "materialize", "--select", "raw_tickit_data",
         "-m", "lakehouse.definitions", "--config-json",
         json.dumps({"ops": {"raw_tickit_data": {"config": {"scale": 0.001}}}})],
        cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [BIN / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/server_info", 120, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(webserver):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def test_asset_graph_draws_every_group(webserver, page, tmp_path):
    groups = sorted({a.group_name for a in defs.resolve_asset_graph().asset_nodes})
    page.goto(f"{webserver}/asset-groups")
    for group in groups:
        page.get_by_text(group, exact=True).first.wait_for()
    page.get_by_text("fetching statuses").first.wait_for(state="hidden")
    for group in groups:
        # Once in the sidebar's tree and once as a box in the graph itself.
        assert page.get_by_text(group, exact=True).count() >= 2, group
    shot = tmp_path / "asset_graph.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("LAKEHOUSE_UPDATE_SCREENSHOT"):
        (REPO_ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, REPO_ROOT / "docs/asset_graph.png")


def test_asset_page_shows_latest_materialization_metadata(webserver, page):
    page.goto(f"{webserver}/assets/raw_tickit_data")
    page.get_by_text("rows/sale").first.wait_for()
    page.get_by_text("raw_tickit_data/", exact=False).first.wait_for()
