"""Parser fuzzing: any text parses or raises the parser's located error; parsed text round-trips.

Inputs and contracts live in ``fuzz_support``. The example counts are bounded (``FUZZ``) so that
the module runs in a few seconds; FUZZ_EXAMPLES=5000 raises every count for a long local run.
``tests/datalog/test_roundtrip.py`` covers printing random *trees*; here the inputs are *texts*.
"""

from __future__ import annotations

import os

import pytest
from fuzz_support import (
    OPENERS,
    check_parse_contract,
    check_roundtrip,
    deep_nesting,
    edgy_programs,
    mutated_programs,
    queries,
    token_soup,
    valid_programs,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse
from congress.datalog.runtime import Runtime


def examples(n: int) -> settings:
    count = int(os.environ.get("FUZZ_EXAMPLES", n))
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# every code point, lone surrogates included (JSON bodies can carry them: "\ud800")
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())


@examples(300)
@given(st.text(ANY_CHARACTER, max_size=80))
def test_any_unicode_text_parses_or_raises_a_located_parse_error(text: str) -> None:
    check_parse_contract(text)


@examples(300)
@given(token_soup())
def test_token_soup_parses_or_raises_a_located_parse_error(text: str) -> None:
    check_parse_contract(text)


@examples(300)
@given(mutated_programs())
def test_damaged_programs_parse_or_raise_a_located_parse_error(text: str) -> None:
    check_parse_contract(text)


@examples(200)
@given(valid_programs())
def test_grammar_generated_programs_parse(text: str) -> None:
    check_parse_contract(text)
    assert check_roundtrip(text) is not None


@examples(300)
@given(edgy_programs())
def test_unicode_blanks_and_huge_numbers_parse_or_raise_a_located_parse_error(text: str) -> None:
    check_parse_contract(text)
    check_roundtrip(text)


@examples(300)
@given(queries())
def test_query_shortcuts_agree_with_the_parser(text: str) -> None:
    check_parse_contract(text)
    check_roundtrip(text)


@examples(300)
@given(st.one_of(mutated_programs(), token_soup()))
def test_whatever_parses_prints_and_parses_back_to_the_same_tree(text: str) -> None:
    check_roundtrip(text)


@examples(20)
@given(deep_nesting())
def test_deep_nesting_raises_a_parse_error_not_a_recursion_error(text: str) -> None:
    check_parse_contract(text)


@pytest.mark.parametrize("opener", OPENERS)
def test_ten_thousand_nested_openers_are_a_located_parse_error(opener: str) -> None:
    for text in (opener * 10_000, "p :- " + opener * 10_000 + ")" * 10_000):
        with pytest.raises(PolicyError) as caught:
            parse(text)
        assert caught.value.code == "policy_parse_error"
        check_parse_contract(text)  # parse_statement, parse_query and parse_literal too


def test_deep_nesting_through_the_runtime_is_a_parse_error() -> None:
    rt = Runtime()
    rt.create_policy("alice")
    for text in ("(" * 10_000, "p(" * 10_000, "execute[" * 10_000, "q(x) :- " + "[" * 10_000):
        with pytest.raises(PolicyError) as caught:
            rt.insert("alice", text)
        assert caught.value.code == "policy_parse_error"
        with pytest.raises(PolicyError) as caught:
            rt.select("alice", text)
        assert caught.value.code == "policy_parse_error"
    assert rt.rules("alice") == []
