"""Properties: print-then-parse gives the same tree; random text fails only with PolicyError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import facts, literals, programs, rules, statements, strings, terms

from congress.datalog.ast import Constant, Literal, Rule, Statement, Term
from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse, parse_literal, parse_query, parse_statement
from congress.datalog.printer import format_rule, string_representable, to_text

SEPARATORS = st.sampled_from(["\n", " ", "; ", ";\n", ".\n", " . ", "\n// c\n", " /* c */ "])


@given(statements())
def test_statement_roundtrip(statement: Statement) -> None:
    assert parse_statement(to_text(statement)) == statement


@given(literals())
def test_literal_roundtrip(literal: Literal) -> None:
    assert parse_literal(to_text(literal)) == literal
    assert parse_query(to_text(literal)) == literal


@given(rules())
def test_query_rule_roundtrip(rule: Rule) -> None:
    assert parse_query(to_text(rule)) == rule


@given(terms())
def test_term_roundtrip(term: Term) -> None:
    literal = parse_literal(f"p({to_text(term)})")
    assert literal.args == (term,)


@given(programs(), SEPARATORS)
def test_program_roundtrip(program: list[Statement], separator: str) -> None:
    text = separator.join(to_text(s) for s in program)
    assert parse(text) == program


@given(st.one_of(rules(), facts()))
def test_format_rule_parses_back(rule: Rule) -> None:
    assert parse_statement(format_rule(rule)) == rule


@given(strings())
def test_string_roundtrip(value: str) -> None:
    assert string_representable(value)
    assert parse_literal(f"p({to_text(Constant(value))})").args == (Constant(value),)


def _only_policy_errors(text: str) -> None:
    for function in (parse, parse_statement, parse_literal, parse_query):
        try:
            function(text)
        except PolicyError as error:
            assert error.code == "policy_parse_error"
            assert error.first.line is not None and error.first.column is not None


@given(st.text())
def test_random_text_raises_only_policy_error(text: str) -> None:
    _only_policy_errors(text)


@given(st.text(alphabet="pqx01.5e-+():,[]=;!\"' \n#/*\\_insertdelexcu"))
def test_random_tokens_raise_only_policy_error(text: str) -> None:
    _only_policy_errors(text)
