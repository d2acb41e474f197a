"""`aws`: the Hudi assets run HoodieDeltaStreamer on EMR. EMR cannot run here, so a recording
stand-in takes the AddJobFlowSteps request; the step's command is then run by the local
DeltaStreamer-compatible CLI against S3 (moto_server), as the cluster would run it."""

import boto3
import dagster as dg
import pytest
from dagster_aws.emr import EmrJobRunner
from dagster_aws.s3 import S3Resource

from lakehouse.cdc.resources import SimulatedMomaSource
from lakehouse.defs.moma.assets import hudi_table_assets
from lakehouse.hudi.emr import HUDI_UTILITIES_JAR
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.moma.resources import EmrHudiIngest, deltastreamer_main
from lakehouse.storage import S3ObjectStore
from tests.cdc.topics import topic_records
from tests.hudi import support
from tests.support.moto import CREDENTIALS, moto_server

MOR_ARTWORKS = next(t for t in HUDI_TABLES if t.qualified == "moma_mor.artworks")


class RecordingEmr:
    """The EMR API calls the resource makes; a step 'runs' when added, and ends COMPLETED or
    FAILED."""

    def __init__(self, run_step=None):
        self.requests: list[dict] = []
        self.run_step = run_step
        self.states: dict[str, str] = {}

    def add_job_flow_steps(self, **kwargs):
        self.requests.append(kwargs)
        step_id = f"s-{len(self.requests):013d}"
        ok = self.run_step(kwargs["Steps"][0]) if self.run_step else True
        self.states[step_id] = "COMPLETED" if ok else "FAILED"
        return {"StepIds": [step_id]}

    def describe_step(self, ClusterId, StepId):  # noqa: N803 - boto3's parameter names
        state = self.states[StepId]
        reason = {"Message": "Step failed"} if state == "FAILED" else {}
        return {"Step": {"Id": StepId, "Status": {"State": state, "StateChangeReason": reason}}}

    def describe_cluster(self, ClusterId):  # noqa: N803
        status = {"State": "WAITING", "StateChangeReason": {}}
        return {"Cluster": {"Id": ClusterId, "Status": status}}


def s3_lake(endpoint=None) -> S3ObjectStore:
    return S3ObjectStore(
        bucket="acme-lake",
        prefix="prod",
        s3=S3Resource(region_name="us-east-1", endpoint_url=endpoint),
    )


def test_the_step_for_moma_mor_artworks():
    ingest = EmrHudiIngest(cluster_id="j-2AXXXXXXGAPLF", region_name="us-east-1")
    assert ingest.step(MOR_ARTWORKS, s3_lake()) == {
        "Name": "Upsert moma_mor.artworks - Hudi MoR",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--jars",
                "/usr/lib/spark/jars/spark-avro.jar,/usr/lib/hudi/hudi-utilities-bundle.jar",
                "--conf", "spark.sql.catalogImplementation=hive",
                "--conf", "spark.serializer=org.apache.spark.serializer.KryoSerializer",
                "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
                "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
                "--class", "org.apache.hudi.utilities.deltastreamer.HoodieDeltaStreamer",
                "/usr/lib/hudi/hudi-utilities-bundle.jar",
                "--table-type", "MERGE_ON_READ",
                "--op", "UPSERT",
                "--source-ordering-field", "__source_ts_ms",
                "--props", "s3://acme-lake/prod/hudi/config/moma_artworks.properties",
                "--source-class", "org.apache.hudi.utilities.sources.AvroDFSSource",
                "--schemaprovider-class",
                "org.apache.hudi.utilities.schema.FilebasedSchemaProvider",
                "--target-base-path", "s3://acme-lake/prod/hudi/moma_mor/artworks",
                "--target-table", "moma_mor.artworks",
                "--hoodie-conf", "hoodie.deltastreamer.source.dfs.root="
                "s3://acme-lake/prod/topics/moma.public.artworks/partition=0/",
                "--hoodie-conf", "hoodie.deltastreamer.schemaprovider.source.schema.file="
                "s3://acme-lake/prod/hudi/config/schemas/moma.public.artworks-value.avsc",
                "--hoodie-conf", "hoodie.datasource.hive_sync.database=moma_mor",
                "--hoodie-conf", "hoodie.datasource.hive_sync.table=artworks",
            ],
        },
    }  # fmt: skip


@pytest.fixture
def s3(monkeypatch):
    with moto_server() as endpoint:
        for key, value in CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # read by lakehouse.storage.filesystem
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="acme-lake")
        yield endpoint


def deltastreamer_on_the_cluster(step: dict) -> bool:
    args = step["HadoopJarStep"]["Args"]
    return deltastreamer_main(args[args.index(HUDI_UTILITIES_JAR) + 1 :]) == 0


def materialize(lake, emr_client, monkeypatch, raise_on_error=True):
    monkeypatch.setattr(EmrJobRunner, "make_emr_client", lambda self: emr_client)
    ingest = EmrHudiIngest(cluster_id="j-2AXXXXXXGAPLF", region_name="us-east-1", poll_seconds=0)
    asset = next(a for a in hudi_table_assets if MOR_ARTWORKS.asset_key in a.keys)
    return dg.materialize(
        [asset], resources={"lake": lake, "hudi": ingest}, raise_on_error=raise_on_error
    )


def test_an_emr_step_upserts_the_table_in_s3(s3, monkeypatch):
    lake = s3_lake(s3)
    SimulatedMomaSource(artists=50, artworks=80, batch_size=20, batches_per_run=3).capture(lake)
    emr = RecordingEmr(run_step=deltastreamer_on_the_cluster)
    result = materialize(lake, emr, monkeypatch)

    (request,) = emr.requests
    assert request["JobFlowId"] == "j-2AXXXXXXGAPLF"
    assert request["Steps"] == [
        EmrHudiIngest(cluster_id="x", region_name="y").step(MOR_ARTWORKS, lake)
    ]
    # The cluster read the same .properties files and the topic's schema from S3.
    client = boto3.client("s3", endpoint_url=s3)
    listed = client.list_objects_v2(Bucket="acme-lake", Prefix="prod/hudi/config/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "prod/hudi/config/base.properties",
        "prod/hudi/config/moma_artists.properties",
        "prod/hudi/config/moma_artworks.properties",
        "prod/hudi/config/schemas/moma.public.artworks-value.avsc",
    ]

    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["engine"] == "emr" and meta["step"] == "s-0000000000001"
    assert meta["uri"] == "s3://acme-lake/prod/hudi/moma_mor/artworks"
    assert meta["commit_action"] == "deltacommit"
    keys = {r["artwork_id"] for r in topic_records(lake, "moma.public.artworks")}
    assert meta["records_inserted"] == len(keys)
    read = support.snapshot(
        "s3://acme-lake/prod/hudi/moma_mor/artworks",
        storage_options={
            "aws_endpoint_url": s3,
            "aws_allow_http": "true",
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "aws_region": CREDENTIALS["AWS_REGION"],
        },
    )
    assert sorted(read.column("artwork_id").to_pylist()) == sorted(keys)


def test_a_failed_step_fails_the_asset_without_retries(s3, monkeypatch):
    lake = s3_lake(s3)
    result = materialize(lake, RecordingEmr(run_step=lambda step: False), monkeypatch, False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "Upsert moma_mor.artworks - Hudi MoR" in message and "s-0000000000001" in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
