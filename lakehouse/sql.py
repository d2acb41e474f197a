"""Names and values that go into SQL text: one set of rules, parameterised by engine.

SQL is built from identifiers that pass `check_identifier` and are quoted by
`quote_identifier`, and from string literals quoted by `quote_literal`; everything else travels
as bound parameters. The rules are the same for every engine: an ASCII letter or `_`, then
letters, digits and `_`. What differs between engines is a `Dialect`: the maximum length, whether
names are stored lower-case, whether `$` is allowed, the quote character, and whether backslash
is an escape inside string literals.

`lakehouse.hudi` keeps its own check (`hudi/emr.py`): it is a plain library that imports
nothing from the rest of lakehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property


class SqlTextError(ValueError):
    """A name or value that cannot go into SQL text for that engine."""


@dataclass(frozen=True)
class Dialect:
    name: str  # as sqlglot names it
    title: str
    max_length: int | None  # None: no limit we know of
    lower_case: bool  # names are case-insensitive and stored lower-case (Hive, Glue)
    dollar: bool  # `$` allowed after the first character
    quote: str  # identifier quote character
    backslash_escapes: bool  # backslash is an escape inside '...' literals
    # How the error message calls a name that breaks the rules (kept as each domain printed it).
    described_as: str

    @property
    def rule(self) -> str:
        letters = "lower-case letters" if self.lower_case else "letters"
        chars = f"{letters}, digits, _ and $" if self.dollar else f"{letters}, digits and _"
        limit = f", at most {self.max_length} characters" if self.max_length else ""
        return f"{self.title}: {chars}, not starting with a digit{limit}"

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        first = "a-z_" if self.lower_case else "A-Za-z_"
        rest = first + "0-9" + ("$" if self.dollar else "")
        return re.compile(f"[{first}][{rest}]*")


# Unquoted names fold to lower-case; NAMEDATALEN - 1 bytes. Publications, slots and captured
# tables are used unquoted, so they must already be lower-case.
POSTGRES = Dialect("postgres", "PostgreSQL", 63, True, True, '"', False, "plain lower-case")
# Redshift folds even quoted names to lower-case unless enable_case_sensitive_identifier is on.
# The warehouse's DuckDB (local) runs the same SQL, so it takes these rules too.
REDSHIFT = Dialect("redshift", "Redshift", 127, False, True, '"', True, "valid SQL")
# Glue and the Hive metastore store database, table and column names lower-case, 1-255 chars.
HIVE = Dialect("hive", "Hive/Glue", 255, True, False, "`", True, "valid")
DUCKDB = Dialect("duckdb", "DuckDB", None, False, True, '"', False, "valid")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_identifier(
    name: str, dialect: Dialect, what: str = "name", error: type[Exception] = SqlTextError
) -> str:
    """`name` if it is an identifier of `dialect`; otherwise raises `error` (a domain's own
    error class, so its CLI and callers report it) naming the name and the rule."""
    too_long = dialect.max_length is not None and len(name) > dialect.max_length
    if too_long or not dialect.pattern.fullmatch(name):
        raise error(f"{what} {name!r} is not a {dialect.described_as} identifier ({dialect.rule})")
    return name


def quote_identifier(
    name: str, dialect: Dialect, what: str = "name", error: type[Exception] = SqlTextError
) -> str:
    check_identifier(name, dialect, what, error)
    return f"{dialect.quote}{name}{dialect.quote}"


def check_literal(
    value: str, dialect: Dialect, what: str = "value", error: type[Exception] = SqlTextError
) -> str:
    """`value` if it can be quoted as a string literal of `dialect`. Where backslash escapes
    (Hive, Redshift), values carrying a quote, backslash or control character are refused
    rather than escaped: none of ours should."""
    if dialect.backslash_escapes and ("'" in value or "\\" in value or _CONTROL.search(value)):
        raise error(
            f"{what} has a quote, backslash or control character ({dialect.title} string "
            "literals escape with backslash)"
        )
    if "\x00" in value:
        raise error(f"{what} has a NUL character")
    return value


def quote_literal(
    value: str, dialect: Dialect, what: str = "value", error: type[Exception] = SqlTextError
) -> str:
    check_literal(value, dialect, what, error)
    return "'" + value.replace("'", "''") + "'"
