"""Tests of compiled join plans (congress.datalog.compiler), evaluated directly over relations."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datalog import builtins as bi
from congress.datalog.ast import Constant, Row, Rule, Variable
from congress.datalog.compiler import HEAD, TICK, CompiledRule, Plan, classify, execute_table
from congress.datalog.parser import parse_literal, parse_statement
from congress.datalog.storage import Relation

POLICY = "pol"
NOW = datetime.datetime(2021, 3, 4, 5, 6, 7)


def clock() -> datetime.datetime:
    return NOW


def no_limit(produced: int = 0) -> int:
    return TICK


def compile_rule(text: str) -> CompiledRule:
    rule = parse_statement(text)
    assert isinstance(rule, Rule)
    return CompiledRule(rule, POLICY, clock)


def relations(tables: Mapping[str, Iterable[Row]]) -> dict[tuple[str, str], Relation]:
    out: dict[tuple[str, str], Relation] = {}
    for name, rows in tables.items():
        rel = Relation((POLICY, name))
        rel.add_many(rows)
        out[(POLICY, name)] = rel
    return out


def accessors(cr: CompiledRule, plan: Plan, rels: dict[tuple[str, str], Relation]) -> list[Any]:
    out: list[Any] = []
    for acc in plan.access:
        key = cr.items[acc.pos].key
        assert key is not None
        rel = rels.setdefault(key, Relation(key))
        out.append(rel.rows if acc.cols is None else rel.index(acc.cols))
    return out


def run(
    cr: CompiledRule,
    tables: Mapping[str, Iterable[Row]],
    driver: int | None = None,
    src: Iterable[Row] = (),
    *,
    mode: str = "count",
    sign: int = 1,
    excl: Any = None,
) -> dict[Any, int]:
    plan = cr.plan(driver, mode)
    rels = relations(tables)
    out: dict[Any, int] = {}
    plan.fn(list(src), out, sign, accessors(cr, plan, rels), no_limit, excl)
    return out


def full(text: str, **tables: Iterable[Row]) -> dict[Any, int]:
    return run(compile_rule(text), tables)


# -- classification --------------------------------------------------------------------------


def test_classify_kinds_and_keys() -> None:
    assert classify(parse_literal("q(x)"), POLICY).key == (POLICY, "q")
    assert classify(parse_literal("nova:servers(x)"), POLICY).key == ("nova", "servers")
    neg = classify(parse_literal("not q(x)"), POLICY)
    assert (neg.kind, neg.key) == ("neg", (POLICY, "q"))
    b = classify(parse_literal("builtin:plus(x, y, z)"), POLICY)
    assert b.kind == "builtin" and b.builtin is bi.BUILTINS["plus"] and not b.negated
    bare = classify(parse_literal("not lt(x, y)"), POLICY)
    assert bare.kind == "builtin" and bare.builtin is bi.BUILTINS["lt"] and bare.negated
    assert classify(parse_literal("true"), POLICY).kind == "true"
    assert classify(parse_literal("false"), POLICY).kind == "false"
    assert classify(parse_literal("not true"), POLICY).kind == "false"
    assert classify(parse_literal("not false"), POLICY).kind == "true"
    assert classify(parse_literal("true(x)"), POLICY).kind == "pos"  # a table named true
    assert classify(parse_literal("nova:lt(x, y)"), POLICY).kind == "pos"


def test_head_keys_of_execute_and_prefixed_update_heads() -> None:
    assert compile_rule("h(x) :- p(x)").head_key == (POLICY, "h")
    ex = compile_rule("execute[nova:servers.pause(x)] :- p(x)")
    assert ex.head_key == (POLICY, "execute[nova:servers.pause]")
    assert execute_table(parse_literal("execute[act(x)]")) == "execute[act]"
    assert compile_rule("nova:p+(x) :- a(x)").head_key == (POLICY, "nova:p+")
    assert compile_rule("p-(x) :- a(x)").head_key == (POLICY, "p-")


def test_reads_lists_relations_with_position_and_negation() -> None:
    cr = compile_rule("h(x) :- p(x, y), builtin:lt(x, y), not q(y), true, nova:r(x)")
    assert cr.reads() == [
        (0, (POLICY, "p"), False),
        (2, (POLICY, "q"), True),
        (4, ("nova", "r"), False),
    ]


def test_plans_are_generated_once() -> None:
    cr = compile_rule("h(x) :- p(x)")
    assert cr.plan(None) is cr.plan(None)
    assert cr.plan(0) is cr.plan(0)
    assert cr.plan(None) is not cr.plan(None, "novel")


# -- full evaluation --------------------------------------------------------------------------


def test_join_counts_derivations() -> None:
    got = full(
        "h(x, z) :- p(x, y), q(y, z)",
        p=[(1, "a"), (1, "b"), (2, "a"), (3, "c")],
        q=[("a", 10), ("b", 10), ("a", 20)],
    )
    assert got == {(1, 10): 2, (1, 20): 1, (2, 10): 1, (2, 20): 1}


def test_sign_is_added_per_derivation() -> None:
    cr = compile_rule("h(x) :- p(x, y)")
    assert run(cr, {"p": [(1, 1), (1, 2), (2, 1)]}, sign=-1) == {(1,): -2, (2,): -1}


def test_constants_in_body_and_head() -> None:
    got = full(
        'h(x, "k", 7) :- p(x, 2, "a")',
        p=[(1, 2, "a"), (2, 2, "b"), (3, 3, "a"), (4, 2, "a"), (5, "2", "a")],
    )
    assert got == {(1, "k", 7): 1, (4, "k", 7): 1}


def test_string_and_number_constants_are_distinct() -> None:
    got = full('h(x) :- p(x, "1")', p=[("a", 1), ("b", "1"), ("c", 1.0)])
    assert got == {("b",): 1}
    assert full("h(x) :- p(x, 1)", p=[("a", 1), ("b", "1"), ("c", 1.0)]) == {
        ("a",): 1,
        ("c",): 1,
    }


def test_repeated_variables_in_one_literal() -> None:
    got = full("h(x) :- p(x, x, 1)", p=[(1, 1, 1), (2, 3, 1), (4, 4, 2), (5, 5, 1)])
    assert got == {(1,): 1, (5,): 1}
    got = full("h(x, y) :- p(x, y, y, x)", p=[(1, 2, 2, 1), (1, 2, 3, 1), (3, 3, 3, 3)])
    assert got == {(1, 2): 1, (3, 3): 1}


def test_repeated_variable_across_literals_and_in_head() -> None:
    got = full("h(x, x) :- p(x, y), q(y, x)", p=[(1, 2), (2, 3)], q=[(2, 1), (3, 9)])
    assert got == {(1, 1): 1}


def test_negation() -> None:
    got = full(
        "h(x) :- p(x, y), not q(y)",
        p=[(1, "a"), (2, "b"), (3, "c"), (3, "a")],
        q=[("a",)],
    )
    assert got == {(2,): 1, (3,): 1}


def test_negation_with_constants() -> None:
    got = full('h(x) :- p(x), not q(x, "on")', p=[(1,), (2,)], q=[(1, "on"), (2, "off")])
    assert got == {(2,): 1}


def test_zero_arity_literals() -> None:
    cr = compile_rule("h :- p, not q")
    assert run(cr, {"p": [()], "q": []}) == {(): 1}
    assert run(cr, {"p": [()], "q": [()]}) == {}
    assert run(cr, {"p": [], "q": []}) == {}


def test_true_and_false() -> None:
    assert full("h(x) :- p(x), true", p=[(1,), (2,)]) == {(1,): 1, (2,): 1}
    assert full("h(x) :- p(x), not false", p=[(1,)]) == {(1,): 1}
    never = compile_rule("h(x) :- p(x), false")
    assert never.never
    assert run(never, {"p": [(1,), (2,)]}) == {}
    assert run(never, {"p": [(1,)]}, 0, [(1,)]) == {}
    assert run(never, {"p": [(1,)]}, HEAD, [(1,)]) == {}
    assert run(compile_rule("h(x) :- p(x), not true"), {"p": [(1,)]}) == {}


# -- builtins --------------------------------------------------------------------------------


def test_builtin_tests() -> None:
    p = [(1, 2), (2, 2), (3, 2), (1, "a"), ("a", "b")]
    assert full("h(x, y) :- p(x, y), builtin:lt(x, y)", p=p) == {(1, 2): 1, ("a", "b"): 1}
    assert full("h(x, y) :- p(x, y), lteq(x, y)", p=p) == {(1, 2): 1, (2, 2): 1, ("a", "b"): 1}
    assert full("h(x, y) :- p(x, y), builtin:gt(x, y)", p=p) == {(3, 2): 1}
    assert full("h(x, y) :- p(x, y), builtin:gteq(x, y)", p=p) == {(2, 2): 1, (3, 2): 1}
    assert full("h(x, y) :- p(x, y), builtin:equal(x, y)", p=p) == {(2, 2): 1}
    assert full("h(x) :- p(x, y), builtin:equal(y, 2)", p=p) == {(1,): 1, (2,): 1, (3,): 1}


def test_builtin_that_is_not_inlined_as_a_test() -> None:
    got = full(
        'h(a) :- p(a), builtin:ip_in_network(a, "10.0.0.0/8")',
        p=[("10.1.2.3",), ("11.0.0.1",), ("not an ip",)],
    )
    assert got == {("10.1.2.3",): 1}


def test_negated_builtin_tests() -> None:
    p = [(1, 1), (1, 2), ("a", "a"), (1, "1"), (2, 2.0)]
    got = full("h(x, y) :- p(x, y), not builtin:equal(x, y)", p=p)
    assert got == {(1, 2): 1, (1, "1"): 1}
    # a comparison that raises (mixed types) does not hold, so its negation does
    got = full("h(x, y) :- p(x, y), not builtin:lt(x, y)", p=p)
    assert got == {(1, 1): 1, ("a", "a"): 1, (1, "1"): 1, (2, 2.0): 1}


def test_builtin_with_an_output() -> None:
    got = full("h(x, z) :- p(x, y), builtin:plus(x, y, z)", p=[(1, 2), (3, 4), ("a", "b")])
    assert got == {(1, 3): 1, (3, 7): 1, ("a", "ab"): 1}
    got = full("h(z) :- p(x, y), builtin:concat(x, y, z)", p=[("a", "b"), ("ab", ""), (1, 2)])
    assert got == {("ab",): 2}


def test_builtin_output_already_bound_is_a_test() -> None:
    got = full("h(x, y) :- p(x, y), builtin:plus(x, 1, y)", p=[(1, 2), (1, 3), (5, 6), (2, 3.0)])
    assert got == {(1, 2): 1, (5, 6): 1, (2, 3.0): 1}
    got = full("h(x) :- p(x), builtin:plus(x, 1, 3)", p=[(1,), (2,), (3,)])
    assert got == {(2,): 1}


def test_builtin_output_feeds_a_later_literal() -> None:
    got = full(
        "h(x, w) :- p(x), builtin:plus(x, 1, y), q(y, w)",
        p=[(1,), (5,)],
        q=[(2, "two"), (6, "six"), (7, "seven")],
    )
    assert got == {(1, "two"): 1, (5, "six"): 1}


def test_builtin_with_several_outputs() -> None:
    got = full(
        "h(x, d) :- p(x), builtin:unpack_date(x, 2020, m, d)",
        p=[("2020-01-05",), ("2021-01-06",), ("garbage",), ("2020-02-07",)],
    )
    assert got == {("2020-01-05", 5): 1, ("2020-02-07", 7): 1}


def test_builtin_that_raises_fails_silently() -> None:
    got = full(
        "h(x, z) :- p(x, y), builtin:div(x, y, z)",
        p=[(6, 3), (1, 0), ("a", 1), (7, 2), (1.0, 4)],
    )
    assert got == {(6, 2): 1, (7, 3): 1, (1.0, 0.25): 1}
    got = full("h(x, z) :- p(x), builtin:int(x, z)", p=[("12",), ("x",), (3.7,)])
    assert got == {("12", 12): 1, (3.7, 3): 1}


def test_negated_builtin_with_output() -> None:
    got = full(
        "h(x, y, z) :- p(x, y, z), not builtin:plus(x, y, z)",
        p=[(1, 2, 3), (1, 2, 4), ("a", 1, 1), (1, 1, 2.0)],
    )
    assert got == {(1, 2, 4): 1, ("a", 1, 1): 1}


def test_now_uses_the_injected_clock() -> None:
    got = full("h(t) :- p(x), builtin:now(t)", p=[(1,)])
    assert got == {("2021-03-04 05:06:07",): 1}


# -- join order --------------------------------------------------------------------------------


def source_lines(plan: Plan) -> list[str]:
    return [ln.strip() for ln in plan.source.splitlines()]


def position(lines: list[str], fragment: str) -> int:
    hits = [i for i, ln in enumerate(lines) if fragment in ln]
    assert hits, (fragment, lines)
    return hits[0]


def test_filters_come_right_after_their_inputs_are_bound() -> None:
    cr = compile_rule("h(x, z) :- p(x, y), q(y, z), not r(z), builtin:lt(x, 3)")
    plan = cr.plan(None)
    lines = source_lines(plan)
    p_loop = position(lines, "for (v_x, v_y) in a0:")
    lt = position(lines, "v_x < 3")
    # the innermost loop counts its bucket for the budget before scanning it
    q_bucket = position(lines, "_b = g1(v_y, ())")
    q_loop = position(lines, "for (_, v_z) in _b:")
    neg = position(lines, "(v_z,) not in a2")
    assert p_loop < lt < q_bucket < q_loop < neg
    # q is read through its index on the bound column 0
    assert [(a.pos, a.cols) for a in plan.access] == [(0, None), (1, (0,)), (2, None)]


def test_most_bound_literal_goes_next_ties_by_source_order() -> None:
    cr = compile_rule("h(x) :- p(x), q(y, z), r(x, y), s(x)")
    plan = cr.plan(None)
    # p first (source order among equally unbound), then s (fully bound: a membership test),
    # then r (one bound column), then q (one bound column after r binds y)
    assert [(a.pos, a.cols) for a in plan.access] == [
        (0, None),
        (3, None),
        (2, (0,)),
        (1, (0,)),
    ]
    lines = source_lines(plan)
    assert position(lines, "(v_x,) in a1") < position(lines, "g2(v_x, ())")


def test_delta_plan_starts_with_the_driver_then_filters() -> None:
    cr = compile_rule("h(x, z) :- p(x, y), q(y, z), not r(x)")
    plan = cr.plan(1)
    lines = source_lines(plan)
    assert position(lines, "for (v_y, v_z) in src:") < position(lines, "g0(v_y, ())")
    # not r(x) waits for x, bound by p (read through its index on column 1)
    assert position(lines, "g0(v_y, ())") < position(lines, "(v_x,) not in a1")
    assert [(a.pos, a.cols) for a in plan.access] == [(0, (1,)), (2, None)]


def test_head_plan_applies_negation_filters_first() -> None:
    cr = compile_rule("h(x) :- p(x), not q(x), r(x)")
    lines = source_lines(cr.plan(HEAD))
    assert position(lines, "for (v_x,) in src:") < position(lines, "(v_x,) not in a0")
    assert position(lines, "(v_x,) not in a0") < position(lines, "(v_x,) in a1")


def test_unsafe_rule_is_refused_by_the_compiler() -> None:
    cr = compile_rule("h(x) :- not q(x)")
    with pytest.raises(ValueError, match="unsafe rule reached the compiler"):
        cr.plan(None)


# -- driven plans ----------------------------------------------------------------------------


def test_delta_plan_joins_the_driving_rows_with_the_rest() -> None:
    cr = compile_rule("h(x, z) :- p(x, y), q(y, z)")
    tables = {"p": [(1, "a"), (2, "b")], "q": [("a", 10), ("b", 20), ("a", 30)]}
    assert run(cr, tables, 0, [(9, "a")]) == {(9, 10): 1, (9, 30): 1}
    assert run(cr, tables, 1, [("b", 99)]) == {(2, 99): 1}
    assert run(cr, tables, 1, [("b", 99)], sign=-1) == {(2, 99): -1}


def test_delta_plan_checks_constants_and_repeated_variables_of_the_driver() -> None:
    cr = compile_rule('h(x) :- p(x, x, "on"), q(x)')
    tables = {"q": [(1,), (2,), (3,)]}
    src = [(1, 1, "on"), (2, 3, "on"), (3, 3, "off"), (4, 4, "on")]
    assert run(cr, tables, 0, src) == {(1,): 1}


def test_delta_plan_driven_by_a_negated_literal() -> None:
    # rows given for the negated position are the ones whose appearance removes derivations
    cr = compile_rule("h(x) :- p(x, y), not q(y)")
    tables = {"p": [(1, "a"), (2, "a"), (3, "b")], "q": [("a",)]}
    assert run(cr, tables, 1, [("a",)]) == {(1,): 1, (2,): 1}
    assert run(cr, tables, 1, [("z",)]) == {}


def test_head_plan_with_constants_and_repeated_variables() -> None:
    cr = compile_rule('h(x, x, "k") :- p(x, y)')
    tables = {"p": [(1, 5), (1, 6), (2, 7)]}
    src = [(1, 1, "k"), (1, 2, "k"), (2, 2, "j"), (3, 3, "k")]
    assert run(cr, tables, HEAD, src) == {(1, 1, "k"): 2}


def test_novel_mode_emits_only_rows_not_excluded() -> None:
    cr = compile_rule("path(x, z) :- edge(x, y), path(y, z)")
    tables = {"edge": [(1, 2), (2, 3), (0, 2)], "path": [(2, 3), (3, 4)]}
    excl = {(1, 3): 1}
    got = run(cr, tables, 1, [(2, 3), (2, 5)], mode="novel", excl=excl)
    assert got == {(1, 5): 1, (0, 3): 1, (0, 5): 1}


def test_bind_mode_yields_body_bindings_up_to_the_limit() -> None:
    cr = compile_rule("h(x, z) :- p(x, y), q(y, z), builtin:plus(z, 1, w)")
    plan = cr.plan(HEAD, "bind")
    assert plan.variables == ("w", "x", "y", "z")
    tables = {"p": [(1, "a"), (1, "b"), (2, "a")], "q": [("a", 10), ("b", 10), ("a", 20)]}
    got = run(cr, tables, HEAD, [(1, 10)], mode="bind", sign=64)
    assert set(got) == {(11, 1, "a", 10), (11, 1, "b", 10)}
    assert all(v == 1 for v in got.values())
    one = run(cr, tables, HEAD, [(1, 10)], mode="bind", sign=1)
    assert len(one) == 1 and set(one) <= set(got)
    assert run(cr, tables, HEAD, [(3, 10)], mode="bind", sign=64) == {}


def test_bind_mode_with_one_variable_and_none() -> None:
    cr = compile_rule("h(x) :- p(x)")
    assert cr.plan(HEAD, "bind").variables == ("x",)
    assert run(cr, {"p": [(1,)]}, HEAD, [(1,)], mode="bind", sign=5) == {(1,): 1}
    ground = compile_rule("h :- p")
    assert ground.plan(HEAD, "bind").variables == ()
    assert run(ground, {"p": [()]}, HEAD, [()], mode="bind", sign=5) == {(): 1}


def test_tick_is_called_at_start_and_every_tick_rows_with_the_rows_produced() -> None:
    cr = compile_rule("h(x) :- p(x)")
    calls: list[int] = []

    def tick(produced: int) -> int:
        calls.append(produced)
        return TICK

    plan = cr.plan(None)
    rels = relations({"p": [(i,) for i in range(2 * TICK + 10)]})
    out: dict[Row, int] = {}
    plan.fn((), out, 1, accessors(cr, plan, rels), tick)
    assert len(out) == 2 * TICK + 10
    assert calls == [0, TICK - 1, 2 * TICK - 1]  # ticked before each TICK-th row is added


def test_tick_that_raises_stops_the_plan() -> None:
    cr = compile_rule("h(x) :- p(x)")

    class Stop(Exception):
        pass

    state = {"n": 0}

    def tick(produced: int) -> int:
        state["n"] += 1
        if state["n"] > 1:
            raise Stop
        return 5

    plan = cr.plan(None)
    out: dict[Row, int] = {}
    rels = relations({"p": [(i,) for i in range(100)]})
    with pytest.raises(Stop):
        plan.fn((), out, 1, accessors(cr, plan, rels), tick)
    assert len(out) == 4


# -- property: driven plans agree with full evaluation ----------------------------------------

RULES = (
    "h(x, z) :- p(x, y), q(y, z)",
    "h(x) :- p(x, y), not q(y, x)",
    "h(x, y) :- p(x, y), q(y, y), not r(x)",
    "h(y, x) :- p(x, y), builtin:lt(x, y), r(y)",
    "h(x) :- p(x, 1), not builtin:equal(x, 2)",
    "h(z) :- p(x, y), builtin:plus(x, y, z), not r(z)",
    "h(x, x) :- p(x, x), q(x, 2)",
    'h(x, "c") :- p(x, y), q(y, z), r(z)',
)

SMALL = st.sampled_from([0, 1, 2, 3])
PAIRS = st.sets(st.tuples(SMALL, SMALL), max_size=8)
SINGLES = st.sets(st.tuples(SMALL), max_size=4)


def naive(cr: CompiledRule, tables: Mapping[str, set[Row]]) -> dict[Row, int]:
    """Count satisfying bindings: positives in source order, then builtins, then negations."""
    lits = cr.rule.body
    order = sorted(range(len(lits)), key=lambda i: (cr.items[i].kind != "pos", i))
    bindings: list[dict[str, Any]] = [{}]

    def value(t: Any, b: dict[str, Any]) -> Any:
        return b[t.name] if isinstance(t, Variable) else t.value

    for i in order:
        it = cr.items[i]
        nxt: list[dict[str, Any]] = []
        for b in bindings:
            if it.kind == "pos":
                for row in tables[it.key[1]]:  # type: ignore[index]
                    nb = dict(b)
                    if all(_unify(t, v, nb) for t, v in zip(it.args, row, strict=True)):
                        nxt.append(nb)
            elif it.kind == "neg":
                if tuple(value(t, b) for t in it.args) not in tables[it.key[1]]:  # type: ignore[index]
                    nxt.append(b)
            else:
                assert it.builtin is not None
                n = it.builtin.num_inputs
                res = bi.call(it.builtin, [value(t, b) for t in it.args[:n]], clock)
                if it.negated:
                    outs = tuple(value(t, b) for t in it.args[n:])
                    if res is None or res != outs:
                        nxt.append(b)
                elif res is not None:
                    nb = dict(b)
                    if all(_unify(t, v, nb) for t, v in zip(it.args[n:], res, strict=True)):
                        nxt.append(nb)
        bindings = nxt
    out: dict[Row, int] = {}
    for b in bindings:
        k = tuple(value(t, b) for t in cr.head.args)
        out[k] = out.get(k, 0) + 1
    return out


def _unify(t: Any, v: Any, b: dict[str, Any]) -> bool:
    if isinstance(t, Constant):
        return bool(t.value == v)
    if t.name in b:
        return bool(b[t.name] == v)
    b[t.name] = v
    return True


def test_naive_helper_counts_bindings() -> None:
    cr = compile_rule("h(x) :- p(x, y), not q(y, x)")
    assert naive(cr, {"p": {(1, 2), (1, 3)}, "q": {(2, 1)}}) == {(1,): 1}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.sampled_from(RULES),
    p=PAIRS,
    q=PAIRS,
    r=SINGLES,
    heads=st.sets(st.tuples(SMALL, SMALL), max_size=6),
    data=st.data(),
)
def test_driven_plans_agree_with_full_evaluation(
    text: str,
    p: set[Row],
    q: set[Row],
    r: set[Row],
    heads: set[Row],
    data: st.DataObject,
) -> None:
    cr = compile_rule(text)
    tables = {"p": p, "q": q, "r": r}
    whole = run(cr, tables)
    assert whole == naive(cr, tables)
    # driven by all the rows of a positive literal: the full evaluation
    for pos, key, negated in cr.reads():
        if not negated:
            assert run(cr, tables, pos, tables[key[1]]) == whole, pos
    # driven by candidate head rows: the full evaluation filtered to those rows
    width = len(cr.head.args)
    cands = {h[:width] for h in heads} | set(itertools.islice(whole, 2))
    cands |= {(h[0], "c") for h in heads if width == 2 and "c" in text}
    assert run(cr, tables, HEAD, cands) == {k: n for k, n in whole.items() if k in cands}
    # novel: the full evaluation's head rows not excluded, each once
    excl = set(data.draw(st.sets(st.sampled_from(sorted(whole, key=repr)))) if whole else set())
    novel = run(cr, tables, None, (), mode="novel", excl=excl)
    assert novel == dict.fromkeys(set(whole) - excl, 1)
    # a delta on one positive literal (each relation is read once): after minus before
    for pos, key, negated in cr.reads():
        if negated:
            continue
        rows = tables[key[1]]
        width = len(cr.items[pos].args)
        extra = data.draw(st.sets(st.tuples(*[SMALL] * width), max_size=3)) - rows
        after = run(cr, {**tables, key[1]: rows | extra})
        delta = run(cr, {**tables, key[1]: rows | extra}, pos, extra)
        diff = {k: after.get(k, 0) - whole.get(k, 0) for k in set(after) | set(whole)}
        assert delta == {k: n for k, n in diff.items() if n}
