"""A real MQTT broker with mTLS (Debian mosquitto 2.0), as a stand-in for AWS IoT Core.

    from tests.support.mosquitto import mosquitto_broker

    with mosquitto_broker() as broker:
        cert, key = broker.client_cert("my-client")  # signed by the broker's CA
        # connect to broker.host:broker.port over TLS, trusting broker.ca_cert,
        # presenting cert/key; a client without them is refused
        broker.stop()   # an outage; start() brings it back on the same port, with the
        broker.start()  # persistent sessions and queued QoS 1 messages it had
        broker.kill()   # a crash; broker.pause() / broker.resume() freeze and thaw it

Everything lives in a temp dir that is removed on exit. Certificates are made with openssl: a
CA, a server certificate valid for localhost and 127.0.0.1, client certificates on demand, and
a second, untrusted CA (`rogue_ca`) for negative tests. The broker listens on a free loopback
port with `require_certificate true` and TLS 1.2, and the queue and persistence settings of the
configuration the project ships (infra/iot/mosquitto.conf); `broker.log()` is its log so far.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port

SHIPPED_CONFIG = REPO_ROOT / "infra/iot/mosquitto.conf"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class CertificateAuthority:
    """A CA in root: <name>.key and <name>.crt, and the certificates it issues beside them."""

    def __init__(self, root: Path, name: str):
        self.root, self.name = root, name
        self.key, self.cert = root / f"{name}.key", root / f"{name}.crt"
        _openssl(
            *("req", "-x509", *EC_KEY, "-keyout", self.key.name, "-out", self.cert.name),
            *("-days", "2", "-subj", f"/CN={name}"),
            *("-addext", "basicConstraints=critical,CA:TRUE"),
            *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
            cwd=root,
        )

    def issue(self, name: str, extensions: str) -> tuple[Path, Path]:
        """(certificate, key) with CN=name signed by this CA."""
        key, csr, cert = (self.root / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext = self.root / f"{name}.ext"
        ext.write_text(extensions)
        _openssl(
            *("req", "-new", *EC_KEY, "-keyout", key.name, "-out", csr.name),
            *("-subj", f"/CN={name}"),
            cwd=self.root,
        )
        _openssl(
            *("x509", "-req", "-in", csr.name, "-CA", self.cert.name, "-CAkey", self.key.name),
            *("-CAcreateserial", "-out", cert.name, "-days", "2", "-extfile", ext.name),
            cwd=self.root,
        )
        return cert, key

    def client(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of a TLS client called name."""
        return self.issue(name, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")


def shipped_broker_settings(data: Path) -> list[str]:
    """The queue and persistence directives of the broker configuration the project ships
    (everything before its listener), with the data directory replaced and autosave every
    second, so a test's clean stop or crash loses as little as a real broker's would."""
    lines = []
    for line in SHIPPED_CONFIG.read_text().splitlines():
        line = line.strip()
        if line.startswith(("per_listener_settings", "listener")):
            break
        if not line or line.startswith("#"):
            continue
        key = line.split()[0]
        if key == "persistence_location":
            line = f"persistence_location {data}/"
        elif key == "autosave_interval":
            line = "autosave_interval 1"
        lines.append(line)
    return lines


class Mosquitto:
    """The broker process; start() and stop() may be called repeatedly (same port, same data)."""

    host = "localhost"  # the server certificate also names 127.0.0.1

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.ca = CertificateAuthority(root, "test-ca")
        self.rogue_ca = CertificateAuthority(root, "rogue-ca")
        self.server_cert, self.server_key = self.ca.issue(
            "localhost",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        self.data = root / "data"
        self.data.mkdir()
        self.config = root / "mosquitto.conf"
        self.config.write_text(
            "\n".join(shipped_broker_settings(self.data)) + "\n"
            "per_listener_settings true\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.ca.cert}\ncertfile {self.server_cert}\nkeyfile {self.server_key}\n"
            "require_certificate true\n"
            "use_identity_as_username true\n"
            "allow_anonymous false\n"
            "tls_version tlsv1.2\n"
        )
        self.log_path = root / "mosquitto.log"
        self.proc: subprocess.Popen | None = None
        if os.geteuid() == 0:
            # Started as root, mosquitto switches to the user `mosquitto`, which must read these.
            user = pwd.getpwnam("mosquitto")
            for path in [root, *root.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)

    @property
    def ca_cert(self) -> Path:
        """The CA that signed the broker's certificate and the client certificates."""
        return self.ca.cert

    def client_cert(self, client_id: str) -> tuple[Path, Path]:
        """(certificate, key) the broker accepts, with CN=client_id."""
        return self.ca.client(client_id)

    def start(self, timeout: float = 20) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["stdbuf", "-oL", MOSQUITTO, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start:\n{self.log()[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """A clean stop (SIGTERM): the broker saves persistent sessions and queued messages."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """A crash (SIGKILL): only what the broker had saved survives."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def pause(self) -> None:
        """Freezes the broker (SIGSTOP): connections stay open, nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def mosquitto_broker() -> Iterator[Mosquitto]:
    """A started broker in a temp dir; stopped and removed on exit."""
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("mosquitto not found: install the Debian package mosquitto")
    root = Path(tempfile.mkdtemp(prefix="lakehouse-mqtt-"))
    try:
        broker = Mosquitto(root)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
