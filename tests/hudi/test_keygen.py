"""Key generators: record keys and partition paths as Hudi 0.14/0.15 on Spark makes them.

Checked three ways: against tables Spark wrote (hudi-rs's ComplexKeyGenerator and
TimestampBasedKeyGenerator test tables), against a row-by-row model of Hudi's KeyGenUtils
(property tests), and against values Java prints (Double.toString, BigDecimal.toString, Joda).
"""

from __future__ import annotations

import datetime as dt
import decimal
import zipfile
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.hudi import HudiTable
from lakehouse.hudi.config import HudiConfig, HudiConfigError, HudiSchemaError, TableConfig
from lakehouse.hudi.keygen import KeyGenerator, java_decimal, java_double
from lakehouse.hudi.schema import META_FIELDS
from tests.hudi import support

SPARK_TABLES = [
    "sample_table_cow_v6_complexkeygen_hivestyle",
    "sample_table_mor_parquet_v6_complexkeygen_hivestyle",
    "sample_table_cow_v6_timebasedkeygen_nonhivestyle",
]
DEFAULT = "__HIVE_DEFAULT_PARTITION__"
TB = "hoodie.keygen.timebased."


def _extract(fixtures_dir: Path, name: str, target: Path) -> str:
    with zipfile.ZipFile(fixtures_dir / "hudi" / f"{name}.zip") as z:
        members = [m for m in z.namelist() if not m.startswith("__MACOSX") and ".DS_Store" not in m]
        z.extractall(target, members)
    (table_dir,) = {m.split("/")[0] for m in members}
    return str(target / table_dir)


def _open(base: str) -> HudiTable:
    # Spark SQL keeps timestamp.type out of hoodie.properties; the v6_timebasedkeygen table
    # was made with DATE_STRING (its .sql in hudi-rs).
    if "timebased" in base:
        return HudiTable.open(base, keygen_props={TB + "timestamp.type": "DATE_STRING"})
    return HudiTable.open(base)


def _data(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in META_FIELDS if c in table.column_names])


@pytest.mark.parametrize("name", SPARK_TABLES)
def test_keys_and_paths_match_what_spark_wrote(fixtures_dir, tmp_path, name):
    base = _extract(fixtures_dir, name, tmp_path)
    table = _open(base)
    rows = support.snapshot(base)
    gen = KeyGenerator(table.config, DEFAULT)
    data = _data(rows).cast(table.schema)
    assert gen.record_keys(data).to_pylist() == rows.column("_hoodie_record_key").to_pylist()
    assert (
        gen.partition_paths(data).to_pylist() == rows.column("_hoodie_partition_path").to_pylist()
    )


@pytest.mark.parametrize("name", SPARK_TABLES)
def test_upsert_and_move_in_spark_written_table(fixtures_dir, tmp_path, name):
    """The reported crash: one updated row into a ComplexKeyGenerator table (key id,name;
    partitions byteField,shortField); then a partition move. hudi-rs reads the result."""
    base = _extract(fixtures_dir, name, tmp_path)
    table = _open(base)
    before = support.snapshot(base)
    data = _data(before).sort_by("id")
    first = data.slice(0, 1)
    first = first.set_column(
        first.schema.get_field_index("longField"), "longField", pc.add(first.column("longField"), 1)
    )
    first = first.set_column(
        first.schema.get_field_index("isActive"),
        "isActive",
        pa.array([not first.column("isActive")[0].as_py()]),
    )
    result = table.upsert(first)
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 0)
    after = support.snapshot(base)
    assert after.num_rows == before.num_rows
    row = next(r for r in after.to_pylist() if r["id"] == first.column("id")[0].as_py())
    assert row["isActive"] == first.column("isActive")[0].as_py()
    # a move: Bob to another partition value (byteField for complex, the date for timebased)
    bob = data.filter(pc.equal(data.column("name"), "Bob"))
    field = "byteField" if "complex" in name else "ts_str"
    value = pa.array([30] if "complex" in name else ["2023-04-04T13:01:00.123Z"])
    moved = bob.set_column(
        bob.schema.get_field_index(field), field, value.cast(bob.schema.field(field).type)
    )
    moved = moved.set_column(
        moved.schema.get_field_index("longField"), "longField", pc.add(moved.column("longField"), 1)
    )
    result = table.upsert(moved)
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 0)
    after = support.snapshot(base)
    assert after.num_rows == before.num_rows
    paths = {r["name"]: r["_hoodie_partition_path"] for r in after.to_pylist()}
    assert paths["Bob"] == ("byteField=30/shortField=100" if "complex" in name else "2023/04/04/13")
    keys = after.column("_hoodie_record_key").to_pylist()
    assert len(keys) == len(set(keys))


