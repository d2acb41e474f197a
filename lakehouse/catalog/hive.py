"""Hive DDL text of a table spec, as `SHOW CREATE TABLE` would print it."""

from lakehouse.catalog.spec import CatalogError, TableSpec
from lakehouse.sql import HIVE, quote_identifier, quote_literal


def _quote(value: str) -> str:
    return quote_literal(value, HIVE, error=CatalogError)


def _name(name: str) -> str:
    return quote_identifier(name, HIVE, error=CatalogError)


def _properties(pairs) -> str:
    return ", ".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


def hive_ddl(spec: TableSpec) -> str:
    columns = ",\n".join(f"  {_name(c.name)} {c.type}" for c in spec.columns)
    lines = [f"CREATE EXTERNAL TABLE {_name(spec.database)}.{_name(spec.name)} (", columns, ")"]
    if spec.description:
        lines.append(f"COMMENT {_quote(spec.description)}")
    if spec.partition_keys:
        keys = ", ".join(f"{_name(c.name)} {c.type}" for c in spec.partition_keys)
        lines.append(f"PARTITIONED BY ({keys})")
    storage = spec.storage
    lines.append(f"ROW FORMAT SERDE {_quote(storage.serde)}")
    serde = storage.serde_parameters + spec.serde_properties
    if serde:
        lines.append(f"WITH SERDEPROPERTIES ({_properties(serde)})")
    lines.append(f"STORED AS INPUTFORMAT {_quote(storage.input_format)}")
    lines.append(f"  OUTPUTFORMAT {_quote(storage.output_format)}")
    lines.append(f"LOCATION {_quote(spec.catalog_location())}")
    props = storage.table_parameters + spec.properties
    if props:
        lines.append(f"TBLPROPERTIES ({_properties(props)})")
    return "\n".join(lines)
