"""Tests of simulate (congress.datalog.simulate) through ``Runtime.simulate``, and of the impact
of a policy change through ``Runtime.impact`` (checked against the oracle, ``naive``)."""

from __future__ import annotations

import naive
import programs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from congress.datalog.ast import Row, Rule
from congress.datalog.errors import DatalogError, PolicyError, PolicyNotFound
from congress.datalog.parser import parse
from congress.datalog.printer import to_text
from congress.datalog.runtime import ImpactResult, Runtime, SimulateResult

State = dict[tuple[str, str], set[Row]]


def state(rt: Runtime) -> State:
    out: State = {}
    for p in rt.policy_names():
        for t in rt.tables(p):
            r = rt.rows(p, t)
            if r:
                out[(p, t)] = r
    return out


def answers(res: SimulateResult) -> list[str]:
    return [to_text(a) for a in res.answers]


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "status"]})
    rt.create_policy("alice")
    rt.create_policy("act", "action")
    rt.apply({("nova", "servers"): ([("vm1", "ACTIVE"), ("vm2", "ERROR")], [])})
    rt.insert(
        "alice",
        'p(1) r(3) q(x) :- p(x), not r(x)  err(x) :- nova:servers(x, "ERROR")',
    )
    return rt


# -- updates -----------------------------------------------------------------------------------


def test_fact_updates_apply_for_the_simulation_only(rt: Runtime) -> None:
    before = state(rt)
    res = rt.simulate("alice", "q(x)", "p+(2) p+(3) p-(1)", "act")
    assert answers(res) == ["q(2)"]
    assert res.trace is None
    assert state(rt) == before
    assert [to_text(a) for a in rt.select("alice", "q(x)")] == ["q(1)"]


def test_updates_apply_in_sequence(rt: Runtime) -> None:
    assert answers(rt.simulate("alice", "p(x)", "p+(2) p-(2)", "act")) == ["p(1)"]
    assert answers(rt.simulate("alice", "p(x)", "p-(1) p+(1)", "act")) == ["p(1)"]
    assert answers(rt.simulate("alice", "p(x)", "p-(9)", "act")) == ["p(1)"]


def test_updates_of_data_in_another_policy(rt: Runtime) -> None:
    before = state(rt)
    res = rt.simulate(
        "alice", "err(x)", 'nova:servers+("vm3", "ERROR") nova:servers-("vm2", "ERROR")', "act"
    )
    assert answers(res) == ['err("vm3")']
    assert state(rt) == before


def test_update_with_the_wrong_width(rt: Runtime) -> None:
    before = state(rt)
    with pytest.raises(PolicyError) as e:
        rt.simulate("alice", "err(x)", 'p+(5) nova:servers+("vm3")', "act")
    assert e.value.code == "arity_mismatch"
    assert e.value.message == "Update of nova:servers with 1 columns"
    assert state(rt) == before


def test_rule_updates_insert_and_delete_rules_for_the_simulation_only(rt: Runtime) -> None:
    rules_before = rt.rules("alice")
    before = state(rt)
    res = rt.simulate("alice", "q(x)", "q+(x) :- r(x)", "act", trace=True)
    assert answers(res) == ["q(1)", "q(3)"]
    assert res.trace == ("Rule update q+(x) :- r(x): inserted in alice\nQuery q(x): 2 answer(s)")
    res = rt.simulate("alice", "q(x)", "q-(x) :- p(x), not r(x)", "act", trace=True)
    assert answers(res) == []
    assert res.trace == (
        "Rule update q-(x) :- p(x), not r(x): deleted in alice\nQuery q(x): 0 answer(s)"
    )
    res = rt.simulate("alice", "q(x)", "q-(x) :- p(x)", "act", trace=True)
    assert answers(res) == ["q(1)"]
    assert res.trace is not None and "not present in alice" in res.trace
    # a rule update, then data it reads
    res = rt.simulate("alice", "s(x)", "s+(x) :- p(x), r(x)  r+(1)", "act")
    assert answers(res) == ["s(1)"]
    assert rt.rules("alice") == rules_before
    assert state(rt) == before
    assert rt.insert("alice", "p(3)").changes == {("alice", "p"): ({(3,)}, set())}


