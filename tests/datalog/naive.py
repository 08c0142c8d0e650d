"""A deliberately simple bottom-up evaluator: the test oracle for the engine.

Imports: standard library, ``congress.datalog.ast`` and ``congress.datalog.builtins``.

Clarity over speed: strata by the textbook iteration, then per stratum a naive fixpoint (every rule
of the stratum is re-evaluated against the whole current state until nothing new appears), with
plain nested loops and no indexes. Use it on small programs only.

Input: ``{policy: [Rule, ...]}`` (already validated: single heads, no column references; a fact is
a rule with an empty body) and base data ``{(policy, table): {row, ...}}``.
Output: ``{(policy, table): {row, ...}}`` for every table that is given data, heads a rule or is
read by a rule body (possibly empty).

Table keys (the engine uses the same convention, in ``Runtime.rows`` and ``BatchResult.changes``):

- every table is keyed by ``(policy, table)``; a body literal without a policy reads the rule's
  own policy, ``p:t(...)`` reads table ``t`` of policy ``p``;
- a rule head ``execute[svc:act(x)]`` in policy ``p`` stores its rows under
  ``(p, "execute[svc:act]")``, and ``execute[act(x)]`` (no prefix) under ``(p, "execute[act]")``.

Semantics of body literals:

- ``builtin:name(...)``, or a bare builtin name (``builtins.lookup``), is a builtin: called once
  its inputs are bound; its outputs are bound, or compared by equality when already bound; a
  builtin that fails (or raises) yields nothing;
- ``true`` / ``false`` (no arguments, no policy) always / never hold;
- ``not l`` is negation as failure, evaluated once all its variables are bound;
- ``v = op{x | body}`` (an aggregate) collects the distinct solutions of ``body`` on its own;
  its *group* variables are those of ``body`` that also occur in the head, in a literal outside
  every aggregate, or as another aggregate's result. When the positive literals outside every
  aggregate bind all group variables, the aggregate is read per solution of the rest of the
  body, and ``count`` and ``sum`` give 0 for a group without solutions; otherwise it yields one
  value per group that has solutions. ``count`` counts the distinct values of ``x``; ``sum`` and
  ``avg`` add one value per solution, numbers only; ``min``/``max`` put numbers before strings;
- any other literal matches rows of its table.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction

from congress.datalog import builtins
from congress.datalog.ast import Constant, Literal, Row, Rule, Term, Value, Variable

Key = tuple[str, str]
Binding = dict[str, Value]
Program = Mapping[str, Iterable[Rule]]
Rules = Mapping[str, Sequence[Rule]]
Data = Mapping[Key, Iterable[Row]]


class Unstratifiable(ValueError):
    """The program has recursion through negation."""


class UnsafeRule(ValueError):
    """No body literal can be evaluated next: a variable is never bound."""


def fixed_clock() -> datetime.datetime:
    return datetime.datetime(2000, 1, 1, 12, 0, 0)


# --------------------------------------------------------------------------- table keys


def execute_table(head: Literal) -> str:
    """The table name of an ``execute[...]`` head: ``execute[svc:act]`` or ``execute[act]``."""
    prefix = f"{head.policy}:" if head.policy else ""
    return f"execute[{prefix}{head.table}]"


def head_key(policy: str, head: Literal) -> Key:
    if head.modal == "execute":
        return (policy, execute_table(head))
    return (policy, head.table)


def is_special(lit: Literal) -> bool:
    """True for ``true``/``false`` and builtins: literals that read no table."""
    return _truth(lit) is not None or builtins.lookup(lit.table, lit.policy) is not None


def body_key(policy: str, lit: Literal) -> Key | None:
    """The table a body literal reads, None for builtins and ``true``/``false``."""
    if is_special(lit):
        return None
    return (lit.policy or policy, lit.table)


def _truth(lit: Literal) -> bool | None:
    if lit.policy is None and not lit.args and lit.table in ("true", "false"):
        return lit.table == "true"
    return None


# --------------------------------------------------------------------------- stratification


def dependency_edges(program: Rules) -> set[tuple[Key, Key, bool]]:
    """Edges (body table, head table, negated) over (policy, table) nodes; a table read inside
    an aggregate counts as negated (the head needs it complete)."""
    edges = set()
    for policy, rules in program.items():
        for rule in rules:
            for head in rule.head:
                for lit, negated in _reads(rule.body):
                    key = body_key(policy, lit)
                    if key is not None:
                        edges.add((key, head_key(policy, head), negated))
    return edges


def _reads(body: Iterable[Literal], inside: bool = False) -> Iterator[tuple[Literal, bool]]:
    for lit in body:
        if lit.aggregate is not None:
            yield from _reads(lit.aggregate.body, True)
        else:
            yield lit, lit.negated or inside


def strata(program: Rules) -> dict[Key, int]:
    """Stratum of every head table: at least that of each positive body table, and above that
    of each negated body table (Ullman's iteration; a level past the node count means a cycle
    through negation)."""
    edges = dependency_edges(program)
    nodes = {head_key(p, h) for p, rules in program.items() for r in rules for h in r.head}
    nodes |= {n for src, dst, _ in edges for n in (src, dst)}
    level = dict.fromkeys(nodes, 0)
    changed = True
    while changed:
        changed = False
        for src, dst, negated in edges:
            need = level[src] + (1 if negated else 0)
            if level[dst] < need:
                if need > len(nodes):
                    raise Unstratifiable(f"recursion through negation at {dst}")
                level[dst] = need
                changed = True
    return level


# --------------------------------------------------------------------------- evaluation


def evaluate(
    program: Program, data: Data, clock: builtins.Clock = fixed_clock
) -> dict[Key, set[Row]]:
    """Every table's rows: base data, facts and everything the rules derive."""
    rules_of = {policy: list(rules) for policy, rules in program.items()}
    level = strata(rules_of)
    state: dict[Key, set[Row]] = {key: set(rows) for key, rows in data.items()}
    for key in level:
        state.setdefault(key, set())
    for stratum in sorted(set(level.values())):
        rules = [
            (policy, rule)
            for policy, policy_rules in rules_of.items()
            for rule in policy_rules
            if level[head_key(policy, rule.head[0])] == stratum
        ]
        _fixpoint(rules, state, clock)
    return state


