"""Who runs a Hudi ingest (resource key `hudi`): the only place where `local` and `aws` differ.

- `LocalHudiIngest`: the project's Python Hudi writer, driven with HoodieDeltaStreamer's own
  flags and the `.properties` files under infra/hudi/ (the embedded default).
- `EmrHudiIngest`: HoodieDeltaStreamer itself, as a spark-submit step on an EMR cluster, built
  from the same `.properties` files.
- `SparkHudiIngest`: the EMR step's own argument list under local `spark-submit` (`local[2]`),
  against the local lake or S3 through s3a (`LAKEHOUSE_HUDI_ENGINE=spark`).

Both leave a Hudi commit on the table's timeline; the assets read their metadata from there.
"""

import time
from dataclasses import dataclass, field

import dagster as dg
from dagster_aws.emr import EmrError, EmrJobRunner

from lakehouse.cdc.records import value_schema
from lakehouse.cdc.sink import topic_prefix
from lakehouse.cdc.source_tables import MOMA_SERVER
from lakehouse.hudi.deltastreamer import DFS_ROOT, DeltaStreamerArgs, run
from lakehouse.hudi.emr import emr_step, job_name, spark_submit_args
from lakehouse.moma.hudi_tables import ORDERING_FIELD, PROPS_DIR, HudiTableDef
from lakehouse.settings import aws_region
from lakehouse.storage import ObjectStore, filesystem

OPERATION = "UPSERT"


@dataclass(frozen=True)
class IngestOutcome:
    engine: str
    committed: bool | None  # None when the engine does not say (EMR: read the timeline)
    source_files: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


class HudiIngest(dg.ConfigurableResource):
    """Upserts the new raw CDC objects of a table's topic into its Hudi table."""

    def ingest(self, table: HudiTableDef, lake: ObjectStore, log) -> IngestOutcome:
        raise NotImplementedError


def deltastreamer_args(table: HudiTableDef, lake: ObjectStore) -> DeltaStreamerArgs:
    """The HoodieDeltaStreamer command line for one table, with lake locations filled in."""
    return DeltaStreamerArgs(
        table_type=table.table_type,
        target_base_path=lake.uri(table.base_key),
        target_table=table.qualified,
        props=str(table.props_file),
        op=OPERATION,
        source_ordering_field=ORDERING_FIELD,
        hoodie_conf=[f"{DFS_ROOT}={lake.uri(topic_prefix(table.topic))}"],
        filesystem=lake.filesystem,
    )


def deltastreamer_main(argv: list[str] | None = None) -> int:
    """`lakehouse-deltastreamer`: the Hudi library's command line with this deployment's S3
    endpoint and region."""
    from lakehouse.hudi.cli import main

    return main(argv, filesystem)


class LocalHudiIngest(HudiIngest):
    """The Python Hudi writer, in this process."""

    def ingest(self, table: HudiTableDef, lake: ObjectStore, log) -> IngestOutcome:
        result = run(deltastreamer_args(table, lake))
        committed = result.commit is not None and result.commit.instant is not None
        return IngestOutcome("python", committed, result.files)


class HudiStepIngest(HudiIngest):
    """HoodieDeltaStreamer through spark-submit: the EMR step, built once for every engine
    that runs it."""

    config_prefix: str = "hudi/config"

    def config_keys(self, table: HudiTableDef) -> tuple[str, str]:
        """Where the cluster reads the table's .properties file and its topic's Avro schema."""
        schema = f"{self.config_prefix}/schemas/{table.topic}-value.avsc"
        return f"{self.config_prefix}/{table.props_file.name}", schema

    def upload_config(self, table: HudiTableDef, lake: ObjectStore) -> None:
        """The cluster reads the same .properties files (with their includes) from S3."""
        for path in sorted(PROPS_DIR.glob("*.properties")):
            lake.put_bytes(f"{self.config_prefix}/{path.name}", path.read_bytes())
        lake.put_bytes(self.config_keys(table)[1], value_schema(table.source, MOMA_SERVER).encode())

    def step(self, table: HudiTableDef, lake: ObjectStore) -> dict:
        props_key, schema_key = self.config_keys(table)
        args = spark_submit_args(
            table.props_file,
            props_uri=lake.uri(props_key),
            table_type=table.table_type,
            op=OPERATION,
            target_base_path=lake.uri(table.base_key),
            target_table=table.qualified,
            dfs_root=lake.uri(topic_prefix(table.topic)),
            schema_file_uri=lake.uri(schema_key),
            source_ordering_field=ORDERING_FIELD,
            # The catalog assets register tables and partitions, in Glue as locally.
            enable_sync=False,
        )
        return emr_step(job_name(table.qualified, table.table_type, OPERATION), args)


class EmrHudiIngest(HudiStepIngest):
    """HoodieDeltaStreamer as an EMR step (command-runner.jar spark-submit), awaited."""

    cluster_id: str
    region_name: str
    poll_seconds: int = 30
    timeout_seconds: int = 3 * 3600

    def runner(self) -> EmrJobRunner:
        return EmrJobRunner(region=self.region_name, check_cluster_every=self.poll_seconds)

    def ingest(self, table: HudiTableDef, lake: ObjectStore, log) -> IngestOutcome:
        self.upload_config(table, lake)
        step = self.step(table, lake)
        runner = self.runner()
        (step_id,) = runner.add_job_flow_steps(log, self.cluster_id, [step])
        log.info(f"EMR step {step_id} on {self.cluster_id}: {step['Name']}")
        deadline = time.monotonic() + self.timeout_seconds
        try:
            while not runner.is_emr_step_complete(log, self.cluster_id, step_id):
                if time.monotonic() > deadline:
                    raise dg.Failure(
                        f"EMR step {step_id} ({step['Name']}) on {self.cluster_id} did not "
                        f"finish within {self.timeout_seconds} s"
                    )
                time.sleep(self.poll_seconds)
        except EmrError as e:
            raise dg.Failure(
                f"{step['Name']}: {e}; see the step's logs on {self.cluster_id}",
                allow_retries=False,
            ) from None
        return IngestOutcome("emr", None, detail={"cluster_id": self.cluster_id, "step": step_id})


class SparkHudiIngest(HudiStepIngest):
    """The EMR step's arguments under local spark-submit (local[2]) with the pinned jars;
    `s3a_endpoint` (an S3-compatible server) when the lake is on S3."""

    s3a_endpoint: str | None = None

    def ingest(self, table: HudiTableDef, lake: ObjectStore, log) -> IngestOutcome:
        from lakehouse import hudi_spark as spark

        self.upload_config(table, lake)
        step = self.step(table, lake)
        args = spark.local_submit_args(
            step["HadoopJarStep"]["Args"], self.s3a_endpoint, aws_region()
        )
        log.info(f"local spark-submit: {step['Name']}")
        spark.spark_submit(args)
        return IngestOutcome("spark", None, detail={"step": step["Name"]})