def test_rule_update_that_makes_a_relation_recursive() -> None:
    rt = Runtime()
    rt.create_policy("m", "materialized")
    rt.insert("m", "e(1, 2) e(2, 3) e(3, 1) t(x, y) :- e(x, y)")
    before = state(rt)
    res = rt.simulate("m", "t(1, y)", "t+(x, z) :- t(x, y), e(y, z)", None)
    assert answers(res) == ["t(1, 1)", "t(1, 2)", "t(1, 3)"]
    assert state(rt) == before
    res = rt.insert("m", "e(3, 4)")
    assert res.changes == {("m", "e"): ({(3, 4)}, set()), ("m", "t"): ({(3, 4)}, set())}


def test_rule_update_refused_by_the_graph_check_changes_nothing() -> None:
    rt = Runtime()
    rt.create_policy("n")
    rt.insert("n", "e(1, 2) t(x, y) :- e(x, y)")
    before = state(rt)
    with pytest.raises(PolicyError) as e:
        rt.simulate("n", "t(x, y)", "e+(5, 6)  t+(x, z) :- t(x, y), e(y, z)", None)
    assert e.value.code == "recursive_rules"
    assert state(rt) == before


# -- actions -----------------------------------------------------------------------------------


@pytest.fixture
def actions(rt: Runtime) -> Runtime:
    rt.insert(
        "act",
        'action("flip") action("reboot")\n'
        "p+(x) :- flip(x)\n"
        "p-(x) :- flip(x), p(x)\n"
        'nova:servers+(x, "ACTIVE") :- reboot(x)\n'
        "nova:servers-(x, s) :- reboot(x), nova:servers(x, s)",
    )
    return rt


def test_action_effects_insert_wins_over_delete(actions: Runtime) -> None:
    before = state(actions)
    res = actions.simulate("alice", "p(x)", "flip(1) flip(5)", "act", trace=True)
    # flip(1): p(1) both inserted and deleted, insert wins; flip(5): inserted
    assert answers(res) == ["p(1)", "p(5)"]
    assert res.trace is not None
    assert "Action flip(5): alice:p +1 -0 row(s)" in res.trace.splitlines()
    assert "Action flip(1): alice:p +1 -0 row(s)" in res.trace.splitlines()
    assert res.trace.splitlines()[-1] == "Query p(x): 2 answer(s)"
    assert state(actions) == before


def test_prefixed_update_heads_target_other_policies(actions: Runtime) -> None:
    before = state(actions)
    res = actions.simulate("alice", "err(x)", 'reboot("vm2")', "act", delta=True, trace=True)
    assert answers(res) == ['err-("vm2")']
    assert res.trace is not None
    assert 'Action reboot("vm2"): nova:servers +1 -1 row(s)' in res.trace.splitlines()
    assert state(actions) == before
    assert actions.rows("nova", "servers") == {("vm1", "ACTIVE"), ("vm2", "ERROR")}


def test_action_invoked_by_a_rule_for_every_instance(actions: Runtime) -> None:
    res = actions.simulate("alice", "q(x)", "flip(x) :- r(x)", "act")
    assert answers(res) == ["q(1)"]  # p(3) appears but r(3) blocks q(3)
    res = actions.simulate("alice", "p(x)", "p+(7) flip(x) :- p(x)", "act")
    assert answers(res) == ["p(1)", "p(7)"]


def test_action_effects_seen_by_a_later_step(actions: Runtime) -> None:
    res = actions.simulate("alice", "q(x)", "flip(4) r-(3) flip(3)", "act")
    assert answers(res) == ["q(1)", "q(3)", "q(4)"]