def test_complex_table_round_trip_through_hudi_rs(tmp_path):
    """A table of our own: complex key of three fields (one a date, one nullable), three
    partition levels, url-encoded, hive style off."""
    cfg = TableConfig(
        "t",
        record_key_fields="id,name,day",
        precombine_field="ts",
        partition_fields="region,city,day",
        hive_style_partitioning=False,
        urlencode_partition=True,
        keygenerator_class=None,
    )
    table = HudiTable.create(str(tmp_path / "t"), HudiConfig(cfg))
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a,b", None, ""],
            "day": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 3), None]),
            "region": ["eu:west", "us", None],
            "city": ["Zürich", "New York", "x=y"],
            "ts": [1, 1, 1],
        }
    )
    table.upsert(data)
    rows = support.snapshot(str(tmp_path / "t")).sort_by("id")
    assert rows.column("_hoodie_record_key").to_pylist() == [
        "id:1,name:a,b,day:2024-01-02",
        "id:2,name:__null__,day:2024-01-03",
        "id:3,name:__empty__,day:__null__",
    ]
    assert rows.column("_hoodie_partition_path").to_pylist() == [
        "eu%3Awest/Zürich/2024-01-02",
        "us/New York/2024-01-03",
        f"{DEFAULT}/x%3Dy/{DEFAULT}",
    ]


# -- a row-by-row model of KeyGenUtils (Hudi 0.14) ------------------------------------------

ESCAPE = set("\"#%'*/:=?\\\x7f{[]^") | {chr(c) for c in range(1, 32)}


def model_key(row: dict, fields: list[str]) -> str:
    parts, all_blank = [], True
    for f in fields:
        v = row[f]
        text = None if v is None else str(v)
        if text is None:
            parts.append(f"{f}:__null__")
        elif text == "":
            parts.append(f"{f}:__empty__")
        else:
            parts.append(f"{f}:{text}")
            all_blank = False
    if all_blank:
        raise ValueError("all blank")
    return ",".join(parts)


def model_path(row: dict, fields: list[str], hive: bool, encode: bool) -> str:
    out = []
    for f in fields:
        v = row[f]
        text = None if v is None else str(v)
        if not text:
            text = DEFAULT
        elif encode:
            text = "".join(f"%{ord(c):02X}" if c in ESCAPE else c for c in text)
        out.append(f"{f}={text}" if hive else text)
    return "/".join(out)


