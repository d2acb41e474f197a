"""Query engines and the federated assets: Trino (the SQL and session it sends, on a loopback
stand-in), DuckDB against a real PostgreSQL, and DuckDB on the embedded replica."""

import base64
import io
import ssl
from collections import defaultdict

import boto3
import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from lakehouse.catalog.federated import QUERIES, run_federated
from lakehouse.catalog.glue import GlueCatalog
from lakehouse.catalog.local import LocalCatalog
from lakehouse.catalog.query_engines import (
    DuckDBEngine,
    QueryEngineError,
    TrinoEngine,
    to_dialect,
    trino_from_env,
)
from lakehouse.catalog.replica import source_replica
from lakehouse.cdc import source
from lakehouse.cdc.generator import ChangeScript, generate_rows
from lakehouse.cdc.resources import SimulatedMomaSource
from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS
from lakehouse.defs.catalog.assets import catalog_assets, federated_assets
from lakehouse.defs.cdc.assets import raw_cdc_capture
from lakehouse.defs.moma.assets import hudi_table_assets
from lakehouse.moma.resources import LocalHudiIngest
from lakehouse.resources import resources_for_env
from lakehouse.storage import LocalObjectStore, S3ObjectStore
from lakehouse.warehouse import local_warehouse
from tests.hudi import support
from tests.support.fake_trino import FakeTrino
from tests.support.mosquitto import CertificateAuthority
from tests.support.moto import CREDENTIALS, moto_server
from tests.support.postgres import postgres_server

# Written once, in Trino's dialect, as users write against the lake.
ARTWORKS_PER_NATIONALITY = """
SELECT a.nationality, count(*) AS artworks, approx_distinct(w.artist_id) AS artists
FROM artists AS a JOIN artworks AS w ON w.artist_id = a.artist_id
GROUP BY a.nationality
ORDER BY artworks DESC, a.nationality
"""
QUERY = {q.name: q for q in QUERIES}


def sample(con):
    con.execute("create table artists as select * from (values (1, 'Dutch'), (2, 'American'),"
                " (3, 'American')) t(artist_id, nationality)")  # fmt: skip
    con.execute("create table artworks as select * from (values (10, 1), (11, 1), (12, 2),"
                " (13, 3), (14, 3)) t(artwork_id, artist_id)")  # fmt: skip
    return con


def test_query_is_transpiled_for_duckdb():
    assert "APPROX_COUNT_DISTINCT(w.artist_id)" in to_dialect(ARTWORKS_PER_NATIONALITY, "duckdb")


def test_duckdb_engine(tmp_path):
    warehouse = local_warehouse(tmp_path)
    with warehouse.transaction() as session:
        sample(session.cursor)
    rows = DuckDBEngine(warehouse=warehouse).query(ARTWORKS_PER_NATIONALITY)
    assert rows == [("American", 3, 2), ("Dutch", 2, 1)]


# -- expected results, computed in Python from the inputs ---------------------------------


def expected_per_nationality(artists: list[dict], artworks: list[dict]) -> list[tuple]:
    nationality = {a["artist_id"]: a["nationality"] for a in artists}
    counts, people = defaultdict(int), defaultdict(set)
    for w in artworks:
        if w.get("__deleted") == "true" or w["artist_id"] not in nationality:
            continue
        n = nationality[w["artist_id"]]
        counts[n] += 1
        people[n].add(w["artist_id"])
    return sorted(((n, counts[n], len(people[n])) for n in counts), key=lambda r: (-r[1], r[0]))


def expected_source_vs_lake(artists: list[dict], lake_artists: list[dict]) -> list[tuple]:
    source, lake = defaultdict(int), defaultdict(int)
    for a in artists:
        source[a["nationality"] or ""] += 1
    for a in lake_artists:
        if a.get("__deleted") != "true":
            lake[a["nationality"] or ""] += 1
    return sorted((n, source.get(n, 0), lake.get(n, 0)) for n in set(source) | set(lake))


# -- Trino: the exact SQL and session -----------------------------------------------------


