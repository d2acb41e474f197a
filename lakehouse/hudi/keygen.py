"""Record keys and partition paths exactly as Hudi 0.14/0.15's key generators make them.

    Simple          key `v`                      path `v` or `f=v`
    Complex         key `f1:v1,f2:v2`            path `v1/v2` or `f1=v1/f2=v2`
    NonPartitioned  key as Simple (one field) or Complex (several); path ``
    TimestampBased  key as Simple                path: the field as a time, in an output pattern
    Custom          key as Simple or Complex     path: `f:SIMPLE` / `f:TIMESTAMP` parts joined by /

Values are stringified as Java does for the Avro value (`Object.toString`): integers as
digits, booleans `true`/`false`, dates `yyyy-MM-dd`, timestamps as their raw epoch microseconds
(consistent-logical-timestamp off, Hudi's default), decimals as `BigDecimal.toString`, floats as
`Float/Double.toString`. A null or empty key part becomes `__null__` / `__empty__` in a composite
key; an entirely null key is refused. A null or empty partition value becomes the default
partition; with `hoodie.datasource.write.partitionpath.urlencode` values are escaped as Hive
escapes path names (PartitionPathEncodeUtils.escapePathName).

All of this is vectorised over unique values: a partition value is formatted once per distinct
value, not once per row.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.hudi import joda
from lakehouse.hudi.config import (
    COMPLEX,
    CUSTOM,
    NONPARTITIONED,
    TIMESTAMP,
    HudiConfigError,
    HudiSchemaError,
    TableConfig,
)

NULL_KEY = "__null__"
EMPTY_KEY = "__empty__"
# PartitionPathEncodeUtils.charToEscape: control characters and these.
ESCAPED = "%\"#'*/:=?\\{[]^\x7f" + "".join(chr(c) for c in range(1, 32))

TB = "hoodie.keygen.timebased."
TIMESTAMP_TYPES = ("UNIX_TIMESTAMP", "DATE_STRING", "MIXED", "EPOCHMILLISECONDS", "SCALAR")
TIME_UNITS_MS = {"NANOSECONDS": (1, 1_000_000), "MICROSECONDS": (1, 1000), "MILLISECONDS": (1, 1),
                 "SECONDS": (1000, 1), "MINUTES": (60_000, 1), "HOURS": (3_600_000, 1),
                 "DAYS": (86_400_000, 1)}  # fmt: skip


# -- Java's toString of Avro values ----------------------------------------------------------


def java_double(value: float, single: bool = False) -> str:
    """Double.toString / Float.toString (shortest round-trip digits, as JDK 19+ prints)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    text = np.format_float_scientific(np.float32(value), unique=True) if single else repr(value)
    sign, shortest, exp = decimal.Decimal(text).as_tuple()
    point = len(shortest) + exp  # digits before the decimal point
    digits = "".join(map(str, shortest)).rstrip("0") or "0"
    magnitude = abs(value)
    prefix = "-" if sign else ""
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{digits}"
        whole = digits[:point].ljust(point, "0")
        frac = digits[point:] or "0"
        return f"{prefix}{whole}.{frac}"
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def java_decimal(value: decimal.Decimal, scale: int) -> str:
    """BigDecimal.toString of a decimal with the column's scale."""
    unscaled = int(value.scaleb(scale))
    digits = str(abs(unscaled))
    adjusted = len(digits) - 1 - scale
    sign = "-" if unscaled < 0 else ""
    if scale >= 0 and adjusted >= -6:
        if scale == 0:
            return sign + digits
        digits = digits.rjust(scale + 1, "0")
        return f"{sign}{digits[:-scale]}.{digits[-scale:]}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}E{'+' if adjusted > 0 else ''}{adjusted}"


def _map_unique(col: pa.Array, fn: Callable) -> pa.Array:
    """fn (giving a string) applied once per distinct non-null value; nulls stay null."""
    uniques = pc.unique(col)
    mapped = pa.array([None if v is None else fn(v) for v in uniques.to_pylist()], pa.string())
    return pc.take(mapped, pc.index_in(col, value_set=uniques))