def test_without_an_action_policy_actions_are_invalid(actions: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        actions.simulate("alice", "p(x)", "flip(1)", None)
    assert e.value.code == "invalid_sequence"
    assert e.value.message == "Sequence contained non-action, non-update: flip(1)"
    with pytest.raises(PolicyError) as e:
        actions.simulate("alice", "p(x)", "flip(1)", "nosuchpolicy")
    assert e.value.code == "invalid_sequence"


# -- delta, trace, errors ------------------------------------------------------------------------


def test_delta_answers(rt: Runtime) -> None:
    res = rt.simulate("alice", "q(x)", "p+(2) r+(1)", "act", delta=True)
    assert answers(res) == ["q+(2)", "q-(1)"]
    assert answers(rt.simulate("alice", "q(x)", "p+(3)", "act", delta=True)) == []


def test_trace_text(rt: Runtime) -> None:
    res = rt.simulate("alice", "q(x)", "p+(2) r+(1)", "act", trace=True)
    assert res.trace == (
        "Update p+(2): 1 row(s) of alice:p\n"
        "Update r+(1): 1 row(s) of alice:r\n"
        "Query q(x): 1 answer(s)"
    )


def test_invalid_sequences_change_nothing(rt: Runtime) -> None:
    before = state(rt)
    for seq, shown in [
        ("p+(2) zz(1)", "zz(1)"),
        ("p(1)", "p(1)"),
        ("p+(1), p+(2) :- r(3)", "p+(1), p+(2) :- r(3)"),
        ("insert[p(x) :- q(x)]", "insert[p(x) :- q(x)]"),
    ]:
        with pytest.raises(PolicyError) as e:
            rt.simulate("alice", "q(x)", seq, "act")
        assert e.value.code == "invalid_sequence"
        assert e.value.message == f"Sequence contained non-action, non-update: {shown}"
        assert state(rt) == before
    with pytest.raises(PolicyError) as e:
        rt.simulate("alice", "q(x)", "p+(x)", "act")
    assert e.value.code == "invalid_sequence"
    assert e.value.message == "Update not ground: p+(x)"


def test_invalid_query_and_unknown_policy(rt: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        rt.simulate("alice", "q(x) :- p(x)", "p+(1)", "act")
    assert e.value.code == "invalid_query"
    with pytest.raises(PolicyNotFound):
        rt.simulate("nobody", "q(x)", "p+(1)", "act")


def test_empty_sequence(rt: Runtime) -> None:
    assert answers(rt.simulate("alice", "q(x)", "", "act")) == ["q(1)"]


def test_simulate_does_not_leak_execute_rows(rt: Runtime) -> None:
    rt.insert("alice", "execute[nova:stop(x)] :- q(x)")
    before = state(rt)
    res = rt.simulate("alice", "execute[nova:stop(x)]", "p+(2)", "act")
    assert len(res.answers) == 2
    assert state(rt) == before
    # the row simulated did not count as present: the real change requests the action
    res2 = rt.insert("alice", "p(2)")
    assert [(a.service, a.action, a.args) for a in res2.actions] == [("nova", "stop", (2,))]


def test_simulate_answers_of_an_execute_query_keep_the_modal(rt: Runtime) -> None:
    rt.insert("alice", "execute[nova:stop(x)] :- q(x)")
    res = rt.simulate("alice", "execute[nova:stop(x)]", "p+(2)", "act")
    assert answers(res) == ["execute[nova:stop(1)]", "execute[nova:stop(2)]"]


def test_deleting_a_rule_twice_in_one_sequence(rt: Runtime) -> None:
    before = state(rt)
    res = rt.simulate(
        "alice", "q(x)", "q-(x) :- p(x), not r(x)  q-(x) :- p(x), not r(x)", "act", trace=True
    )
    assert answers(res) == []
    assert res.trace is not None
    assert res.trace.splitlines()[:2] == [
        "Rule update q-(x) :- p(x), not r(x): deleted in alice",
        "Rule update q-(x) :- p(x), not r(x): not present in alice",
    ]
    assert state(rt) == before
    # the real rule is linked once: deleting it for real removes every q row
    rt.delete("alice", "q(x) :- p(x), not r(x)")
    rt.insert("alice", "p(2)")
    assert rt.rows("alice", "q") == set()


def test_inserting_a_rule_twice_in_one_sequence(rt: Runtime) -> None:
    res = rt.simulate("alice", "s(x)", "s+(x) :- p(x)  s+(x) :- p(x)  p-(1)", "act", trace=True)
    assert answers(res) == []
    assert res.trace is not None
    assert res.trace.splitlines()[1] == "Rule update s+(x) :- p(x): already present in alice"


def test_a_rule_inserted_by_the_sequence_can_be_deleted_by_it(rt: Runtime) -> None:
    res = rt.simulate("alice", "s(x)", "s+(x) :- p(x)  s-(x) :- p(x)", "act", trace=True)
    assert res.trace is not None
    assert "Rule update s-(x) :- p(x): deleted in alice" in res.trace.splitlines()
    assert answers(res) == []


# -- property: the state is exactly as before -----------------------------------------------------

RULE_POOL = (
    "path(x, y) :- ds:e(x, y)",
    "path(x, z) :- path(x, y), ds:e(y, z)",
    "q(x) :- ds:n(x), not p(x)",
    "p(x) :- ds:n(x), r(x)",
    "s(x) :- path(x, x)",
    "t(x, y) :- path(x, y), not q(y)",
    "u(x) :- ds:n(x), builtin:lt(x, 2)",
    "execute[svc:go(x)] :- s(x)",
)
FACT_POOL = ("p(1)", "r(1)", "r(2)", "q(3)", "path(3, 0)")
STEP_POOL = (
    "p+(0)",
    "p-(1)",
    "r+(3)",
    "r-(2)",
    "q-(3)",
    "ds:e+(1, 0)",
    "ds:e+(2, 2)",
    "ds:e-(0, 1)",
    "ds:n+(3)",
    "ds:n-(1)",
    "q+(x) :- ds:n(x)",
    "path-(x, z) :- path(x, y), ds:e(y, z)",
    "path+(x, z) :- path(x, y), ds:e(y, z)",
    "path-(x, y) :- ds:e(x, y)",
    "s-(x) :- path(x, x)",
    "v+(x) :- t(x, y)",
    "p+(x) :- q(x)",
    "go(2)",
    "go(x) :- ds:n(x)",
    "stop(1)",
)
ACTION_RULES = (
    'action("go") action("stop") '
    "ds:e+(x, x) :- go(x)  r+(x) :- go(x)  p-(x) :- stop(x), p(x)  ds:n-(x) :- stop(x)"
)
VALUES = st.integers(0, 3)


def build(rules: list[str], facts: list[str], edges: set[Row], nodes: set[Row]) -> Runtime:
    rt = Runtime()
    rt.create_policy("ds", "datasource", schema={"e": ["src", "dst"], "n": ["id"]})
    rt.create_policy("m", "materialized")
    rt.create_policy("act", "action")
    rt.insert("act", ACTION_RULES)
    rt.apply({("ds", "e"): (edges, []), ("ds", "n"): (nodes, [])})
    if rules or facts:
        rt.insert("m", " ".join(rules + facts))
    return rt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(st.sampled_from(RULE_POOL), unique=True),
    facts=st.lists(st.sampled_from(FACT_POOL), unique=True),
    edges=st.sets(st.tuples(VALUES, VALUES), max_size=6),
    nodes=st.sets(st.tuples(VALUES), max_size=3),
    steps=st.lists(st.sampled_from(STEP_POOL), min_size=1, max_size=5),
    query=st.sampled_from(["q(x)", "path(x, y)", "t(x, y)", "p(x)", "s(x)", "v(x)"]),
    delta=st.booleans(),
    later=st.one_of(
        st.tuples(st.just("data"), st.sets(st.tuples(VALUES, VALUES), max_size=3), st.booleans()),
        st.tuples(st.just("insert"), st.sampled_from(RULE_POOL + FACT_POOL), st.just(True)),
        st.tuples(st.just("delete"), st.sampled_from(RULE_POOL + FACT_POOL), st.just(True)),
    ),
)
def test_simulate_leaves_every_table_as_it_was(
    rules: list[str],
    facts: list[str],
    edges: set[Row],
    nodes: set[Row],
    steps: list[str],
    query: str,
    delta: bool,
    later: tuple[str, object, bool],
) -> None:
    rt = build(rules, facts, edges, nodes)
    twin = build(rules, facts, edges, nodes)
    before = state(rt)
    rules_before = {p: rt.rules(p) for p in rt.policy_names()}
    sequence = " ".join(steps)
    note(f"sequence: {sequence}")
    try:
        rt.simulate("m", query, sequence, "act", delta=delta, trace=True)
    except DatalogError as e:
        note(f"simulate refused: {e.code}")
    assert state(rt) == before
    assert {p: rt.rules(p) for p in rt.policy_names()} == rules_before
    # a later real change propagates exactly as in a runtime that never simulated
    kind, arg, flag = later
    if kind == "data":
        change = {("ds", "e"): (arg, [] if flag else sorted(edges)[:1])}
        got, want = rt.apply(change), twin.apply(change)  # type: ignore[arg-type]
    else:
        op = "insert" if kind == "insert" else "delete"
        try:
            want = getattr(twin, op)("m", arg)
        except DatalogError as e:
            with pytest.raises(DatalogError) as err:
                getattr(rt, op)("m", arg)
            assert err.value.code == e.code
            return
        got = getattr(rt, op)("m", arg)
    assert got.changes == want.changes
    assert sorted(got.actions, key=repr) == sorted(want.actions, key=repr)
    assert state(rt) == state(twin)


# -- impact: rules added and deleted ------------------------------------------------------------


@pytest.fixture
def errors() -> Runtime:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "status"]})
    rt.create_policy("m", "materialized")
    rt.apply({("nova", "servers"): ([("vm1", "ACTIVE"), ("vm2", "ERROR"), ("vm3", "OFF")], [])})
    rt.insert("m", 'ok("ACTIVE")  error(x) :- nova:servers(x, s), not ok(s)  up(x) :- ok(x)')
    return rt


