"""Tests of a policy's own limits (``Runtime.policy_limits``, ``PolicyLimits``): the rows one
of its derived tables may hold, and the seconds one change may spend evaluating it."""

from __future__ import annotations

import pytest

from congress.datalog.errors import LimitExceeded
from congress.datalog.printer import to_text
from congress.datalog.runtime import Limits, PolicyLimits, Runtime

QUOTA = PolicyLimits(max_table_rows=3, rows_label="rows_per_table")


class FakeTimer:
    """A clock that advances one second every time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def limited(own: dict[str, PolicyLimits], **kw: object) -> Runtime:
    rt = Runtime(**kw)  # type: ignore[arg-type]
    rt.policy_limits = own.get
    rt.create_policy("ds", "datasource", schema={"n": ["id"]})
    rt.create_policy("mine")
    rt.create_policy("other")
    return rt


def snapshot(rt: Runtime) -> dict[tuple[str, str], object]:
    return {(p, t): rt.rows(p, t) for p in rt.policy_names() for t in rt.tables(p)}


def test_a_rule_whose_table_would_hold_too_many_rows_is_refused() -> None:
    rt = limited({"mine": QUOTA})
    rt.insert("mine", "p(1) p(2) p(3) p(4) s(1) s(2) s(3) q(x) :- p(x), s(x)")
    before = snapshot(rt), [to_text(r) for r in rt.rules("mine")]
    with pytest.raises(LimitExceeded) as e:
        rt.insert("mine", "r(x) :- p(x)")
    assert (e.value.limit, e.value.value, e.value.policy) == ("rows_per_table", 3, "mine")
    assert e.value.message == "Evaluation exceeded the limit rows_per_table=3 in policy mine"
    assert (snapshot(rt), [to_text(r) for r in rt.rules("mine")]) == before
    assert rt.policy_error("mine") is None
    # a policy without limits of its own is not limited
    rt.insert("other", "p(1) p(2) p(3) p(4) r(x) :- p(x)")
    assert len(rt.rows("other", "r")) == 4


def test_the_limit_is_on_the_table_not_on_one_request() -> None:
    """Unlike ``max_rows`` (rows derived by one request), rows held count, however they came."""
    rt = limited({"mine": QUOTA})
    rt.insert("mine", "q(x) :- p(x)")
    for i in range(3):
        rt.insert("mine", f"p({i})")
    with pytest.raises(LimitExceeded) as e:
        rt.insert("mine", "p(3)")
    assert e.value.limit == "rows_per_table"
    assert rt.rows("mine", "q") == {(0,), (1,), (2,)}
    assert rt.rows("mine", "p") == {(0,), (1,), (2,)}


def test_asserted_tables_are_not_limited() -> None:
    rt = limited({"mine": QUOTA})
    rt.insert("mine", "p(1) p(2) p(3) p(4) p(5)")
    assert len(rt.rows("mine", "p")) == 5


def test_data_over_the_limit_puts_the_policy_in_its_error_state() -> None:
    rt = limited({"mine": QUOTA})
    rt.insert("mine", "big(x) :- ds:n(x)")
    rt.insert("other", "all(x) :- ds:n(x)")
    rt.apply({("ds", "n"): ([(1,), (2,), (3,)], [])})
    assert len(rt.rows("mine", "big")) == 3
    res = rt.apply({("ds", "n"): ([(4,)], [])})
    message = "Evaluation exceeded the limit rows_per_table=3 in policy mine"
    assert rt.policy_error("mine") == message
    assert rt.rows("mine", "big") == set()
    assert rt.rows("other", "all") == {(1,), (2,), (3,), (4,)}  # applied everywhere else
    assert res.changes[("mine", "big")] == (set(), {(1,), (2,), (3,)})
    # it comes back once the data fits again
    rt.apply({("ds", "n"): ([], [(4,)])})
    assert rt.policy_error("mine") is None
    assert rt.rows("mine", "big") == {(1,), (2,), (3,)}


def test_a_cross_product_is_stopped_while_it_runs() -> None:
    """The table limit is checked on a plan's output as it grows (as ``max_rows`` is)."""
    rt = limited({"mine": PolicyLimits(max_table_rows=10)})
    rt.apply({("ds", "n"): ([(i,) for i in range(400)], [])})
    with pytest.raises(LimitExceeded) as e:
        rt.insert("mine", "pair(x, y) :- ds:n(x), ds:n(y)")
    assert (e.value.limit, e.value.policy) == ("max_table_rows", "mine")
    assert rt.rows("mine", "pair") == set()


def test_the_hook_is_asked_once_per_policy_and_request() -> None:
    asked: list[str] = []

    def own(policy: str) -> PolicyLimits | None:
        asked.append(policy)
        return QUOTA if policy == "mine" else None

    rt = limited({})
    rt.policy_limits = own
    rt.insert("mine", "q(x) :- p(x)")
    asked.clear()
    rt.insert("mine", "p(1) p(2)")
    assert asked == ["mine"]


def test_seconds_spent_on_one_policy_are_limited() -> None:
    """The fake timer moves a second at each read: the cross product ticks a few times."""
    own = {"mine": PolicyLimits(max_seconds=2.0, seconds_label="evaluation_seconds")}
    rt = limited(own, timer=FakeTimer())
    rt.apply({("ds", "n"): ([(i,) for i in range(100)], [])})
    with pytest.raises(LimitExceeded) as e:
        rt.insert("mine", "pair(x, y) :- ds:n(x), ds:n(y)")
    assert (e.value.limit, e.value.value, e.value.policy) == ("evaluation_seconds", 2.0, "mine")
    assert rt.rows("mine", "pair") == set()
    rt.insert("other", "pair(x, y) :- ds:n(x), ds:n(y)")  # no limit of its own
    assert len(rt.rows("other", "pair")) == 10_000


def test_seconds_over_the_limit_on_data_put_the_policy_in_its_error_state() -> None:
    own = {"mine": PolicyLimits(max_seconds=2.0, seconds_label="evaluation_seconds")}
    rt = limited(own, timer=FakeTimer())
    rt.insert("mine", "pair(x, y) :- ds:n(x), ds:n(y)")
    rt.insert("other", "one(x) :- ds:n(x)")
    rt.apply({("ds", "n"): ([(i,) for i in range(100)], [])})
    error = rt.policy_error("mine")
    assert error == "Evaluation exceeded the limit evaluation_seconds=2.0 in policy mine"
    assert rt.rows("mine", "pair") == set()
    assert len(rt.rows("other", "one")) == 100


def test_the_runtime_limits_still_hold_beside_a_policy_s_own() -> None:
    rt = limited({"mine": PolicyLimits(max_table_rows=100)}, limits=Limits(max_rows=2))
    with pytest.raises(LimitExceeded) as e:
        rt.insert("mine", "p(1) p(2) p(3) q(x) :- p(x)")
    assert e.value.limit == "max_rows"


def test_retry_errors_brings_back_a_policy_whose_limit_rose() -> None:
    own = {"mine": QUOTA}
    rt = limited(own)
    rt.insert("mine", "big(x) :- ds:n(x)")
    rt.apply({("ds", "n"): ([(1,), (2,), (3,), (4,)], [])})
    assert rt.policy_error("mine") is not None
    assert rt.retry_errors().changes == {}  # still over
    assert rt.policy_error("mine") is not None
    own["mine"] = PolicyLimits(max_table_rows=10)
    res = rt.retry_errors()
    assert rt.policy_error("mine") is None
    assert res.changes == {("mine", "big"): ({(1,), (2,), (3,), (4,)}, set())}
