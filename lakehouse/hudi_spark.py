"""Apache Hudi on Spark in local mode: the pinned jars (`make engines`), a session for reading
and checking tables, and `spark-submit` for the EMR step's own argument list.

Everything here is the real engine; nothing downloads at run time. A missing Java, pyspark or
jar stops with one line naming what is missing. It lives outside `lakehouse.hudi` (the format
library, which knows no deployment) because it finds the jars and Java through
`lakehouse.engines`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lakehouse.engines import EngineArtifactError, artifact_path, java_home, jvm_environment

MASTER = "local[2]"
HUDI_BUNDLE = "hudi-spark-bundle"
SPARK_AVRO = "spark-avro"  # Avro sources (the CDC objects), not in pyspark's own jars
S3A_JARS = ("hadoop-aws", "aws-java-sdk-bundle")
# HoodieDeltaStreamer lives in hudi-utilities(-slim)-bundle, which Maven Central does not serve
# for the 0.14/0.15 line (see README, "Apache Hudi on Spark").
UTILITIES_COORDINATES = "org.apache.hudi:hudi-utilities-slim-bundle_2.12:0.15.0"

# Instants in UTC on both sides, like the Python writer's and the EMR step's (pitfall 1).
SESSION_CONF = {
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
    "spark.kryo.registrator": "org.apache.spark.HoodieSparkKryoRegistrar",
    "spark.sql.extensions": "org.apache.spark.sql.hudi.HoodieSparkSessionExtension",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
}


def engine_jars(s3a: bool = False) -> list[Path]:
    names = [HUDI_BUNDLE, SPARK_AVRO, *(S3A_JARS if s3a else ())]
    return [artifact_path(name) for name in names]


def _pyspark():
    try:
        import pyspark
    except ImportError:
        raise EngineArtifactError(
            "pyspark 3.5 is not installed; run `make install` (uv sync --all-groups)"
        ) from None
    return pyspark


def s3a_conf(endpoint: str | None, region: str | None = None) -> dict[str, str]:
    """Hadoop's s3a settings for an S3 endpoint (moto or MinIO on loopback: path style)."""
    conf = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
        ),
    }
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            endpoint.startswith("https")
        ).lower()
    if region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = region
    return conf


def session(
    s3a_endpoint: str | None = None,
    extra_conf: dict[str, str] | None = None,
    region: str | None = None,
):
    """A local[2] SparkSession with the pinned Hudi bundle (and s3a when an endpoint is given)."""
    pyspark = _pyspark()
    # A missing Java stops here with one line. pyspark starts its JVM with this process's
    # environment (it takes no `env`), where spark-class finds the same Java: JAVA_HOME if
    # set, else `java` on PATH, which is what java_home() resolves.
    java_home()
    jars = engine_jars(s3a=s3a_endpoint is not None)
    builder = pyspark.sql.SparkSession.builder.master(MASTER).appName("lakehouse-hudi")
    conf = {**SESSION_CONF, "spark.jars": ",".join(str(j) for j in jars)}
    if s3a_endpoint is not None:
        conf.update(s3a_conf(s3a_endpoint, region))
    conf.update(extra_conf or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def spark_uri(uri: str) -> str:
    """Hadoop names S3 `s3a://`; local paths stay as they are."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


def local_submit_args(
    emr_args: list[str], s3a_endpoint: str | None = None, region: str | None = None
) -> list[str]:
    """The EMR step's spark-submit argument list, run here: the same flags and application
    arguments, with the cluster's jar paths replaced by the pinned ones, `local[2]` as master
    and `s3://` read through s3a."""
    from lakehouse.hudi.emr import HUDI_UTILITIES_JAR, SPARK_AVRO_JAR

    if not emr_args or emr_args[0] != "spark-submit":
        raise ValueError(f"not a spark-submit step: {emr_args[:1]}")
    # spark-avro is among the engine jars already
    cluster_jars = {HUDI_UTILITIES_JAR: _utilities_jar(), SPARK_AVRO_JAR: None}
    engine = [str(p) for p in engine_jars(s3a=s3a_endpoint is not None)]
    conf = {}
    if s3a_endpoint is not None:
        conf.update(s3a_conf(s3a_endpoint, region))
        conf["spark.hadoop.fs.s3.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"
    submit = Path(_pyspark().__file__).parent / "bin" / "spark-submit"
    out = [str(submit), "--master", MASTER]
    for key, value in conf.items():
        out += ["--conf", f"{key}={value}"]
    args = iter(emr_args[1:])
    for arg in args:
        if arg == "--jars":
            jars = [cluster_jars[j] for j in next(args).split(",")]
            out += ["--jars", ",".join(engine + [j for j in jars if j])]
        else:
            out.append(cluster_jars.get(arg, arg))
    return out


def _utilities_jar() -> str:
    try:
        return str(artifact_path("hudi-utilities-slim-bundle"))
    except EngineArtifactError:
        raise EngineArtifactError(
            f"engine artifact {UTILITIES_COORDINATES} (HoodieDeltaStreamer) is not pinned: "
            "Maven Central does not serve it, so the EMR step cannot run under local Spark"
        ) from None


def spark_submit(args: list[str], log_path: Path | None = None) -> None:
    """Run a local spark-submit command; its last lines of output name a failure."""
    env = jvm_environment()
    if shutil.which(args[0]) is None and not Path(args[0]).is_file():
        raise EngineArtifactError(f"{args[0]} not found; run `make install`")
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if log_path is not None:
        log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"spark-submit exited {result.returncode}: " + " | ".join(tail))
