"""The asset graph a user sees, checked in: structural changes are deliberate.

After an intended change, refresh the snapshot with
    LAKEHOUSE_UPDATE_SNAPSHOTS=1 uv run pytest tests/test_graph_snapshot.py
and commit tests/snapshots/asset_graph.json with the change.
"""

import json
import os
from collections import Counter

from lakehouse.definitions import defs
from tests.support.paths import REPO_ROOT

SNAPSHOT = REPO_ROOT / "tests/snapshots/asset_graph.json"


def current_graph() -> dict:
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
        }
    checks = Counter(k.asset_key.to_user_string() for k in graph.asset_check_keys)
    return {
        "assets": assets,
        "checks_per_asset": dict(sorted(checks.items())),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {s.name: s.cron_schedule for s in repo.schedule_defs},
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_asset_graph_matches_snapshot():
    graph = current_graph()
    if os.environ.get("LAKEHOUSE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(graph, indent=1) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text())


def test_no_asset_is_orphaned():
    graph = defs.resolve_asset_graph()
    orphans = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if not (graph.get(key).parent_keys or graph.get(key).child_keys)
    }
    assert orphans == set()
