"""Hive DDL text of a table spec, as `SHOW CREATE TABLE` would print it."""

from lakehouse.catalog.spec import TableSpec


def _quote(value: str) -> str:
    # Values come from validated specs; a quote here would be a bug, not data.
    assert "'" not in value, value
    return f"'{value}'"


def _properties(pairs) -> str:
    return ", ".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


def hive_ddl(spec: TableSpec) -> str:
    columns = ",\n".join(f"  `{c.name}` {c.type}" for c in spec.columns)
    lines = [f"CREATE EXTERNAL TABLE `{spec.database}`.`{spec.name}` (", columns, ")"]
    if spec.description:
        lines.append(f"COMMENT {_quote(spec.description)}")
    if spec.partition_keys:
        keys = ", ".join(f"`{c.name}` {c.type}" for c in spec.partition_keys)
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