def impact_of(res: ImpactResult) -> dict[str, tuple[list[Row], list[Row]]]:
    return dict(res.changes)


def test_impact_of_an_added_fact_and_rule(errors: Runtime) -> None:
    before = state(errors)
    res = errors.impact("m", 'ok("OFF")  warning(x) :- error(x)')
    assert impact_of(res) == {"error": ([], [("vm3",)]), "warning": ([("vm2",)], [])}
    assert res.answers is None and res.trace is None
    assert state(errors) == before


def test_impact_of_a_deleted_rule_and_fact(errors: Runtime) -> None:
    before, rules = state(errors), errors.rules("m")
    (fact,) = [r for r in errors.rules("m") if r.is_fact]
    rule = next(r for r in errors.rules("m") if to_text(r).startswith("error"))
    res = errors.impact("m", delete=[fact], tables=["error", "up"])
    assert impact_of(res) == {"error": ([("vm1",)], []), "up": ([], [("ACTIVE",)])}
    res = errors.impact("m", delete=[rule])
    assert impact_of(res) == {"error": ([], [("vm2",), ("vm3",)])}
    # a rule deleted and added again changes nothing; an absent rule to delete is ignored
    res = errors.impact("m", add=[rule], delete=[rule, *parse("nosuch(1)")])  # type: ignore[list-item]
    assert impact_of(res) == {"error": ([], [])}
    assert state(errors) == before
    assert errors.rules("m") == rules


