"""Settings live in one place: `lakehouse/settings.py` reads the environment, resources take
`dg.EnvVar` fields that Dagster resolves when a run launches, and nothing freezes a value while
the code location loads."""

from __future__ import annotations

import ast

import dagster as dg
import pytest

from lakehouse import settings, storage
from lakehouse.resources import resources_for_env
from tests.support.paths import REPO_ROOT

ENVIRONMENT_SCANNED = ("lakehouse", "gateway", "bench")
ENVIRONMENT_READERS = {"settings.py", "resources.py"}

AWS_ENV = {
    "LAKEHOUSE_ENV": "aws",
    "AWS_REGION": "eu-west-1",
    "LAKEHOUSE_S3_BUCKET": "acme-lake",
    "LAKEHOUSE_EMR_CLUSTER_ID": "j-2AXXXXXXGAPLF",
    "REDSHIFT_HOST": "cluster.example.invalid",
    "REDSHIFT_USER": "dbt",
    "REDSHIFT_PASSWORD": "not-a-secret",
    "REDSHIFT_SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/spectrum",
}


def environment_reads(tree: ast.AST) -> list[int]:
    """Lines touching os.environ / os.getenv / os.putenv: reading, and writing too (a value
    exported for a child process goes through settings as well, or the child gets an `env`)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "getenv", "putenv"}:
                lines.append(node.lineno)
    return sorted(lines)


def load_time_get_values(tree: ast.Module) -> list[int]:
    """Lines calling `.get_value()` outside any function (module or class body: runs when the
    code location loads)."""
    lines = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if (
                not in_function
                and isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "get_value"
            ):
                lines.append(child.lineno)
            visit(child, in_function)

    visit(tree, False)
    return lines


def modules(*roots):
    return sorted(p for root in roots for p in (REPO_ROOT / root).rglob("*.py"))


def violations(scan, paths) -> list[str]:
    """`file:line` for each hit of `scan` in `paths`."""
    return [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in paths
        for line in scan(ast.parse(path.read_text()))
    ]


def test_only_settings_and_resources_read_the_environment():
    """lakehouse/, the gateway and the benchmarks: only modules named settings.py (lakehouse's,
    the gateway's own) or resources.py touch the process environment."""
    paths = [p for p in modules(*ENVIRONMENT_SCANNED) if p.name not in ENVIRONMENT_READERS]
    assert len(paths) > 100  # the scan sees the packages, not an empty glob
    found = violations(environment_reads, paths)
    assert found == [], "read the environment through a settings module: " + ", ".join(found)


def test_nothing_resolves_an_env_var_at_module_or_class_level():
    found = violations(load_time_get_values, modules("lakehouse"))
    assert found == [], "EnvVar.get_value() while loading: " + ", ".join(found)


def test_the_scans_see_what_they_forbid():
    source = (
        "import os\nfrom os import getenv\nX = os.environ.get('A')\n"
        "os.environ['B'] = 'exported'\nY = dg.EnvVar('C').get_value()\n"
        "class R:\n    z = dg.EnvVar('D').get_value()\n"
        "    def run(self):\n        return dg.EnvVar('E').get_value()\n"
        "child = {**os.environ, 'F': '1'}\n"
    )
    tree = ast.parse(source)
    assert environment_reads(tree) == [2, 3, 4, 10]
    assert load_time_get_values(tree) == [5, 7]


@pytest.mark.parametrize("env", ["local", "aws"])
def test_assembling_the_resources_resolves_no_env_var(env, monkeypatch, tmp_path):
    """The resource factories run while Definitions load: none may read an EnvVar's value."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("REDSHIFT_PORT", "5440")
    monkeypatch.setenv("LAKEHOUSE_ALERTS_SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:alerts")

    def frozen(self):
        raise AssertionError(f"EnvVar({str(self)!r}).get_value() while loading")

    monkeypatch.setattr(dg.EnvVar, "get_value", frozen)
    assert set(resources_for_env(env)) >= {"lake", "warehouse", "catalog"}


def test_a_run_uses_the_environment_at_launch_not_at_load(monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REDSHIFT_DATABASE", "at_load")
    monkeypatch.setenv("LAKEHOUSE_S3_PREFIX", "at_load")
    resources = resources_for_env("aws")
    seen = {}

    @dg.asset
    def probe(warehouse: dg.ConfigurableResource, lake: dg.ConfigurableResource) -> None:
        seen.update(database=warehouse.database, role=warehouse.copy_role_arn, root=lake.root_uri)

    defs = dg.Definitions(
        assets=[probe], resources={k: resources[k] for k in ("warehouse", "lake")}
    )
    job = defs.resolve_implicit_global_asset_job_def()  # loaded: now the deployment changes
    monkeypatch.setenv("REDSHIFT_DATABASE", "at_launch")
    monkeypatch.setenv("LAKEHOUSE_S3_PREFIX", "at_launch")
    monkeypatch.setenv("REDSHIFT_SPECTRUM_ROLE_ARN", "arn:aws:iam::1:role/rotated")
    assert job.execute_in_process().success
    assert seen == {
        "database": "at_launch",
        "role": "arn:aws:iam::1:role/rotated",  # COPY falls back to the Spectrum role
        "root": "s3://acme-lake/at_launch",
    }


@pytest.mark.parametrize(
    ("service", "shared", "expected"),
    [
        ("http://s3.local:9000", "http://all.local:1", "http://s3.local:9000"),
        (None, "http://all.local:1", "http://all.local:1"),
        (None, None, None),
    ],
)
def test_the_s3_endpoint_follows_the_aws_sdk_precedence(service, shared, expected, monkeypatch):
    for name, value in (("AWS_ENDPOINT_URL_S3", service), ("AWS_ENDPOINT_URL", shared)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert settings.s3_endpoint_url() == expected
    assert storage.S3Connection.from_settings().endpoint_url == expected
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    lake = resources_for_env("aws")["lake"]
    with dg.build_resources({"lake": lake}) as resolved:  # as a run launches it
        assert resolved.lake.s3.endpoint_url == expected
