"""Tests of the oracle itself (``naive``) and of the program generator (``programs``).

The oracle is checked against answers computed by hand; the generator against the promises its
docstring makes (stratified, safe, recursion only inside one materialized policy).
"""

from __future__ import annotations

import naive
import programs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datalog import builtins
from congress.datalog.ast import Constant, Literal, Row, Rule, Term, Value, Variable

x, y, z = Variable("x"), Variable("y"), Variable("z")


def lit(
    name: str,
    *args: Term | Value,
    policy: str | None = None,
    negated: bool = False,
    modal: str | None = None,
) -> Literal:
    """A literal; arguments that are not terms become constants."""
    terms = tuple(a if isinstance(a, Variable | Constant) else Constant(a) for a in args)
    return Literal(name, terms, policy=policy, negated=negated, modal=modal)


def neg(literal: Literal) -> Literal:
    return Literal(literal.table, literal.args, literal.policy, negated=True)


def rule(head: Literal, *body: Literal) -> Rule:
    return Rule((head,), tuple(body))


# --------------------------------------------------------------------------- hand-computed answers


def test_transitive_closure_on_a_cycle() -> None:
    program = {
        "m": [
            rule(lit("path", x, y), lit("edge", x, y, policy="ds")),
            rule(lit("path", x, z), lit("edge", x, y, policy="ds"), lit("path", y, z)),
        ]
    }
    edges = {(1, 2), (2, 3), (3, 1), (3, 4)}
    out = naive.evaluate(program, {("ds", "edge"): edges})
    assert out[("m", "path")] == {(a, b) for a in (1, 2, 3) for b in (1, 2, 3, 4)}
    assert out[("ds", "edge")] == edges


def test_nonlinear_closure_and_mutual_recursion() -> None:
    program = {
        "m": [
            rule(lit("tc", x, y), lit("e", x, y)),
            rule(lit("tc", x, z), lit("tc", x, y), lit("tc", y, z)),
            rule(lit("even", 0)),
            rule(lit("odd", y), lit("even", x), lit("succ", x, y, policy="ds")),
            rule(lit("even", y), lit("odd", x), lit("succ", x, y, policy="ds")),
            rule(lit("e", "a", "b")),
            rule(lit("e", "b", "c")),
        ]
    }
    out = naive.evaluate(program, {("ds", "succ"): {(i, i + 1) for i in range(6)}})
    assert out[("m", "tc")] == {("a", "b"), ("b", "c"), ("a", "c")}
    assert out[("m", "even")] == {(0,), (2,), (4,), (6,)}
    assert out[("m", "odd")] == {(1,), (3,), (5,)}


def test_stratified_negation() -> None:
    program = {
        "m": [
            rule(lit("reach", x, y), lit("link", x, y, policy="ds")),
            rule(lit("reach", x, z), lit("reach", x, y), lit("link", y, z, policy="ds")),
            rule(lit("node", x), lit("link", x, y, policy="ds")),
            rule(lit("node", y), lit("link", x, y, policy="ds")),
            # negation placed first: it must wait until x and y are bound
            rule(lit("cut", x, y), neg(lit("reach", x, y)), lit("node", x), lit("node", y)),
        ]
    }
    out = naive.evaluate(program, {("ds", "link"): {("a", "b"), ("b", "c")}})
    assert out[("m", "reach")] == {("a", "b"), ("b", "c"), ("a", "c")}
    nodes = ("a", "b", "c")
    expected = {(p, q) for p in nodes for q in nodes} - out[("m", "reach")]
    assert out[("m", "cut")] == expected
    assert naive.strata(program)[("m", "cut")] == 1


def test_ground_negation_and_true_false() -> None:
    program = {
        "m": [
            rule(lit("flag", 1), neg(lit("bad", 2, policy="ds"))),
            rule(lit("flag", 2), neg(lit("bad", 1, policy="ds"))),
            rule(lit("yes", 1), lit("true")),
            rule(lit("no", 1), lit("false")),
            rule(lit("both", x), lit("yes", x), neg(lit("false"))),
            rule(lit("none", x), lit("yes", x), neg(lit("true"))),
        ]
    }
    out = naive.evaluate(program, {("ds", "bad"): {(1,)}})
    assert out[("m", "flag")] == {(1,)}
    assert out[("m", "yes")] == {(1,)}
    assert out[("m", "no")] == set()
    assert out[("m", "both")] == {(1,)}
    assert out[("m", "none")] == set()


