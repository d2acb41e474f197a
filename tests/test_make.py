"""`make demo` installs and runs only what the lakehouse needs; `make test` adds the dev group;
`make dagster-home` copies the committed instance configuration."""

import subprocess
import tomllib

from tests.support.paths import REPO_ROOT

TEST_ONLY = ("pytest", "hypothesis", "moto", "playwright", "ruff", "cfn-lint")


def dry_run(target: str) -> list[str]:
    out = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line for line in out.splitlines() if "uv sync" in line or "uv run" in line]


def test_demo_never_installs_the_dev_group():
    commands = dry_run("demo")
    assert any("uv sync --frozen --no-dev" in c for c in commands), commands
    # `uv run` syncs the default groups unless told not to.
    assert [c for c in commands if "--no-dev" not in c] == []


def test_tests_get_the_dev_group():
    assert [c for c in dry_run("test") if "--no-dev" in c] == []


def test_install_compiles_bytecode():
    # Run processes and dbt commands import from the compiled bytecode instead of compiling
    # Dagster and dbt-core again at every start (PYTHONDONTWRITEBYTECODE keeps Python from
    # caching it by itself).
    for target in ("demo", "test"):
        (sync,) = [c for c in dry_run(target) if "uv sync" in c]
        assert "--compile-bytecode" in sync.split(), sync


def test_test_only_packages_are_in_the_dev_group_only():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    runtime = " ".join(project["project"]["dependencies"])
    dev = " ".join(project["dependency-groups"]["dev"])
    for package in TEST_ONLY:
        assert package in dev and package not in runtime, package