key_text = st.one_of(st.none(), st.text(max_size=8))
path_text = st.one_of(st.none(), st.text(max_size=8).filter(lambda s: s not in (".", "..")))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            key_text,
            st.one_of(st.none(), st.integers(-(2**40), 2**40)),
            path_text,
            st.one_of(st.none(), st.integers(-5, 5)),
        ),
        min_size=1,
        max_size=20,
    ),
    hive=st.booleans(),
)
def test_complex_encoding_matches_model(rows, hive):
    records = [{"k1": a, "k2": b, "p1": c, "p2": d} for a, b, c, d in rows]
    table = pa.Table.from_pylist(
        records,
        schema=pa.schema(
            [("k1", pa.string()), ("k2", pa.int64()), ("p1", pa.string()), ("p2", pa.int32())]
        ),
    )
    cfg = TableConfig(
        "t",
        record_key_fields="k1,k2",
        partition_fields="p1,p2",
        hive_style_partitioning=hive,
        urlencode_partition=True,
    )
    gen = KeyGenerator(cfg, DEFAULT)
    try:
        expected_keys = [model_key(r, ["k1", "k2"]) for r in records]
    except ValueError:
        with pytest.raises(HudiSchemaError, match="all null or empty"):
            gen.record_keys(table)
    else:
        assert gen.record_keys(table).to_pylist() == expected_keys
    expected = [model_path(r, ["p1", "p2"], hive, True) for r in records]
    assert gen.partition_paths(table).to_pylist() == expected


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_urlencode_matches_hive_escaping(value):
    """Every escaped character is `%XX` of its code, as Hive/Hudi escape path names; others
    pass through (so decoding gives the value back)."""
    cfg = TableConfig("t", record_key_fields="k", partition_fields="p", urlencode_partition=True)
    table = pa.table({"k": ["1"], "p": [value]})
    (path,) = KeyGenerator(cfg, DEFAULT).partition_paths(table).to_pylist()
    assert path == model_path({"p": value}, ["p"], True, True)
    from urllib.parse import unquote

    assert unquote(path.split("=", 1)[1]) == value or "%" in value
    assert "/" not in path


def test_simple_keys_refuse_null_and_take_one_field():
    cfg = TableConfig("t", record_key_fields="id", partition_fields="p")
    gen = KeyGenerator(cfg, DEFAULT)
    with pytest.raises(HudiSchemaError, match="record key field 'id' is null or empty in 1 rows"):
        gen.record_keys(pa.table({"id": ["a", ""], "p": ["x", "y"]}))
    with pytest.raises(HudiConfigError, match="takes one record key field"):
        TableConfig(
            "t",
            record_key_fields="a,b",
            partition_fields="p",
            keygenerator_class="org.apache.hudi.keygen.SimpleKeyGenerator",
        )
    # an explicit ComplexKeyGenerator prefixes even a single field, as Hudi 0.14 does
    one = TableConfig(
        "t",
        record_key_fields="id",
        partition_fields="p",
        keygenerator_class="org.apache.hudi.keygen.ComplexKeyGenerator",
    )
    assert KeyGenerator(one, DEFAULT).record_keys(
        pa.table({"id": [7], "p": ["x"]})
    ).to_pylist() == ["id:7"]
    # NonpartitionedKeyGenerator: one field plain, several as field:value
    for fields, want in (("id", "7"), ("id,p", "id:7,p:x")):
        cfg = TableConfig(
            "t",
            record_key_fields=fields,
            keygenerator_class="org.apache.hudi.keygen.NonpartitionedKeyGenerator",
        )
        gen = KeyGenerator(cfg, DEFAULT)
        table = pa.table({"id": [7], "p": ["x"]})
        assert gen.record_keys(table).to_pylist() == [want]
        assert gen.partition_paths(table).to_pylist() == [""]


# -- Java's toString ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "single", "java"),
    [
        (1.0, False, "1.0"),
        (100.0, False, "100.0"),
        (1e7, False, "1.0E7"),
        (9999999.0, False, "9999999.0"),
        (0.001, False, "0.001"),
        (1e-4, False, "1.0E-4"),
        (123456.789, False, "123456.789"),
        (-0.0, False, "-0.0"),
        (3.14159, False, "3.14159"),
        (1.2345e-10, False, "1.2345E-10"),
        (-2.5e300, False, "-2.5E300"),
        (0.1, True, "0.1"),
        (1.1, True, "1.1"),
        (3.4028235e38, True, "3.4028235E38"),
        (16777216.0, True, "1.6777216E7"),
        (float("nan"), False, "NaN"),
        (float("-inf"), True, "-Infinity"),
    ],
)
def test_java_double_to_string(value, single, java):
    assert java_double(value, single) == java