def trino_catalogs(artists: list[dict], artworks: list[dict]) -> duckdb.DuckDBPyConnection:
    """The coordinator's view: catalogs `postgresql` (the source) and `hudi` (the lake)."""
    con = duckdb.connect()
    con.execute("attach ':memory:' as postgresql")
    con.execute("create schema postgresql.public")
    con.execute("create table postgresql.public.artists (artist_id int, nationality varchar)")
    con.executemany("insert into postgresql.public.artists values (?, ?)",
                    [[a["artist_id"], a["nationality"]] for a in artists])  # fmt: skip
    con.execute("attach ':memory:' as hudi")
    con.execute("create schema hudi.moma_cow")
    con.execute('create table hudi.moma_cow.artworks (artwork_id int, artist_id int, '
                '"__deleted" varchar)')  # fmt: skip
    con.executemany(
        "insert into hudi.moma_cow.artworks values (?, ?, ?)",
        [[w["artwork_id"], w["artist_id"], w["__deleted"]] for w in artworks],
    )
    return con


ARTISTS_ROWS = [
    {"artist_id": 1, "nationality": "Dutch"},
    {"artist_id": 2, "nationality": "American"},
    {"artist_id": 3, "nationality": "American"},
    {"artist_id": 4, "nationality": ""},
]
ARTWORK_ROWS = [{"artwork_id": 10, "artist_id": 1, "__deleted": "false"},
                {"artwork_id": 11, "artist_id": 1, "__deleted": "false"},
                {"artwork_id": 12, "artist_id": 2, "__deleted": "true"},
                {"artwork_id": 13, "artist_id": 3, "__deleted": "false"},
                {"artwork_id": 14, "artist_id": 4, "__deleted": None},
                {"artwork_id": 15, "artist_id": 9, "__deleted": "false"}]  # fmt: skip


def headers_of(request: dict) -> dict:
    return {k.lower(): v for k, v in request["headers"].items()}


def test_trino_runs_the_federated_sql_as_written_with_its_session():
    query = QUERY["artworks_per_nationality"]
    with FakeTrino(trino_catalogs(ARTISTS_ROWS, ARTWORK_ROWS)) as fake:
        engine = TrinoEngine(host="127.0.0.1", port=fake.port, user="lakehouse",
                             catalog="hive", schema_name="moma_cow", http_scheme="http",
                             session_properties={"query_max_run_time": "10m"})  # fmt: skip
        rows, source_desc, sql = run_federated(query, engine, lake=None)
    assert rows == expected_per_nationality(ARTISTS_ROWS, ARTWORK_ROWS)
    assert source_desc == "Trino catalog postgresql" and sql == query.sql
    (request,) = fake.requests
    assert request["path"] == "/v1/statement"
    assert request["sql"] == query.sql  # Trino gets the SQL as written, untranspiled
    headers = headers_of(request)
    assert headers["x-trino-user"] == "lakehouse"
    assert headers["x-trino-catalog"] == "hive"
    assert headers["x-trino-schema"] == "moma_cow"
    assert headers["x-trino-source"] == "lakehouse"
    assert headers["x-trino-session"] == "query_max_run_time=10m"
    assert "authorization" not in headers


