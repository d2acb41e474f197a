import pytest

from lakehouse.storage import LocalObjectStore
from lakehouse.tickit.generator import generate, write
from lakehouse.tickit.raw_tables import raw_key
from lakehouse.tickit.validate import RawFileError, validate_raw_file


@pytest.fixture
def store(tmp_path):
    store = LocalObjectStore(root=str(tmp_path))
    write(store, generate(0.001, 1))
    return store


def rewrite_line(store, table, n, fn):
    path = store.path(raw_key(table))
    lines = path.read_text().split("\n")
    lines[n - 1] = fn(lines[n - 1])
    path.write_text("\n".join(lines))
    return path


def test_counts_rows_of_a_good_file(store):
    assert validate_raw_file(store, "event") == generate(0.001, 1)["event"].rows


def test_wrong_header_is_named(store):
    path = rewrite_line(store, "venue", 1, lambda line: line.replace("venueseats", "seats"))
    with pytest.raises(RawFileError, match=rf"^{path}, line 1: header is 'venueid\|.*\|seats'"):
        validate_raw_file(store, "venue")


def test_bad_value_is_named_with_line_and_column(store):
    path = rewrite_line(store, "event", 3, lambda line: line.replace("|", "|x", 1))
    with pytest.raises(RawFileError) as e:
        validate_raw_file(store, "event")
    assert str(e.value).startswith(f"{path}: ")
    assert "CSV Error on Line: 3" in str(e.value)
    assert 'Error when converting column "venueid"' in str(e.value)


def test_extra_column_is_named(store):
    path = rewrite_line(store, "category", 12, lambda line: line + "|surplus")
    with pytest.raises(RawFileError, match=rf"^{path}: CSV Error on Line: 12"):
        validate_raw_file(store, "category")