@pytest.mark.parametrize(
    ("text", "scale", "java"),
    [
        ("12345.67890", 5, "12345.67890"),
        ("0.0000001", 7, "1E-7"),
        ("0", 7, "0E-7"),
        ("0.000001", 6, "0.000001"),
        ("-1.50", 2, "-1.50"),
        ("42", 0, "42"),
        ("-0.00000012", 8, "-1.2E-7"),
    ],
)
def test_java_bigdecimal_to_string(text, scale, java):
    assert java_decimal(decimal.Decimal(text), scale) == java


# -- TimestampBasedKeyGenerator ------------------------------------------------------------


def _timebased(column: pa.Array, hive=False, **options) -> list[str]:
    cfg = TableConfig(
        "t",
        record_key_fields="id",
        partition_fields="ts",
        hive_style_partitioning=hive,
        keygenerator_class="org.apache.hudi.keygen.TimestampBasedKeyGenerator",
        keygen_props={TB + k.replace("_", "."): v for k, v in options.items()},
    )
    table = pa.table({"id": list(range(len(column))), "ts": column})
    return KeyGenerator(cfg, DEFAULT).partition_paths(table).to_pylist()


def test_unix_timestamp_and_epoch_millis():
    seconds = 1_700_000_000  # 2023-11-14T22:13:20Z
    got = _timebased(
        pa.array([seconds, None], pa.int64()),
        timestamp_type="UNIX_TIMESTAMP",
        output_dateformat="yyyy/MM/dd/HH",
    )
    assert got == ["2023/11/14/22", "1970/01/01/00"]  # null -> 1 second, Hudi's default value
    got = _timebased(
        pa.array([seconds * 1000]),
        timestamp_type="EPOCHMILLISECONDS",
        output_dateformat="yyyy-MM-dd HH:mm:ss.SSS Z",
        timezone="GMT+05:30",
    )
    assert got == ["2023-11-15 03:43:20.000 +0530"]
    got = _timebased(
        pa.array([seconds * 1000]),
        hive=True,
        timestamp_type="EPOCHMILLISECONDS",
        output_dateformat="yyyyMMdd",
        output_timezone="America/Los_Angeles",
    )
    assert got == ["ts=20231114"]


def test_timestamp_column_is_read_as_its_avro_long():
    """A Spark timestamp is an Avro timestamp-micros long; Hudi reads that long in the
    configured unit (SCALAR/MICROSECONDS gives the real time)."""
    moment = dt.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=dt.UTC)
    col = pa.array([moment], pa.timestamp("us", tz="UTC"))
    got = _timebased(
        col,
        timestamp_type="SCALAR",
        timestamp_scalar_time_unit="microseconds",
        output_dateformat="yyyy-MM-dd'T'HH:mm:ss.SSS",
    )
    assert got == ["2024-02-29T23:59:59.999"]


def test_date_string_with_input_zone_and_format_list():
    options = dict(
        timestamp_type="DATE_STRING",
        output_dateformat="yyyy/MM/dd",
        input_dateformat="yyyy-MM-dd HH:mm:ss,yyyyMMdd",
        input_timezone="UTC",
        output_timezone="Asia/Tokyo",
    )
    got = _timebased(pa.array(["2024-03-31 20:00:00", "20240101", None]), **options)
    # 20:00 UTC is the next day in Tokyo; null becomes 1 ms printed in the first input
    # pattern, then parsed back
    assert got == ["2024/04/01", "2024/01/01", "1970/01/01"]
    with pytest.raises(HudiSchemaError, match="does not match"):
        _timebased(pa.array(["31.03.2024"]), **options)


