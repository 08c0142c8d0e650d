"""Tests of explanations (congress.datalog.explain) through ``Runtime.explain``, ``explain_row``
and ``why_not``, and their JSON; properties over random programs (``programs``) checked with the
oracle's evaluator (``naive``)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from typing import Any

import naive
import programs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from congress.datalog import builtins as bi
from congress.datalog.ast import Constant, Literal, Rule, Variable
from congress.datalog.explain import MAX_AGGREGATE_MEMBERS, Proof, WhyNot, explain
from congress.datalog.printer import to_text
from congress.datalog.query import parse_query_text
from congress.datalog.runtime import Runtime


def clock() -> datetime.datetime:
    return datetime.datetime(2020, 1, 1)


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime(clock=clock)
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "status"]})
    rt.create_policy("alice")
    rt.apply({("nova", "servers"): ([("vm1", "ACTIVE"), ("vm2", "ERROR")], [])})
    rt.insert(
        "alice",
        """
        p(1) p(2) r(2)
        q(x) :- p(x), not r(x)
        err(x) :- nova:servers(x, "ERROR")
        big(x, y) :- p(x), builtin:plus(x, 10, y), not builtin:equal(y, 12)
        top(x) :- q(x), err(y)
        always(x) :- p(x), true
        """,
    )
    return rt


def only(proofs: list[Proof]) -> Proof:
    assert len(proofs) == 1, [p.lines() for p in proofs]
    return proofs[0]


def values(lit: Literal) -> tuple[Any, ...]:
    return tuple(a.value for a in lit.args if isinstance(a, Constant))


def check_proof(rt: Runtime, proof: Proof, seen: frozenset[tuple[str, str]] = frozenset()) -> None:
    """A proof tree is sound and well-founded: every node holds, every rule node's children are
    its body under one substitution, and no literal repeats on a branch."""
    shown = (proof.policy, to_text(proof.literal))
    assert shown not in seen, f"{shown} repeats on a branch"
    seen = seen | {shown}
    lit = proof.literal
    if proof.kind in ("fact", "data"):
        assert values(lit) in rt.rows(proof.policy, lit.table)
        assert proof.kind == ("data" if rt.kind(proof.policy) == "datasource" else "fact")
        assert not proof.children and proof.rule is None
        return
    if proof.kind == "negation":
        assert lit.negated
        assert values(lit) not in rt.rows(proof.policy, lit.table)
        return
    if proof.kind == "builtin":
        b = bi.lookup(lit.table, lit.policy)
        assert b is not None
        args = values(lit)
        got = bi.call(b, args[: b.num_inputs], clock)
        holds = got is not None and got == args[b.num_inputs :]
        assert holds != lit.negated
        return
    if proof.kind == "true":
        return
    if proof.kind == "aggregate":
        check_aggregate(rt, proof, seen)
        return
    assert proof.kind == "rule" and proof.rule is not None
    assert values(lit) in rt.rows(proof.policy, lit.table)
    rule = proof.rule
    binding: dict[str, Any] = {}

    def match(pattern: Literal, ground: Literal, head: bool = False) -> None:
        table = naive.head_key(proof.policy, pattern)[1] if head else pattern.table
        assert table == ground.table
        assert len(pattern.args) == len(ground.args)
        for t, g in zip(pattern.args, ground.args, strict=True):
            assert isinstance(g, Constant)
            if isinstance(t, Variable):
                assert binding.setdefault(t.name, g.value) == g.value
            else:
                assert t.value == g.value

    match(rule.head[0], lit, head=True)
    assert len(proof.children) == len(rule.body)
    for body_lit, child in zip(rule.body, proof.children, strict=True):
        match(body_lit, child.literal)
        assert child.literal.negated == body_lit.negated
        check_proof(rt, child, seen)


class RuntimeState:
    """The runtime's tables as the naive evaluator reads a state."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def get(self, key: tuple[str, str], default: Any = ()) -> Any:
        if not self.rt.policy_exists(key[0]):
            return default
        return self.rt.rows(*key)


