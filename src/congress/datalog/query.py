"""Queries: parse a query, match a relation's rows against a query literal (through an index
on its constant columns), resolve column references, answer rule queries, build answers.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from congress.datalog import analysis
from congress.datalog.ast import Constant, Literal, Row, Rule, Variable
from congress.datalog.batch import Batch
from congress.datalog.compiler import CompiledRule
from congress.datalog.errors import PolicyError, policy_error
from congress.datalog.parser import parse, parse_query
from congress.datalog.printer import to_text
from congress.datalog.storage import Relation

if TYPE_CHECKING:
    from congress.datalog.runtime import Runtime


def parse_query_text(text: str) -> Literal | Rule:
    """One literal or one rule; anything else (several statements, nothing) is invalid_query."""
    try:
        q = parse_query(text)
    except PolicyError:
        stmts = parse(text)  # a syntax error is reported as such
        raise policy_error(
            "invalid_query",
            f"A query must be exactly one literal or rule; found {len(stmts)} statements",
            line=1,
            column=1,
        ) from None
    if isinstance(q, Literal) and q.aggregate is not None:
        where = q.loc
        raise policy_error(
            "invalid_query",
            "An aggregate is not a query by itself; ask a rule query such as "
            f"answer({to_text(q.args[0])}) :- {to_text(q)}",
            line=where.line if where else 1,
            column=where.column if where else 1,
        )
    return q


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


def match(rel: Relation, lit: Literal) -> list[Row]:
    """Rows of ``rel`` matching the literal's constants (read through an index on their
    columns) and repeated variables; ``rel`` must not be empty."""
    args = lit.args
    consts = [i for i, a in enumerate(args) if isinstance(a, Constant)]
    if len(consts) == len(args):
        row = tuple(a.value for a in args)  # type: ignore[union-attr]
        return [row] if row in rel.rows else []
    cand: Iterable[Row]
    if consts:
        cols = tuple(consts)
        k = (
            args[cols[0]].value  # type: ignore[union-attr]
            if len(cols) == 1
            else tuple(args[c].value for c in cols)  # type: ignore[union-attr]
        )
        cand = rel.index(cols).get(k, ())
    else:
        cand = rel.rows
    names = [a.name if isinstance(a, Variable) else None for a in args]
    if len({n for n in names if n}) == sum(1 for n in names if n):
        width = len(next(iter(rel.rows)))
        return list(cand) if width == len(args) else []
    return [r for r in cand if consistent(r, names)]


def positional(rt: Runtime, policy: str, lit: Literal) -> Literal:
    """A query literal with its column references resolved against the schema."""
    target = lit.policy or policy
    qualified = dataclasses.replace(lit, policy=target)
    probe = Rule((Literal("__query", ()),), (qualified,), lit.loc)
    checked = analysis.check_statement(probe, policy="__query", kind="nonrecursive", schema=rt)
    return dataclasses.replace(checked.body[0], policy=lit.policy)


def select_rule(rt: Runtime, policy: str, q: Rule) -> list[Literal]:
    """Answers of a rule query (``q(x) :- p(x), r(x)``), under the runtime's limits."""
    rt._policy(policy)
    r = analysis.check_statement(q, policy=policy, kind="nonrecursive", schema=rt)
    cr = CompiledRule(r, policy, rt._clock)
    if cr.parts:  # aggregates: their hidden relations exist only while the query runs
        txn = rt._txn(undo=True)
        try:
            for unit in cr.parts:
                txn._rule_change(unit, True)
            return _run_query(rt, txn.batch(), cr, policy)
        finally:
            txn.rollback()
    return _run_query(rt, rt._txn().batch(), cr, policy)


def _run_query(rt: Runtime, batch: Batch, cr: CompiledRule, policy: str) -> list[Literal]:
    out: dict[Row, int] = {}
    rt._engine._run_plan(batch, cr, cr.plan(None), (), out, 1, set())
    if batch.budget is not None:
        batch.budget.spend(len(out), policy)
    return [instance(cr.head, row) for row in out]
