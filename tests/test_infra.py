"""Every CloudFormation template under infra/ passes cfn-lint."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

TEMPLATES = sorted(
    p for p in (REPO_ROOT / "infra").rglob("*.y*ml") if "AWSTemplateFormatVersion" in p.read_text()
)


def test_there_are_templates():
    assert REPO_ROOT / "infra/lakehouse/lakehouse.yaml" in TEMPLATES


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_cfn_lint(template):
    exe = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(exe), str(template)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
