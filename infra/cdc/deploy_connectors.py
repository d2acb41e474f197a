"""PUT the MoMA CDC connectors (Debezium source, Confluent S3 sink) to a Kafka Connect cluster.

    uv run python infra/cdc/deploy_connectors.py --connect-url http://localhost:8083

The JSON files beside this script hold every setting that does not depend on the environment;
this fills in the rest from the environment, so it is set in one place:
  APICURIO_REGISTRY_URL  registry base URL, e.g. http://apicurio:8080 (required)
  LAKEHOUSE_S3_BUCKET    the lake bucket (required)
  LAKEHOUSE_S3_PREFIX    the lake prefix; objects go to <prefix>/topics/... (default: none)
  AWS_REGION             the bucket's region (default us-east-1)
Database credentials stay in Secrets Manager (secret lakehouse/moma-source), resolved by the
worker's config provider (connect-worker.properties); nothing secret passes through here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
CONNECTORS = ("source_connector_moma_postgres_kafka", "sink_connector_moma_kafka_s3")


class DeployError(Exception):
    pass


def registry_url(base: str) -> str:
    """The Apicurio v2 API URL from the registry's base URL, validated (no `http://http://`)."""
    parsed = urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or "://" in parsed.netloc \
            or parsed.path.strip("/") or parsed.query:  # fmt: skip
        raise DeployError(
            f"APICURIO_REGISTRY_URL must be a base URL like http://apicurio:8080, not {base!r}"
        )
    return f"{base.rstrip('/')}/apis/registry/v2"


def connector_configs(env: dict[str, str]) -> dict[str, dict[str, str]]:
    missing = [v for v in ("APICURIO_REGISTRY_URL", "LAKEHOUSE_S3_BUCKET") if not env.get(v)]
    if missing:
        raise DeployError("set " + ", ".join(missing))
    registry = registry_url(env["APICURIO_REGISTRY_URL"])
    configs = {}
    for name in CONNECTORS:
        config = json.loads((HERE / f"{name}.json").read_text())
        for side in ("key", "value"):
            config[f"{side}.converter.apicurio.registry.url"] = registry
        if "S3SinkConnector" in config["connector.class"]:
            prefix = env.get("LAKEHOUSE_S3_PREFIX", "").strip("/")
            config["s3.bucket.name"] = env["LAKEHOUSE_S3_BUCKET"]
            config["s3.region"] = env.get("AWS_REGION") or "us-east-1"
            config["topics.dir"] = f"{prefix}/topics" if prefix else "topics"
        configs[name] = config
    return configs


def deploy(connect_url: str, configs: dict[str, dict[str, str]]) -> None:
    for name, config in configs.items():
        request = urllib.request.Request(
            f"{connect_url.rstrip('/')}/connectors/{name}/config",
            data=json.dumps(config, indent=1).encode(),
            method="PUT",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                print(f"{name}: HTTP {response.status}")
        except urllib.error.HTTPError as e:
            raise DeployError(f"{name}: HTTP {e.code}: {e.read().decode(errors='replace')}") from e


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connect-url", required=True, help="Kafka Connect REST URL")
    args = p.parse_args(argv)
    try:
        deploy(args.connect_url, connector_configs(dict(os.environ)))
    except (DeployError, urllib.error.URLError) as e:
        print(f"deploy_connectors: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
