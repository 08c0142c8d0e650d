"""The printer of the Congress policy language: ``congress.datalog.ast`` nodes back to text.

Imports: standard library and congress.datalog.ast/errors only.

``to_text`` writes one line that the parser reads back to an equal tree
(``parse_statement(to_text(s)) == s``) whenever the tree is representable: every string value
passes ``string_representable``, floats are finite, names are identifiers the lexer reads as such
(not ``not``/``NOT``, no trailing dot), a table without policy has no ``:``, a fact has one
positive head and an event's rule has a body. Unrepresentable trees are still printed (never an
exception), on a best-effort basis. ``format_rule`` is the multi-line layout of the API.
"""

from __future__ import annotations

import math
import re

from congress.datalog.ast import Event, Literal, Rule, Statement, Term, Variable

__all__ = ["format_rule", "quote_string", "string_representable", "to_text"]

# The string bodies the lexer accepts for each quote style, tried in this order.
_QUOTE_STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ('"', re.compile(r'(?:[^"\\\n]|\\.)*', re.DOTALL)),
    ("'", re.compile(r"(?:[^'\\\n]|\\.)*", re.DOTALL)),
    ('"""', re.compile(r'(?:[^"\\]|\\.|"(?!""))*', re.DOTALL)),
    ("'''", re.compile(r"(?:[^'\\]|\\.|'(?!''))*", re.DOTALL)),
)


def _style(value: str) -> str | None:
    """The first quote style in which ``value`` reads back unchanged, or None."""
    for quote, body in _QUOTE_STYLES:
        if body.fullmatch(value) is None:
            continue
        if len(quote) == 3 and value.endswith(quote[0]):
            continue  # the closing quotes would start inside the value
        return quote
    return None


def string_representable(value: str) -> bool:
    """True when some quote style writes ``value`` so that the lexer reads it back unchanged."""
    return _style(value) is not None


def quote_string(value: str) -> str:
    """``value`` in the first quote style that round-trips (``"`` then ``'`` then triples)."""
    quote = _style(value) or '"'
    return f"{quote}{value}{quote}"


def _constant(value: object) -> str:
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def _term(term: Term) -> str:
    if isinstance(term, Variable):
        return term.name
    return _constant(term.value)


def _atom(literal: Literal) -> str:
    name = literal.table if literal.policy is None else f"{literal.policy}:{literal.table}"
    params = [_term(arg) for arg in literal.args]
    params.extend(f"{key}={_term(term)}" for key, term in literal.named)
    return f"{name}({', '.join(params)})" if params else name


def _literal(literal: Literal) -> str:
    agg = literal.aggregate
    if agg is not None:
        result = ", ".join(_term(arg) for arg in literal.args)
        body = ", ".join(_literal(lit) for lit in agg.body)
        return f"{result} = {agg.op}{{{_term(agg.term)} | {body}}}"
    text = _atom(literal)
    if literal.modal is not None:
        text = f"{literal.modal}[{text}]"
    return f"not {text}" if literal.negated else text


def _rule(rule: Rule) -> str:
    head = ", ".join(_literal(lit) for lit in rule.head)
    if not rule.body:
        return head
    return f"{head} :- {', '.join(_literal(lit) for lit in rule.body)}"


def _event(event: Event) -> str:
    keyword = "insert" if event.insert else "delete"
    target = "" if event.target is None else f"; {quote_string(event.target)}"
    return f"{keyword}[{_rule(event.formula)}{target}]"


def to_text(node: Statement | Literal | Term) -> str:
    """One-line source text of a statement, literal or term."""
    if isinstance(node, Rule):
        return _rule(node)
    if isinstance(node, Event):
        return _event(node)
    if isinstance(node, Literal):
        return _literal(node)
    return _term(node)


def format_rule(rule: Rule) -> str:
    """The API's layout: a fact on one line, else ``head :-`` and one indented body line each."""
    head = ", ".join(_literal(lit) for lit in rule.head)
    if not rule.body:
        return head
    body = ",\n".join(f"  {_literal(lit)}" for lit in rule.body)
    return f"{head} :-\n{body}"
