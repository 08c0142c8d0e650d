"""Relations nothing uses any more are forgotten, so a long-running engine does not grow.

A rule added and deleted again, a table its datasource emptied, a refused insert: none may leave
a node behind in the dependency graph, or every later rule change (which recomputes the
components over all nodes) gets slower and the process bigger the longer it runs.
"""

from __future__ import annotations

import pytest

from congress.datalog.errors import LimitExceeded
from congress.datalog.runtime import Limits, Runtime


def loaded(limits: Limits | None = None) -> Runtime:
    rt = Runtime(limits=limits)
    rt.create_policy(
        "inv",
        "datasource",
        schema={"servers": ["id", "status", "host"], "flavors": ["id", "vcpus"]},
    )
    rt.create_policy("soak")
    rt.replace_table("inv", "servers", [(f"s{i}", "ACTIVE", f"h{i % 5}") for i in range(50)])
    rt.insert("soak", 'error(id) :- inv:servers(id, "ERROR", h)')
    return rt


def relations(rt: Runtime) -> set[tuple[str, str]]:
    return set(rt._engine.relations)


def test_rules_added_and_deleted_leave_no_relation_behind() -> None:
    rt = loaded()
    before = relations(rt)
    for n in range(200):
        rule = f'c{n}(id) :- inv:servers(id, s, "h{n % 5}"), not gone{n}(id)'
        assert len(rt.insert("soak", rule).changes[("soak", f"c{n}")][0]) == 10
        rt.delete("soak", rule)
    assert relations(rt) == before
    assert rt.tables("soak") == ["error"]


def test_a_table_still_read_or_holding_rows_is_kept() -> None:
    rt = loaded()
    rt.insert("soak", "p(x) :- q(x)")
    rt.insert("soak", "q(1)")
    rt.delete("soak", "q(1)")  # empty, but p's rule reads it
    assert ("soak", "q") in relations(rt)
    rt.delete("soak", "p(x) :- q(x)")
    assert ("soak", "q") not in relations(rt) and ("soak", "p") not in relations(rt)
    rt.insert("soak", "p(x) :- q(x)")
    rt.insert("soak", "q(2)")
    assert rt.rows("soak", "p") == {(2,)}  # recreated on demand, exact again


def test_data_emptied_by_its_datasource_is_forgotten_and_reads_as_empty() -> None:
    rt = loaded()
    rt.replace_table("inv", "flavors", [("f1", 1)])
    assert ("inv", "flavors") in relations(rt)
    rt.replace_table("inv", "flavors", [])
    assert ("inv", "flavors") not in relations(rt)
    assert rt.rows("inv", "flavors") == set()
    rt.replace_table("inv", "servers", [])  # read by soak:error: kept, empty
    assert ("inv", "servers") in relations(rt) and rt.rows("inv", "servers") == set()


def test_a_refused_insert_leaves_no_relation_behind() -> None:
    rt = loaded(Limits(max_rows=60))
    before = relations(rt)
    with pytest.raises(LimitExceeded):
        rt.insert("soak", "big(x, y) :- inv:servers(x, s, h), inv:servers(y, s2, h2)")
    assert relations(rt) == before


def test_simulate_that_empties_a_table_restores_it() -> None:
    rt = loaded()
    rt.replace_table("inv", "flavors", [("f1", 1)])
    rt.insert("soak", "p(x) :- q(x)")
    rt.insert("soak", "q(1)")
    rt.create_policy("act", "action")
    got = rt.simulate("soak", "p(x)", 'q-(1) inv:flavors-("f1", 1)', "act")
    assert got.answers == []
    assert rt.rows("soak", "p") == {(1,)} and rt.rows("soak", "q") == {(1,)}
    assert rt.rows("inv", "flavors") == {("f1", 1)}