def _fixpoint(
    rules: list[tuple[str, Rule]], state: dict[Key, set[Row]], clock: builtins.Clock
) -> None:
    while True:
        new = {
            (head_key(policy, head), row)
            for policy, rule in rules
            for head in rule.head
            for row in derive(policy, head, rule.body, state, clock)
        }
        new = {(key, row) for key, row in new if row not in state[key]}
        if not new:
            return
        for key, row in new:
            state[key].add(row)


def derive(
    policy: str,
    head: Literal,
    body: Iterable[Literal],
    state: Mapping[Key, set[Row]],
    clock: builtins.Clock = fixed_clock,
) -> Iterator[Row]:
    """Rows of ``head`` for every solution of ``body`` against ``state``."""
    body = list(body)
    register_aggregates(head, body)
    for binding in solve(policy, body, {}, state, clock):
        yield ground(head.args, binding)


def solve(
    policy: str,
    body: list[Literal],
    binding: Binding,
    state: Mapping[Key, set[Row]],
    clock: builtins.Clock,
) -> Iterator[Binding]:
    """All extensions of ``binding`` satisfying ``body``: the first ready literal goes next."""
    if not body:
        yield binding
        return
    ready = [i for i, lit in enumerate(body) if _ready(lit, binding)]
    if not ready:
        raise UnsafeRule(f"no literal of {body} can be evaluated with {binding}")
    lit, rest = body[ready[0]], body[: ready[0]] + body[ready[0] + 1 :]
    for extended in _solve_literal(policy, lit, binding, state, clock):
        yield from solve(policy, rest, extended, state, clock)


def _ready(lit: Literal, binding: Binding) -> bool:
    if lit.aggregate is not None:
        groups, given = _groups.get(id(lit), ((), False))
        return not given or all(g in binding for g in groups)
    if lit.negated:
        return all(v.name in binding for v in lit.variables())
    b = builtins.lookup(lit.table, lit.policy)
    if b is not None:
        return all(_value(t, binding) is not None for t in lit.args[: b.num_inputs])
    return True


def _solve_literal(
    policy: str,
    lit: Literal,
    binding: Binding,
    state: Mapping[Key, set[Row]],
    clock: builtins.Clock,
) -> Iterator[Binding]:
    if lit.aggregate is not None:
        yield from _solve_aggregate(policy, lit, binding, state, clock)
        return
    if lit.negated:
        positive = dataclasses.replace(lit, negated=False)
        if next(_solve_literal(policy, positive, binding, state, clock), None) is None:
            yield binding
        return
    truth = _truth(lit)
    b = builtins.lookup(lit.table, lit.policy)
    if truth is not None:
        if truth:
            yield binding
    elif b is not None:
        outputs = builtins.call(b, ground(lit.args[: b.num_inputs], binding), clock)
        if outputs is not None:
            extended = unify(lit.args[b.num_inputs :], outputs, binding)
            if extended is not None:
                yield extended
    else:
        key = (lit.policy or policy, lit.table)
        for row in list(state.get(key, ())):
            extended = unify(lit.args, row, binding)
            if extended is not None:
                yield extended