def check_aggregate(rt: Runtime, proof: Proof, seen: frozenset[tuple[str, str]]) -> None:
    """An aggregate node: its value and its number of bindings are what the naive evaluator
    finds for its body with the group fixed; its members are sound proofs of that body."""
    agg = proof.literal.aggregate
    assert agg is not None
    found = naive.solve(proof.policy, list(agg.body), {}, RuntimeState(rt), clock)  # type: ignore[arg-type]
    solutions = [dict(s) for s in {frozenset(b.items()) for b in found}]
    assert proof.extra["bindings_in_group"] == len(solutions)
    term = agg.term  # a constant when the term is a group variable
    picked = [term.value if isinstance(term, Constant) else b[term.name] for b in solutions]
    expected = naive.aggregate_value(agg.op, picked)
    assert values(proof.literal) == (expected,) == (proof.extra["value"],)
    assert len(proof.children) == min(len(solutions), MAX_AGGREGATE_MEMBERS)
    for member in proof.children:
        assert member.kind == "member"
        local = {v.name for lit in agg.body for v in lit.variables()}
        assert {k: v for k, v in member.bindings.items() if k in local} in solutions
        assert len(member.children) == len(agg.body)
        for child in member.children:
            check_proof(rt, child, seen)


# -- shapes of proofs ---------------------------------------------------------------------------


def test_a_fact_is_its_own_proof(rt: Runtime) -> None:
    proof = only(rt.explain("alice", "p(1)"))
    assert proof == Proof(Literal("p", (Constant(1),)), "alice", "fact")
    assert proof.as_dict() == {"literal": "p(1)", "policy": "alice", "kind": "fact"}
    assert proof.lines() == ["alice:p(1)   [fact]"]


def test_a_datasource_row_is_data(rt: Runtime) -> None:
    proof = only(rt.explain("nova", 'servers("vm1", x)'))
    assert proof.kind == "data"
    assert proof.policy == "nova"
    assert proof.lines() == ['nova:servers("vm1", "ACTIVE")   [data]']


def test_rule_with_a_fact_and_a_negation(rt: Runtime) -> None:
    proof = only(rt.explain("alice", "q(x)"))
    assert proof.as_dict() == {
        "literal": "q(1)",
        "policy": "alice",
        "kind": "rule",
        "rule": "q(x) :- p(x), not r(x)",
        "children": [
            {"literal": "p(1)", "policy": "alice", "kind": "fact"},
            {"literal": "not r(1)", "policy": "alice", "kind": "negation"},
        ],
    }
    assert proof.lines() == [
        "alice:q(1)",
        "  alice:p(1)   [fact]",
        "  alice:not r(1)   [negation]",
    ]
    check_proof(rt, proof)


def test_rule_over_datasource_rows(rt: Runtime) -> None:
    proof = only(rt.explain("alice", "err(x)"))
    assert proof.as_dict() == {
        "literal": 'err("vm2")',
        "policy": "alice",
        "kind": "rule",
        "rule": 'err(x) :- nova:servers(x, "ERROR")',
        "children": [{"literal": 'servers("vm2", "ERROR")', "policy": "nova", "kind": "data"}],
    }
    check_proof(rt, proof)


def test_builtins_and_negated_builtins(rt: Runtime) -> None:
    proofs = rt.explain("alice", "big(x, y)")
    assert [to_text(p.literal) for p in proofs] == ["big(1, 11)"]
    proof = proofs[0]
    assert proof.lines() == [
        "alice:big(1, 11)",
        "  alice:p(1)   [fact]",
        "  alice:builtin:plus(1, 10, 11)   [builtin]",
        "  alice:not builtin:equal(11, 12)   [builtin]",
    ]
    assert [c.kind for c in proof.children] == ["fact", "builtin", "builtin"]
    assert proof.children[2].literal.negated
    check_proof(rt, proof)


def test_true_in_a_body(rt: Runtime) -> None:
    proofs = sorted(rt.explain("alice", "always(x)"), key=lambda p: to_text(p.literal))
    assert [p.lines() for p in proofs] == [
        ["alice:always(1)", "  alice:p(1)   [fact]", "  alice:true   [true]"],
        ["alice:always(2)", "  alice:p(2)   [fact]", "  alice:true   [true]"],
    ]
    for p in proofs:
        check_proof(rt, p)


