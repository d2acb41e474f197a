"""The federated assets in `aws` mode (S3 and Glue on moto_server, the real Trino, the `moma`
database in a real PostgreSQL) give exactly what the same graph gives locally on DuckDB with the
same PostgreSQL; and the Trino engine's errors say what is wrong."""

from __future__ import annotations

import psycopg
import pytest
from dagster_aws.s3 import S3Resource

from lakehouse.catalog.federated import QUERIES
from lakehouse.catalog.hudi_sync import REALTIME, HudiState
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import DuckDBEngine, QueryEngineError, to_dialect
from lakehouse.cdc import source
from lakehouse.cdc.resources import SimulatedMomaSource
from lakehouse.moma.hudi_tables import HUDI_TABLES
from lakehouse.storage import LocalObjectStore, S3ObjectStore
from lakehouse.warehouse import local_warehouse
from tests.catalog.test_query_engines import federated_rows, materialization, run_moma_graph
from tests.support.mosquitto import CertificateAuthority
from tests.trino.conftest import BUCKET, REGION
from tests.trino.test_tables import hudi_rs_rows, sorted_rows, trino_rows


def simulator() -> SimulatedMomaSource:
    return SimulatedMomaSource(artists=60, artworks=150, seed=3, batch_size=20, batches_per_run=2)


@pytest.fixture(scope="module")
def moma_source(stack):
    """The live source: generated rows, then changes the lake has not captured."""
    with psycopg.connect(stack.moma_dsn, autocommit=True) as conn:
        source.create_tables(conn)
        source.load_generated(conn, artists=60, artworks=150, seed=3)
        conn.execute("UPDATE public.artists SET nationality = 'Martian' WHERE artist_id % 7 = 0")
    return stack.moma_dsn


def test_the_federated_assets_give_the_same_rows_on_trino_and_duckdb(stack, moma_source, tmp_path):
    s3 = S3Resource(endpoint_url=stack.endpoint, region_name=REGION)
    lake = S3ObjectStore(bucket=BUCKET, prefix="federated-aws", s3=s3)
    # Trino on EMR reads what HoodieDeltaStreamer wrote; here the project's writer writes it.
    result = run_moma_graph(lake, stack.glue(lake_root=lake.root_uri), stack.trino.engine(),
                            simulator())  # fmt: skip
    assert result.success
    local_lake = LocalObjectStore(root=str(tmp_path / "lake"))
    catalog = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=local_lake.root_uri)
    engine = DuckDBEngine(warehouse=catalog.warehouse, postgres_dsn=moma_source)
    assert run_moma_graph(local_lake, catalog, engine, simulator()).success
    for query in QUERIES:
        on_trino = federated_rows(lake, query.name)
        assert on_trino, query.name
        assert on_trino == federated_rows(local_lake, query.name), query.name
        meta = materialization(result, f"federated/{query.name}")
        assert meta["source"] == "Trino catalog postgresql"
        assert meta["engine"] == "TrinoEngine"
    nationalities = {row[0] for row in federated_rows(lake, "artworks_per_nationality")}
    assert "Martian" in nationalities  # the live source, not what the lake captured
    # Every Hudi table the catalog assets registered reads through Trino as hudi-rs reads it.
    for table in HUDI_TABLES:
        uri = lake.uri(table.base_key)
        state = HudiState(uri, stack.filesystem)
        for entry in state.catalog_tables(table.database, table.name):
            if entry.query == REALTIME:
                continue  # tests/trino/test_tables.py: base files only
            spec = entry.spec
            keys = len(spec.partition_keys)

            def default_partition(rows, keys=keys):
                # NULL and '' both land in __HIVE_DEFAULT_PARTITION__: hudi-rs returns the
                # value in the file, Trino's Hudi connector the text '\\N'.
                return [r[:-keys] + tuple(None if v in ("", "\\N") else v for v in r[-keys:])
                        for r in rows]  # fmt: skip

            want = default_partition(hudi_rs_rows(uri, entry.query, spec, stack.storage_options))
            got = default_partition(trino_rows(stack, "hudi", spec))
            assert sorted_rows(got) == sorted_rows(want), spec.qualified_name


def test_the_sql_reads_hudi_tables_through_the_hudi_catalog(stack):
    """Trino's hive catalog refuses Hudi tables; the one SQL names `hudi`, DuckDB maps it."""
    for query in QUERIES:
        assert "hudi.moma_cow." in query.sql and "hive.moma_cow." not in query.sql
        assert "hive.moma_cow." in to_dialect(query.sql, "duckdb")


def test_a_missing_catalog_is_named(stack):
    with pytest.raises(QueryEngineError, match=r"rejected the query: .*'nosuch'") as error:
        stack.trino.engine().query("SELECT * FROM nosuch.public.artists")
    assert f"127.0.0.1:{stack.trino.http_port}" in str(error.value)


def test_https_with_a_password_reads_the_source_catalog(stack, moma_source):
    sql = "SELECT nationality, count(*) FROM postgresql.public.artists GROUP BY 1 ORDER BY 1"
    over_https = stack.trino.https_engine().query(sql)
    assert over_https and over_https == stack.trino.engine().query(sql)


def test_a_bad_password_is_refused_with_the_variables_to_check(stack):
    with pytest.raises(QueryEngineError, match=r"refused the credentials of user 'lakehouse' "
                       r"\(HTTP 401\): check TRINO_USER and TRINO_PASSWORD"):  # fmt: skip
        stack.trino.https_engine(password="wrong-password").query("SELECT 1")


def test_an_untrusted_certificate_is_a_tls_error(stack, tmp_path):
    other = CertificateAuthority(tmp_path, "other-ca")
    with pytest.raises(QueryEngineError, match=r"TLS with Trino at https://127.0.0.1:\d+ failed"
                       r".*TRINO_CA_BUNDLE.*CERTIFICATE_VERIFY_FAILED"):  # fmt: skip
        stack.trino.https_engine(ca_bundle=str(other.cert)).query("SELECT 1")


def test_https_to_the_plain_http_port_is_a_tls_error(stack):
    with pytest.raises(QueryEngineError, match=r"TLS with Trino .* failed.*TRINO_PORT"):
        stack.trino.https_engine(port=stack.trino.http_port).query("SELECT 1")
