"""The Debezium and S3 sink connector configurations under infra/cdc/."""

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lakehouse.cdc.records import CDC_FIELDS
from lakehouse.defs.cdc.assets import RAW_CDC_TOPICS
from tests.support.paths import REPO_ROOT

INFRA = REPO_ROOT / "infra" / "cdc"
SOURCE = json.loads((INFRA / "source_connector_moma_postgres_kafka.json").read_text())
SINK = json.loads((INFRA / "sink_connector_moma_kafka_s3.json").read_text())
ENV = {
    "APICURIO_REGISTRY_URL": "http://apicurio:8080",
    "LAKEHOUSE_S3_BUCKET": "lake-bucket",
    "LAKEHOUSE_S3_PREFIX": "prod/",
    "AWS_REGION": "eu-west-1",
}
SECRET_REF = re.compile(r"^\$\{secretsmanager:[\w/+=.@-]+:\w+\}$")


def test_credentials_are_secrets_manager_references_only():
    for config in (SOURCE, SINK):
        for key, value in config.items():
            if re.search(r"password|secret|user|hostname|access\.key|token", key):
                assert SECRET_REF.match(value), f"{key} holds a literal: {value!r}"
            assert not re.search(r"AKIA[0-9A-Z]{16}", value)
    providers = (INFRA / "connect-worker.properties").read_text()
    assert "config.providers=secretsmanager" in providers
    assert "SecretsManagerConfigProvider" in providers


def test_source_produces_the_topics_and_flat_schema_the_lake_expects():
    assert SOURCE["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert SOURCE["plugin.name"] == "pgoutput"
    topics = [
        f"{SOURCE['database.server.name']}.{t}" for t in SOURCE["table.include.list"].split(",")
    ]
    assert topics == RAW_CDC_TOPICS
    assert SOURCE["transforms"] == "unwrap"
    assert SOURCE["transforms.unwrap.type"] == "io.debezium.transforms.ExtractNewRecordState"
    assert SOURCE["transforms.unwrap.delete.handling.mode"] == "rewrite"
    assert SOURCE["transforms.unwrap.drop.tombstones"] == "false"
    added = ["__" + f.replace(".", "_") for f in SOURCE["transforms.unwrap.add.fields"].split(",")]
    assert added + ["__deleted"] == list(CDC_FIELDS)


def test_sink_writes_the_layout_the_capture_writes():
    regex = re.compile(SINK["topics.regex"])
    assert all(regex.fullmatch(t) for t in RAW_CDC_TOPICS)
    assert not regex.fullmatch("moma_public_x") and not regex.fullmatch("other.public.artists")
    assert SINK["format.class"] == "io.confluent.connect.s3.format.avro.AvroFormat"
    assert SINK["partitioner.class"].endswith(".DefaultPartitioner")
    assert SINK["behavior.on.null.values"] == "ignore"
    assert (SINK["flush.size"], SINK["rotate.schedule.interval.ms"], SINK["timezone"]) == (
        "10000",
        "60000",
        "UTC",
    )
    assert "table.name.format" not in SINK  # a JDBC leftover with no effect


class Recorder(BaseHTTPRequestHandler):
    requests: list = []

    def do_PUT(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.requests.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_deploy_puts_both_configs_with_the_environment_filled_in(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.requests = []
    try:
        env = {**ENV, "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(
            [
                sys.executable,
                str(INFRA / "deploy_connectors.py"),
                "--connect-url",
                f"http://127.0.0.1:{server.server_port}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    registry = "http://apicurio:8080/apis/registry/v2"
    urls = {
        "key.converter.apicurio.registry.url": registry,
        "value.converter.apicurio.registry.url": registry,
    }
    assert Recorder.requests == [
        (
            "/connectors/source_connector_moma_postgres_kafka/config",
            "application/json",
            {**SOURCE, **urls},
        ),
        (
            "/connectors/sink_connector_moma_kafka_s3/config",
            "application/json",
            {
                **SINK,
                **urls,
                "s3.bucket.name": "lake-bucket",
                "s3.region": "eu-west-1",
                "topics.dir": "prod/topics",
            },
        ),
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://http://apicurio:8080",
        "apicurio:8080",
        "http://apicurio:8080/apis/registry/v2",
        "ftp://x",
    ],
)
def test_deploy_rejects_malformed_registry_urls(url):
    sys.path.insert(0, str(INFRA))
    try:
        import deploy_connectors
    finally:
        sys.path.remove(str(INFRA))
    with pytest.raises(deploy_connectors.DeployError, match="must be a base URL like"):
        deploy_connectors.connector_configs({**ENV, "APICURIO_REGISTRY_URL": url})