def test_builtins() -> None:
    num = lit("num", x, policy="ds")
    program = {
        "m": [
            # the builtin comes first: it must wait for x
            rule(lit("small", x), lit("lt", x, 3, policy="builtin"), num),
            rule(lit("sum", x, y, z), lit("plus", x, y, z), num, lit("num", y, policy="ds")),
            rule(lit("same", x), num, lit("plus", x, 0, x)),  # output compared, not bound
            rule(lit("never", x), num, lit("plus", x, 1, x)),
            rule(lit("typed", x), num, lit("lt", x, "a")),  # int < str raises: fails
            rule(lit("eq", x), num, lit("equal", x, 2, policy="builtin")),
            rule(lit("not_big", x), num, neg(lit("gt", x, 1))),
            rule(lit("pair", z), lit("word", x, policy="ds"), lit("plus", x, "!", z)),
        ]
    }
    data: dict[naive.Key, set[Row]] = {("ds", "num"): {(1,), (2,), (5,)}, ("ds", "word"): {("a",)}}
    out = naive.evaluate(program, data)
    assert out[("m", "small")] == {(1,), (2,)}
    assert out[("m", "sum")] == {(a, b, a + b) for a in (1, 2, 5) for b in (1, 2, 5)}
    assert out[("m", "same")] == {(1,), (2,), (5,)}
    assert out[("m", "never")] == set()
    assert out[("m", "typed")] == set()
    assert out[("m", "eq")] == {(2,)}
    assert out[("m", "not_big")] == {(1,)}
    assert out[("m", "pair")] == {("a!",)}
    assert ("builtin", "lt") not in out and ("m", "plus") not in out


def test_cross_policy_and_same_names() -> None:
    program = {
        "a": [
            rule(lit("p", x), lit("t", x, policy="ds")),
            rule(lit("p", 9)),
        ],
        "b": [
            rule(lit("p", x), lit("p", x, policy="a"), neg(lit("bad", x, policy="ds"))),
            rule(lit("q", x), lit("p", x)),  # b's own p
            rule(lit("r", x), lit("p", x, policy="b"), lit("p", x, policy="a")),
        ],
    }
    out = naive.evaluate(program, {("ds", "t"): {(1,), (2,)}, ("ds", "bad"): {(2,)}})
    assert out[("a", "p")] == {(1,), (2,), (9,)}
    assert out[("b", "p")] == {(1,), (9,)}
    assert out[("b", "q")] == {(1,), (9,)}
    assert out[("b", "r")] == {(1,), (9,)}


def test_execute_heads_and_facts_on_derived_tables() -> None:
    program = {
        "m": [
            rule(lit("error", x), lit("vm", x, "bad", policy="ds")),
            rule(lit("error", "vm9")),
            rule(lit("servers.pause", x, policy="nova", modal="execute"), lit("error", x)),
            rule(lit("alarm", x, 1, modal="execute"), lit("error", x)),
        ]
    }
    out = naive.evaluate(program, {("ds", "vm"): {("vm1", "bad"), ("vm2", "ok")}})
    assert out[("m", "error")] == {("vm1",), ("vm9",)}
    assert out[("m", "execute[nova:servers.pause]")] == {("vm1",), ("vm9",)}
    assert out[("m", "execute[alarm]")] == {("vm1", 1), ("vm9", 1)}
    assert ("nova", "servers.pause") not in out


def test_repeated_variables_and_constants() -> None:
    program = {
        "m": [
            rule(lit("loop", x), lit("pair", x, x, policy="ds")),
            rule(lit("from_a", y), lit("pair", "a", y, policy="ds")),
            rule(lit("mixed", x), lit("pair", x, 1, policy="ds")),
        ]
    }
    pairs: set[Row] = {("a", "a"), ("a", "b"), ("b", "b"), ("c", 1), (1, 1)}
    out = naive.evaluate(program, {("ds", "pair"): pairs})
    assert out[("m", "loop")] == {("a",), ("b",), (1,)}
    assert out[("m", "from_a")] == {("a",), ("b",)}
    assert out[("m", "mixed")] == {("c",), (1,)}