def test_impact_with_a_sequence_and_a_query(errors: Runtime) -> None:
    before = state(errors)
    res = errors.impact(
        "m",
        'ok("OFF")',
        query="error(x)",
        sequence='nova:servers+("vm4", "ERROR")',
        delta=True,
        trace=True,
    )
    assert impact_of(res) == {"error": ([("vm4",)], [("vm3",)])}
    assert [to_text(a) for a in res.answers or []] == ['error+("vm4")', 'error-("vm3")']
    assert res.trace == "\n".join(
        [
            'Rule inserted: ok("OFF")',
            'Update nova:servers+("vm4", "ERROR"): 1 row(s) of nova:servers',
            "Table m:error: +1 -1 row(s)",
            "Query error(x): 2 answer(s)",
        ]
    )
    assert state(errors) == before


def test_impact_refusals_change_nothing(errors: Runtime) -> None:
    before = state(errors)
    rules = errors.rules("m")
    with pytest.raises(PolicyError) as err:
        errors.impact("m", "p(x) :- ")
    assert err.value.code == "policy_parse_error"
    with pytest.raises(PolicyError) as err:
        errors.impact("m", "ok(x) :- error(x)")
    assert err.value.code == "unstratifiable" and err.value.first.line == 1
    with pytest.raises(PolicyError) as err:
        errors.impact("m", "", tables=["nosuch"])
    assert err.value.code == "unknown_table"
    assert "Table nosuch does not exist in policy m" in err.value.message
    with pytest.raises(PolicyNotFound):
        errors.impact("nosuch", "p(1)")
    assert state(errors) == before and errors.rules("m") == rules


