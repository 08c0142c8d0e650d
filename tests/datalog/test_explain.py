"""Tests of explanations (congress.datalog.explain) through ``Runtime.explain``."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from congress.datalog import builtins as bi
from congress.datalog.ast import Constant, Literal, Variable
from congress.datalog.explain import Proof, explain
from congress.datalog.printer import to_text
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
    assert proof.kind == "rule" and proof.rule is not None
    assert values(lit) in rt.rows(proof.policy, lit.table)
    rule = proof.rule
    binding: dict[str, Any] = {}

    def match(pattern: Literal, ground: Literal) -> None:
        assert pattern.table == ground.table
        assert len(pattern.args) == len(ground.args)
        for t, g in zip(pattern.args, ground.args, strict=True):
            assert isinstance(g, Constant)
            if isinstance(t, Variable):
                assert binding.setdefault(t.name, g.value) == g.value
            else:
                assert t.value == g.value

    match(rule.head[0], lit)
    assert len(proof.children) == len(rule.body)
    for body_lit, child in zip(rule.body, proof.children, strict=True):
        match(body_lit, child.literal)
        assert child.literal.negated == body_lit.negated
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