def test_unstratifiable_and_unsafe_programs_are_refused() -> None:
    win = {"m": [rule(lit("win", x), lit("move", x, y, policy="ds"), neg(lit("win", y)))]}
    with pytest.raises(naive.Unstratifiable):
        naive.evaluate(win, {})
    unsafe = {"m": [rule(lit("p", x), lit("q", y, policy="ds"), neg(lit("r", x)))]}
    with pytest.raises(naive.UnsafeRule):
        naive.evaluate(unsafe, {("ds", "q"): {(1,)}})


# --------------------------------------------------------------------------- the generator


def _sccs(edges: set[tuple[naive.Key, naive.Key, bool]]) -> list[set[naive.Key]]:
    """Strongly connected components with a cycle (by reachability: fine for tiny graphs)."""
    succ: dict[naive.Key, set[naive.Key]] = {}
    for src, dst, _ in edges:
        succ.setdefault(src, set()).add(dst)
    reach = {n: set(s) for n, s in succ.items()}
    changed = True
    while changed:
        changed = False
        for out in reach.values():
            more = set().union(*(reach.get(m, set()) for m in out)) - out
            if more:
                out |= more
                changed = True
    cyclic = {n for n, out in reach.items() if n in out}
    return [{m for m in cyclic if m in reach[n] and n in reach[m]} for n in cyclic]


def _safe(rule_: Rule) -> bool:
    """Negated literals and builtin inputs use only variables of positive table literals; head
    variables come from those or from builtin outputs."""

    def names(terms: tuple[Term, ...]) -> set[str]:
        return {t.name for t in terms if isinstance(t, Variable)}

    positive = set().union(
        *(
            names(b.args)
            for b in rule_.body
            if not b.negated and not naive.is_special(b) and b.aggregate is None
        )
    )
    outputs: set[str] = set()
    for b in rule_.body:
        if b.aggregate is not None:  # its body is safe alone; it binds its result and groups
            inner = Rule((Literal("_", (b.aggregate.term,)),), b.aggregate.body)
            if not _safe(inner):
                return False
            positive |= {v.name for v in b.variables()}
    for b in rule_.body:
        if b.aggregate is not None:
            continue
        spec = builtins.lookup(b.table, b.policy)
        if b.negated:
            needed = names(b.args)
        elif spec is not None:
            needed = names(b.args[: spec.num_inputs])
            outputs |= names(b.args[spec.num_inputs :])
        else:
            continue
        if not needed <= positive:
            return False
    return names(rule_.head[0].args) <= positive | outputs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs.programs())
def test_generated_programs_keep_their_promises(program: programs.Program) -> None:
    for statements in program.statements.values():
        assert len(set(statements)) == len(statements)
        for r in statements:
            assert len(r.head) == 1
            assert _safe(r), r
            if not r.body:
                assert r.head[0].is_ground()
    edges = naive.dependency_edges(program.statements)
    naive.strata(program.statements)  # stratified
    for component in _sccs(edges):
        policies = {p for p, _ in component}
        assert len(policies) == 1
        assert program.kinds[policies.pop()] == "materialized"
        assert not any(neg and s in component and d in component for s, d, neg in edges)
    order = [programs.DS, *program.kinds]
    for src, dst, _ in edges:
        assert order.index(src[0]) <= order.index(dst[0])  # policies read earlier ones only
    arity: dict[naive.Key, int] = {(programs.DS, t): len(c) for t, c in program.schema.items()}
    for policy, statements in program.statements.items():
        for r in statements:
            keyed: list[tuple[naive.Key | None, Literal]] = [
                (naive.head_key(policy, h), h) for h in r.head
            ]
            keyed += [(naive.body_key(policy, b), b) for b in r.body]
            for key, literal in keyed:
                if key is not None:
                    assert arity.setdefault(key, literal.arity) == literal.arity


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_oracle_ignores_rule_order(data: st.DataObject) -> None:
    program, ops = data.draw(programs.scenarios())
    state = programs.State.empty(program)
    for op in ops:
        state.apply(op)
    base = {(programs.DS, t): rows for t, rows in state.data.items()}
    expected = naive.evaluate(state.rules, base)
    shuffled = {p: data.draw(st.permutations(rules)) for p, rules in reversed(state.rules.items())}
    assert naive.evaluate(shuffled, base) == expected
