"""lora-gateway as a user runs it: dry-run output, clear errors for bad input, an unreachable
endpoint at start-up, serial disconnects and a wrong radio key."""

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.gateway.harness import (
    BIN,
    TEST_CPIN,
    gateway_command,
    read_emitted,
    start_emulator,
    start_gateway,
    wait_until,
)
from tests.support.mosquitto import CertificateAuthority
from tests.support.ports import free_port

V1_KEYS = ["data", "ts"]


def run(args, env=None, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "lora-gateway"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "LORA_CPIN": TEST_CPIN, **(env or {})},
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(root, "ca")
    cert, key = ca.client("gw")
    other_cert, other_key = ca.client("other")
    return {"ca": ca.cert, "cert": cert, "key": key, "other_key": other_key}


def mqtt_flags(pki, port=8883, **override):
    files = {"--cert": pki["cert"], "--key": pki["key"], "--ca": pki["ca"], **override}
    flags = ["--endpoint", "localhost", "--mqtt-port", str(port)]
    for flag, path in files.items():
        flags += [flag, str(path)]
    return flags


def test_dry_run_prints_one_json_line_per_reading(tmp_path):
    emitted_log = tmp_path / "emitted.jsonl"
    emulator, link = start_emulator(
        tmp_path,
        "--rate",
        "50",
        "--count",
        "8",
        "--corrupt",
        "0.3",
        "--seed",
        "5",
        "--payload-version",  # an old node: the original's v1 message, byte for byte
        "1",
        "--emitted-log",
        str(emitted_log),
    )
    try:
        proc = subprocess.Popen(
            gateway_command(link, "--dry-run", "--stats-interval", "0.5"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LORA_CPIN": TEST_CPIN},
        )
        wait_until(lambda: len(read_emitted(emitted_log)) == 8, 20, "8 packets")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(10)
    lines = out.decode().splitlines()
    valid = [e for e in read_emitted(emitted_log) if e["valid"]]
    assert 0 < len(valid) < 8 and len(lines) == len(valid)
    for line, e in zip(lines, valid, strict=True):
        message = json.loads(line)
        assert sorted(message) == V1_KEYS
        assert message["data"]["device_id"] == e["line"].split(",")[2][:24]
    assert f"accepted={len(valid)} " in err.decode()
    assert proc.returncode == 0


def test_missing_serial_device():
    proc = run(["--port", "/nonexistent/ttyLORA", "--gateway-id", "00000000f62051ce", "--dry-run"])
    assert proc.returncode == 1
    assert "start-up failed: cannot open serial device /nonexistent/ttyLORA" in proc.stderr


def test_wrong_baud(tmp_path):
    emulator, link = start_emulator(tmp_path, "--ipr", "115200")
    try:
        proc = run(
            ["--port", str(link), "--baud", "9600", "--gateway-id", "00000000f62051ce", "--dry-run"]
        )
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(10)
    assert proc.returncode == 1
    assert "unreadable reply to AT+ADDRESS=116" in proc.stderr
    assert "a wrong --baud (9600) garbles the module's answers" in proc.stderr


def test_baud_rates_the_module_cannot_do_are_refused():
    proc = run(["--baud", "1152000", "--dry-run"])  # the original's typo (X-G7)
    assert proc.returncode == 2
    assert "--baud 1152000 is not a rate the RYLR896 supports" in proc.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LORA_CPIN": TEST_CPIN[:-1]}, "radio key from LORA_CPIN has 31 characters"),
        ({"LORA_CPIN": TEST_CPIN + "0"}, "radio key from LORA_CPIN has 33 characters"),
        ({"LORA_CPIN": ""}, "no radio key: set LORA_CPIN or pass --cpin-file"),
    ],
)
def test_radio_key_of_the_wrong_length(env, message):
    proc = run(["--gateway-id", "00000000f62051ce", "--dry-run"], env=env)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert TEST_CPIN[:-1] not in proc.stderr


