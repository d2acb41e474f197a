"""LAKEHOUSE_HUDI_ENGINE=spark: the EMR step's own argument list under local spark-submit.

No JVM starts here: what is checked is the command handed to spark-submit (the EMR step's
arguments, with only the cluster's jar paths and the master replaced) and the one-line errors
when a piece of the engine is missing.
"""

from __future__ import annotations

import pytest

from lakehouse import engines
from lakehouse import hudi_spark as spark
from lakehouse.hudi.emr import HUDI_UTILITIES_JAR, SPARK_AVRO_JAR
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.moma.resources import LocalHudiIngest, SparkHudiIngest
from lakehouse.resources import local_hudi_ingest
from lakehouse.storage import LocalObjectStore

MOR_ARTWORKS = next(t for t in HUDI_TABLES if t.qualified == "moma_mor.artworks")


@pytest.mark.parametrize(
    "value, kind",
    [(None, LocalHudiIngest), ("python", LocalHudiIngest), ("spark", SparkHudiIngest)],
)
def test_the_engine_is_chosen_by_lakehouse_hudi_engine(monkeypatch, value, kind):
    if value is None:
        monkeypatch.delenv("LAKEHOUSE_HUDI_ENGINE", raising=False)
    else:
        monkeypatch.setenv("LAKEHOUSE_HUDI_ENGINE", value)
    assert type(local_hudi_ingest()) is kind


def test_an_unknown_engine_is_named(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HUDI_ENGINE", "flink")
    with pytest.raises(ValueError, match=r"^LAKEHOUSE_HUDI_ENGINE='flink' is not one of python"):
        local_hudi_ingest()


def _with_utilities_pinned(tmp_path, monkeypatch):
    """The artifact list plus a row for the utilities bundle, and a file standing for it."""
    tsv = tmp_path / "artifacts.tsv"
    tsv.write_text(
        engines.ARTIFACTS_TSV.read_text()
        + f"spark\thudi-utilities-slim-bundle\t{spark.UTILITIES_COORDINATES}:jar\t{'0' * 64}\n"
    )
    monkeypatch.setattr(engines, "ARTIFACTS_TSV", tsv)
    cache = tmp_path / "engines"
    cache.mkdir()
    for wanted in engines.load_artifacts(tsv):
        (cache / wanted.file_name).write_bytes(b"")
    monkeypatch.setenv("LAKEHOUSE_ENGINES_DIR", str(cache))
    return cache


def test_the_local_command_is_the_emr_steps_with_local_jars(tmp_path, monkeypatch):
    cache = _with_utilities_pinned(tmp_path, monkeypatch)
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    emr = SparkHudiIngest().step(MOR_ARTWORKS, lake)["HadoopJarStep"]["Args"]
    local = spark.local_submit_args(emr)
    assert local[0].endswith("/pyspark/bin/spark-submit")
    assert local[1:3] == ["--master", "local[2]"]
    jars = local[local.index("--jars") + 1].split(",")
    assert jars == [
        str(cache / "hudi-spark3.5-bundle_2.12-0.15.0.jar"),
        str(cache / "spark-avro_2.12-3.5.9.jar"),
        str(cache / "hudi-utilities-slim-bundle_2.12-0.15.0.jar"),
    ]
    # everything else is the EMR step's own list, in its order
    emr_rest = [a for a in emr[1:] if a != f"{SPARK_AVRO_JAR},{HUDI_UTILITIES_JAR}"]
    local_rest = [a for a in local[3:] if a != local[local.index("--jars") + 1]]
    utilities = str(cache / "hudi-utilities-slim-bundle_2.12-0.15.0.jar")
    assert local_rest == [utilities if a == HUDI_UTILITIES_JAR else a for a in emr_rest]
    assert local_rest[local_rest.index("--target-base-path") + 1] == lake.uri(MOR_ARTWORKS.base_key)


def test_s3_is_read_through_s3a_with_the_pinned_hadoop_aws(tmp_path, monkeypatch):
    cache = _with_utilities_pinned(tmp_path, monkeypatch)
    emr = ["spark-submit", "--jars", f"{SPARK_AVRO_JAR},{HUDI_UTILITIES_JAR}", HUDI_UTILITIES_JAR]
    local = spark.local_submit_args(emr, s3a_endpoint="http://127.0.0.1:9000")
    conf = [local[i + 1] for i, a in enumerate(local) if a == "--conf"]
    assert "spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.s3a.S3AFileSystem" in conf
    assert "spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:9000" in conf
    assert "spark.hadoop.fs.s3a.path.style.access=true" in conf
    jars = local[local.index("--jars") + 1].split(",")
    assert str(cache / "hadoop-aws-3.3.4.jar") in jars
    assert str(cache / "aws-java-sdk-bundle-1.12.262.jar") in jars


def test_a_missing_utilities_bundle_is_one_line_naming_its_coordinates(tmp_path):
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    emr = SparkHudiIngest().step(MOR_ARTWORKS, lake)["HadoopJarStep"]["Args"]
    with pytest.raises(engines.EngineArtifactError) as error:
        spark.local_submit_args(emr)
    message = str(error.value)
    assert "\n" not in message
    assert spark.UTILITIES_COORDINATES in message


def test_no_java_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(engines.EngineArtifactError, match=r"^no Java found \(set JAVA_HOME"):
        spark.java_home()
