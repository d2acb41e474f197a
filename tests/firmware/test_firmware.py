"""The node library's host tests (g++) and its Cortex-M4F cross-compile (firmware/Makefile)."""

import json
import re
import shutil
import subprocess

import pytest

from tests.support.paths import REPO_ROOT

FIRMWARE = REPO_ROOT / "firmware"


def make(target: str, build_dir, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(FIRMWARE), target, f"BUILD={build_dir}", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("firmware-host")
    proc = make("test", build)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build, proc


def test_host_tests_pass_on_the_shared_vectors(host_build):
    _, proc = host_build
    m = re.search(r"(\d+) checks, 0 failures", proc.stdout)
    assert m, proc.stdout
    assert int(m[1]) > 100


def test_host_tests_fail_when_a_vector_disagrees(host_build, tmp_path):
    """The host tests really compare against the file: a wrong golden payload fails them."""
    build, _ = host_build
    vectors = json.loads((FIRMWARE / "test_vectors.json").read_text())
    vectors["payloads"][1]["send"] = vectors["payloads"][1]["send"].replace("|23.46|", "|23.47|")
    vectors["float_format"][0]["text"] = "23.6"
    wrong = tmp_path / "vectors.json"
    wrong.write_text(json.dumps(vectors))
    proc = subprocess.run(
        [str(build / "host/test_node"), str(wrong)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "AT+SEND=116,59,0447383033363932003C0034|23.47|" in proc.stderr
    assert "right: [23.6]" in proc.stderr
    assert re.search(r"\d+ checks, [1-9]\d* failures", proc.stdout)


def test_cortex_m4f_cross_compile_and_size(tmp_path):
    assert shutil.which("arm-none-eabi-g++"), (
        "install the Debian packages gcc-arm-none-eabi and libstdc++-arm-none-eabi-newlib"
    )
    proc = make("size", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flash, ram = map(
        int, re.search(r"linked image: +flash (\d+) B, RAM (\d+) B", proc.stdout).groups()
    )
    # The nRF52840 has 1 MB flash and 256 KB RAM; the Arduino mbed core needs most of it.
    assert 0 < flash < 64 * 1024 and 0 < ram < 8 * 1024, proc.stdout
    # No heap: the library's buffers are on the stack, so its frames bound its RAM use.
    frames = [int(n) for n in re.findall(r"stack frame: +\w+ (\d+) B", proc.stdout)]
    assert frames and max(frames) < 1024, proc.stdout
    elf = tmp_path / "arm/lora_node.elf"
    header = subprocess.run(
        ["arm-none-eabi-readelf", "-h", "-A", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    assert "ARM" in header and 'Tag_CPU_name: "7E-M"' in header
    assert "Tag_ABI_VFP_args: VFP registers" in header  # hard-float ABI of the M4F's FPU