def test_trino_over_https_with_basic_auth(tmp_path):
    ca = CertificateAuthority(tmp_path, "test-ca")
    cert, key = ca.issue("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                         "extendedKeyUsage=serverAuth\n")  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    fake = FakeTrino(trino_catalogs(ARTISTS_ROWS, ARTWORK_ROWS))
    fake.server.socket = tls.wrap_socket(fake.server.socket, server_side=True)
    with fake:
        engine = TrinoEngine(host="localhost", port=fake.port, user="analyst",
                             password="s3cret-from-env", ca_bundle=str(ca.cert))  # fmt: skip
        rows = engine.query("SELECT count(*) FROM postgresql.public.artists")
    assert rows == [(len(ARTISTS_ROWS),)]
    headers = headers_of(fake.requests[0])
    assert (
        headers["authorization"] == "Basic " + base64.b64encode(b"analyst:s3cret-from-env").decode()
    )
    assert headers["x-trino-user"] == "analyst"


def test_trino_settings_come_from_the_environment(monkeypatch):
    for k in ("TRINO_HOST", "TRINO_PORT", "TRINO_PASSWORD", "TRINO_USER"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(QueryEngineError, match="no Trino coordinator configured: set TRINO_HOST"):
        trino_from_env().query("SELECT 1")
    monkeypatch.setenv("TRINO_PORT", "eighty")
    with pytest.raises(QueryEngineError, match="TRINO_PORT='eighty' is not a port number"):
        trino_from_env()
    monkeypatch.setenv("TRINO_HOST", "trino.internal")
    monkeypatch.setenv("TRINO_PORT", "8443")
    monkeypatch.setenv("TRINO_USER", "etl")
    monkeypatch.setenv("TRINO_PASSWORD", "pw")
    engine = trino_from_env()
    assert (engine.host, engine.port, engine.user, engine.http_scheme) == (
        "trino.internal", 8443, "etl", "https")  # fmt: skip
    # The password stays a reference to the environment (not shown in the UI's config).
    assert isinstance(engine.password, dg.EnvVar) and engine.password.get_value() == "pw"
    plain = TrinoEngine(host="127.0.0.1", port=1, user="u", password="p", http_scheme="http")
    with pytest.raises(QueryEngineError, match="TRINO_PASSWORD needs HTTPS"):
        plain.query("SELECT 1")


# -- DuckDB: the live PostgreSQL source, and the embedded replica -------------------------


def run_moma_graph(lake, catalog, engine, sim):
    assets = [raw_cdc_capture, *hudi_table_assets, *catalog_assets, *federated_assets]
    return dg.materialize(
        assets,
        resources={"lake": lake, "moma_source": sim, "hudi": LocalHudiIngest(),
                   "catalog": catalog, "query_engine": engine},
    )  # fmt: skip


def federated_rows(lake, name) -> list[tuple]:
    table = pq.read_table(io.BytesIO(lake.get_bytes(f"federated/{name}/{name}.parquet")))
    return [tuple(r.values()) for r in table.to_pylist()]


def lake_rows(lake, base_key) -> list[dict]:
    return support.snapshot(lake.uri(base_key)).to_pylist()


def test_federated_query_joins_live_postgresql_with_the_hudi_table(tmp_path):
    sim = SimulatedMomaSource(artists=60, artworks=150, seed=3, batch_size=20, batches_per_run=2)
    lake = LocalObjectStore(root=str(tmp_path / "lake"))
    with postgres_server() as pg:
        dsn = pg.create_database("moma")
        with psycopg.connect(dsn, autocommit=True) as conn:
            source.create_tables(conn)
            source.load_generated(conn, artists=60, artworks=150, seed=3)
            # The live source moves on after the capture: the join must see these values.
            conn.execute("UPDATE public.artists SET nationality = 'Martian' "
                         "WHERE artist_id % 7 = 0")  # fmt: skip
            live_artists = source.read_rows(conn, ARTISTS)
        catalog = LocalCatalog(warehouse=local_warehouse(tmp_path), lake_root=lake.root_uri)
        engine = DuckDBEngine(warehouse=catalog.warehouse, postgres_dsn=dsn)
        result = run_moma_graph(lake, catalog, engine, sim)
    artworks = lake_rows(lake, "hudi/moma_cow/artworks")
    assert any(a["nationality"] == "Martian" for a in live_artists)
    joined = federated_rows(lake, "artworks_per_nationality")
    assert joined == expected_per_nationality(live_artists, artworks)
    assert "Martian" in {r[0] for r in joined}  # read live, not from what was captured
    assert federated_rows(lake, "artists_source_vs_lake") == expected_source_vs_lake(
        live_artists, lake_rows(lake, "hudi/moma_cow/artists")
    )
    meta = materialization(result, "federated/artworks_per_nationality")
    assert meta["source"] == "PostgreSQL (DuckDB postgres extension)"
    assert meta["row_count"] == len(expected_per_nationality(live_artists, artworks))
    # The result is a table in the catalog too.
    with catalog.warehouse.read() as session:
        registered = session.cursor.execute(
            "select * from federated.artworks_per_nationality order by artworks desc, nationality"
        ).fetchall()
    assert registered == federated_rows(lake, "artworks_per_nationality")


def materialization(result, key: str) -> dict:
    for e in result.get_asset_materialization_events():
        if e.asset_key.to_user_string() == key:
            return {k: v.value for k, v in e.materialization.metadata.items()}
    raise AssertionError(f"{key} was not materialized")


def simulated_state(sim: SimulatedMomaSource, batches: int) -> dict[str, list[dict]]:
    """The source tables the simulator pretends to change, replayed independently."""
    script = ChangeScript(generate_rows(sim.artists, sim.artworks, sim.seed), sim.seed)
    for number in range(1, batches + 1):
        script.batch(number, sim.batch_size)
    return {name: list(rows.values()) for name, rows in script.state.items()}


def test_the_replica_is_the_simulated_source_after_the_captured_batches(tmp_path):
    sim = SimulatedMomaSource(artists=80, artworks=120, seed=11, batch_size=30, batches_per_run=3)
    lake = LocalObjectStore(root=str(tmp_path))
    sim.capture(lake)
    sim.capture(lake)
    state = simulated_state(sim, 6)
    for table in (ARTISTS, ARTWORKS):
        replica = source_replica(lake, table)
        key = table.key[0]
        got = sorted(replica.rows.to_pylist(), key=lambda r: r[key])
        assert got == sorted(state[table.qualified], key=lambda r: r[key]), table.qualified
        assert f"{replica.rows.num_rows} rows derived from" in replica.describe()


def test_the_whole_graph_materializes_on_a_fresh_clone(tmp_path, monkeypatch):
    """Local mode, no PostgreSQL: the federated assets join the embedded replica and say so."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("MOMA_SOURCE_DSN", raising=False)
    resources = resources_for_env("local")
    sim = resources["moma_source"]
    assert isinstance(sim, SimulatedMomaSource)
    result = run_moma_graph(resources["lake"], resources["catalog"], resources["query_engine"],
                            sim)  # fmt: skip
    assert result.success
    lake = resources["lake"]
    state = simulated_state(sim, sim.batches_per_run)
    artists = state[ARTISTS.qualified]
    artworks = lake_rows(lake, "hudi/moma_cow/artworks")
    assert federated_rows(lake, "artworks_per_nationality") == expected_per_nationality(
        artists, artworks
    )
    meta = materialization(result, "federated/artworks_per_nationality")
    assert meta["source"].startswith("embedded replica of public.artists")
    assert "MOMA_SOURCE_DSN is unset" in meta["source"]
    synced = materialization(result, "catalog/moma_mor/artworks")
    assert synced["tables"] == ["moma_mor.artworks_ro", "moma_mor.artworks_rt"]
    assert "CREATE EXTERNAL TABLE `moma_mor`.`artworks_rt`" in synced["ddl"]
    with local_warehouse(tmp_path).read() as session:
        assert session.cursor.execute("select count(*) from moma_mor.artworks_rt").fetchone()[
            0
        ] == len(support.snapshot(lake.uri("hudi/moma_mor/artworks")))


def test_the_aws_federated_asset_lands_its_result_in_s3_and_glue(monkeypatch):
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    query = QUERY["artworks_per_nationality"]
    asset = next(a for a in federated_assets if a.key.path[-1] == query.name)
    with moto_server() as endpoint, FakeTrino(trino_catalogs(ARTISTS_ROWS, ARTWORK_ROWS)) as fake:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="acme-lake")
        s3_resource = S3Resource(endpoint_url=endpoint, region_name="us-east-1")
        lake = S3ObjectStore(bucket="acme-lake", prefix="prod", s3=s3_resource)
        catalog = GlueCatalog(region_name="us-east-1", endpoint_url=endpoint,
                              lake_root=lake.root_uri)  # fmt: skip
        engine = TrinoEngine(host="127.0.0.1", port=fake.port, http_scheme="http")
        result = dg.materialize([asset], resources={"lake": lake, "catalog": catalog,
                                                    "query_engine": engine})  # fmt: skip
        assert federated_rows(lake, query.name) == expected_per_nationality(
            ARTISTS_ROWS, ARTWORK_ROWS
        )
        glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
        table = glue.get_table(DatabaseName="federated", Name=query.name)["Table"]
    assert table["StorageDescriptor"]["Location"] == (
        "s3://acme-lake/prod/federated/artworks_per_nationality/"
    )
    assert [c["Type"] for c in table["StorageDescriptor"]["Columns"]] == [
        "string", "bigint", "bigint"]  # fmt: skip
    assert materialization(result, f"federated/{query.name}")["source"] == (
        "Trino catalog postgresql"
    )
    assert [r["sql"] for r in fake.requests] == [query.sql]
