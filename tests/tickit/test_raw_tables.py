"""The dbt sources and the Python table spec describe the same files."""

import yaml

from lakehouse.tickit.raw_tables import TABLES
from tests.support.paths import REPO_ROOT

SOURCES = REPO_ROOT / "dbt_project/models/staging/tickit/_tickit__sources.yml"


def test_dbt_sources_match_the_table_spec():
    (source,) = yaml.safe_load(SOURCES.read_text())["sources"]
    declared = {
        t["name"]: [(c["name"], c["data_type"]) for c in t["columns"]] for t in source["tables"]
    }
    assert declared == TABLES
    for t in source["tables"]:
        assert t["external"]["location"].endswith(f"/raw_tickit_data/{t['name']}/")