def test_several_levels(rt: Runtime) -> None:
    proof = only(rt.explain("alice", "top(1)"))
    assert proof.lines() == [
        "alice:top(1)",
        "  alice:q(1)",
        "    alice:p(1)   [fact]",
        "    alice:not r(1)   [negation]",
        '  alice:err("vm2")',
        '    nova:servers("vm2", "ERROR")   [data]',
    ]
    assert proof.rule is not None and to_text(proof.rule) == "top(x) :- q(x), err(y)"
    check_proof(rt, proof)
    # as_dict is JSON-serialisable and nests children
    doc = json.loads(json.dumps(proof.as_dict()))
    assert doc["children"][1]["children"][0]["kind"] == "data"


def test_cross_policy_proofs(rt: Runtime) -> None:
    rt.create_policy("bob")
    rt.insert("bob", "w(x, y) :- alice:q(x), alice:err(y), not alice:r(x)")
    proof = only(rt.explain("bob", "w(x, y)"))
    assert proof.lines() == [
        'bob:w(1, "vm2")',
        "  alice:q(1)",
        "    alice:p(1)   [fact]",
        "    alice:not r(1)   [negation]",
        '  alice:err("vm2")',
        '    nova:servers("vm2", "ERROR")   [data]',
        "  alice:not r(1)   [negation]",
    ]
    assert [c.policy for c in proof.children] == ["alice", "alice", "alice"]
    check_proof(rt, proof)


def test_a_fact_wins_over_a_rule(rt: Runtime) -> None:
    rt.insert("alice", "q(1)")
    assert only(rt.explain("alice", "q(1)")).kind == "fact"
    rt.delete("alice", "q(1)")
    assert only(rt.explain("alice", "q(1)")).kind == "rule"


def test_one_proof_per_answer(rt: Runtime) -> None:
    rt.insert("alice", "p(3)")
    proofs = rt.explain("alice", "q(x)")
    assert sorted(to_text(p.literal) for p in proofs) == ["q(1)", "q(3)"]
    for p in proofs:
        check_proof(rt, p)


# -- no proof -------------------------------------------------------------------------------------


def test_no_proof_for_a_row_that_does_not_hold(rt: Runtime) -> None:
    assert rt.explain("alice", "q(2)") == []
    assert rt.explain("alice", "q(99)") == []
    assert rt.explain("alice", "nosuch(1)") == []
    assert explain(rt, "alice", Literal("q", (Constant(2),))) is None
    assert explain(rt, "alice", Literal("nosuch", (Constant(2),))) is None


def test_explain_needs_a_ground_literal(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="explain needs a ground literal, got q"):
        explain(rt, "alice", Literal("q", (Variable("x"),)))


def test_explain_a_prefixed_literal(rt: Runtime) -> None:
    proof = explain(rt, "bob_does_not_matter", Literal("q", (Constant(1),), "alice"))
    assert proof is not None
    assert proof.policy == "alice" and proof.kind == "rule"


# -- recursion -------------------------------------------------------------------------------------

CLOSURE = "path(x, y) :- edge(x, y)  path(x, z) :- path(x, y), edge(y, z)"


@pytest.fixture
def cyclic() -> Runtime:
    rt = Runtime()
    rt.create_policy("m", "materialized")
    rt.insert("m", "edge(1, 2) edge(2, 3) edge(3, 1) edge(3, 4) " + CLOSURE)
    return rt


def test_recursive_proof_over_a_cycle_is_well_founded(cyclic: Runtime) -> None:
    proof = only(cyclic.explain("m", "path(1, 3)"))
    assert proof.lines() == [
        "m:path(1, 3)",
        "  m:path(1, 2)",
        "    m:edge(1, 2)   [fact]",
        "  m:edge(2, 3)   [fact]",
    ]
    check_proof(cyclic, proof)


