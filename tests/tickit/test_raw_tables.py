"""The raw TICKIT tables are read from the dbt sources, so what dbt stages as external tables is
what the generator writes, the validation checks and the catalog registers."""

import pytest
import yaml

from lakehouse.tickit.raw_tables import (
    SOURCES_YML,
    TABLES,
    TickitSourcesError,
    header,
    load_tables,
    table_spec,
)


def test_the_seven_tables_in_file_order():
    assert list(TABLES) == ["category", "date", "event", "listing", "sale", "user", "venue"]
    assert header("sale") == (
        "saleid|listid|sellerid|buyerid|eventid|dateid|qtysold|pricepaid|commission|saletime"
    )
    assert ("pricepaid", "decimal(8,2)") in TABLES["sale"]
    spec = table_spec("venue", "s3://bucket/lake/")
    assert spec.location == "s3://bucket/lake/raw_tickit_data/venue/"
    assert [c.name for c in spec.columns] == [name for name, _ in TABLES["venue"]]


def _sources() -> dict:
    return yaml.safe_load(SOURCES_YML.read_text())


def _write(tmp_path, sources: dict):
    path = tmp_path / "_tickit__sources.yml"
    path.write_text(yaml.safe_dump(sources, sort_keys=False))
    return path


def test_a_column_declared_for_dbt_is_a_column_of_the_raw_file(tmp_path):
    sources = _sources()
    (venue,) = [t for t in sources["sources"][0]["tables"] if t["name"] == "venue"]
    venue["columns"].insert(1, {"name": "venuecountry", "data_type": "char(2)"})
    tables = load_tables(_write(tmp_path, sources))
    assert tables["venue"][:2] == [("venueid", "int"), ("venuecountry", "char(2)")]
    assert {t: c for t, c in tables.items() if t != "venue"} == {
        t: c for t, c in TABLES.items() if t != "venue"
    }


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda s: s["sources"][0].update(name="other"), "expected one dbt source named"),
        (
            lambda s: s["sources"][0]["tables"][2]["columns"][1].pop("data_type"),
            "table event: every column needs a name and a data_type",
        ),
        (
            lambda s: s["sources"][0]["tables"][3]["external"].update(location="s3://b/listings/"),
            "table listing: external.location must end with /raw_tickit_data/listing/",
        ),
        (lambda s: s["sources"][0].update(tables=[]), "declares no tables"),
    ],
)
def test_a_sources_file_it_cannot_read_is_named_in_one_line(tmp_path, break_it, message):
    sources = _sources()
    break_it(sources)
    path = _write(tmp_path, sources)
    with pytest.raises(TickitSourcesError, match=message) as error:
        load_tables(path)
    assert str(error.value).startswith(f"{path}: ")
    assert "\n" not in str(error.value)
