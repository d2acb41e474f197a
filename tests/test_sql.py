"""The identifier and literal rules of lakehouse.sql, per dialect, against sqlglot's parsers."""

import re
import string

import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.sql import (
    DUCKDB,
    HIVE,
    POSTGRES,
    REDSHIFT,
    SqlTextError,
    check_identifier,
    quote_identifier,
    quote_literal,
)

DIALECTS = [POSTGRES, REDSHIFT, HIVE, DUCKDB]


def model_is_valid(name: str, dialect) -> bool:
    """The rules written out independently of the implementation's regex."""
    letters = string.ascii_lowercase if dialect.lower_case else string.ascii_letters
    rest = letters + string.digits + "_" + ("$" if dialect.dollar else "")
    return (
        name != ""
        and (dialect.max_length is None or len(name) <= dialect.max_length)
        and name[0] in letters + "_"
        and all(c in rest for c in name)
    )


PUNCTUATION = "\"`'$ ;-.\\\x00é"
ALPHABET = string.ascii_letters + string.digits + "_" + PUNCTUATION


def names(dialect):
    longest = (dialect.max_length or 300) + 2
    return st.one_of(
        st.text(ALPHABET, max_size=12),
        # Around the length limit: valid characters, lengths either side of it.
        st.text("abc_", min_size=longest - 4, max_size=longest),
    )


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(data=st.data())
def test_identifiers_follow_the_dialect_rules_and_parse_back(dialect, data):
    name = data.draw(names(dialect))
    if model_is_valid(name, dialect):
        quoted = quote_identifier(name, dialect)
        table = sqlglot.parse_one(f"SELECT {quoted} FROM {quoted}.{quoted}", read=dialect.name)
        parsed = table.find(sqlglot.exp.Table)
        assert (parsed.db, parsed.name) == (name, name)
        assert table.selects[0].name == name
    else:
        with pytest.raises(SqlTextError) as raised:
            quote_identifier(name, dialect, "table")
        message = str(raised.value)
        assert message.startswith(f"table {name!r} is not a ")
        assert f"({dialect.title}: " in message
        assert "\n" not in message.replace(repr(name), "")


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(data=st.data())
def test_one_character_the_dialect_forbids_is_refused(dialect, data):
    """Every forbidden character (quotes, `;`, spaces, NUL, ...) is refused wherever it is."""
    name = data.draw(st.text("abc_1", min_size=1, max_size=8).filter(str.isidentifier))
    forbidden = [c for c in ALPHABET if not model_is_valid("a" + c, dialect)]
    odd = data.draw(st.sampled_from(forbidden))
    at = data.draw(st.integers(0, len(name)))
    with pytest.raises(SqlTextError, match=f"^name {re.escape(repr(name[:at] + odd + name[at:]))}"):
        quote_identifier(name[:at] + odd + name[at:], dialect)


@pytest.mark.parametrize(
    ("dialect", "max_length", "upper_case", "dollar", "quote"),
    [
        # NAMEDATALEN - 1; names used unquoted fold to lower-case; `$` allowed after the first.
        (POSTGRES, 63, False, True, '"'),
        # 127 bytes; `$` allowed; quoted names keep their case in the SQL we send.
        (REDSHIFT, 127, True, True, '"'),
        # Glue: 1-255 characters, stored lower-case, no `$`.
        (HIVE, 255, False, False, "`"),
        (DUCKDB, None, True, True, '"'),
    ],
    ids=lambda v: getattr(v, "name", None),
)
def test_each_dialect_has_its_engines_limits(dialect, max_length, upper_case, dollar, quote):
    """Pins the facts the property test takes from the dialect."""
    longest = "a" * (max_length or 10_000)
    assert check_identifier(longest, dialect) == longest
    if max_length:
        with pytest.raises(SqlTextError, match=f"at most {max_length} characters"):
            check_identifier(longest + "a", dialect)
    for name, ok in (("Ab", upper_case), ("a$", dollar)):
        if ok:
            assert check_identifier(name, dialect) == name
        else:
            with pytest.raises(SqlTextError):
                check_identifier(name, dialect)
    assert quote_identifier("a", dialect) == f"{quote}a{quote}"


def test_messages_name_the_rule_and_the_domain_error_class():
    class DomainError(Exception):
        pass

    with pytest.raises(DomainError, match=r"^slot 'x{64}' is not .*at most 63 characters\)$"):
        check_identifier("x" * 64, POSTGRES, "slot", error=DomainError)
    assert check_identifier("x" * 63, POSTGRES) == "x" * 63
    assert check_identifier("Ab$1", REDSHIFT) == "Ab$1"
    for dialect in (POSTGRES, HIVE):
        with pytest.raises(SqlTextError, match="lower-case letters"):
            check_identifier("Ab", dialect)
    with pytest.raises(SqlTextError, match=r"Hive/Glue: lower-case letters, digits and _,"):
        check_identifier("a$b", HIVE)


@pytest.mark.parametrize("dialect", [DUCKDB, POSTGRES], ids=lambda d: d.name)
@given(value=st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=30))
def test_standard_literals_round_trip_through_quoting(dialect, value):
    literal = sqlglot.parse_one(f"SELECT {quote_literal(value, dialect)}", read=dialect.name)
    assert literal.selects[0].this == value


@pytest.mark.parametrize("dialect", [HIVE, REDSHIFT], ids=lambda d: d.name)
@given(value=st.text(alphabet="ab '\\\n\x01", max_size=8))
def test_backslash_dialects_refuse_what_they_would_escape(dialect, value):
    if any(c in value for c in "'\\\n\x01"):
        with pytest.raises(SqlTextError, match="^comment has a quote, backslash or control"):
            quote_literal(value, dialect, "comment")
    else:
        quoted = quote_literal(value, dialect)
        assert sqlglot.parse_one(f"SELECT {quoted}", read=dialect.name).selects[0].this == value
