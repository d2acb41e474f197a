import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.catalog.duckdb_views import read_sql
from lakehouse.storage import LocalObjectStore
from lakehouse.tickit.generator import GeneratorError, generate, main, write
from lakehouse.tickit.raw_tables import TABLES, header, raw_key, table_spec

SCALE_1_ROWS = {
    "category": 11, "date": 365, "venue": 202, "event": 8_798,
    "user": 49_990, "listing": 192_497, "sale": 172_456,
}  # fmt: skip


def load(tmp_path, scale, seed=42):
    store = LocalObjectStore(root=str(tmp_path / "lake"))
    write(store, generate(scale, seed))
    con = duckdb.connect()
    for t in TABLES:
        source = read_sql(table_spec(t, store.root_uri), repr(str(store.path(raw_key(t)))))
        con.execute(f'create view "{t}" as select * from {source}')
    return con


def test_scale_1_has_the_classic_tickit_sizes_and_layout():
    tables = generate(1.0, 42)
    assert {t: g.rows for t, g in tables.items()} == SCALE_1_ROWS
    for name, g in tables.items():
        lines = g.data.decode().split("\n")
        assert lines[0] == header(name)
        assert lines[-1] == ""  # every line ends in \n, including the last
        assert len(lines) - 2 == SCALE_1_ROWS[name]
        pipes = {line.count("|") for line in lines[1:-1]}
        assert pipes == {len(TABLES[name]) - 1}
        assert not any(c in g.data for c in (b'"', b"\\", b"\r"))


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, b, c = generate(0.02, 7), generate(0.02, 7), generate(0.02, 8)
    assert all(a[t].data == b[t].data for t in TABLES)
    assert a["sale"].data != c["sale"].data
    assert a["category"].data == c["category"].data  # fixed table


ORPHANS = {
    ("event", "venueid", "venue", "venueid"), ("event", "catid", "category", "catid"),
    ("event", "dateid", "date", "dateid"), ("listing", "sellerid", "user", "userid"),
    ("listing", "eventid", "event", "eventid"), ("listing", "dateid", "date", "dateid"),
    ("sale", "listid", "listing", "listid"), ("sale", "sellerid", "user", "userid"),
    ("sale", "buyerid", "user", "userid"), ("sale", "eventid", "event", "eventid"),
    ("sale", "dateid", "date", "dateid"),
}  # fmt: skip

INVARIANTS = {
    "primary keys unique": """
        select (select count(*) - count(distinct catid) from category)
             + (select count(*) - count(distinct dateid) from "date")
             + (select count(*) - count(distinct eventid) from event)
             + (select count(*) - count(distinct listid) from listing)
             + (select count(*) - count(distinct saleid) from sale)
             + (select count(*) - count(distinct userid) from "user")
             + (select count(*) - count(distinct username) from "user")
             + (select count(*) - count(distinct venueid) from venue)""",
    "calendar": """select count(*) from "date" where dateid <> 1827 + (caldate - date '2008-01-01')
        or day <> extract(day from caldate) or month <> extract(month from caldate)
        or qtr <> (month + 2) // 3 or week <> cast(strftime(caldate, '%U') as int) + 1
        or year <> 2008""",
    "listing totals": "select count(*) from listing where totalprice <> numtickets * priceperticket"
    " or priceperticket < 1 or priceperticket <> round(priceperticket)"
    " or numtickets not between 1 and 30",
    "listing date": 'select count(*) from listing l join "date" d using (dateid)'
    " where cast(l.listtime as date) <> d.caldate",
    "sale matches listing": """select count(*) from sale s join listing l using (listid)
        where s.sellerid <> l.sellerid or s.eventid <> l.eventid
           or s.pricepaid <> s.qtysold * l.priceperticket or s.saletime < l.listtime""",
    "sale amounts": "select count(*) from sale where qtysold not between 1 and 8"
    " or commission <> pricepaid * 0.15 or buyerid = sellerid",
    "sale date": 'select count(*) from sale s join "date" d using (dateid)'
    " where cast(s.saletime as date) <> d.caldate",
    "sale before event": "select count(*) from sale s join event e using (eventid)"
    " where s.saletime > e.starttime",
    "tickets sold within listing": """select count(*) from (select listid, sum(qtysold) q
        from sale group by listid) s join listing l using (listid) where s.q > l.numtickets""",
    "usernames": 'select count(*) from "user" where not regexp_full_match(username,'
    " '[A-Z]{3}[0-9]{2}[A-Z]{3}') or not regexp_full_match(phone, '\\(\\d{3}\\) \\d{3}-\\d{4}')",
}


def check_invariants(con):
    for child, col, parent, key in ORPHANS:
        sql = f'select count(*) from "{child}" c anti join "{parent}" p on c.{col} = p.{key}'
        assert con.sql(sql).fetchone()[0] == 0, (child, col)
    for name, sql in INVARIANTS.items():
        assert con.sql(sql).fetchone()[0] == 0, name


def test_referential_integrity_and_invariants(tmp_path):
    con = load(tmp_path, 0.05)
    check_invariants(con)
    assert con.sql('select count(*) from "date" where holiday').fetchone()[0] == 10
    assert con.sql('select max(caldate) from "date"').fetchone()[0].isoformat() == "2008-12-30"
    # Some users never buy (dim_non_buyers is not empty) and some sellers never sell.
    non_buyers = 'select count(*) from "user" u anti join sale s on s.buyerid = u.userid'
    assert con.sql(non_buyers).fetchone()[0] > 0
    silent = "select count(*) from listing l anti join sale s on s.sellerid = l.sellerid"
    assert con.sql(silent).fetchone()[0] > 0


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.0005, 0.01))
def test_invariants_hold_for_any_seed_and_scale(tmp_path_factory, seed, scale):
    check_invariants(load(tmp_path_factory.mktemp("gen"), scale, seed))


def test_rejects_bad_scale():
    for bad in (0, -1, float("nan")):
        with pytest.raises(GeneratorError, match="--scale must be a positive number"):
            generate(bad)
    with pytest.raises(GeneratorError, match="too small"):
        generate(1e-6)


def test_cli_writes_every_table(tmp_path, capsys):
    assert main(["--scale", "0.001", "--seed", "3", "--target", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for t in TABLES:
        assert (tmp_path / raw_key(t)).is_file()
        assert f"{tmp_path / raw_key(t)}\t" in out


def test_cli_reports_bad_input(tmp_path, capsys):
    assert main(["--scale", "-2", "--target", str(tmp_path)]) == 2
    assert (
        "lakehouse-tickit-gen: --scale must be a positive number, got -2.0"
        in capsys.readouterr().err
    )
