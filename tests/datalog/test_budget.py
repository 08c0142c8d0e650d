"""Tests of evaluation budgets (``Limits``): rows per policy per request, and seconds."""

from __future__ import annotations

import pytest

from congress.datalog.ast import Row
from congress.datalog.errors import LimitExceeded
from congress.datalog.printer import to_text
from congress.datalog.runtime import Limits, Runtime

State = dict[tuple[str, str], set[Row]]


def state(rt: Runtime) -> State:
    return {(p, t): rt.rows(p, t) for p in rt.policy_names() for t in rt.tables(p)}


def everything(rt: Runtime) -> tuple[State, dict[str, list[str]]]:
    return state(rt), {p: [to_text(r) for r in rt.rules(p)] for p in rt.policy_names()}


class FakeTimer:
    """A clock that advances one second every time it is read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        self.now += 1.0
        return self.now


def rows_limited(n: int) -> Runtime:
    rt = Runtime(limits=Limits(max_rows=n))
    rt.create_policy("ds", "datasource", schema={"n": ["id"]})
    rt.create_policy("a")
    rt.create_policy("b")
    return rt


# -- max_rows on requests ----------------------------------------------------------------------


def test_insert_deriving_too_many_rows_is_refused_and_changes_nothing() -> None:
    rt = rows_limited(5)
    rt.insert("a", "p(1) p(2) q(x) :- p(x)")  # 4 rows: within the limit
    before = everything(rt)
    with pytest.raises(LimitExceeded) as e:
        rt.insert("a", "p(3) p(4) r(x, y) :- p(x), p(y)")
    err = e.value
    assert err.code == "limit_exceeded"
    assert err.limit == "max_rows" and err.value == 5 and err.policy == "a"
    assert err.message == "Evaluation exceeded the limit max_rows=5 in policy a"
    assert everything(rt) == before
    assert rt.policy_error("a") is None


def test_a_refused_fact_insert_leaves_the_policy_working() -> None:
    rt = rows_limited(3)
    rt.insert("a", "q(x) :- p(x)")
    with pytest.raises(LimitExceeded):
        rt.insert("a", "p(1) p(2) p(3) p(4)")  # asserted rows do not count; q's four do
    assert rt.rows("a", "p") == set() and rt.rows("a", "q") == set()
    res = rt.insert("a", "p(3)")
    assert res.changes == {("a", "p"): ({(3,)}, set()), ("a", "q"): ({(3,)}, set())}


def test_a_refused_rule_insert_is_not_evaluated_later() -> None:
    rt = rows_limited(5)
    rt.insert("a", "p(1) p(2) q(x) :- p(x)")
    with pytest.raises(LimitExceeded):
        rt.insert("a", "p(3) p(4) r(x, y) :- p(x), p(y)")
    assert [to_text(r) for r in rt.rules("a")] == ["q(x) :- p(x)", "p(1)", "p(2)"]
    res = rt.insert("a", "p(3)")  # 2 rows, unless the refused rule r derives 5 more
    assert res.changes == {("a", "p"): ({(3,)}, set()), ("a", "q"): ({(3,)}, set())}
    rt.limits = Limits()
    rt.insert("a", "p(4)")
    assert rt.rows("a", "r") == set()


def test_the_limit_is_per_policy() -> None:
    rt = rows_limited(5)
    rt.insert("a", "p(x) :- ds:n(x)")
    rt.insert("b", "q(x) :- ds:n(x)")
    res = rt.apply({("ds", "n"): ([(1,), (2,), (3,), (4,)], [])})
    assert res.changes[("a", "p")] == ({(1,), (2,), (3,), (4,)}, set())
    assert res.changes[("b", "q")] == ({(1,), (2,), (3,), (4,)}, set())
    assert rt.policy_error("a") is None and rt.policy_error("b") is None


def test_the_limit_is_per_request() -> None:
    rt = rows_limited(3)
    for i in range(5):
        rt.insert("a", f"p({i})")
    assert len(rt.rows("a", "p")) == 5


def test_recursive_insert_over_the_limit_is_refused() -> None:
    rt = Runtime(limits=Limits(max_rows=20))
    rt.create_policy("m", "materialized")
    rt.insert("m", "edge(1, 2) edge(2, 3) edge(3, 4) edge(4, 5) edge(5, 1)")
    before = everything(rt)
    with pytest.raises(LimitExceeded) as e:
        rt.insert("m", "path(x, y) :- edge(x, y)  path(x, z) :- edge(x, y), path(y, z)")
    assert e.value.message == "Evaluation exceeded the limit max_rows=20 in policy m"
    assert everything(rt) == before
    rt.delete("m", "edge(5, 1)")
    res = rt.insert("m", "path(x, y) :- edge(x, y)  path(x, z) :- edge(x, y), path(y, z)")
    assert len(res.changes[("m", "path")][0]) == 10


def test_deleting_a_rule_stays_within_the_limit() -> None:
    rt = rows_limited(6)
    rt.insert("a", "p(1) p(2) q(x) :- p(x)")
    res = rt.delete("a", "q(x) :- p(x)")
    assert res.changes == {("a", "q"): (set(), {(1,), (2,)})}


# -- a data batch that drives one policy over the limit -------------------------------------------


def test_data_batch_over_the_limit_puts_that_policy_in_an_error_state() -> None:
    rt = rows_limited(5)
    rt.insert("a", "p(1) big(x, y) :- ds:n(x), ds:n(y)")
    rt.insert("b", "small(x) :- ds:n(x)  via(x) :- a:big(x, x)")
    res = rt.apply({("ds", "n"): ([(1,), (2,)], [])})
    assert len(rt.rows("a", "big")) == 4
    assert rt.rows("b", "via") == {(1,), (2,)}
    # two more values: big would gain 12 rows in this request
    res = rt.apply({("ds", "n"): ([(3,), (4,)], [])})
    message = "Evaluation exceeded the limit max_rows=5 in policy a"
    assert rt.policy_error("a") == message
    assert rt.policy_error("b") is None
    # applied to the other policies
    assert rt.rows("ds", "n") == {(1,), (2,), (3,), (4,)}
    assert rt.rows("b", "small") == {(1,), (2,), (3,), (4,)}
    # the policy's derived tables are empty; its facts stay
    assert rt.rows("a", "big") == set()
    assert rt.rows("a", "p") == {(1,)}
    assert rt.rows("b", "via") == set()
    assert res.changes == {
        ("ds", "n"): ({(3,), (4,)}, set()),
        ("b", "small"): ({(3,), (4,)}, set()),
        ("a", "big"): (set(), {(1, 1), (1, 2), (2, 1), (2, 2)}),
        ("b", "via"): (set(), {(1,), (2,)}),
    }
    assert [to_text(r) for r in rt.rules("a")] == ["big(x, y) :- ds:n(x), ds:n(y)", "p(1)"]
    # while in the error state, more data is still applied elsewhere
    res = rt.apply({("ds", "n"): ([(5,)], [])})
    assert res.changes == {("ds", "n"): ({(5,)}, set()), ("b", "small"): ({(5,)}, set())}
    assert rt.policy_error("a") == message
    # deleting data brings it back once it fits
    res = rt.apply({("ds", "n"): ([], [(4,), (5,)])})
    assert rt.policy_error("a") == message  # 9 rows: still over
    assert rt.rows("a", "big") == set()
    assert res.changes == {
        ("ds", "n"): (set(), {(4,), (5,)}),
        ("b", "small"): (set(), {(4,), (5,)}),
    }
    res = rt.apply({("ds", "n"): ([], [(3,)])})
    assert rt.policy_error("a") is None
    assert rt.rows("a", "big") == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert rt.rows("b", "via") == {(1,), (2,)}
    assert res.changes == {
        ("ds", "n"): (set(), {(3,)}),
        ("b", "small"): (set(), {(3,)}),
        ("a", "big"): ({(1, 1), (1, 2), (2, 1), (2, 2)}, set()),
        ("b", "via"): ({(1,), (2,)}, set()),
    }


def test_deleting_a_rule_of_a_policy_in_error_tries_it_again() -> None:
    rt = rows_limited(5)
    rt.insert("a", "big(x, y) :- ds:n(x), ds:n(y)  one(x) :- ds:n(x)")
    rt.apply({("ds", "n"): ([(1,), (2,), (3,)], [])})
    assert rt.policy_error("a") is not None
    assert rt.rows("a", "one") == set()
    res = rt.delete("a", "big(x, y) :- ds:n(x), ds:n(y)")
    assert rt.policy_error("a") is None
    assert rt.rows("a", "one") == {(1,), (2,), (3,)}
    assert res.changes == {("a", "one"): ({(1,), (2,), (3,)}, set())}


def test_execute_rows_of_a_policy_entering_the_error_state() -> None:
    rt = rows_limited(5)
    rt.insert("a", "execute[nova:stop(x, y)] :- ds:n(x), ds:n(y)")
    res = rt.apply({("ds", "n"): ([(1,), (2,)], [])})
    pairs = [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert sorted(a.args for a in res.actions) == pairs
    res = rt.apply({("ds", "n"): ([(3,), (4,)], [])})
    assert rt.policy_error("a") is not None
    assert res.actions == []
    assert res.changes[("a", "execute[nova:stop]")] == (set(), set(pairs))
    res = rt.apply({("ds", "n"): ([], [(3,), (4,)])})
    assert rt.policy_error("a") is None
    # the rows reappear: the actions are requested again (edge-triggered)
    assert sorted(a.args for a in res.actions) == pairs


# -- max_seconds ---------------------------------------------------------------------------------


def timed() -> tuple[Runtime, FakeTimer]:
    timer = FakeTimer()
    rt = Runtime(limits=Limits(max_seconds=1.5), timer=timer)
    rt.create_policy("ds", "datasource", schema={"n": ["id"], "e": ["a", "b"], "one": ["id"]})
    rt.create_policy("a")
    return rt, timer


def test_time_limit_on_a_large_join() -> None:
    rt, timer = timed()
    rt.apply(
        {
            ("ds", "n"): ([(i,) for i in range(6000)], []),
            ("ds", "e"): ([(i, i + 1) for i in range(6000)], []),
        }
    )
    before = everything(rt)
    timer.calls = 0
    with pytest.raises(LimitExceeded) as e:
        rt.insert("a", "z(x, y) :- ds:n(x), ds:e(x, y)")
    assert e.value.code == "limit_exceeded"
    assert e.value.limit == "max_seconds"
    assert e.value.value == 1.5
    assert e.value.message.startswith("Evaluation exceeded the limit max_seconds=1.5")
    assert timer.calls >= 3
    assert everything(rt) == before


def test_time_limit_small_request_passes() -> None:
    rt, _ = timed()
    rt.apply({("ds", "n"): ([(1,), (2,)], [])})
    res = rt.insert("a", "z(x) :- ds:n(x)")
    assert res.changes == {("a", "z"): ({(1,), (2,)}, set())}


def test_time_limit_on_a_join_with_one_outer_row() -> None:
    rt, _ = timed()
    rt.apply({("ds", "n"): ([(i,) for i in range(20000)], []), ("ds", "one"): ([(0,)], [])})
    before = everything(rt)
    with pytest.raises(LimitExceeded):
        rt.insert("a", "z(x, y) :- ds:one(x), ds:n(y)")
    assert everything(rt) == before


def test_rule_query_over_the_row_limit_is_refused() -> None:
    rt = rows_limited(3)
    rt.insert("a", "p(1) p(2) p(3) p(4) p(5)")
    with pytest.raises(LimitExceeded):
        rt.select("a", "z(x, y) :- p(x), p(y)")


# -- simulate ------------------------------------------------------------------------------------


def test_simulate_over_the_limit_raises_and_changes_nothing() -> None:
    rt = rows_limited(5)
    rt.create_policy("act", "action")
    rt.insert("a", "p(1) p(2) q(x, y) :- p(x), p(y)")
    rt.apply({("ds", "n"): ([(1,)], [])})
    before = everything(rt)
    with pytest.raises(LimitExceeded) as e:
        rt.simulate("a", "q(x, y)", "p+(3) p+(4)", "act")
    assert e.value.message == "Evaluation exceeded the limit max_rows=5 in policy a"
    assert everything(rt) == before
    assert rt.policy_error("a") is None
    # within the limit it answers
    res = rt.simulate("a", "q(x, y)", "p-(2)", "act")
    assert [to_text(a) for a in res.answers] == ["q(1, 1)"]
    assert everything(rt) == before


def test_simulate_rule_update_over_the_limit() -> None:
    rt = rows_limited(5)
    rt.insert("a", "p(1) p(2) p(3)")
    before = everything(rt)
    with pytest.raises(LimitExceeded):
        rt.simulate("a", "q(x, y)", "q+(x, y) :- p(x), p(y)", None)
    assert everything(rt) == before
    res = rt.insert("a", "q(x) :- p(x)")
    assert res.changes == {("a", "q"): ({(1,), (2,), (3,)}, set())}


def test_simulate_time_limit() -> None:
    rt, _ = timed()
    rt.apply(
        {
            ("ds", "n"): ([(i,) for i in range(6000)], []),
            ("ds", "e"): ([(i, i + 1) for i in range(6000)], []),
        }
    )
    before = everything(rt)
    with pytest.raises(LimitExceeded) as e:
        rt.simulate("a", "z(x, y)", "z+(x, y) :- ds:n(x), ds:e(x, y)", None)
    assert e.value.limit == "max_seconds"
    assert everything(rt) == before


# -- stopping a huge evaluation early, and the memory ceiling ----------------------------------


def cross_product(n: int, limits: Limits, **kw: object) -> Runtime:
    rt = Runtime(limits=limits, **kw)  # type: ignore[arg-type]
    rt.create_policy("ds", "datasource", schema={f"t{i}": ["v"] for i in range(3)})
    rt.create_policy("p")
    for i in range(3):
        rt.apply({("ds", f"t{i}"): ([(j,) for j in range(n)], [])})
    return rt


def test_a_cross_product_over_the_row_limit_stops_while_its_plan_runs() -> None:
    rt = cross_product(100, Limits(max_rows=5_000))  # 1,000,000 rows
    ticks: list[int] = []
    rt.pause_hook = lambda: ticks.append(1)
    with pytest.raises(LimitExceeded, match="max_rows=5000 in policy p"):
        rt.insert("p", "c(a, b, c) :- ds:t0(a), ds:t1(b), ds:t2(c)")
    assert len(ticks) < 10  # stopped after about 5,000 rows, not 1,000,000 (500 ticks)
    assert rt.rows("p", "c") == set() and rt.rules("p") == []


def test_a_plan_stops_early_only_when_the_finished_one_would_be_over_too() -> None:
    rt = cross_product(20, Limits(max_rows=8_000))  # exactly 8,000 rows: within the limit
    rt.insert("p", "c(a, b, c) :- ds:t0(a), ds:t1(b), ds:t2(c)")
    assert len(rt.rows("p", "c")) == 8_000
    # a change that removes as many rows as it adds stays within the limit as well
    rt.apply({("ds", "t0"): ([(100 + j,) for j in range(20)], [(j,) for j in range(20)])})
    assert len(rt.rows("p", "c")) == 8_000


def test_the_memory_ceiling_stops_an_evaluation_that_makes_the_process_grow() -> None:
    used = {"bytes": 1_000}
    now = {"t": 0.0}

    def memory() -> int:
        used["bytes"] += 10 << 20  # 10 MiB more at every reading
        return used["bytes"]

    def timer() -> float:
        now["t"] += 0.02
        return now["t"]

    rt = cross_product(100, Limits(max_memory=100 << 20), memory=memory, timer=timer)
    with pytest.raises(LimitExceeded, match="max_memory"):
        rt.insert("p", "c(a, b, c) :- ds:t0(a), ds:t1(b), ds:t2(c)")
    assert rt.rows("p", "c") == set() and rt.rules("p") == []


def test_a_process_already_over_the_ceiling_still_serves_small_requests() -> None:
    """Memory the allocator keeps after a stopped evaluation must not refuse what follows:
    only a request that makes the process grow past the ceiling is stopped."""
    rt = cross_product(10, Limits(max_memory=100 << 20), memory=lambda: 500 << 20)
    rt.insert("p", "c(a, b, c) :- ds:t0(a), ds:t1(b), ds:t2(c)")
    assert len(rt.rows("p", "c")) == 1_000
