import duckdb
import pytest
import redshift_connector

from lakehouse.warehouse import DuckDBWarehouse, RedshiftWarehouse, WarehouseError, row_count_sql
from tests.support.fake_redshift import FakeConnection


def test_row_count_sql_is_one_statement_of_quoted_identifiers():
    assert row_count_sql([("tickit_dbt", "fct_sales"), ("tickit_dbt", "dim_events")]) == (
        'select 0 as position, count(*) as row_count from "tickit_dbt"."fct_sales"\n'
        "union all\n"
        'select 1 as position, count(*) as row_count from "tickit_dbt"."dim_events"'
    )


@pytest.mark.parametrize("bad", ['x"; drop table y; --', "1abc", "a b", ""])
def test_identifiers_are_validated(bad):
    with pytest.raises(WarehouseError, match="is not a valid SQL identifier"):
        row_count_sql([("tickit_dbt", bad)])


def test_duckdb_row_counts(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        con.execute("create schema s; create table s.a as select * from range(7)")
        con.execute("create table s.b as select * from range(3)")
    counts = DuckDBWarehouse(path=path).row_counts([("s", "a"), ("s", "b")])
    assert counts == {("s", "a"): 7, ("s", "b"): 3}


def test_redshift_sends_the_count_statement(monkeypatch):
    log, kwargs = [], {}

    def connect(**kw):
        kwargs.update(kw)
        return FakeConnection(log)

    monkeypatch.setattr(redshift_connector, "connect", connect)
    wh = RedshiftWarehouse(host="h.example.invalid", user="dbt", password="pw")
    wh.query(row_count_sql([("tickit_dbt", "fct_sales")]))
    assert log == ['select 0 as position, count(*) as row_count from "tickit_dbt"."fct_sales"']
    assert kwargs == {"host": "h.example.invalid", "port": 5439, "database": "demo",
                      "user": "dbt", "password": "pw", "ssl": True}  # fmt: skip