def test_impact_tables() -> None:
    rt = Runtime()
    rt.create_policy("a")
    rt.insert("a", "error(x) :- p(x)")
    assert rt.impact_tables("a", [], None) == (["error"], [])
    warning = parse("warning(x) :- q(x)")
    assert rt.impact_tables("a", warning, None) == (["error", "warning"], [])  # type: ignore[arg-type]
    assert rt.impact_tables("a", [], ["p", "q", "p"]) == (["p"], ["q"])


def no_aggregates(rule: Rule) -> bool:
    """Rules with aggregates are left out (they are tested with the oracle elsewhere)."""
    return all(getattr(lit, "aggregate", None) is None for lit in rule.body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs.programs(), data=st.data())
def test_impact_is_the_oracles_difference_and_changes_nothing(
    program: programs.Program, data: st.DataObject
) -> None:
    pool = {p: [r for r in rules if no_aggregates(r)] for p, rules in program.statements.items()}
    present = {p: [r for r in rules if data.draw(st.booleans())] for p, rules in pool.items()}
    initial = data.draw(programs.initial_data(program))
    rt = Runtime(clock=naive.fixed_clock)
    rt.create_policy(programs.DS, "datasource", schema=dict(program.schema))
    for policy, kind in program.kinds.items():
        rt.create_policy(policy, kind)
    rows = {(programs.DS, t): set(ins) for t, (ins, _) in initial.changes.items()}
    rt.apply({key: (r, set()) for key, r in rows.items()})
    for policy, chosen in present.items():
        rt.insert(policy, chosen)
    policy = data.draw(st.sampled_from(sorted(pool)))
    add = [r for r in pool[policy] if r not in present[policy] and data.draw(st.booleans())]
    delete = [r for r in present[policy] if data.draw(st.booleans())]
    note(f"{policy}: add {[to_text(r) for r in add]} delete {[to_text(r) for r in delete]}")
    everything = program.tables()
    before = {key: rt.rows(*key) for key in everything}
    asked = sorted({t for p, t in everything if p == policy})
    watched, unknown = rt.impact_tables(policy, add, asked)
    res = rt.impact(policy, add, delete, watched)
    changed = {**present, policy: [r for r in present[policy] if r not in delete] + add}
    old, new = naive.evaluate(present, rows), naive.evaluate(changed, rows)
    for table in watched:
        was, now = old.get((policy, table), set()), new.get((policy, table), set())
        assert res.changes[table] == (
            sorted(now - was, key=repr),
            sorted(was - now, key=repr),
        ), table
    for table in unknown:  # a table nothing mentions has no rows either way
        assert not old.get((policy, table)) and not new.get((policy, table))
    assert {key: rt.rows(*key) for key in everything} == before
    assert {p: set(rt.rules(p)) for p in pool} == {p: set(r) for p, r in present.items()}