def test_date_string_keeps_the_parsed_offset_without_output_zone():
    got = _timebased(
        pa.array(["2023-04-01T23:30:00.000+0200", "2023-04-01T23:30:00.000Z"]),
        timestamp_type="DATE_STRING",
        input_dateformat="yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        output_dateformat="yyyy/MM/dd/HH",
    )
    assert got == ["2023/04/01/23", "2023/04/01/23"]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-(2**33), 2**34),
    st.sampled_from(["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Berlin"]),
)
def test_epoch_seconds_match_python_datetime(seconds, zone):
    from zoneinfo import ZoneInfo

    got = _timebased(
        pa.array([seconds], pa.int64()),
        timestamp_type="UNIX_TIMESTAMP",
        output_dateformat="yyyy/MM/dd/HH/mm",
        timezone=zone,
    )
    want = dt.datetime.fromtimestamp(seconds, ZoneInfo(zone) if zone != "UTC" else dt.UTC)
    assert got == [want.strftime("%Y/%m/%d/%H/%M")]


def test_timebased_settings_are_checked():
    with pytest.raises(HudiConfigError, match="output.dateformat is not set"):
        _timebased(pa.array([1]), timestamp_type="UNIX_TIMESTAMP")
    with pytest.raises(HudiConfigError, match="timestamp.type='WEEKLY'"):
        _timebased(pa.array([1]), timestamp_type="WEEKLY", output_dateformat="yyyy")
    with pytest.raises(HudiConfigError, match="input.dateformat is not set"):
        _timebased(pa.array(["x"]), timestamp_type="DATE_STRING", output_dateformat="yyyy")
    with pytest.raises(HudiConfigError, match="time zone 'Mars/Olympus'"):
        _timebased(
            pa.array([1]),
            timestamp_type="UNIX_TIMESTAMP",
            output_dateformat="yyyy",
            timezone="Mars/Olympus",
        )
    with pytest.raises(HudiConfigError, match="pattern letter 'q'"):
        _timebased(pa.array([1]), timestamp_type="UNIX_TIMESTAMP", output_dateformat="yyyy-qq")


# -- CustomKeyGenerator ----------------------------------------------------------------------


def test_custom_keygen_table(tmp_path):
    cfg = TableConfig(
        "t",
        record_key_fields="id,name",
        precombine_field="ts",
        partition_fields="region:simple,ts:timestamp",
        hive_style_partitioning=True,
        keygen_props={
            TB + "timestamp.type": "EPOCHMILLISECONDS",
            TB + "output.dateformat": "yyyy/MM",
        },
    )
    assert cfg.keygenerator_class == "org.apache.hudi.keygen.CustomKeyGenerator"
    base = str(tmp_path / "t")
    table = HudiTable.create(base, HudiConfig(cfg))
    day = 1_700_000_000_000
    table.upsert(
        pa.table(
            {
                "id": [1, 2],
                "name": ["a", "b"],
                "region": ["eu", None],
                "ts": [day, day + 40 * 86_400_000],
            }
        )
    )
    rows = support.snapshot(base).sort_by("id")
    assert rows.column("_hoodie_partition_path").to_pylist() == [
        "region=eu/ts=2023/11",
        f"region={DEFAULT}/ts=2023/12",
    ]
    assert rows.column("_hoodie_record_key").to_pylist() == ["id:1,name:a", "id:2,name:b"]
    props = (Path(base) / ".hoodie" / "hoodie.properties").read_text()
    assert "hoodie.table.partition.fields=region,ts\n" in props
    assert "hoodie.datasource.write.partitionpath.field=region:SIMPLE,ts:TIMESTAMP\n" in props
    assert "hoodie.keygen.timebased.output.dateformat=yyyy/MM\n" in props
    # reopened from hoodie.properties, the same keys land in the same place
    again = HudiTable.open(base)
    result = again.upsert(pa.table({"id": [1], "name": ["a"], "region": ["eu"], "ts": [day + 1]}))
    assert (result.inserted, result.updated) == (0, 1)
    with pytest.raises(HudiConfigError, match="field:SIMPLE or field:TIMESTAMP"):
        TableConfig("t", record_key_fields="id", partition_fields="region:daily")
    assert quote("x") == "x"
