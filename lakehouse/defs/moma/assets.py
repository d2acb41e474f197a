"""The MoMA Hudi tables `moma_cow.*` and `moma_mor.*`, upserted from the raw CDC topics."""

import dagster as dg

from lakehouse.defs import OWNERS
from lakehouse.defs.cdc.assets import raw_cdc_key
from lakehouse.hudi import HudiError
from lakehouse.moma.commits import last_ingest
from lakehouse.moma.hudi_tables import HUDI_TABLES, ORDERING_FIELD, HudiTableDef
from lakehouse.moma.resources import HudiIngest
from lakehouse.run_policy import NETWORK_RETRY
from lakehouse.storage import ObjectStore

LAYOUT_DESCRIPTIONS = {
    "COPY_ON_WRITE": "Copy-on-Write: every commit rewrites the affected Parquet base files, so "
    "readers only ever read Parquet.",
    "MERGE_ON_READ": "Merge-on-Read: changes go to Avro log files beside the base files and are "
    "compacted inline every few delta commits; `_ro` readers see the base files, snapshot "
    "(`_rt`) readers the merged rows.",
}


def hudi_pool(table: HudiTableDef) -> str:
    """One concurrency pool per table: two writers never commit to one table at once (the
    instance gives every pool a single slot, see dagster.yaml)."""
    return f"hudi/{table.qualified}"


def build_hudi_asset(table: HudiTableDef) -> dg.AssetsDefinition:
    @dg.asset(
        key=table.asset_key,
        deps=[raw_cdc_key(table.topic)],
        description=f"Apache Hudi table {table.qualified}: {table.source.qualified} from the "
        f"`moma` database, upserted from the Debezium change events of {table.topic} (record "
        f"key {table.record_key}, partitioned by {table.source.partition}, latest "
        f"{ORDERING_FIELD} wins, deletes kept as rows with __deleted='true'). "
        + LAYOUT_DESCRIPTIONS[table.table_type],
        group_name=table.database,
        owners=OWNERS,
        kinds={"hudi", "s3"},
        pool=hudi_pool(table),
        retry_policy=NETWORK_RETRY,
        metadata={
            "table_type": table.table_type,
            "record_key": table.record_key,
            "partition_field": table.source.partition,
            "ordering_field": ORDERING_FIELD,
            "properties": f"infra/hudi/{table.props_file.name}",
        },
    )
    def _hudi_table(
        context: dg.AssetExecutionContext, hudi: HudiIngest, lake: ObjectStore
    ) -> dg.MaterializeResult:
        try:
            outcome = hudi.ingest(table, lake, context.log)
        except HudiError as e:
            # Bad settings or source files: retrying cannot help, and nothing was committed.
            raise dg.Failure(f"{table.qualified}: {e}", allow_retries=False) from None
        base_uri = lake.uri(table.base_key)
        metadata: dict = {
            "uri": dg.MetadataValue.path(base_uri),
            "engine": outcome.engine,
            **{k: str(v) for k, v in outcome.detail.items()},
        }
        if outcome.engine == "python":
            metadata["source_files"] = len(outcome.source_files)
        if outcome.committed is False:
            context.log.info(f"no new objects under {table.topic} since the last commit")
        commit = last_ingest(base_uri)
        if commit is not None:
            metadata.update(
                {
                    "commit_instant": commit.instant,
                    "commit_action": commit.action,
                    "new_commit": outcome.committed is not False,
                    "records_inserted": commit.inserted,
                    "records_updated": commit.updated,
                    "records_deleted": commit.deleted,
                    "records_written": commit.records_written,
                    "files_written": commit.files,
                    "bytes_written": commit.bytes,
                    "partitions_written": len(commit.partitions),
                    "source_checkpoint": commit.checkpoint,
                }
            )
        return dg.MaterializeResult(metadata=metadata)

    return _hudi_table


hudi_table_assets = [build_hudi_asset(t) for t in HUDI_TABLES]
