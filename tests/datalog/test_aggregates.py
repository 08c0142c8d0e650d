"""Aggregates (``v = op{x | body}``): syntax, checks, meaning and incremental maintenance.

The random differential tests in ``test_engine_oracle.py`` check aggregates of every operator
against the naive evaluator; these tests pin down the documented meaning with small examples
(docs/language.md, Aggregates; docs/adr/0009-aggregates.md).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from congress.datalog.ast import Row
from congress.datalog.errors import PolicyError
from congress.datalog.model import Limits
from congress.datalog.parser import parse, parse_statement
from congress.datalog.printer import format_rule, to_text
from congress.datalog.runtime import Runtime

SCHEMA = {
    "hosts": ["name", "zone"],
    "servers": ["id", "host", "project", "ram", "image"],
}
SERVERS: list[Row] = [
    ("vm1", "h1", "p1", 512, "cirros"),
    ("vm2", "h1", "p1", 512, "cirros"),
    ("vm3", "h2", "p2", 2048, "ubuntu"),
]


def runtime(servers: Iterable[Row] = SERVERS) -> Runtime:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema=SCHEMA)
    rt.create_policy("p")
    rt.apply(
        {
            ("nova", "hosts"): ([("h1", "z1"), ("h2", "z1"), ("h3", "z2")], []),
            ("nova", "servers"): (list(servers), []),
        }
    )
    return rt


def rows(rt: Runtime, table: str) -> set[Row]:
    return set(rt.rows("p", table))


# -- syntax ----------------------------------------------------------------------------------


def test_an_aggregate_prints_and_parses_back_the_same() -> None:
    text = (
        "load(h, n) :- nova:hosts(h, z), n = count{vm | nova:servers(vm, h, p, r, i), lt(r, 4096)}"
    )
    rule = parse_statement(text)
    assert to_text(rule) == text
    assert parse_statement(to_text(rule)) == rule
    assert format_rule(rule).splitlines()[2] == (
        "  n = count{vm | nova:servers(vm, h, p, r, i), lt(r, 4096)}"
    )


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("p(x) :- q(x), not n = count{y | r(y)}", 19, "cannot be negated"),
        ("p(x) :- q(x), n = total{y | r(y)}", 17, "only starts an aggregate"),
        ("p(x) :- q(x), x = 1", 17, "equal(x, y)"),
        ("p(x) :- q(x), n = count{y r(y)}", 27, "expected '|'"),
        ("p(x) :- q(x), n = count{y | r(y)", 33, "expected ',' or '}'"),
    ],
)
def test_malformed_aggregates_are_parse_errors_at_their_place(
    text: str, column: int, words: str
) -> None:
    with pytest.raises(PolicyError) as info:
        parse(text)
    problem = info.value.first
    assert (problem.code, problem.line, problem.column) == ("policy_parse_error", 1, column)
    assert words in problem.message


def test_max_with_braces_is_an_aggregate_and_with_parentheses_the_builtin() -> None:
    rt = runtime()
    rt.insert("p", "biggest(m) :- m = max{r | nova:servers(ram=r)}")
    rt.insert("p", "bigger(m) :- nova:servers(id=vm, ram=r), max(r, 1000, m)")
    assert rows(rt, "biggest") == {(2048,)}
    assert rows(rt, "bigger") == {(1000,), (2048,)}


# -- checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "code", "words"),
    [
        ("n = count{x | q(x)}", "aggregate_error", "only in a rule body"),
        ("p(n) :- n = count{y | q(x)}", "aggregate_error", "aggregated term y"),
        ("p(n) :- n = count{x | q(x, n)}", "aggregate_error", "result n"),
        ("p(n) :- n = count{x | q(x), not r(y)}", "unsafe_rule", "body of n = count"),
        ("p(n) :- n = count{x | q(x), m = sum{y | r(y)}}", "aggregate_error", "nested"),
        ("p(n) :- n = count{x | q(x), execute[r(x)]}", "modal_error", "Modals"),
        ("p(n) :- n = count{x | nova:nothing(x)}", "unknown_table", "nothing"),
        ("p(n) :- n = count{x | nova:servers(x, a, b, c, d, e)}", "arity_mismatch", "5 arguments"),
        ("p(h) :- n = count{x | q(x)}", "unsafe_rule", "Variable h"),
    ],
)
def test_bad_aggregates_are_refused_with_their_code(rule: str, code: str, words: str) -> None:
    rt = runtime()
    with pytest.raises(PolicyError) as info:
        rt.insert("p", rule)
    assert code in [p.code for p in info.value.problems]
    assert any(words in p.message for p in info.value.problems), info.value.problems
    assert all(p.line == 1 and p.column is not None for p in info.value.problems)


def test_aggregates_are_refused_in_action_and_database_policies() -> None:
    rt = runtime()
    rt.create_policy("acts", "action")
    with pytest.raises(PolicyError) as info:
        rt.insert("acts", "p(n) :- n = count{x | q(x)}")
    assert info.value.first.code == "aggregate_error"
    assert "action policies" in info.value.first.message


def test_recursion_through_an_aggregate_is_unstratifiable_even_when_materialized() -> None:
    rt = runtime()
    rt.create_policy("m", "materialized")
    rt.insert("m", "e(1, 2) e(2, 3)")
    with pytest.raises(PolicyError) as info:
        rt.insert("m", "deg(x, n) :- e(x, y), n = count{z | deg(y, z)}")
    problem = info.value.first
    assert problem.code == "unstratifiable"
    assert problem.message.endswith("through an aggregate and cannot be stratified: m:deg -> m:deg")
    assert "{" not in problem.message  # the hidden relations are not shown
    assert rt.rules("m") == [r for r in rt.rules("m") if not r.body]  # nothing was added


def test_column_references_inside_an_aggregate_are_resolved_apart_from_the_rest() -> None:
    rt = runtime()
    rt.insert(
        "p",
        "zone_ram(z, total) :- nova:hosts(zone=z), total = sum{r | nova:hosts(name=h, zone=z),"
        " nova:servers(host=h, ram=r)}",
    )
    assert rows(rt, "zone_ram") == {("z1", 3072), ("z2", 0)}


# -- meaning ---------------------------------------------------------------------------------


def test_given_groups_count_zero_and_enumerated_groups_only_exist_with_rows() -> None:
    rt = runtime()
    rt.insert("p", "given(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    rt.insert("p", "listed(h, n) :- n = count{vm | nova:servers(id=vm, host=h)}")
    assert rows(rt, "given") == {("h1", 2), ("h2", 1), ("h3", 0)}
    assert rows(rt, "listed") == {("h1", 2), ("h2", 1)}


def test_min_max_avg_of_an_empty_given_group_have_no_value() -> None:
    rt = runtime()
    for op in ("min", "max", "avg", "sum"):
        rt.insert(
            "p",
            f"{op}_ram(h, v) :- nova:hosts(name=h), v = {op}{{r | nova:servers(host=h, ram=r)}}",
        )
    assert rows(rt, "min_ram") == {("h1", 512), ("h2", 2048)}
    assert rows(rt, "max_ram") == {("h1", 512), ("h2", 2048)}
    assert rows(rt, "avg_ram") == {("h1", 512.0), ("h2", 2048.0)}
    assert rows(rt, "sum_ram") == {("h1", 1024), ("h2", 2048), ("h3", 0)}


def test_count_counts_distinct_values_and_sum_one_value_per_binding() -> None:
    rt = runtime()
    rt.insert("p", "images(n) :- n = count{i | nova:servers(image=i)}")
    rt.insert("p", "rams(n) :- n = count{r | nova:servers(ram=r)}")
    rt.insert("p", "ram(s) :- s = sum{r | nova:servers(ram=r)}")
    rt.insert("p", "mean(a) :- a = avg{r | nova:servers(ram=r)}")
    assert rows(rt, "images") == {(2,)}
    assert rows(rt, "rams") == {(2,)}  # 512 twice, 2048 once: two distinct values
    assert rows(rt, "ram") == {(3072,)}  # but both 512s are added
    assert rows(rt, "mean") == {(1024.0,)}


def test_sum_of_integers_stays_an_integer_and_strings_are_skipped() -> None:
    rt = Runtime()
    rt.create_policy("p")
    rt.insert("p", 'v(1, 2) v(2, 3) v(3, "x") v(4, 0.5)')
    rt.insert("p", "ints(s) :- s = sum{y | v(x, y), lt(x, 3)}")
    rt.insert("p", "all(s) :- s = sum{y | v(x, y)}")
    rt.insert("p", "least(m) :- m = min{y | v(x, y)}")
    rt.insert("p", "most(m) :- m = max{y | v(x, y)}")
    (ints,) = rows(rt, "ints")
    assert ints == (5,) and type(ints[0]) is int
    assert rows(rt, "all") == {(5.5,)}
    assert rows(rt, "least") == {(0.5,)}
    assert rows(rt, "most") == {("x",)}  # strings order after numbers
    rt.delete("p", "v(4, 0.5)")
    (total,) = rows(rt, "all")
    assert total == (5,) and type(total[0]) is int  # no float left: an integer again


def test_float_sums_do_not_depend_on_the_order_of_changes() -> None:
    values = [0.1 * k for k in range(1, 60)] + [1e16, -1e16, 3.3]
    answers = set()
    for seed in range(5):
        order = list(values)
        random.Random(seed).shuffle(order)
        rt = Runtime()
        rt.create_policy("d", "datasource", schema={"v": ["k", "x"]})
        rt.create_policy("p")
        rt.insert("p", "s(t) :- t = sum{x | d:v(k, x)}")
        for i, x in enumerate(order):  # one change at a time, in this order
            rt.apply({("d", "v"): ([(i, x)], [])})
        answers.add(next(iter(rt.rows("p", "s"))))
    assert len(answers) == 1  # the same float whatever the order


def test_two_aggregates_may_share_a_local_variable_name() -> None:
    rt = runtime()
    rt.insert(
        "p",
        "ratio(h, n, m) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)},"
        " m = count{vm | nova:servers(id=vm)}",
    )
    assert rows(rt, "ratio") == {("h1", 2, 3), ("h2", 1, 3), ("h3", 0, 3)}


def test_an_aggregate_result_can_be_compared_and_feed_other_rules() -> None:
    rt = runtime()
    rt.insert("p", "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    rt.insert("p", "error(h) :- load(h, n), gt(n, 1)")
    rt.insert("p", "idle(h) :- load(h, 0)")
    assert rows(rt, "error") == {("h1",)}
    assert rows(rt, "idle") == {("h3",)}


# -- maintenance -----------------------------------------------------------------------------


def test_changes_update_the_groups_and_report_net_changes_only() -> None:
    rt = runtime()
    rt.insert("p", "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    rt.insert("p", "error(h) :- load(h, n), gt(n, 1)")
    res = rt.apply({("nova", "servers"): ([("vm4", "h3", "p1", 64, "cirros")], [SERVERS[0]])})
    assert res.changes[("p", "load")] == ({("h1", 1), ("h3", 1)}, {("h1", 2), ("h3", 0)})
    assert res.changes[("p", "error")] == (set(), {("h1",)})
    assert all(not table.startswith("{") for _, table in res.changes)
    res = rt.apply({("nova", "servers"): ([("vm5", "h2", "p2", 64, "x")], [SERVERS[2]])})
    assert ("p", "load") not in res.changes  # h2 still has one server
    res = rt.apply({("nova", "servers"): ([], [("vm5", "h2", "p2", 64, "x")])})
    assert res.changes[("p", "load")] == ({("h2", 0)}, {("h2", 1)})


def test_max_moves_on_when_the_largest_value_leaves() -> None:
    rt = runtime()
    rt.insert("p", "biggest(h, m) :- m = max{r | nova:servers(host=h, ram=r)}")
    rt.apply({("nova", "servers"): ([("vm9", "h1", "p1", 4096, "x")], [])})
    assert rows(rt, "biggest") == {("h1", 4096), ("h2", 2048)}
    rt.apply({("nova", "servers"): ([], [("vm9", "h1", "p1", 4096, "x")])})
    assert rows(rt, "biggest") == {("h1", 512), ("h2", 2048)}


def test_hidden_relations_are_not_tables_and_leave_with_their_rule() -> None:
    rt = runtime()
    rule = "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}"
    before = set(rt._engine.relations)
    rt.insert("p", rule)
    assert rt.tables("p") == ["load"]
    assert any(t.startswith("{count#") for _, t in rt._engine.relations)
    rt.delete("p", rule)
    assert rows(rt, "load") == set()
    assert set(rt._engine.relations) <= before | {("p", "load")}
    assert not rt._engine.aggregates


def test_simulate_and_rollback_leave_aggregates_exactly_as_they_were() -> None:
    rt = runtime()
    rt.insert("p", "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    rt.create_policy("act", "action")
    before = rows(rt, "load")
    result = rt.simulate("p", "load(h, n)", 'nova:servers+("vm7", "h3", "p1", 1, "x")', "act")
    assert {tuple(a.value for a in lit.args) for lit in result.answers} == (
        before - {("h3", 0)}
    ) | {("h3", 1)}
    assert rows(rt, "load") == before
    # the cached group states were dropped and rebuilt: later changes are still exact
    rt.apply({("nova", "servers"): ([("vm8", "h3", "p1", 1, "x")], [])})
    assert rows(rt, "load") == (before - {("h3", 0)}) | {("h3", 1)}


def test_an_evaluation_limit_rolls_back_an_aggregate_change() -> None:
    rt = runtime()
    rt.insert("p", "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    rt.insert("p", "pairs(a, b, n) :- load(a, n), nova:servers(id=b)")
    before = {t: rows(rt, t) for t in ("load", "pairs")}
    rt.limits = Limits(max_rows=12)
    many = [(f"x{i}", "h3", "p", 1, "i") for i in range(40)]
    rt.apply({("nova", "servers"): (many, [])})  # over the limit: the policy enters an error state
    assert rt.policy_error("p") is not None
    rt.limits = Limits()
    rt.apply({("nova", "servers"): ([], many)})  # back under: the policy recovers
    assert rt.policy_error("p") is None
    assert {t: rows(rt, t) for t in ("load", "pairs")} == before


def test_a_rule_query_may_aggregate_and_leaves_nothing_behind() -> None:
    rt = runtime()
    rt.insert("p", "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}")
    state = {k: dict(r.rows) for k, r in rt._engine.relations.items()}
    same = "load(h, n) :- nova:hosts(name=h), n = count{vm | nova:servers(id=vm, host=h)}"
    answers = rt.select("p", same)  # equal to a linked rule: its hidden relations are its own
    assert {to_text(a) for a in answers} == {'load("h1", 2)', 'load("h2", 1)', 'load("h3", 0)'}
    total = rt.select("p", "total(s) :- s = sum{r | nova:servers(ram=r)}")
    assert [to_text(a) for a in total] == ["total(3072)"]
    assert {k: dict(r.rows) for k, r in rt._engine.relations.items()} == state
    assert len(rt._engine.aggregates) == 1


def test_an_aggregate_alone_is_not_a_query() -> None:
    rt = runtime()
    with pytest.raises(PolicyError) as info:
        rt.select("p", "n = count{vm | nova:servers(id=vm)}")
    assert info.value.first.code == "invalid_query"
    assert "answer(n) :- n = count{vm | nova:servers(id=vm)}" in info.value.first.message