def java_strings(col: pa.Array, field: str, role: str) -> pa.Array:
    """Java's toString of each value (null stays null)."""
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.cast(pa.string())
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_date32(t):
        return col.cast(pa.string())
    if pa.types.is_timestamp(t):
        # The Avro long (timestamp-micros), as Hudi stringifies it with consistent logical
        # timestamps off.
        return col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()).cast(pa.string())
    if pa.types.is_decimal(t):
        return _map_unique(col, lambda v: java_decimal(v, t.scale))
    if pa.types.is_floating(t):
        single = pa.types.is_float32(t)
        return _map_unique(col, lambda v: java_double(v, single))
    raise HudiSchemaError(f"{role} {field!r} has type {t}, which Hudi cannot use as a key")


def _blank(text: pa.Array) -> pa.Array:
    return pc.or_kleene(pc.is_null(text), pc.equal(text, "")).fill_null(True)


def escape_path(text: pa.Array) -> pa.Array:
    """PartitionPathEncodeUtils.escapePathName: `%XX` for each escaped character."""
    for ch in ESCAPED:  # '%' first, so escapes are not escaped again
        text = pc.replace_substring(text, ch, f"%{ord(ch):02X}")
    return text


# -- timestamp-based partition paths ---------------------------------------------------------


@dataclass(frozen=True)
class TimestampPartitioner:
    """TimestampBasedAvroKeyGenerator's partition path for one field."""

    field: str
    kind: str
    unit_ms: tuple[int, int]  # (multiply, divide) to get milliseconds
    output: list
    inputs: tuple
    input_zone: dt.tzinfo | None
    output_zone: dt.tzinfo | None
    first_input: str

    @classmethod
    def from_options(cls, field: str, options: dict[str, str]) -> TimestampPartitioner:
        def opt(name: str, default: str | None = None) -> str | None:
            return options.get(TB + name, default)

        kind = opt("timestamp.type")
        if not kind:
            raise HudiConfigError(f"{TB}timestamp.type is not set (one of {TIMESTAMP_TYPES})")
        if kind not in TIMESTAMP_TYPES:
            raise HudiConfigError(
                f"{TB}timestamp.type={kind!r} is not one of {', '.join(TIMESTAMP_TYPES)}"
            )
        output = opt("output.dateformat")
        if not output:
            raise HudiConfigError(f"{TB}output.dateformat is not set")
        unit = {"EPOCHMILLISECONDS": "MILLISECONDS", "UNIX_TIMESTAMP": "SECONDS"}.get(kind)
        if kind == "SCALAR":
            unit = (opt("timestamp.scalar.time.unit") or "SECONDS").upper()
            if unit not in TIME_UNITS_MS:
                raise HudiConfigError(
                    f"{TB}timestamp.scalar.time.unit={unit!r} is not one of "
                    + ", ".join(TIME_UNITS_MS)
                )
        # hoodie.keygen.timebased.timezone, when present, sets both zones.
        both = opt("timezone")
        in_name = both if both is not None else opt("input.timezone", "")
        out_name = both if both is not None else opt("output.timezone", "")
        in_key = TB + ("timezone" if both is not None else "input.timezone")
        out_key = TB + ("timezone" if both is not None else "output.timezone")
        in_zone = joda.java_zone(in_name, in_key) if in_name.strip() else None
        out_zone = joda.java_zone(out_name, out_key) if out_name.strip() else None
        inputs: tuple = ()
        first = ""
        if kind in ("DATE_STRING", "MIXED"):
            text = opt("input.dateformat")
            if not text:
                raise HudiConfigError(f"{TB}input.dateformat is not set (needed by {kind})")
            delimiter = opt("input.dateformat.list.delimiter.regex", ",") or ","
            patterns = [p.strip() for p in re.split(delimiter, text)]
            first = re.split(delimiter, text)[0]
            inputs = tuple(joda.Parser.compile(p, TB + "input.dateformat") for p in patterns)
        return cls(
            field=field,
            kind=kind,
            unit_ms=TIME_UNITS_MS[unit] if unit else (0, 0),
            output=joda.tokenize(output, joda.PRINT_LETTERS, TB + "output.dateformat"),
            inputs=inputs,
            input_zone=in_zone,
            output_zone=out_zone,
            first_input=first,
        )

    def _to_millis(self, number: int) -> int:
        """TimeUnit.MILLISECONDS.convert: division truncates toward zero."""
        if not self.unit_ms[0]:
            raise HudiSchemaError(
                f"partition field {self.field!r} is numeric but {TB}timestamp.type={self.kind} "
                "expects date strings"
            )
        mul, div = self.unit_ms
        value = number * mul
        return abs(value) // div * (1 if value >= 0 else -1)

    def _format(self, millis: int, zone: dt.tzinfo | None) -> str:
        return joda.format_millis(millis, zone or self.output_zone or joda.UTC, self.output)

    def _from_string(self, text: str) -> str:
        if not self.inputs:
            raise HudiSchemaError(
                f"partition field {self.field!r} holds strings but {TB}timestamp.type="
                f"{self.kind} expects numbers (set DATE_STRING and {TB}input.dateformat)"
            )
        for parser in self.inputs:
            parsed = parser.parse(text, self.input_zone, joda.UTC)
            if parsed is not None:
                millis, zone = parsed
                return self._format(millis, self.output_zone or zone)
        raise HudiSchemaError(
            f"partition field {self.field!r}: {text!r} does not match {TB}input.dateformat "
            f"({', '.join(p.pattern for p in self.inputs)})"
        )

    def _default(self) -> str:
        # Hudi's getDefaultPartitionVal: 1 (ms or unit) for numbers, that instant as the first
        # input pattern prints it for strings.
        if self.kind in ("DATE_STRING", "MIXED"):
            zone = self.input_zone or self.output_zone or joda.UTC
            first = joda.tokenize(self.first_input, joda.PRINT_LETTERS, TB + "input.dateformat")
            return self._from_string(joda.format_millis(1, zone, first))
        return self._format(self._to_millis(1), None)

    def paths(self, col: pa.Array) -> pa.Array:
        """Formatted values (not yet escaped or prefixed), one per row."""
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out = _map_unique(col.cast(pa.string()), self._from_string)
        elif pa.types.is_date32(t):
            days = col.cast(pa.int32()).cast(pa.int64())
            out = _map_unique(days, lambda d: self._format(self._to_millis(d), None))
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            if pa.types.is_integer(t):
                whole = col.cast(pa.int64())
            else:
                whole = pc.trunc(col.cast(pa.float64())).cast(pa.int64())
            out = self._numbers(whole)
        elif pa.types.is_timestamp(t):
            # The raw Avro long (micros), interpreted in the configured unit, as Hudi does.
            out = self._numbers(col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()))
        else:
            raise HudiSchemaError(
                f"partition field {self.field!r} has type {t}, which the timestamp key "
                "generator cannot read"
            )
        return out.fill_null(self._default())

    def _numbers(self, values: pa.Array) -> pa.Array:
        if not self.unit_ms[0]:
            raise HudiSchemaError(
                f"partition field {self.field!r} is numeric but {TB}timestamp.type={self.kind} "
                "expects date strings"
            )
        mul, div = self.unit_ms
        millis = pc.divide(pc.multiply_checked(values, mul), div) if div > 1 else (
            pc.multiply_checked(values, mul))  # fmt: skip
        # Only fields the pattern prints matter: round to a coarser grain first so that few
        # distinct values are formatted. Zone offsets are whole seconds, and multiples of 15
        # minutes since 1973 (before, local mean times like +05:53:20 occur).
        letters = {tok.letter for tok in self.output}
        if "S" not in letters:
            grain = 1000
            if not letters & {"s", "m", "Z"}:
                grain = 900_000
            elif "s" not in letters:
                grain = 60_000
            seconds = pc.floor(pc.divide(millis.cast(pa.float64()), 1000))
            coarse = pc.multiply(pc.floor(pc.divide(millis.cast(pa.float64()), grain)), grain)
            modern = pc.greater_equal(millis, MODERN_OFFSETS_MS)
            millis = pc.if_else(modern, coarse, pc.multiply(seconds, 1000)).cast(pa.int64())
        return _map_unique(millis, lambda ms: self._format(ms, None))


