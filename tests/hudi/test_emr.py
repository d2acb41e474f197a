"""The EMR spark-submit command for HoodieDeltaStreamer, built from infra/hudi/*.properties."""

from __future__ import annotations

import pytest

from lakehouse.hudi.config import HudiConfigError
from lakehouse.hudi.emr import PROPS_DIR, emr_step, job_name, spark_submit_args


def test_artists_mor_upsert_arguments():
    args = spark_submit_args(
        PROPS_DIR / "moma_artists.properties",
        props_uri="s3://lake-bucket/hudi/moma_artists.properties",
        table_type="MERGE_ON_READ",
        op="UPSERT",
        target_base_path="s3://lake-bucket/moma/artists_mor/",
        target_table="moma_mor.artists",
        dfs_root="s3://lake-bucket/topics/moma.public.artists/partition=0/",
        schema_file_uri="s3://lake-bucket/hudi/moma.public.artists-value.avsc",
    )
    assert args == [
        "spark-submit",
        "--jars", "/usr/lib/spark/jars/spark-avro.jar,/usr/lib/hudi/hudi-utilities-bundle.jar",
        "--conf", "spark.sql.catalogImplementation=hive",
        "--conf", "spark.serializer=org.apache.spark.serializer.KryoSerializer",
        "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
        "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
        "--class", "org.apache.hudi.utilities.deltastreamer.HoodieDeltaStreamer",
        "/usr/lib/hudi/hudi-utilities-bundle.jar",
        "--table-type", "MERGE_ON_READ",
        "--op", "UPSERT",
        "--source-ordering-field", "__source_ts_ms",
        "--props", "s3://lake-bucket/hudi/moma_artists.properties",
        "--source-class", "org.apache.hudi.utilities.sources.AvroDFSSource",
        "--schemaprovider-class", "org.apache.hudi.utilities.schema.FilebasedSchemaProvider",
        "--target-base-path", "s3://lake-bucket/moma/artists_mor/",
        "--target-table", "moma_mor.artists",
        "--hoodie-conf",
        "hoodie.deltastreamer.source.dfs.root=s3://lake-bucket/topics/moma.public.artists/partition=0/",
        "--hoodie-conf",
        "hoodie.deltastreamer.schemaprovider.source.schema.file=s3://lake-bucket/hudi/moma.public.artists-value.avsc",
        "--hoodie-conf", "hoodie.datasource.hive_sync.database=moma_mor",
        "--hoodie-conf", "hoodie.datasource.hive_sync.table=artists",
        "--enable-sync",
    ]  # fmt: skip
    step = emr_step(job_name("moma_mor.artists", "MERGE_ON_READ", "UPSERT"), args)
    assert step == {
        "Name": "Upsert moma_mor.artists - Hudi MoR",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
    }


def test_bulk_insert_with_filter_dupes_and_hard_deletes(tmp_path):
    (tmp_path / "base.properties").write_text((PROPS_DIR / "base.properties").read_text())
    props = tmp_path / "artworks.properties"
    props.write_text(
        (PROPS_DIR / "moma_artworks.properties").read_text() + "lakehouse.hudi.delete.mode=hard\n"
    )
    args = spark_submit_args(
        props,
        props_uri="s3://b/hudi/artworks.properties",
        table_type="COPY_ON_WRITE",
        op="BULK_INSERT",
        target_base_path="s3://b/moma/artworks_cow/",
        target_table="moma_cow.artworks",
        dfs_root="s3://b/topics/moma.public.artworks/partition=0/",
        filter_dupes=True,
        enable_sync=False,
    )
    tail = args[args.index("--target-base-path") :]
    assert tail == [
        "--target-base-path", "s3://b/moma/artworks_cow/",
        "--target-table", "moma_cow.artworks",
        "--hoodie-conf", "hoodie.deltastreamer.source.dfs.root=s3://b/topics/moma.public.artworks/partition=0/",
        "--hoodie-conf", "hoodie.datasource.hive_sync.database=moma_cow",
        "--hoodie-conf", "hoodie.datasource.hive_sync.table=artworks",
        "--transformer-class", "org.apache.hudi.utilities.transform.SqlQueryBasedTransformer",
        "--hoodie-conf",
        "hoodie.deltastreamer.transformer.sql="
        "SELECT *, __deleted = 'true' AS _hoodie_is_deleted FROM <SRC> a",
        "--filter-dupes",
    ]  # fmt: skip
    assert "--schemaprovider-class" not in args
    assert job_name("moma_cow.artworks", "COPY_ON_WRITE", "BULK_INSERT") == (
        "Bulk insert moma_cow.artworks - Hudi CoW"
    )


def test_invalid_props_fail_before_submitting(tmp_path):
    (tmp_path / "base.properties").write_text((PROPS_DIR / "base.properties").read_text())
    props = tmp_path / "bad.properties"
    props.write_text("include=base.properties\nhoodie.datasource.write.recordkey.field=id\n"
                     "hoodie.index.type=BLOOM\n")  # fmt: skip
    with pytest.raises(HudiConfigError, match=r"bad.properties:3: hoodie.index.type=BLOOM"):
        spark_submit_args(props, props_uri="s3://b/p", table_type="COPY_ON_WRITE", op="UPSERT",
                          target_base_path="s3://b/t", target_table="db.t",
                          dfs_root="s3://b/src")  # fmt: skip
