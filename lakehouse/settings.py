"""The one switch between environments, and where the embedded default keeps its data."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

ENVIRONMENTS = ("local", "aws")

# Variables `aws` cannot run without. AWS credentials themselves come from the AWS SDKs' default
# chain (instance profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/...), so they are not listed.
AWS_REQUIRED = (
    "AWS_REGION",
    "LAKEHOUSE_S3_BUCKET",
    "LAKEHOUSE_EMR_CLUSTER_ID",
    "REDSHIFT_HOST",
    "REDSHIFT_USER",
    "REDSHIFT_PASSWORD",
    "REDSHIFT_SPECTRUM_ROLE_ARN",
)


def setting(name: str, default: str | None = None) -> str | None:
    """An environment variable, or `default` when it is unset or empty: the one reader of
    the process environment (resources take `dg.EnvVar` fields instead, resolved per run)."""
    return os.environ.get(name) or default


def is_set(name: str) -> bool:
    """Whether an optional variable is set, to decide if a resource gets an `EnvVar` field."""
    return bool(os.environ.get(name))


def optional_env(name: str, default: object = None) -> object:
    """`dg.EnvVar(name)` when the variable is set (its value resolved at run launch), else
    `default`: Dagster fails a run on an EnvVar field whose variable is unset."""
    import dagster as dg

    return dg.EnvVar(name) if is_set(name) else default


S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def s3_endpoint_variable() -> str | None:
    """The variable naming the S3 endpoint, in the AWS SDK's own precedence: the
    service-specific AWS_ENDPOINT_URL_S3, then the global AWS_ENDPOINT_URL; None when neither
    is set (AWS itself)."""
    return next((name for name in S3_ENDPOINT_VARIABLES if is_set(name)), None)


def s3_endpoint_url() -> str | None:
    name = s3_endpoint_variable()
    return setting(name) if name else None


def s3_endpoint_env() -> object:
    """The S3 endpoint as an `EnvVar` resource field (the variable the SDK would use), or None."""
    import dagster as dg

    name = s3_endpoint_variable()
    return dg.EnvVar(name) if name else None


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment plus `overrides`, for a subprocess (spark-submit, dbt)."""
    return {**os.environ, **overrides}


def export_environment(**values: str) -> None:
    """Sets variables for this process's later readers and children (a benchmark's stand-in
    S3 credentials and endpoint, which boto3 and the resources then read as they would on AWS)."""
    os.environ.update(values)


def aws_region() -> str | None:
    return setting("AWS_REGION")


def dagster_home() -> str | None:
    return setting("DAGSTER_HOME")


def moma_source_dsn() -> str | None:
    return setting("MOMA_SOURCE_DSN")


class LakehouseConfigError(Exception):
    """Raised at load time so a misconfigured deployment fails before any asset runs."""


def lakehouse_env() -> str:
    env = os.environ.get("LAKEHOUSE_ENV", "local").strip() or "local"
    if env not in ENVIRONMENTS:
        raise LakehouseConfigError(
            f"LAKEHOUSE_ENV={env!r} is not a known environment; use one of: "
            + ", ".join(ENVIRONMENTS)
        )
    return env


def lakehouse_home() -> Path:
    """LAKEHOUSE_HOME (default ./.lakehouse), made absolute and exported.

    dbt runs as a subprocess with its own working directory, so its profile must see the
    same absolute path the Dagster process resolved.
    """
    home = Path(os.environ.get("LAKEHOUSE_HOME") or ".lakehouse").expanduser().resolve()
    os.environ["LAKEHOUSE_HOME"] = str(home)
    return home


def check_aws_environment() -> None:
    missing = [name for name in AWS_REQUIRED if not os.environ.get(name)]
    if missing:
        raise LakehouseConfigError(
            "LAKEHOUSE_ENV=aws needs these environment variables, which are not set: "
            + ", ".join(missing)
        )


TELEMETRY_START_VARIABLE = "LAKEHOUSE_TELEMETRY_START"
# The first telemetry this deployment landed: hourly partitions start here, not decades before.
DEFAULT_TELEMETRY_START = "2026-11-01"


def telemetry_start() -> datetime.datetime:
    """LAKEHOUSE_TELEMETRY_START (a UTC day `YYYY-MM-DD` or hour `YYYY-MM-DD-HH:00`)."""
    value = (os.environ.get(TELEMETRY_START_VARIABLE) or DEFAULT_TELEMETRY_START).strip()
    for fmt in ("%Y-%m-%d-%H:%M", "%Y-%m-%d"):
        try:
            start = datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if start.minute:
            break
        return start.replace(tzinfo=datetime.UTC)
    raise LakehouseConfigError(
        f"{TELEMETRY_START_VARIABLE}={value!r} is not a UTC day (YYYY-MM-DD) or hour "
        "(YYYY-MM-DD-HH:00)"
    )