MODERN_OFFSETS_MS = 94_694_400_000  # 1973-01-01T00:00:00Z


# -- the key generator -----------------------------------------------------------------------


class KeyGenerator:
    """Record keys and partition paths for a table's key generator."""

    def __init__(self, table: TableConfig, default_partition: str):
        self.table = table
        self.default_partition = default_partition
        kind = table.keygen_kind
        self.kind = kind
        self.types = table.partition_types or tuple(
            "TIMESTAMP" if kind == TIMESTAMP else "SIMPLE" for _ in table.partition_fields
        )
        options = dict(table.keygen_props)
        self.timestamps = {
            f: TimestampPartitioner.from_options(f, options)
            for f, kind_ in zip(table.partition_fields, self.types, strict=True)
            if kind_ == "TIMESTAMP"
        }

    @property
    def composite_keys(self) -> bool:
        if self.kind == COMPLEX:
            return True
        return len(self.table.record_key_fields) > 1 and self.kind in (NONPARTITIONED, CUSTOM)

    def record_keys(self, table: pa.Table) -> pa.Array:
        fields = self.table.record_key_fields
        if not self.composite_keys:
            name = fields[0]
            text = java_strings(table.column(name).combine_chunks(), name, "record key field")
            bad = pc.sum(_blank(text)).as_py() or 0
            if bad:
                raise HudiSchemaError(f"record key field {name!r} is null or empty in {bad} rows")
            return text
        parts, all_blank = [], None
        for name in fields:
            text = java_strings(table.column(name).combine_chunks(), name, "record key field")
            null = pc.is_null(text)
            blank = _blank(text)
            all_blank = blank if all_blank is None else pc.and_(all_blank, blank)
            text = pc.if_else(null, NULL_KEY, pc.if_else(pc.equal(text, ""), EMPTY_KEY, text))
            parts.append(pc.binary_join_element_wise(f"{name}:", text.fill_null(NULL_KEY), ""))
        bad = pc.sum(all_blank).as_py() or 0
        if bad:
            raise HudiSchemaError(
                f"record key fields {', '.join(fields)} are all null or empty in {bad} rows"
            )
        keys = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, ",")
        return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys

    def partition_paths(self, table: pa.Table) -> pa.Array:
        n = table.num_rows
        fields = self.table.partition_fields
        if self.kind == NONPARTITIONED or not fields:
            return pa.array([""] * n, pa.string()) if n < 1024 else pa.repeat("", n)
        hive = self.table.hive_style_partitioning
        pieces = []
        for name, kind in zip(fields, self.types, strict=True):
            col = table.column(name).combine_chunks()
            if kind == "TIMESTAMP":
                text = self.timestamps[name].paths(col)
                if self.table.urlencode_partition:
                    text = escape_path(text)
            else:
                text = java_strings(col, name, "partition field")
                text = pc.if_else(_blank(text), self.default_partition, text)
                if self.table.urlencode_partition:
                    text = escape_path(text)
                else:
                    _refuse_slash(text, name)
                _refuse_odd(text, name, first=not pieces, hive=hive)
            if hive:
                text = pc.binary_join_element_wise(f"{name}=", text, "")
            pieces.append(text)
        return pieces[0] if len(pieces) == 1 else pc.binary_join_element_wise(*pieces, "/")


def _refuse_slash(text: pa.Array, name: str) -> None:
    bad = pc.filter(text, pc.match_substring(text, "/"))
    if len(bad):
        raise HudiSchemaError(
            f"partition field {name!r} has the value {bad[0].as_py()!r}, which would split the "
            "partition path; clean it or set hoodie.datasource.write.partitionpath.urlencode=true"
        )


def _refuse_odd(text: pa.Array, name: str, first: bool, hive: bool) -> None:
    odd = pc.filter(text, pc.is_in(text, pa.array([".", ".."])))
    if len(odd) and not hive:  # `f=.` is a fine directory name; `.` is not
        raise HudiSchemaError(f"partition field {name!r} has the value {odd[0].as_py()!r}")
    if first and not hive and pc.any(pc.is_in(text, pa.array(["metadata", "_delta_log"]))).as_py():
        raise HudiSchemaError(
            f"partition field {name!r} has a value that names a directory readers skip "
            "('metadata' or '_delta_log'); use hive-style partitioning"
        )