def test_bad_environment_values_name_the_variable():
    proc = run(["--dry-run"], env={"LORA_BAUD": "fast"})
    assert proc.returncode == 2
    assert "environment variable LORA_BAUD='fast' is not an integer" in proc.stderr
    proc = run(["--dry-run"], env={"GATEWAY_STATS_INTERVAL": "1m"})
    assert "environment variable GATEWAY_STATS_INTERVAL='1m' is not a number" in proc.stderr


def test_gateway_id_is_checked():
    proc = run(["--gateway-id", "00000000F62051CE", "--dry-run"])
    assert proc.returncode == 2
    assert "--gateway-id '00000000F62051CE' is not 16 lower-case hex digits" in proc.stderr


def test_unreadable_certificate_or_key(pki, tmp_path):
    base = ["--gateway-id", "00000000f62051ce", "--spool", str(tmp_path / "s.db")]
    proc = run(base + mqtt_flags(pki, **{"--cert": tmp_path / "nope.pem"}))
    assert proc.returncode == 2
    assert f"cannot read --cert {tmp_path / 'nope.pem'}: No such file or directory" in proc.stderr
    unreadable = tmp_path / "key.pem"
    unreadable.write_text("not a key")
    proc = run(base + mqtt_flags(pki, **{"--key": unreadable}))
    assert proc.returncode == 2
    assert "are not a PEM certificate and its private key" in proc.stderr
    proc = run(base + mqtt_flags(pki, **{"--key": pki["other_key"]}))  # a key of another cert
    assert proc.returncode == 2
    assert "are not a PEM certificate and its private key" in proc.stderr
    proc = run(base + mqtt_flags(pki, **{"--ca": unreadable}))
    assert proc.returncode == 2
    assert f"--ca {unreadable} is not a PEM CA certificate" in proc.stderr
    proc = run(["--gateway-id", "00000000f62051ce"])
    assert proc.returncode == 2
    assert "--endpoint is required (or use --dry-run)" in proc.stderr


def test_unreachable_endpoint_at_startup_spools_and_says_so(pki, tmp_path):
    emulator, link = start_emulator(tmp_path, "--rate", "20")
    spool = tmp_path / "spool.db"
    log = tmp_path / "gateway.log"
    port = free_port()  # nothing listens there
    gateway = start_gateway(
        log,
        gateway_command(
            link, *mqtt_flags(pki, port), "--spool", str(spool), "--reconnect-max", "1"
        ),
    )
    try:
        wait_until(lambda: log.read_text().count("unreachable") >= 2, 20, "two retry notices")
        depth = wait_until(
            lambda: (
                sqlite3.connect(spool).execute("SELECT count(*) FROM message").fetchone()[0] >= 10
            ),
            20,
            "spooled readings",
        )
        assert depth
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(20)
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(10)
    text = log.read_text()
    assert (
        f"MQTT endpoint localhost:{port} unreachable: AWS_IO_SOCKET_CONNECTION_REFUSED; "
        "readings stay in the spool, retrying in 1 s"
    ) in text
    assert gateway.returncode == 0


def test_serial_disconnects_are_survived(tmp_path):
    emulator, link = start_emulator(
        tmp_path, "--rate", "20", "--disconnect-every", "1.5", "--disconnect-for", "0.5"
    )
    proc = subprocess.Popen(
        gateway_command(link, "--dry-run"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LORA_CPIN": TEST_CPIN},
    )
    try:
        time.sleep(5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(10)
    text = err.decode()
    assert text.count("configured (") >= 3  # started, then reconfigured after each reconnect
    assert f"serial port {link} failed" in text
    assert len(out.splitlines()) > 20


def test_wrong_radio_key_publishes_nothing(tmp_path):
    emitted_log = tmp_path / "emitted.jsonl"
    emulator, link = start_emulator(
        tmp_path, "--rate", "50", "--count", "10", "--wrong-key", "--emitted-log", str(emitted_log)
    )
    proc = subprocess.Popen(
        gateway_command(link, "--dry-run"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LORA_CPIN": TEST_CPIN},
    )
    try:
        wait_until(lambda: len(read_emitted(emitted_log)) == 10, 20, "10 packets")
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(10)
    assert out == b""
    assert "accepted=0 rejected=10" in err.decode()
