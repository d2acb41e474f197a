"""A real Trino server (the pinned `trino-server` from Maven Central) on free loopback ports.

Single node, the coordinator is its own worker, a small heap, everything in a temp dir removed
on exit. Only the plugins the catalogs need are linked into its plugin folder (start-up loads
every plugin it finds). One JVM answers plain HTTP (no password: the data tests) and HTTPS with
password authentication against a password file (the security tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lakehouse import engines
from lakehouse.catalog.query_engines import QueryEngineError, TrinoEngine
from tests.support.mosquitto import CertificateAuthority
from tests.support.ports import free_port

ARTIFACT = "trino-server"
MINIMUM_JAVA = 24  # Trino 476 refuses older JVMs
# postgresql needs the Geometry type of the geospatial plugin.
PLUGINS = ("hive", "hudi", "postgresql", "geospatial", "password-authenticators")
USER = "lakehouse"
# Test-only password of a throwaway server on loopback; never used elsewhere.
PASSWORD = "test-only-trino-password"
HEAP = "1G"
JVM_OPTIONS = (
    f"-Xmx{HEAP}",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "-Dfile.encoding=UTF-8",
    "-Duser.timezone=UTC",
)


def glue_catalog(connector: str, endpoint: str, region: str, key: str, secret: str) -> dict:
    """A hive or hudi catalog on a Glue API at `endpoint` and S3 at the same endpoint."""
    return {
        "connector.name": connector,
        "hive.metastore": "glue",
        "hive.metastore.glue.region": region,
        "hive.metastore.glue.endpoint-url": endpoint,
        "hive.metastore.glue.aws-access-key": key,
        "hive.metastore.glue.aws-secret-key": secret,
        "fs.native-s3.enabled": "true",
        "s3.endpoint": endpoint,
        "s3.region": region,
        "s3.path-style-access": "true",
        "s3.aws-access-key": key,
        "s3.aws-secret-key": secret,
    }


def postgresql_catalog(port: int, database: str, user: str, password: str) -> dict:
    return {
        "connector.name": "postgresql",
        "connection-url": f"jdbc:postgresql://127.0.0.1:{port}/{database}",
        "connection-user": user,
        "connection-password": password,
    }


def lakehouse_catalogs(
    endpoint: str,
    region: str,
    key: str,
    secret: str,
    postgres_port: int,
    database: str,
    user: str,
    password: str,
) -> dict[str, dict]:
    """The catalogs a Trino on EMR has for this project: `hive` and `hudi` on Glue over S3 (both
    at `endpoint`), `postgresql` on the moma source database."""
    return {
        "hive": glue_catalog("hive", endpoint, region, key, secret),
        "hudi": glue_catalog("hudi", endpoint, region, key, secret),
        "postgresql": postgresql_catalog(postgres_port, database, user, password),
    }


def _properties(values: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _pbkdf2_entry(user: str, password: str) -> str:
    """A line of Trino's password file, user:iterations:salt:hash, hashed as Trino checks it
    (PBKDF2WithHmacSHA1)."""
    salt = secrets.token_bytes(16)
    iterations = 1000
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations, 32)
    return f"{user}:{iterations}:{salt.hex()}:{digest.hex()}\n"


@dataclass(frozen=True)
class TrinoServer:
    http_port: int
    https_port: int
    root: Path
    ca_cert: Path
    startup_seconds: float

    def engine(self, **overrides) -> TrinoEngine:
        """The project's engine on plain HTTP; pass http_scheme="https", port=..., password=...
        and ca_bundle=... for the HTTPS listener."""
        settings = {"host": "127.0.0.1", "port": self.http_port, "user": USER,
                    "http_scheme": "http", **overrides}  # fmt: skip
        return TrinoEngine(**settings)

    def https_engine(self, **overrides) -> TrinoEngine:
        return self.engine(**{"port": self.https_port, "http_scheme": "https",
                              "password": PASSWORD, "ca_bundle": str(self.ca_cert),
                              **overrides})  # fmt: skip

    def log(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")


def _wait_started(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            start = text.find("\tERROR\t")  # the first error says why; the rest is its trace
            text = text[start : start + 3000] if start >= 0 else text[-3000:]
            raise RuntimeError(f"Trino exited with {proc.returncode}:\n{text}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=2) as r:
                if not json.load(r).get("starting", True):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Trino did not start within {timeout} s; see {log}")
        time.sleep(0.5)


def _wait_for_a_worker(server: TrinoServer, catalogs: Iterable[str], timeout: float) -> None:
    """The coordinator answers before it has announced itself, and each catalog, as a worker;
    until then queries fail with NO_NODES_AVAILABLE. Wait until every catalog answers."""
    deadline = time.monotonic() + timeout
    for catalog in ("system", *catalogs):
        while True:
            try:
                server.engine().query(
                    f'SELECT count(*) FROM "{catalog}".information_schema.schemata'
                )
                break
            except QueryEngineError as e:
                if "NO_NODES_AVAILABLE" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    # Metadata queries run on the coordinator; table scans need the coordinator's node manager
    # to list this node as serving the catalog, which it refreshes every 5 s from announcements.
    time.sleep(6)


@contextmanager
def trino_server(
    catalogs: Mapping[str, Mapping[str, str]], timeout: float = 240
) -> Iterator[TrinoServer]:
    """Starts Trino with `catalogs` ({name: properties}); stops it and removes its dir on exit."""
    home = engines.unpacked_path(ARTIFACT)
    java = engines.find_java_home(MINIMUM_JAVA) / "bin" / "java"
    root = Path(tempfile.mkdtemp(prefix="lakehouse-trino-"))
    plugin_dir = root / "plugin"
    plugin_dir.mkdir()
    for name in PLUGINS:
        (plugin_dir / name).symlink_to(home / "plugin" / name)
    catalog_dir = root / "catalog"
    catalog_dir.mkdir()
    for name, props in catalogs.items():
        (catalog_dir / f"{name}.properties").write_text(_properties(props))
    ca = CertificateAuthority(root, "trino-test-ca")
    cert, key = ca.issue(
        "trino", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )  # fmt: skip
    keystore = root / "server.pem"  # Trino takes a PEM file with the key and its chain
    keystore.write_text(key.read_text() + cert.read_text())
    password_file = root / "password.db"
    password_file.write_text(_pbkdf2_entry(USER, PASSWORD))
    authenticator = root / "password-authenticator.properties"
    authenticator.write_text(_properties(
        {"password-authenticator.name": "file", "file.password-file": str(password_file)}
    ))  # fmt: skip
    http_port, https_port = free_port(), free_port()
    config = {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "node.environment": "test",
        "node.id": "lakehouse-test",
        "node.bind-ip": "127.0.0.1",
        "node.internal-address": "127.0.0.1",
        "http-server.http.port": str(http_port),
        "discovery.uri": f"http://127.0.0.1:{http_port}",
        "plugin.dir": str(plugin_dir),
        "catalog.config-dir": str(catalog_dir),
        "query.max-memory": "384MB",
        "query.max-memory-per-node": "384MB",
        "task.concurrency": "2",
        # One node on loopback: on a loaded machine a late heartbeat to itself would take the
        # only worker out of service (NO_NODES_AVAILABLE) until the next one.
        "failure-detector.enabled": "false",
        "http-server.https.enabled": "true",
        "http-server.https.port": str(https_port),
        "http-server.https.keystore.path": str(keystore),
        "http-server.authentication.type": "PASSWORD",
        # Plain HTTP stays open without a password for the data tests; HTTPS needs one.
        "http-server.authentication.allow-insecure-over-http": "true",
        "password-authenticator.config-files": str(authenticator),
        "internal-communication.shared-secret": secrets.token_urlsafe(32),
        "log.path": str(root / "server.log"),
    }
    config_file = root / "config.properties"
    config_file.write_text(_properties(config))
    log_path = root / "server.log"  # Trino's own log; the JVM's output goes next to it
    log = (root / "jvm.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(java), *JVM_OPTIONS, f"-Dconfig={config_file}", "-cp", f"{home / 'lib'}/*",
         "io.trino.server.TrinoServer"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    try:
        _wait_started(http_port, proc, log_path, timeout)
        server = TrinoServer(http_port, https_port, root, ca.cert, 0.0)
        _wait_for_a_worker(server, catalogs, timeout)
        yield replace(server, startup_seconds=time.monotonic() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if os.environ.get("LAKEHOUSE_KEEP_TRINO_LOG"):
            print(log_path.read_text(errors="replace")[-20000:])
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Serves the pinned Trino until Ctrl-C, for pointing LAKEHOUSE_ENV=aws at it by hand."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.support.trino", description=main.__doc__)
    parser.add_argument("--endpoint", required=True, help="S3 and Glue endpoint, e.g. moto_server")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-database", default="moma")
    parser.add_argument("--pg-user", default="postgres")
    args = parser.parse_args(argv)
    env = os.environ
    catalogs = lakehouse_catalogs(
        args.endpoint, args.region, env.get("AWS_ACCESS_KEY_ID", ""),
        env.get("AWS_SECRET_ACCESS_KEY", ""), args.pg_port, args.pg_database, args.pg_user,
        env.get("PGPASSWORD", ""),
    )  # fmt: skip
    with trino_server(catalogs) as server:
        print(f"export LAKEHOUSE_ENV=aws TRINO_HOST=127.0.0.1 TRINO_PORT={server.http_port} "
              f"TRINO_HTTP_SCHEME=http TRINO_USER={USER}", flush=True)  # fmt: skip
        print(f"# HTTPS: TRINO_PORT={server.https_port} TRINO_HTTP_SCHEME=https "
              f"TRINO_CA_BUNDLE={server.ca_cert} and TRINO_PASSWORD (tests.support.trino)",
              flush=True)  # fmt: skip
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