def test_every_row_of_a_cyclic_closure_has_a_well_founded_proof(cyclic: Runtime) -> None:
    proofs = cyclic.explain("m", "path(x, y)")
    assert {values(p.literal) for p in proofs} == cyclic.rows("m", "path")
    for p in proofs:
        check_proof(cyclic, p)
    one = only(cyclic.explain("m", "path(1, 1)"))
    assert one.lines() == [
        "m:path(1, 1)",
        "  m:path(1, 3)",
        "    m:path(1, 2)",
        "      m:edge(1, 2)   [fact]",
        "    m:edge(2, 3)   [fact]",
        "  m:edge(3, 1)   [fact]",
    ]


def test_recursive_proof_after_a_deletion_uses_what_remains(cyclic: Runtime) -> None:
    cyclic.insert("m", "edge(1, 3)")
    cyclic.delete("m", "edge(2, 3)")
    assert cyclic.explain("m", "path(2, 4)") == []
    proof = only(cyclic.explain("m", "path(1, 4)"))
    assert proof.lines() == [
        "m:path(1, 4)",
        "  m:path(1, 3)",
        "    m:edge(1, 3)   [fact]",
        "  m:edge(3, 4)   [fact]",
    ]
    check_proof(cyclic, proof)


def test_cross_policy_recursive_proof() -> None:
    rt = Runtime()
    rt.create_policy("a", "materialized")
    rt.create_policy("b", "materialized")
    rt.insert("a", "p(x) :- b:q(x)  p(1)")
    rt.insert("b", "q(x) :- a:p(x)  q(2)")
    proof = only(rt.explain("a", "p(2)"))
    assert proof.lines() == ["a:p(2)", "  b:q(2)   [fact]"]
    proof = only(rt.explain("b", "q(1)"))
    assert proof.lines() == ["b:q(1)", "  a:p(1)   [fact]"]


def test_proof_found_among_many_non_well_founded_bindings() -> None:
    rt = Runtime()
    rt.create_policy("m", "materialized")
    rt.insert("m", "start(0) reach(x) :- start(x)  reach(y) :- reach(x), edge(x, y)")
    edges = []
    prev = 0
    for j in range(1, 21):
        s, t = 1000 * j, 1000 * j + 1
        edges += [(prev, s), (s, t)]
        for i in range(2, 102):  # satellites of t, reachable only through t
            edges += [(t, 1000 * j + i), (1000 * j + i, t)]
        prev = t
    rt.apply({("m", "edge"): (edges, [])})
    assert (prev,) in rt.rows("m", "reach")
    proofs = rt.explain("m", f"reach({prev})")
    assert len(proofs) == 1
    check_proof(rt, proofs[0])


# -- why not ---------------------------------------------------------------------------------------


def why_not_of(rt: Runtime, policy: str, query: str) -> dict[str, Any]:
    lit = parse_query_text(query)
    assert isinstance(lit, Literal)
    return rt.why_not(policy, lit.table, values(lit)).as_json()


def test_why_not_names_the_negated_row_present(rt: Runtime) -> None:
    assert why_not_of(rt, "alice", "q(2)") == {
        "literal": "q(2)",
        "policy": "alice",
        "table": "q",
        "rules": [
            {
                "rule": "q(x) :- p(x), not r(x)",
                "rule_id": None,
                "policy": "alice",
                "bindings": {"x": 2},
                "satisfied": [{"position": 0, "literal": "p(2)", "policy": "alice"}],
                "failed": {
                    "position": 1,
                    "literal": "not r(2)",
                    "policy": "alice",
                    "kind": "negation",
                    "reason": "present",
                    "present": [2],
                },
                "complete": True,
            }
        ],
    }


