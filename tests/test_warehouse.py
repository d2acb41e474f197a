import sqlite3

import pytest
import redshift_connector

from lakehouse.warehouse import (
    DuckDBWarehouse,
    RedshiftWarehouse,
    WarehouseError,
    local_warehouse,
    row_count_sql,
    sql_main,
)
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


@pytest.mark.parametrize("kind", ["ducklake", "duckdb"])
def test_row_counts_after_a_transaction(tmp_path, kind):
    wh = (
        local_warehouse(tmp_path)
        if kind == "ducklake"
        else DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    )
    with wh.transaction() as session:
        session.execute("create schema s")
        session.execute("create table s.a as select * from range(7)")
        session.execute("create table s.b as select * from range(3)")
    assert wh.row_counts([("s", "a"), ("s", "b")]) == {("s", "a"): 7, ("s", "b"): 3}


def test_a_failed_transaction_leaves_nothing(tmp_path):
    wh = local_warehouse(tmp_path)
    with wh.transaction() as session:
        session.execute("create table t as select 1 as x")
    with pytest.raises(RuntimeError, match="load broke"), wh.transaction() as session:
        session.execute("insert into t values (2)")
        raise RuntimeError("load broke")
    assert wh.query("select x from t") == [(1,)]


def test_ducklake_keeps_its_data_as_parquet_under_the_lake(tmp_path):
    wh = local_warehouse(tmp_path)
    with wh.transaction() as session:
        session.execute("create table t as select * from range(1000)")
    assert list((tmp_path / "lake" / "warehouse").rglob("*.parquet"))
    with sqlite3.connect(tmp_path / "warehouse.sqlite") as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


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


def test_lakehouse_sql_answers_as_the_readme_shows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    with local_warehouse(tmp_path).transaction() as session:
        session.execute("create schema tickit_dbt")
        session.execute("create table tickit_dbt.fct_sales as select 7 as qtysold")
    assert sql_main(["from tickit_dbt.fct_sales limit 5"]) == 0
    assert "qtysold" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        sql_main(["from tickit_dbt.nope"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("lakehouse-sql: Catalog Error: Table with name nope")
