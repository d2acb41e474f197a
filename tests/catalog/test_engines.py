import duckdb
import pytest

from lakehouse.catalog.engines import DuckDBEngine, TrinoEngine, to_dialect
from tests.support.fake_trino import FakeTrino

# Written once, in Trino's dialect, as users write against the lake.
ARTWORKS_PER_NATIONALITY = """
SELECT a.nationality, count(*) AS artworks, approx_distinct(w.artist_id) AS artists
FROM artists AS a JOIN artworks AS w ON w.artist_id = a.artist_id
GROUP BY a.nationality
ORDER BY artworks DESC, a.nationality
"""


def sample(con):
    con.execute("create table artists as select * from (values (1, 'Dutch'), (2, 'American'),"
                " (3, 'American')) t(artist_id, nationality)")  # fmt: skip
    con.execute("create table artworks as select * from (values (10, 1), (11, 1), (12, 2),"
                " (13, 3), (14, 3)) t(artwork_id, artist_id)")  # fmt: skip
    return con


def test_query_is_transpiled_for_duckdb():
    assert "APPROX_COUNT_DISTINCT(w.artist_id)" in to_dialect(ARTWORKS_PER_NATIONALITY, "duckdb")


def test_duckdb_engine(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        sample(con)
    rows = DuckDBEngine(path=path).query(ARTWORKS_PER_NATIONALITY)
    assert rows == [("American", 3, 2), ("Dutch", 2, 1)]


def test_trino_engine_sends_the_sql_and_session_it_says():
    with FakeTrino(sample(duckdb.connect())) as fake:
        engine = TrinoEngine(host="127.0.0.1", port=fake.port, user="lakehouse",
                             catalog="hive", schema_name="moma_cow", http_scheme="http",
                             session_properties={"query_max_run_time": "10m"})  # fmt: skip
        rows = engine.query(ARTWORKS_PER_NATIONALITY)
    assert rows == [("American", 3, 2), ("Dutch", 2, 1)]
    (request,) = fake.requests
    assert request["path"] == "/v1/statement"
    assert request["sql"] == ARTWORKS_PER_NATIONALITY
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-trino-user"] == "lakehouse"
    assert headers["x-trino-catalog"] == "hive"
    assert headers["x-trino-schema"] == "moma_cow"
    assert headers["x-trino-source"] == "lakehouse"
    assert headers["x-trino-session"] == "query_max_run_time=10m"
    assert "authorization" not in headers


def test_trino_password_requires_https():
    engine = TrinoEngine(host="127.0.0.1", port=1, user="u", password="p", http_scheme="http")
    with pytest.raises(ValueError, match="TRINO_PASSWORD needs HTTPS"):
        engine.query("SELECT 1")