def unify(terms: tuple[Term, ...], row: Row, binding: Binding) -> Binding | None:
    """``binding`` extended so that ``terms`` equal ``row``, None when impossible."""
    if len(terms) != len(row):
        return None
    out = dict(binding)
    for term, value in zip(terms, row, strict=True):
        if isinstance(term, Variable) and term.name not in out:
            out[term.name] = value
        elif _value(term, out) != value:
            return None
    return out


def ground(terms: tuple[Term, ...], binding: Binding) -> Row:
    """The values of ``terms`` under ``binding``, all of which must be bound."""
    values = tuple(_value(term, binding) for term in terms)
    if any(v is None for v in values):
        raise UnsafeRule(f"unbound variable in {terms} under {binding}")
    return tuple(v for v in values if v is not None)


def _value(term: Term, binding: Binding) -> Value | None:
    """A term's value under ``binding``; None when it is an unbound variable."""
    if isinstance(term, Constant):
        return term.value
    return binding.get(term.name)


# --------------------------------------------------------------------------- aggregates

_groups: dict[int, tuple[tuple[str, ...], bool]] = {}
"""Per aggregate literal (by id, registered by ``derive``): its group variables, and whether the
rest of the body gives them."""


def register_aggregates(head: Literal, body: list[Literal]) -> None:
    for lit in body:
        agg = lit.aggregate
        if agg is None:
            continue
        outside = {v.name for v in head.variables()}
        for other in body:
            if other.aggregate is None:
                outside.update(v.name for v in other.variables())
            elif other is not lit:
                outside.update(v.name for v in other.args if isinstance(v, Variable))
        inner = [v.name for b in agg.body for v in b.variables()]
        groups = tuple(n for n in dict.fromkeys(inner) if n in outside)
        _groups[id(lit)] = (groups, set(groups) <= _bound_outside(body))


def _bound_outside(body: list[Literal]) -> set[str]:
    """Variables bound by the positive literals outside every aggregate (tables, then builtin
    outputs once their inputs are bound)."""
    bound = set()
    for lit in body:
        if lit.aggregate is None and not lit.negated and not is_special(lit):
            bound.update(v.name for v in lit.variables())
    changed = True
    while changed:
        changed = False
        for lit in body:
            b = builtins.lookup(lit.table, lit.policy)
            if lit.aggregate is not None or lit.negated or b is None:
                continue
            inputs = {t.name for t in lit.args[: b.num_inputs] if isinstance(t, Variable)}
            outputs = {t.name for t in lit.args[b.num_inputs :] if isinstance(t, Variable)}
            if inputs <= bound and not outputs <= bound:
                bound |= outputs
                changed = True
    return bound


def _solve_aggregate(
    policy: str,
    lit: Literal,
    binding: Binding,
    state: Mapping[Key, set[Row]],
    clock: builtins.Clock,
) -> Iterator[Binding]:
    agg = lit.aggregate
    assert agg is not None and isinstance(agg.term, Variable)
    groups, given = _groups[id(lit)]
    solutions = {frozenset(s.items()) for s in solve(policy, list(agg.body), {}, state, clock)}
    members: dict[tuple[Value, ...], list[Binding]] = {}
    for frozen in solutions:
        s = dict(frozen)
        members.setdefault(tuple(s[g] for g in groups), []).append(s)
    if given:
        key = tuple(binding[g] for g in groups)
        found = members.get(key, [])
        value = aggregate_value(agg.op, [s[agg.term.name] for s in found])
        if value is not None:
            extended = unify(lit.args, (value,), binding)
            if extended is not None:
                yield extended
        return
    for key, found in members.items():
        value = aggregate_value(agg.op, [s[agg.term.name] for s in found])
        if value is None:
            continue
        extended = unify(tuple(Variable(g) for g in groups) + lit.args, (*key, value), binding)
        if extended is not None:
            yield extended


def aggregate_value(op: str, values: list[Value]) -> Value | None:
    """``op`` over ``values`` (one per solution): None when it has no value."""
    numbers = [
        v
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if op == "count":
        return len(set(values))
    if op == "sum":
        if all(isinstance(v, int) for v in numbers):
            return sum(numbers)
        return float(sum(Fraction(v) for v in numbers))
    if op == "avg":
        if not numbers:
            return None
        return float(sum(Fraction(v) for v in numbers) / len(numbers))
    if not values:
        return None
    key = lambda v: (0, v) if v in numbers else (1, str(v))  # noqa: E731
    return min(values, key=key) if op == "min" else max(values, key=key)