def test_why_not_a_failing_builtin(rt: Runtime) -> None:
    (attempt,) = why_not_of(rt, "alice", "big(2, 12)")["rules"]
    assert attempt["bindings"] == {"x": 2, "y": 12}
    assert [s["literal"] for s in attempt["satisfied"]] == ["p(2)", "builtin:plus(2, 10, 12)"]
    assert attempt["failed"] == {
        "position": 2,
        "literal": "not builtin:equal(12, 12)",
        "policy": "alice",
        "kind": "builtin",
        "reason": "builtin_false",
    }
    (attempt,) = why_not_of(rt, "alice", "big(1, 99)")["rules"]
    assert attempt["failed"]["literal"] == "builtin:plus(1, 10, 99)"
    assert attempt["failed"]["reason"] == "builtin_false"


def test_why_not_no_matching_row_in_a_datasource(rt: Runtime) -> None:
    (attempt,) = why_not_of(rt, "alice", 'err("vm1")')["rules"]
    assert attempt["failed"] == {
        "position": 0,
        "literal": 'servers("vm1", "ERROR")',
        "policy": "nova",
        "kind": "positive",
        "reason": "no_match",
    }


def test_why_not_reports_the_deepest_point_and_recurses_into_derived_tables(rt: Runtime) -> None:
    rt.insert("alice", "pair(x, y) :- p(x), q(y), r(x)  far(x) :- pair(x, y), err(y)")
    (attempt,) = why_not_of(rt, "alice", "pair(2, 2)")["rules"]
    assert attempt["failed"]["literal"] == "q(2)" and attempt["satisfied"][0]["literal"] == "p(2)"
    inner = attempt["failed"]["why_not"]
    assert inner["literal"] == "q(2)"
    assert inner["rules"][0]["failed"]["literal"] == "not r(2)"
    # far(1): pair(1, y) has no row, since r(1) does not hold; one level deeper says so
    (attempt,) = why_not_of(rt, "alice", "far(1)")["rules"]
    assert attempt["failed"]["literal"] == "pair(1, y)"
    (inner,) = attempt["failed"]["why_not"]["rules"]
    assert inner["bindings"] == {"x": 1, "y": 1}
    assert inner["failed"]["literal"] == "r(1)" and "why_not" not in inner["failed"]


def test_why_not_depth_bounds_the_recursion(rt: Runtime) -> None:
    doc = rt.why_not("alice", "top", (2,), depth=0).as_json()
    assert "why_not" not in doc["rules"][0]["failed"]
    doc = rt.why_not("alice", "top", (2,), depth=1).as_json()
    inner = doc["rules"][0]["failed"]["why_not"]
    assert inner["rules"][0]["failed"]["reason"] == "present"


def test_why_not_only_rules_whose_head_unifies() -> None:
    rt = Runtime()
    rt.create_policy("a")
    rt.insert("a", "s(1, x) :- t(x)  s(x, x) :- t(x)  s(2, x) :- t(x)  t(5)")
    rules = [r["rule"] for r in rt.why_not("a", "s", (1, 3)).as_json()["rules"]]
    assert rules == ["s(1, x) :- t(x)"]
    rules = [r["rule"] for r in rt.why_not("a", "s", (3, 3)).as_json()["rules"]]
    assert rules == ["s(x, x) :- t(x)"]
    assert rt.why_not("a", "t", (1,)).rules == []
    assert rt.why_not("a", "nosuch", (1,)).rules == []


def test_why_not_of_a_recursive_table(cyclic: Runtime) -> None:
    cyclic.insert("m", "edge(7, 8)")
    doc = cyclic.why_not("m", "path", (4, 1)).as_json()
    assert [r["rule"] for r in doc["rules"]] == [
        "path(x, y) :- edge(x, y)",
        "path(x, z) :- path(x, y), edge(y, z)",
    ]
    assert doc["rules"][0]["failed"]["literal"] == "edge(4, 1)"
    assert doc["rules"][1]["failed"]["literal"] == "path(4, y)"


# -- the JSON of a proof --------------------------------------------------------------------------


