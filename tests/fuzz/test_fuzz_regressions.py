"""The smallest failing inputs of bugs the fuzzers found, kept as plain tests.

- A float literal past the float range (``1e400``) read as ``inf``, which prints as ``inf``: the
  variable ``inf`` when parsed back. Now a located lex error, like an over-long integer.
- A hex, octal or binary literal longer than ``int``'s decimal digit limit parsed, but printing
  it (every analysis message, the API) raised ``ValueError``. Now a lex error.
- ``parse_literal``'s shortcut and ``parse_ground`` took Unicode blanks (``\\s``) that the
  lexer rejects, and raised ``ValueError`` (not a parse error) on decimal integers past the
  digit limit.
"""

from __future__ import annotations

import pytest

from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse, parse_ground, parse_literal, parse_query
from congress.datalog.printer import to_text
from congress.datalog.runtime import Runtime

HUGE_DECIMAL = "1" * 5000
HUGE_HEX = "0x" + "f" * 4000


def parse_error(function: object, text: str) -> tuple[int | None, int | None, str]:
    assert callable(function)
    with pytest.raises(PolicyError) as caught:
        function(text)
    assert caught.value.code == "policy_parse_error"
    return caught.value.first.line, caught.value.first.column, caught.value.message


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e309", "-.1e999"])
def test_float_literal_past_the_range_is_a_lex_error(number: str) -> None:
    line, column, message = parse_error(parse, f"p(x) :- q({number})")
    assert (line, column) == (1, 11)
    assert "number literal out of range" in message


def test_float_literals_within_the_range_print_back() -> None:
    for number in ("1e308", "-1.7976931348623157e308", "1e-400", "4.9e-324"):
        (rule,) = parse(f"p({number})")
        assert parse(to_text(rule)) == [rule]


@pytest.mark.parametrize(
    "number", [HUGE_HEX, "0o" + "7" * 5000, "0b" + "1" * 15000], ids=["hex", "octal", "binary"]
)
def test_non_decimal_integer_past_the_digit_limit_is_a_lex_error(number: str) -> None:
    line, column, message = parse_error(parse, f"p({number})")
    assert (line, column) == (1, 3)
    assert "number literal too long" in message


def test_huge_hex_literal_is_a_parse_error_for_the_runtime() -> None:
    rt = Runtime()
    rt.create_policy("alice")
    with pytest.raises(PolicyError) as caught:
        rt.insert("alice", f"q(x) :- p(x, {HUGE_HEX})")
    assert caught.value.code == "policy_parse_error"
    assert rt.rules("alice") == []


def test_long_non_decimal_integers_within_the_limit_still_parse() -> None:
    (rule,) = parse("p(0x" + "f" * 100 + ")")
    assert parse(to_text(rule)) == [rule]


@pytest.mark.parametrize("blank", ["\u2003", "\u00a0", "\x1c", "\x85", "\u3000"])
def test_query_shortcut_rejects_blanks_the_lexer_rejects(blank: str) -> None:
    for text in (f"p({blank}x)", f"p(1{blank})", f"{blank}p(1)"):
        assert parse_error(parse_literal, text) == parse_error(parse_query, text)
        assert parse_ground(text) is None


def test_query_shortcut_reports_a_huge_decimal_as_a_parse_error() -> None:
    line, column, message = parse_error(parse_literal, f"p({HUGE_DECIMAL})")
    assert (line, column) == (1, 3)
    assert "number literal too long" in message
    assert parse_ground(f"p({HUGE_DECIMAL})") is None
    rt = Runtime()
    rt.create_policy("alice")
    with pytest.raises(PolicyError):
        rt.select_rows("alice", f"p({HUGE_DECIMAL})")


def test_query_shortcut_still_takes_plain_blanks_and_long_integers() -> None:
    assert parse_ground(' p( "a" ,\t-123 ) ') == ("p", ("a", -123))
    for text in ("p(\tx , -123456789012345678)", "p(12345678901234567890123)"):
        assert parse_literal(text) == parse_query(text)
