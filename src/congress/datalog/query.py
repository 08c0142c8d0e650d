"""Query helpers: parse a query, match rows against a query literal, build answers.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

from typing import Any

from congress.datalog.ast import Constant, Literal, Row, Rule
from congress.datalog.errors import PolicyError, policy_error
from congress.datalog.parser import parse, parse_query


def parse_query_text(text: str) -> Literal | Rule:
    """One literal or one rule; anything else (several statements, nothing) is invalid_query."""
    try:
        return parse_query(text)
    except PolicyError:
        stmts = parse(text)  # a syntax error is reported as such
        raise policy_error(
            "invalid_query",
            f"A query must be exactly one literal or rule; found {len(stmts)} statements",
            line=1,
            column=1,
        ) from None


def as_literal(query: str | Literal) -> Literal:
    if isinstance(query, Literal):
        return query
    q = parse_query_text(query)
    if not isinstance(q, Literal):
        raise policy_error("invalid_query", "Expected a single literal as query")
    return q


def consistent(row: Row, names: list[str | None]) -> bool:
    if len(row) != len(names):
        return False
    seen: dict[str, Any] = {}
    for v, n in zip(row, names, strict=True):
        if n is None:
            continue
        if n in seen and seen[n] != v:
            return False
        seen[n] = v
    return True


def instance(lit: Literal, row: Row) -> Literal:
    return Literal(lit.table, tuple(Constant(v) for v in row), lit.policy, lit.modal)
