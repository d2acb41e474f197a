"""The README's `dagster` commands work as written, in a fresh LAKEHOUSE_HOME and DAGSTER_HOME
(TICKIT at a small scale: the one addition to the commands is that run config)."""

import json
import os
import re
import subprocess

import pytest

from tests.support.paths import REPO_ROOT

SMALL = json.dumps({"ops": {"raw_tickit_data": {"config": {"scale": 0.01}}}})


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("  #")[0].strip()
            if command.startswith("uv run dagster "):
                commands.append(command)
    return commands


def test_the_readme_lists_tickit_models_and_a_telemetry_hour():
    commands = readme_commands()
    assert any("'raw_tickit_data*'" in c for c in commands)
    assert any("--partition" in c for c in commands)
    assert not [c for c in commands if "--select '*'" in c]  # cannot work with partitions


@pytest.mark.timeout(900)
def test_every_readme_dagster_command_succeeds(tmp_path):
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "LAKEHOUSE_ENV": "local", "LAKEHOUSE_HOME": str(tmp_path / "lakehouse"),
           "DAGSTER_HOME": str(dagster_home)}  # fmt: skip
    for command in readme_commands():
        if "raw_tickit_data" in command:
            command += f" --config-json '{SMALL}'"
        proc = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
