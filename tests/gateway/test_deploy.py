"""infra/gateway/: the systemd unit is valid, and the example config sets only what the gateway
reads, each to a value it accepts."""

import re
import shutil
import subprocess

from gateway.cli import parse_args
from tests.gateway.harness import BIN
from tests.support.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "infra/gateway"


def example_settings() -> dict[str, str]:
    """KEY=value lines of the example, including commented-out ones (#KEY=value)."""
    text = (DEPLOY / "gateway.env.example").read_text()
    return dict(re.findall(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.M))


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the unit"
    unit = (DEPLOY / "lora-gateway.service").read_text()
    installed = "/opt/lora-gateway/.venv/bin/lora-gateway"
    assert f"ExecStart={installed} " in unit
    # Verified where the program exists: the console script of this checkout.
    local = tmp_path / "lora-gateway.service"
    local.write_text(unit.replace(installed, str(BIN / "lora-gateway")))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(local)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == "", proc.stderr


def test_example_config_is_what_the_gateway_reads(monkeypatch):
    settings = example_settings()
    help_text = subprocess.run(
        [str(BIN / "lora-gateway"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for key in settings:
        assert key in help_text, f"{key} in gateway.env.example is not read by lora-gateway"
    # No secrets in it: the radio key and the private key are files, never values here.
    assert "LORA_CPIN" not in settings
    # Every value parses: the example runs as it is (the unit adds --cpin-file and --spool).
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    args = parse_args(["--cpin-file", "/etc/lora-gateway/cpin"])
    assert (args.port, args.baud, args.client_id, args.topic) == (
        "/dev/ttyAMA0",
        115200,
        "lora-iot-gateway-01",
        "lora-iot-demo",
    )
