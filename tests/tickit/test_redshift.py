"""What the `redshift` target sends to Amazon Redshift, captured by a recording stand-in."""

import json
import os
import re
import subprocess
import sys

import pytest
import sqlglot

from tests.support.paths import REPO_ROOT

ENV = {
    "REDSHIFT_HOST": "cluster.example.invalid",
    "REDSHIFT_USER": "dbt",
    "REDSHIFT_PASSWORD": "not-a-secret",
    "REDSHIFT_SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/spectrum",
}
MARTS = {"dim_events": "event_id", "dim_non_buyers": "user_id", "fct_listings": "list_id",
         "fct_sales": "sale_id"}  # fmt: skip


def run_dbt(tmp_path, *args):
    out = tmp_path / "statements.json"
    cmd = [sys.executable, "-m", "tests.support.fake_redshift", str(out), *args,
           "--target", "redshift", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project",
           "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **ENV}, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    statements = json.loads(out.read_text())["statements"]
    # Drop dbt's query-comment header so the SQL can be compared as text.
    return [re.sub(r"^\s*/\*.*?\*/\s*", "", s, flags=re.S).strip() for s in statements]


@pytest.fixture(scope="module")
def run_statements(tmp_path_factory):
    return run_dbt(tmp_path_factory.mktemp("rs_run"), "run")


@pytest.fixture(scope="module")
def staging_statements(tmp_path_factory):
    lake = json.dumps({"lake_root": "s3://acme-lake/prod"})
    return run_dbt(tmp_path_factory.mktemp("rs_stage"), "run-operation", "stage_external_sources",
                   "--vars", lake)  # fmt: skip


def test_views_are_late_binding(run_statements):
    views = [s for s in run_statements if s.startswith("create view")]
    tickit = [s for s in views if re.search(r'"(stg_tickit__|int_)\w+__dbt_tmp"', s)]
    assert len(tickit) == 9  # 7 staging, 2 persona views; the IoT views come on top
    assert all(s.endswith(") with no schema binding;") for s in views)


def test_marts_carry_dist_and_sort_keys(run_statements):
    for model, key in MARTS.items():
        relation = f'"tickit_dbt"."{model}__dbt_tmp"'
        (ddl,) = [s for s in run_statements if s.startswith("create") and relation in s]
        assert re.search(rf"diststyle key distkey \({key}\)\s+compound sortkey\({key}\)", ddl), ddl


def test_each_domain_builds_into_its_own_schema(run_statements):
    """TICKIT into the target's schema, IoT into `sensor` as written (no `tickit_dbt_` prefix)."""
    built = dict(
        (m[2], m[1])
        for s in run_statements
        if (m := re.match(r'create\s+(?:view|table)\s+(?:"\w+"\.)?"(\w+)"\."(\w+)__dbt_tmp"', s))
    )
    iot = {p.stem for p in (REPO_ROOT / "dbt_project/models/iot").rglob("*.sql")}
    assert iot and iot <= set(built)
    assert {built[model] for model in iot} == {"sensor"}
    assert {schema for model, schema in built.items() if model not in iot} == {"tickit_dbt"}


def test_compiled_models_parse_as_redshift_sql(run_statements):
    models = [s for s in run_statements if re.match(r"create\s+(view|table)", s)]
    assert len(models) == 13 + 9  # TICKIT, and the IoT staging views and marts
    for s in models:
        body = re.search(r"\bas\s*\((.*)\)", s, flags=re.S).group(1)
        sqlglot.parse_one(body, read="redshift")


def test_external_schema_and_tables_ddl(staging_statements):
    ddl = [s for s in staging_statements if s.startswith("create external")]
    assert ddl[0] == (
        'create external schema if not exists "tickit_external"\n'
        "from data catalog\n"
        "database 'tickit_dbt'\n"
        "iam_role 'arn:aws:iam::123456789012:role/spectrum'\n"
        "create external database if not exists"
    )
    tables = {re.search(r'"tickit_external"\."(\w+)"', s).group(1): s for s in ddl[1:]}
    assert sorted(tables) == ["category", "date", "event", "listing", "sale", "user", "venue"]
    assert tables["sale"] == (
        'create external table "tickit_external"."sale" (\n'
        '    "saleid" int,\n    "listid" int,\n    "sellerid" int,\n    "buyerid" int,\n'
        '    "eventid" int,\n    "dateid" int,\n    "qtysold" smallint,\n'
        '    "pricepaid" decimal(8,2),\n    "commission" decimal(8,2),\n'
        '    "saletime" timestamp\n)\n'
        "row format delimited fields terminated by '|'\n"
        "stored as textfile\n"
        "location 's3://acme-lake/prod/raw_tickit_data/sale/'\n"
        "table properties ('skip.header.line.count'='1')"
    )


def test_existing_external_tables_are_checked_first(staging_statements):
    checks = [s for s in staging_statements if "svv_external_tables" in s]
    assert len(checks) == 7
    assert "where schemaname = 'tickit_external' and tablename = 'user'" in checks[-2]


def test_no_credentials_in_the_statements(run_statements, staging_statements):
    assert not any(ENV["REDSHIFT_PASSWORD"] in s for s in run_statements + staging_statements)
