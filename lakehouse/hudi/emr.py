"""HoodieDeltaStreamer on EMR: the spark-submit command for a table, built from the same
`.properties` files the local writer uses (infra/hudi/), and the EMR step that runs it.

The props file is validated exactly as `lakehouse-deltastreamer` validates it, so a setting the
local writer rejects fails here too, before anything is submitted.
"""

from __future__ import annotations

import re
from pathlib import Path

from lakehouse.hudi.config import HudiConfigError
from lakehouse.hudi.deltastreamer import (
    AVRO_DFS_SOURCE,
    DFS_ROOT,
    FILE_SCHEMA_PROVIDER,
    REGISTRY_SCHEMA_PROVIDER,
    REGISTRY_URL,
    SCHEMA_FILE,
    DeltaStreamerArgs,
    build_job,
)

# Not lakehouse.sql: lakehouse.hudi is a plain library that imports nothing from the rest of
# lakehouse. The rule is the common one (letter or _, then letters, digits, _) with no length
# limit, since these names only go into Spark SQL inside the transformer.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

PROPS_DIR = Path(__file__).resolve().parents[2] / "infra" / "hudi"
SPARK_AVRO_JAR = "/usr/lib/spark/jars/spark-avro.jar"
HUDI_UTILITIES_JAR = "/usr/lib/hudi/hudi-utilities-bundle.jar"
DELTASTREAMER_CLASS = "org.apache.hudi.utilities.deltastreamer.HoodieDeltaStreamer"
SQL_TRANSFORMER = "org.apache.hudi.utilities.transform.SqlQueryBasedTransformer"
SHORT_TYPE = {"COPY_ON_WRITE": "CoW", "MERGE_ON_READ": "MoR"}


def spark_submit_args(
    props_file: str | Path,
    *,
    props_uri: str,
    table_type: str,
    op: str,
    target_base_path: str,
    target_table: str,
    dfs_root: str,
    schema_file_uri: str | None = None,
    source_ordering_field: str = "__source_ts_ms",
    filter_dupes: bool = False,
    enable_sync: bool = True,
) -> list[str]:
    """The spark-submit argument list. props_file is the local copy (validated here) of the
    object at props_uri that the cluster reads."""
    conf = [f"{DFS_ROOT}={dfs_root}"]
    if schema_file_uri:
        conf.append(f"{SCHEMA_FILE}={schema_file_uri}")
    database, _, table = target_table.rpartition(".")
    if database:
        conf.append(f"hoodie.datasource.hive_sync.database={database}")
    conf.append(f"hoodie.datasource.hive_sync.table={table}")
    job = build_job(
        DeltaStreamerArgs(
            table_type=table_type,
            target_base_path=target_base_path,
            target_table=target_table,
            props=str(props_file),
            op=op,
            source_ordering_field=source_ordering_field,
            filter_dupes=filter_dupes,
            hoodie_conf=conf,
        )
    )
    if schema_file_uri:
        provider = FILE_SCHEMA_PROVIDER
    elif job.props.get(REGISTRY_URL):
        provider = REGISTRY_SCHEMA_PROVIDER
    else:
        provider = None
    args = [
        "spark-submit",
        "--jars", f"{SPARK_AVRO_JAR},{HUDI_UTILITIES_JAR}",
        "--conf", "spark.sql.catalogImplementation=hive",
        "--conf", "spark.serializer=org.apache.spark.serializer.KryoSerializer",
        # Instants in UTC, like the Python writer's, so both sort the same (pitfall 1).
        "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
        "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
        "--class", DELTASTREAMER_CLASS,
        HUDI_UTILITIES_JAR,
        "--table-type", table_type,
        "--op", job.operation,
        "--source-ordering-field", source_ordering_field,
        "--props", props_uri,
        "--source-class", AVRO_DFS_SOURCE,
    ]  # fmt: skip
    if provider:
        args += ["--schemaprovider-class", provider]
    args += ["--target-base-path", target_base_path, "--target-table", target_table]
    for item in conf:
        args += ["--hoodie-conf", item]
    if job.config.write.delete_mode == "hard":
        # Debezium's __deleted flag becomes Hudi's own delete marker.
        field, value = job.config.write.delete_field, job.config.write.delete_value
        if not IDENTIFIER.fullmatch(field) or not IDENTIFIER.fullmatch(value):
            raise HudiConfigError(
                f"lakehouse.hudi.delete.field={field!r} / value {value!r} must be plain "
                "identifiers to go into the transformer SQL"
            )
        sql = f"SELECT *, {field} = '{value}' AS _hoodie_is_deleted FROM <SRC> a"  # noqa: S608 - validated identifiers
        args += ["--transformer-class", SQL_TRANSFORMER,
                 "--hoodie-conf", f"hoodie.deltastreamer.transformer.sql={sql}"]  # fmt: skip
    if filter_dupes:
        args.append("--filter-dupes")
    if enable_sync:
        args.append("--enable-sync")
    return args


def job_name(target_table: str, table_type: str, op: str) -> str:
    """Derived from (table, type, op), never typed by hand (X-7)."""
    verb = {"BULK_INSERT": "Bulk insert", "UPSERT": "Upsert", "INSERT": "Insert"}[op.upper()]
    return f"{verb} {target_table} - Hudi {SHORT_TYPE[table_type]}"


def emr_step(name: str, args: list[str], action_on_failure: str = "CONTINUE") -> dict:
    """An EMR AddJobFlowSteps step running the command through command-runner.jar."""
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": list(args)},
    }