def test_as_json_of_a_proof_with_rule_ids(rt: Runtime) -> None:
    proof = only(rt.explain("alice", "big(1, 11)"))
    ids = {to_text(r): f"id-{i}" for i, r in enumerate(rt.rules("alice"))}
    doc = proof.as_json(lambda policy, rule: ids.get(to_text(rule)) if policy == "alice" else None)
    assert doc == {
        "literal": "big(1, 11)",
        "policy": "alice",
        "kind": "rule",
        "table": "big",
        "row": [1, 11],
        "rule": "big(x, y) :- p(x), builtin:plus(x, 10, y), not builtin:equal(y, 12)",
        "rule_id": ids["big(x, y) :- p(x), builtin:plus(x, 10, y), not builtin:equal(y, 12)"],
        "bindings": {"x": 1, "y": 11},
        "children": [
            {
                "literal": "p(1)",
                "policy": "alice",
                "kind": "fact",
                "table": "p",
                "row": [1],
                "rule_id": ids["p(1)"],
            },
            {
                "literal": "builtin:plus(1, 10, 11)",
                "policy": "alice",
                "kind": "builtin",
                "table": "plus",
                "row": [1, 10, 11],
                "negated": False,
            },
            {
                "literal": "not builtin:equal(11, 12)",
                "policy": "alice",
                "kind": "builtin",
                "table": "equal",
                "row": [11, 12],
                "negated": True,
            },
        ],
    }
    assert only(rt.explain("alice", "always(1)")).as_json()["children"][1] == {
        "literal": "true",
        "policy": "alice",
        "kind": "true",
        "table": "true",
        "row": [],
    }


def test_an_unknown_body_item_kind_is_an_opaque_node(rt: Runtime) -> None:
    """A compiled item of a kind the explainer does not know (aggregates, when added) becomes a
    node of that kind showing the literal, in proofs and in why-nots alike."""
    key = ("alice", "always")
    (cr,) = rt._engine.rules[key]
    saved = cr.items
    cr.items = (saved[0], dataclasses.replace(saved[1], kind="mystery"))
    try:
        proof = only(rt.explain("alice", "always(1)"))
        assert proof.children[1].kind == "mystery"
        assert proof.as_json()["children"][1]["kind"] == "mystery"
        (attempt,) = rt.why_not("alice", "always", (5,)).as_json()["rules"]
        assert attempt["failed"]["reason"] == "no_match"
        rt.insert("alice", "p(5)")
        (attempt,) = rt.why_not("alice", "always", (5,)).as_json()["rules"]
        assert attempt["failed"]["kind"] == "mystery"
        assert attempt["failed"]["reason"] == "not_explained"
        assert attempt["failed"]["literal"] == "true"
    finally:
        cr.items = saved


# -- properties over random programs ---------------------------------------------------------------


@st.composite
def states(draw: st.DrawFn) -> tuple[programs.Program, dict[str, list[Rule]], programs.DataOp]:
    program = draw(programs.programs())
    chosen = {
        policy: [r for r in rules if draw(st.integers(0, 3))]
        for policy, rules in program.statements.items()
    }
    return program, chosen, draw(programs.initial_data(program))


State = dict[tuple[str, str], set[tuple[Any, ...]]]


def solutions(state: State, policy: str, lit: Literal, binding: dict[str, Any]) -> list[Any]:
    """What the oracle's evaluator makes of one body literal under ``binding``."""
    return list(naive.solve(policy, [lit], dict(binding), state, naive.fixed_clock))


def check_why_not(state: State, wn: WhyNot, rules: dict[str, list[Rule]], depth: int) -> None:
    """Every rule whose head unifies with the literal is tried once; each stops at a literal
    that fails under the reported bindings, after literals that hold under them."""
    target = wn.literal
    expected = [
        r
        for r in rules[wn.policy]
        if not r.is_fact
        and naive.head_key(wn.policy, r.head[0]) == (wn.policy, target.table)
        and unifies(r.head[0], target)
    ]
    assert sorted(map(to_text, (a.rule for a in wn.rules))) == sorted(map(to_text, expected))
    for attempt in wn.rules:
        naive.register_aggregates(attempt.rule.head[0], list(attempt.rule.body))
        assert attempt.complete
        assert attempt.failed is not None, f"{to_text(attempt.rule)} derives {to_text(target)}"
        head = attempt.rule.head[0]
        for term, arg in zip(head.args, target.args, strict=True):
            if isinstance(arg, Constant):
                got = term.value if isinstance(term, Constant) else attempt.bindings[term.name]
                assert got == arg.value
        for pos, _, _ in attempt.satisfied:
            assert solutions(state, attempt.policy, attempt.rule.body[pos], attempt.bindings)
        failed = attempt.failed
        assert failed.position not in [pos for pos, _, _ in attempt.satisfied]
        assert (
            solutions(state, attempt.policy, attempt.rule.body[failed.position], attempt.bindings)
            == []
        )
        if failed.why_not is not None:
            assert failed.reason == "no_match" and depth > 0
            check_why_not(state, failed.why_not, rules, depth - 1)


def unifies(head: Literal, target: Literal) -> bool:
    """The head matches the target's constants (its variables match anything)."""
    binding: dict[str, Any] = {}
    for term, arg in zip(head.args, target.args, strict=True):
        if not isinstance(arg, Constant):
            continue
        if isinstance(term, Constant):
            if term.value != arg.value:
                return False
        elif binding.setdefault(term.name, arg.value) != arg.value:
            return False
    return True


def blocked(state: State, rules: list[Rule], key: tuple[str, str]) -> set[tuple[Any, ...]]:
    """Rows the rules of ``key`` would derive if their negated literals were left out."""
    out: set[tuple[Any, ...]] = set()
    for rule in rules:
        if rule.is_fact or naive.head_key(key[0], rule.head[0]) != key:
            continue
        positive = [lit for lit in rule.body if not lit.negated]
        naive.register_aggregates(rule.head[0], positive)
        for binding in naive.solve(key[0], positive, {}, state, naive.fixed_clock):
            out.add(naive.ground(rule.head[0].args, binding))
    return out


@settings(
    max_examples=int(os.environ.get("ORACLE_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenario=states(), data=st.data())
def test_every_row_is_explained_and_every_other_row_gets_a_sound_why_not(
    scenario: tuple[programs.Program, dict[str, list[Rule]], programs.DataOp], data: st.DataObject
) -> None:
    program, rules, initial = scenario
    rt = Runtime(clock=naive.fixed_clock)
    rt.create_policy(programs.DS, "datasource", schema=dict(program.schema))
    for policy, kind in program.kinds.items():
        rt.create_policy(policy, kind)
    rt.apply(
        {(programs.DS, t): (set(ins), set(dels)) for t, (ins, dels) in initial.changes.items()}
    )
    for policy, chosen in rules.items():
        for r in chosen:
            note(f"{policy}: {to_text(r)}")
        rt.insert(policy, chosen)
    oracle = naive.evaluate(
        rules, {(programs.DS, t): set(r[0]) for t, r in initial.changes.items()}
    )
    domain = [*programs.INTS, *programs.STRS]
    state = {key: set(rt.rows(*key)) for key in program.tables()}
    for policy, table in program.tables():
        held = rt.rows(policy, table)
        assert held == oracle.get((policy, table), set())
        for row in sorted(held, key=repr):
            proof = rt.explain_row(policy, table, row)
            assert proof is not None, (policy, table, row)
            check_proof(rt, proof)
            json.dumps(proof.as_json())
        if policy == programs.DS or (not held and (policy, table) not in rt._engine.rules):
            continue
        width = len(next(iter(held))) if held else rt.known_arity(policy, table)
        if width is None:
            continue
        # near misses too: what the rules derive without their negations, and rows of other
        # tables of the same width, satisfy more of a body than random rows
        near = sorted(
            {*blocked(state, rules[policy], (policy, table))}
            | {r for rows in state.values() for r in rows if len(r) == width},
            key=repr,
        )
        for _ in range(4):
            any_row = st.lists(st.sampled_from(domain), min_size=width, max_size=width)
            row = tuple(data.draw(st.sampled_from(near) | any_row.map(tuple) if near else any_row))
            if row in held:
                continue
            assert rt.explain_row(policy, table, row) is None
            wn = rt.why_not(policy, table, row)
            check_why_not(state, wn, rules, 2)
            json.dumps(wn.as_json())
