"""Tests of the multi-policy runtime (congress.datalog.runtime), through its public API only."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from congress.datalog.ast import Row
from congress.datalog.errors import (
    DatalogError,
    KindNotSupported,
    PolicyError,
    PolicyExists,
    PolicyNotFound,
)
from congress.datalog.parser import parse_statement
from congress.datalog.printer import to_text
from congress.datalog.runtime import ActionRequest, BatchResult, Runtime

Changes = dict[tuple[str, str], tuple[set[Row], set[Row]]]


def texts(rt: Runtime, policy: str, query: str) -> list[str]:
    return sorted(to_text(lit) for lit in rt.select(policy, query))


def rows(*values: object) -> set[Row]:
    return {v if isinstance(v, tuple) else (v,) for v in values}


def snapshot(rt: Runtime) -> dict[tuple[str, str], set[Row]]:
    return {(p, t): rt.rows(p, t) for p in rt.policy_names() for t in rt.tables(p)}


@pytest.fixture
def rt() -> Runtime:
    return Runtime()


@pytest.fixture
def cloud() -> Runtime:
    """A datasource ``nova`` with a complete schema and a policy ``alice`` reading it."""
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "status", "tenant"]})
    rt.create_policy("alice")
    return rt


# -- policies --------------------------------------------------------------------------------


def test_create_policies_of_every_kind(rt: Runtime) -> None:
    for name, kind in [
        ("n", "nonrecursive"),
        ("m", "materialized"),
        ("a", "action"),
        ("d", "database"),
        ("s", "datasource"),
    ]:
        rt.create_policy(name, kind)
        assert rt.kind(name) == kind
    rt.create_policy("default_kind_policy")
    assert rt.kind("default_kind_policy") == "nonrecursive"
    assert rt.abbreviation("default_kind_policy") == "defau"
    rt.create_policy("abbr", abbreviation="ab")
    assert rt.abbreviation("abbr") == "ab"
    assert rt.policy_names() == ["n", "m", "a", "d", "s", "default_kind_policy", "abbr"]
    assert rt.policy_exists("m") and not rt.policy_exists("zz")


def test_z3_is_not_supported(rt: Runtime) -> None:
    with pytest.raises(KindNotSupported) as e:
        rt.create_policy("p", "z3")
    assert e.value.code == "kind_not_supported"
    assert e.value.message == "Policy kind z3 is not supported"
    assert not rt.policy_exists("p")


def test_unknown_kind_is_not_supported(rt: Runtime) -> None:
    with pytest.raises(KindNotSupported) as e:
        rt.create_policy("p", "bogus")
    assert e.value.code == "kind_not_supported"
    assert e.value.message == "Unknown kind of policy: bogus"


def test_duplicate_policy(rt: Runtime) -> None:
    rt.create_policy("p")
    with pytest.raises(PolicyExists) as e:
        rt.create_policy("p", "materialized")
    assert e.value.code == "policy_exists"
    assert e.value.message == "Policy with name p already exists"
    assert rt.kind("p") == "nonrecursive"


@pytest.mark.parametrize("name", ["", "builtin", "a:b"])
def test_invalid_policy_names(rt: Runtime, name: str) -> None:
    with pytest.raises(PolicyError) as e:
        rt.create_policy(name)
    assert e.value.code == "invalid_policy_name"
    assert e.value.message == (
        f"Invalid policy name {name!r}: a name is an identifier "
        "([a-zA-Z_.][a-zA-Z0-9_.]*) other than 'builtin'"
    )


def test_unknown_policy_everywhere(rt: Runtime) -> None:
    calls = [
        lambda: rt.delete_policy("zz"),
        lambda: rt.insert("zz", "p(1)"),
        lambda: rt.delete("zz", "p(1)"),
        lambda: rt.rows("zz", "p"),
        lambda: rt.select("zz", "p(x)"),
        lambda: rt.kind("zz"),
        lambda: rt.tables("zz"),
        lambda: rt.apply({("zz", "p"): ([(1,)], [])}),
    ]
    for call in calls:
        with pytest.raises(PolicyNotFound) as e:
            call()
        assert e.value.code == "policy_not_found"
        assert e.value.message == "Unknown policy zz"


def test_delete_policy_retracts_its_rows_from_readers(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.create_policy("b")
    rt.insert("a", "p(1) p(2) q(x) :- p(x)")
    rt.insert("b", "r(x) :- a:q(x)")
    assert rt.rows("b", "r") == rows(1, 2)
    res = rt.delete_policy("a")
    assert res.changes == {
        ("a", "p"): (set(), rows(1, 2)),
        ("a", "q"): (set(), rows(1, 2)),
        ("b", "r"): (set(), rows(1, 2)),
    }
    assert not rt.policy_exists("a")
    assert rt.rows("b", "r") == set()
    # a policy of the same name can be created again and is fed to the reader
    rt.create_policy("a")
    res = rt.insert("a", "q(7)")
    assert res.changes == {("a", "q"): (rows(7), set()), ("b", "r"): (rows(7), set())}


def test_delete_datasource_policy_retracts_its_data(cloud: Runtime) -> None:
    cloud.insert("alice", "up(x) :- nova:servers(x, s, t)")
    cloud.apply({("nova", "servers"): ([("vm1", "ACTIVE", "t1")], [])})
    res = cloud.delete_policy("nova")
    assert res.changes == {
        ("nova", "servers"): (set(), {("vm1", "ACTIVE", "t1")}),
        ("alice", "up"): (set(), rows("vm1")),
    }
    assert cloud.rows("alice", "up") == set()


def test_kinds_restrict_what_may_be_inserted(rt: Runtime) -> None:
    rt.create_policy("ds", "datasource")
    rt.create_policy("db", "database")
    with pytest.raises(PolicyError) as e:
        rt.insert("ds", "p(1)")
    assert e.value.code == "rules_not_permitted"
    assert e.value.message == (
        "line:1,col:1 Policy ds is a datasource policy; rules and facts cannot be inserted"
    )
    with pytest.raises(PolicyError) as e:
        rt.insert("db", "p(x) :- q(x)")
    assert e.value.code == "non_atomic_formula"
    rt.insert("db", "p(1)")
    assert rt.rows("db", "p") == rows(1)


# -- insert and delete -------------------------------------------------------------------------


def test_insert_returns_exact_changes(rt: Runtime) -> None:
    rt.create_policy("a")
    res = rt.insert("a", "p(1) p(2) q(x) :- p(x), not r(x) r(2)")
    assert isinstance(res, BatchResult)
    assert res.changes == {
        ("a", "p"): (rows(1, 2), set()),
        ("a", "r"): (rows(2), set()),
        ("a", "q"): (rows(1), set()),
    }
    assert res.actions == []
    assert [to_text(r) for r in res.inserted] == ["p(1)", "p(2)", "q(x) :- p(x), not r(x)", "r(2)"]
    assert res.deleted == []
    res = rt.delete("a", "r(2)")
    assert res.changes == {("a", "r"): (set(), rows(2)), ("a", "q"): (rows(2), set())}
    assert [to_text(r) for r in res.deleted] == ["r(2)"]
    res = rt.delete("a", "q(x) :- p(x), not r(x)")
    assert res.changes == {("a", "q"): (set(), rows(1, 2))}
    assert rt.rows("a", "q") == set()
    assert [to_text(r) for r in rt.rules("a")] == ["p(1)", "p(2)"]


def test_duplicate_insert_and_absent_delete_are_no_ops(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1) q(x) :- p(x)")
    res = rt.insert("a", "p(1) q(x) :- p(x)")
    assert res.changes == {} and res.inserted == [] and res.actions == []
    res = rt.insert("a", "p(2) p(2)")
    assert res.changes == {("a", "p"): (rows(2), set()), ("a", "q"): (rows(2), set())}
    assert [to_text(r) for r in res.inserted] == ["p(2)"]
    res = rt.delete("a", "p(9) r(x) :- p(x)")
    assert res.changes == {} and res.deleted == []
    assert len(rt.rules("a")) == 3


def test_insert_is_all_or_nothing_and_reports_every_problem(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "u(1, 2)")
    before = snapshot(rt)
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "r(1)\ns(x) :- t(y)\nu(1)\nq(x) :- r(x)")
    err = e.value
    assert err.code == "unsafe_rule"
    assert [(p.code, p.line, p.column) for p in err.problems] == [
        ("unsafe_rule", 2, 3),  # at the variable
        ("arity_mismatch", 3, 1),
    ]
    assert err.problems[0].message == "Variable x found in head but not in body, rule s(x) :- t(y)"
    assert err.problems[1].message == (
        "Literal u(1) contained 1 arguments but exactly 2 arguments are permitted"
    )
    assert err.message == (
        "line:2,col:3 Variable x found in head but not in body, rule s(x) :- t(y)\n"
        "line:3,col:1 Literal u(1) contained 1 arguments but exactly 2 arguments are permitted"
    )
    assert snapshot(rt) == before
    assert [to_text(r) for r in rt.rules("a")] == ["u(1, 2)"]
    # the good statements were not half-inserted: inserting them now changes everything
    res = rt.insert("a", "r(1) q(x) :- r(x)")
    assert res.changes == {("a", "r"): (rows(1), set()), ("a", "q"): (rows(1), set())}


def test_arity_must_agree_within_one_batch(rt: Runtime) -> None:
    rt.create_policy("a")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(1) p(1, 2)")
    assert [p.code for p in e.value.problems] == ["arity_mismatch"]
    assert rt.rows("a", "p") == set()
    assert rt.rules("a") == []


def test_parse_error_changes_nothing(rt: Runtime) -> None:
    rt.create_policy("a")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(1)\nq(x :- p(x)")
    assert e.value.code == "policy_parse_error"
    assert (e.value.first.line, e.value.first.column) == (2, 5)
    assert rt.rows("a", "p") == set()


def test_facts_and_rules_on_the_same_table(rt: Runtime) -> None:
    rt.create_policy("a")
    res = rt.insert("a", "p(1) p(x) :- r(x) r(1) r(2)")
    assert res.changes == {("a", "p"): (rows(1, 2), set()), ("a", "r"): (rows(1, 2), set())}
    # p(1) is both a fact and derived: removing either keeps it
    assert rt.delete("a", "p(1)").changes == {}
    assert rt.rows("a", "p") == rows(1, 2)
    assert rt.insert("a", "p(1)").changes == {}
    res = rt.delete("a", "r(1)")
    assert res.changes == {("a", "r"): (set(), rows(1))}
    assert rt.rows("a", "p") == rows(1, 2)
    res = rt.delete("a", "p(x) :- r(x)")
    assert res.changes == {("a", "p"): (set(), rows(2))}
    assert rt.rows("a", "p") == rows(1)
    res = rt.delete("a", "p(1)")
    assert res.changes == {("a", "p"): (set(), rows(1))}
    assert rt.rows("a", "p") == set()


def test_rule_added_over_existing_facts_and_removed(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1) p(3) r(1) r(2)")
    res = rt.insert("a", "p(x) :- r(x)")
    assert res.changes == {("a", "p"): (rows(2), set())}
    res = rt.delete("a", "p(x) :- r(x)")
    assert res.changes == {("a", "p"): (set(), rows(2))}
    assert rt.rows("a", "p") == rows(1, 3)
    # the facts are still facts: deleting one removes it
    assert rt.delete("a", "p(3)").changes == {("a", "p"): (set(), rows(3))}


def test_chained_rules_and_negation_propagate(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert(
        "a",
        """
        node(1) node(2) node(3)
        bad(x) :- node(x), flagged(x)
        good(x) :- node(x), not bad(x)
        flagged(2)
        """,
    )
    assert rt.rows("a", "good") == rows(1, 3)
    res = rt.insert("a", "flagged(3)")
    assert res.changes == {
        ("a", "flagged"): (rows(3), set()),
        ("a", "bad"): (rows(3), set()),
        ("a", "good"): (set(), rows(3)),
    }
    res = rt.delete("a", "flagged(2) node(1)")
    assert res.changes == {
        ("a", "flagged"): (set(), rows(2)),
        ("a", "node"): (set(), rows(1)),
        ("a", "bad"): (set(), rows(2)),
        ("a", "good"): (rows(2), rows(1)),
    }


def test_builtins_in_rules(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert(
        "a",
        """
        size(1, 10) size(2, 30) size(3, "x")
        big(v) :- size(v, s), builtin:gt(s, 20)
        double(v, d) :- size(v, s), builtin:mul(s, 2, d)
        """,
    )
    assert rt.rows("a", "big") == rows(2)
    assert rt.rows("a", "double") == {(1, 20), (2, 60)}


# -- cross-policy and datasource data ---------------------------------------------------------


def test_cross_policy_rules(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.create_policy("b")
    rt.insert("a", "p(1) p(2)")
    res = rt.insert("b", "q(x) :- a:p(x), not a:r(x)")
    assert res.changes == {("b", "q"): (rows(1, 2), set())}
    res = rt.insert("a", "r(1)")
    assert res.changes == {("a", "r"): (rows(1), set()), ("b", "q"): (set(), rows(1))}
    # the reader may exist before the policy it reads
    res = rt.insert("b", "late(x) :- c:t(x)")
    assert res.changes == {}
    rt.create_policy("c")
    res = rt.insert("c", "t(5)")
    assert res.changes == {("c", "t"): (rows(5), set()), ("b", "late"): (rows(5), set())}


def test_count_is_the_number_of_rows(cloud: Runtime) -> None:
    cloud.insert("alice", 'error(vm) :- nova:servers(id=vm, status="ERROR")')
    assert cloud.count("nova", "servers") == 0 and cloud.count("alice", "error") == 0
    cloud.apply({("nova", "servers"): ([("vm1", "ERROR", "t1"), ("vm2", "OK", "t1")], [])})
    assert cloud.count("nova", "servers") == 2 and cloud.count("alice", "error") == 1
    assert cloud.count("alice", "nosuch") == 0
    with pytest.raises(PolicyNotFound):
        cloud.count("nosuch", "t")


def test_apply_datasource_data(cloud: Runtime) -> None:
    cloud.insert("alice", 'error(vm) :- nova:servers(id=vm, status="ERROR")')
    res = cloud.apply(
        {("nova", "servers"): ([("vm1", "ERROR", "t1"), ("vm2", "ACTIVE", "t1")], [])}
    )
    assert res.changes == {
        ("nova", "servers"): ({("vm1", "ERROR", "t1"), ("vm2", "ACTIVE", "t1")}, set()),
        ("alice", "error"): (rows("vm1"), set()),
    }
    res = cloud.apply(
        {
            ("nova", "servers"): (
                [("vm2", "ERROR", "t1"), ("vm1", "ERROR", "t1")],
                [("vm2", "ACTIVE", "t1"), ("vm9", "ERROR", "t1")],
            )
        }
    )
    assert res.changes == {
        ("nova", "servers"): ({("vm2", "ERROR", "t1")}, {("vm2", "ACTIVE", "t1")}),
        ("alice", "error"): (rows("vm2"), set()),
    }
    assert cloud.rows("alice", "error") == rows("vm1", "vm2")
    assert cloud.tables("nova") == ["servers"]


def test_apply_accepts_lists_and_generators_as_rows(cloud: Runtime) -> None:
    res = cloud.apply({("nova", "servers"): ([["vm1", "ERROR", "t"]], ())})
    assert res.changes == {("nova", "servers"): ({("vm1", "ERROR", "t")}, set())}
    gen: Iterable[tuple[str, str, str]] = (r for r in [("vm2", "OK", "t")])
    cloud.apply({("nova", "servers"): (gen, [])})
    assert cloud.rows("nova", "servers") == {("vm1", "ERROR", "t"), ("vm2", "OK", "t")}


def test_replace_table_is_a_snapshot(cloud: Runtime) -> None:
    cloud.insert("alice", 'error(vm) :- nova:servers(id=vm, status="ERROR")')
    cloud.apply({("nova", "servers"): ([("vm1", "ERROR", "t"), ("vm2", "OK", "t")], [])})
    res = cloud.replace_table("nova", "servers", [("vm2", "OK", "t"), ("vm3", "ERROR", "t")])
    assert res.changes == {
        ("nova", "servers"): ({("vm3", "ERROR", "t")}, {("vm1", "ERROR", "t")}),
        ("alice", "error"): (rows("vm3"), rows("vm1")),
    }
    assert cloud.replace_table("nova", "servers", [("vm2", "OK", "t"), ("vm3", "ERROR", "t")]) == (
        BatchResult()
    )
    res = cloud.replace_table("nova", "servers", [])
    assert res.changes == {
        ("nova", "servers"): (set(), {("vm2", "OK", "t"), ("vm3", "ERROR", "t")}),
        ("alice", "error"): (set(), rows("vm3")),
    }


def test_replace_table_of_a_table_with_rules_replaces_only_its_facts(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1) p(x) :- q(x) q(2)")
    res = rt.replace_table("a", "p", [(3,)])
    assert res.changes == {("a", "p"): (rows(3), rows(1))}
    assert rt.rows("a", "p") == rows(2, 3)


def test_data_arity_errors(cloud: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        cloud.apply({("nova", "servers"): ([("vm1", "ERROR")], [])})
    assert e.value.code == "arity_mismatch"
    assert e.value.message == "Row ['vm1', 'ERROR'] of table servers has 2 columns; 3 expected"
    assert cloud.rows("nova", "servers") == set()
    cloud.insert("alice", "p(1, 2)")
    with pytest.raises(PolicyError) as e:
        cloud.apply({("alice", "p"): ([(1, 2), (3,)], [])})
    assert e.value.code == "arity_mismatch"
    assert e.value.message == "Row [3] of table p has 1 columns; 2 expected"
    assert cloud.rows("alice", "p") == {(1, 2)}
    with pytest.raises(PolicyError) as e:
        cloud.replace_table("nova", "servers", [("a", "b", "c", "d")])
    assert e.value.code == "arity_mismatch"


def test_data_batch_with_one_bad_table_changes_nothing(cloud: Runtime) -> None:
    cloud.insert("alice", "p(1, 2)")
    with pytest.raises(PolicyError):
        cloud.apply(
            {
                ("alice", "p"): ([(5, 6)], []),
                ("nova", "servers"): ([("vm1",)], []),
            }
        )
    assert cloud.rows("alice", "p") == {(1, 2)}


def test_data_for_a_table_outside_the_schema(cloud: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        cloud.apply({("nova", "flavors"): ([(1,)], [])})
    assert e.value.code == "unknown_table"
    assert e.value.message == "Table flavors is not in the schema of nova"


def test_rules_are_checked_against_the_datasource_schema(cloud: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        cloud.insert("alice", "p(x) :- nova:flavors(x)\nq(x) :- nova:servers(idd=x)")
    assert [(p.code, p.line, p.column) for p in e.value.problems] == [
        ("unknown_table", 1, 9),
        ("unknown_column", 2, 26),
    ]
    assert e.value.problems[1].message == (
        "In literal nova:servers(idd=x) column name idd does not exist"
    )


def test_row_inserted_and_deleted_in_one_batch(cloud: Runtime) -> None:
    """Deletes apply before inserts; a row absent before ends up inserted."""
    res = cloud.apply({("nova", "servers"): ([("v", "OK", "t")], [("v", "OK", "t")])})
    assert res.changes == {("nova", "servers"): ({("v", "OK", "t")}, set())}
    assert cloud.rows("nova", "servers") == {("v", "OK", "t")}


def test_present_row_deleted_and_reinserted_in_one_batch_is_no_change(cloud: Runtime) -> None:
    cloud.apply({("nova", "servers"): ([("v", "OK", "t")], [])})
    res = cloud.apply({("nova", "servers"): ([("v", "OK", "t")], [("v", "OK", "t")])})
    assert cloud.rows("nova", "servers") == {("v", "OK", "t")}
    assert res.changes == {}


# -- recursion --------------------------------------------------------------------------------

CLOSURE = "path(x, y) :- edge(x, y)  path(x, z) :- edge(x, y), path(y, z)"


def test_nonrecursive_policy_rejects_recursion(rt: Runtime) -> None:
    rt.create_policy("a")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "edge(1, 2) " + CLOSURE)
    assert e.value.code == "recursive_rules"
    assert e.value.first.message == "Rules are recursive: a:path -> a:path"
    assert e.value.first.policy == "a"
    # the rule that closes the cycle is named, with its place in the text
    assert e.value.first.rule == "path(x, z) :- edge(x, y), path(y, z)"
    assert (e.value.first.line, e.value.first.column) == (1, 38)
    assert rt.rules("a") == []
    assert rt.rows("a", "edge") == set()
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(x) :- q(x)  q(x) :- p(x)")
    assert e.value.first.message == "Rules are recursive: a:p -> a:q -> a:p"


def test_recursion_across_a_nonrecursive_policy_is_rejected(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    rt.create_policy("n")
    rt.insert("m", "p(x) :- n:q(x)")
    with pytest.raises(PolicyError) as e:
        rt.insert("n", "q(x) :- m:p(x)")
    assert e.value.code == "recursive_rules"
    assert e.value.first.policy == "n"
    assert e.value.first.message == "Rules are recursive: m:p -> n:q -> m:p"
    assert e.value.first.rule == "q(x) :- m:p(x)"


def test_materialized_transitive_closure_over_a_cycle(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    res = rt.insert("m", "edge(1, 2) edge(2, 3) edge(3, 1) edge(3, 4) " + CLOSURE)
    every = {(x, y) for x in (1, 2, 3) for y in (1, 2, 3, 4)}
    assert res.changes == {
        ("m", "edge"): ({(1, 2), (2, 3), (3, 1), (3, 4)}, set()),
        ("m", "path"): (every, set()),
    }
    res = rt.delete("m", "edge(3, 1)")
    shrunk = {(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)}
    assert rt.rows("m", "path") == shrunk
    assert res.changes == {
        ("m", "edge"): (set(), {(3, 1)}),
        ("m", "path"): (set(), every - shrunk),
    }
    res = rt.delete("m", "edge(2, 3)")
    assert rt.rows("m", "path") == {(1, 2), (3, 4)}
    assert res.changes == {
        ("m", "edge"): (set(), {(2, 3)}),
        ("m", "path"): (set(), {(1, 3), (1, 4), (2, 3), (2, 4)}),
    }
    res = rt.insert("m", "edge(4, 1)")
    assert rt.rows("m", "path") == {(1, 2), (3, 4), (4, 1), (4, 2), (3, 1), (3, 2)}


def test_recursive_deletion_keeps_rows_with_another_derivation(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    rt.insert("m", "edge(1, 2) edge(2, 3) edge(1, 3) " + CLOSURE)
    res = rt.delete("m", "edge(2, 3)")
    assert res.changes == {("m", "edge"): (set(), {(2, 3)}), ("m", "path"): (set(), {(2, 3)})}
    assert rt.rows("m", "path") == {(1, 2), (1, 3)}


def test_recursive_data_through_apply(rt: Runtime) -> None:
    rt.create_policy("g", "datasource", schema={"edge": ["src", "dst"]})
    rt.create_policy("m", "materialized")
    rt.insert("m", "path(x, y) :- g:edge(x, y)  path(x, z) :- g:edge(x, y), path(y, z)")
    rt.apply({("g", "edge"): ([("a", "b"), ("b", "c"), ("c", "a")], [])})
    assert len(rt.rows("m", "path")) == 9
    res = rt.apply({("g", "edge"): ([], [("b", "c")])})
    assert rt.rows("m", "path") == {("a", "b"), ("c", "a"), ("c", "b")}
    assert res.changes[("m", "path")] == (
        set(),
        {("a", "a"), ("a", "c"), ("b", "a"), ("b", "b"), ("b", "c"), ("c", "c")},
    )


def test_stratified_negation_over_a_recursive_relation(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    rt.insert(
        "m",
        "node(1) node(2) node(3) node(4) edge(1, 2) edge(2, 3) start(1) "
        "reach(x) :- start(x)  reach(y) :- reach(x), edge(x, y) "
        "unreached(x) :- node(x), not reach(x)",
    )
    assert rt.rows("m", "unreached") == rows(4)
    res = rt.delete("m", "edge(1, 2)")
    assert res.changes == {
        ("m", "edge"): (set(), {(1, 2)}),
        ("m", "reach"): (set(), rows(2, 3)),
        ("m", "unreached"): (rows(2, 3), set()),
    }


def test_unstratifiable_is_rejected_with_the_cycle_named(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    rt.insert("m", "r(1) q(1)")
    with pytest.raises(PolicyError) as e:
        rt.insert("m", "p(x) :- r(x), not q(x)  q(x) :- r(x), p(x)")
    assert e.value.code == "unstratifiable"
    assert e.value.first.message == (
        "Rules are recursive through negation and cannot be stratified: m:q -> m:p -> m:q"
    )
    assert e.value.first.policy == "m"
    assert rt.rows("m", "p") == set()
    with pytest.raises(PolicyError) as e:
        rt.insert("m", "s(x) :- r(x), not s(x)")
    assert e.value.first.message == (
        "Rules are recursive through negation and cannot be stratified: m:s -> m:s"
    )


def test_a_rule_makes_a_relation_recursive_and_back(rt: Runtime) -> None:
    rt.create_policy("m", "materialized")
    rt.insert("m", "r(9, 9) e(1, 2) e(2, 3) r(x, y) :- e(x, y)")
    rt.insert("m", "out(x) :- r(x, 3)")
    res = rt.insert("m", "r(x, z) :- r(x, y), e(y, z)")
    assert res.changes == {("m", "r"): ({(1, 3)}, set()), ("m", "out"): (rows(1), set())}
    res = rt.insert("m", "e(9, 1)")
    assert res.changes == {
        ("m", "e"): ({(9, 1)}, set()),
        ("m", "r"): ({(9, 1), (9, 2), (9, 3)}, set()),
        ("m", "out"): (rows(9), set()),
    }
    # the fact r(9, 9) is still a fact of the now recursive relation
    assert rt.delete("m", "r(9, 9)").changes == {("m", "r"): (set(), {(9, 9)})}
    assert rt.insert("m", "r(9, 9)").changes == {("m", "r"): ({(9, 9)}, set())}
    res = rt.delete("m", "r(x, z) :- r(x, y), e(y, z)")
    assert res.changes == {
        ("m", "r"): (set(), {(1, 3), (9, 2), (9, 3)}),
        ("m", "out"): (set(), rows(1, 9)),
    }
    assert rt.rows("m", "r") == {(1, 2), (2, 3), (9, 1), (9, 9)}
    # non-recursive again: counting works
    assert rt.delete("m", "e(1, 2)").changes == {
        ("m", "e"): (set(), {(1, 2)}),
        ("m", "r"): (set(), {(1, 2)}),
    }
    assert rt.delete("m", "r(x, y) :- e(x, y)").changes == {
        ("m", "r"): (set(), {(2, 3), (9, 1)}),
        ("m", "out"): (set(), rows(2)),
    }
    assert rt.delete("m", "r(9, 9)").changes == {("m", "r"): (set(), {(9, 9)})}


def test_cycle_across_materialized_policies(rt: Runtime) -> None:
    rt.create_policy("a", "materialized")
    rt.create_policy("b", "materialized")
    rt.create_policy("n")
    rt.insert("a", "p(x) :- b:q(x)  p(1)")
    res = rt.insert("b", "q(x) :- a:p(x)  q(2)")
    assert res.changes == {("b", "q"): (rows(1, 2), set()), ("a", "p"): (rows(2), set())}
    rt.insert("n", "s(x) :- a:p(x)")
    res = rt.delete("b", "q(2)")
    assert res.changes == {
        ("b", "q"): (set(), rows(2)),
        ("a", "p"): (set(), rows(2)),
        ("n", "s"): (set(), rows(2)),
    }


# -- execute[...] ---------------------------------------------------------------------------


def test_execute_requests_only_when_a_row_newly_appears(cloud: Runtime) -> None:
    cloud.insert(
        "alice",
        'error(vm) :- nova:servers(vm, "ERROR", t)\nexecute[nova:servers.pause(vm)] :- error(vm)',
    )
    res = cloud.apply({("nova", "servers"): ([("vm1", "ERROR", "t"), ("vm2", "OK", "t")], [])})
    pause = ("alice", "execute[nova:servers.pause]")
    assert res.actions == [ActionRequest("alice", "nova", "servers.pause", ("vm1",))]
    assert res.changes[pause] == (rows("vm1"), set())
    # derived again by a second rule: no new request
    res = cloud.insert("alice", 'execute[nova:servers.pause(vm)] :- nova:servers(vm, "ERROR", t)')
    assert res.actions == [] and res.changes == {}
    # a second derivation of a row that stays: no request
    res = cloud.apply({("nova", "servers"): ([("vm1", "ERROR", "t2")], [])})
    assert res.actions == []
    assert pause not in res.changes
    # disappearing: no request
    res = cloud.apply({("nova", "servers"): ([], [("vm1", "ERROR", "t"), ("vm1", "ERROR", "t2")])})
    assert res.actions == []
    assert res.changes[pause] == (set(), rows("vm1"))
    # reappearing: a request again
    res = cloud.apply({("nova", "servers"): ([("vm1", "ERROR", "t")], [])})
    assert res.actions == [ActionRequest("alice", "nova", "servers.pause", ("vm1",))]
    assert cloud.rows("alice", "execute[nova:servers.pause]") == rows("vm1")


def test_execute_without_a_service_prefix_and_as_a_fact(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1)")
    res = rt.insert("a", "execute[notify(x)] :- p(x)")
    assert res.actions == [ActionRequest("a", "a", "notify", (1,))]
    assert res.changes == {("a", "execute[notify]"): (rows(1), set())}
    # a fact of an execute table already derived: no new request
    assert rt.insert("a", "execute[notify(1)]").actions == []
    res = rt.insert("a", "execute[notify(2)]")
    assert res.actions == [ActionRequest("a", "a", "notify", (2,))]
    # the rule goes, the fact keeps the row: nothing disappears or appears
    res = rt.delete("a", "execute[notify(x)] :- p(x)")
    assert res.actions == [] and res.changes == {}
    res = rt.delete("a", "execute[notify(1)]")
    assert res.changes == {("a", "execute[notify]"): (set(), rows(1))}


def test_execute_requests_for_several_rows_and_policies(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.create_policy("b")
    rt.insert("a", "execute[nova:stop(x)] :- p(x)")
    rt.insert("b", "execute[nova:stop(x)] :- a:p(x)")
    res = rt.insert("a", "p(1) p(2)")
    assert sorted(res.actions, key=repr) == sorted(
        [
            ActionRequest("a", "nova", "stop", (1,)),
            ActionRequest("a", "nova", "stop", (2,)),
            ActionRequest("b", "nova", "stop", (1,)),
            ActionRequest("b", "nova", "stop", (2,)),
        ],
        key=repr,
    )


def test_execute_query(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1) execute[nova:stop(x)] :- p(x)")
    assert texts(rt, "a", "execute[nova:stop(x)]") == ["execute[nova:stop(1)]"]


# -- queries ----------------------------------------------------------------------------------


@pytest.fixture
def data(cloud: Runtime) -> Runtime:
    cloud.apply(
        {
            ("nova", "servers"): (
                [("v1", "ERROR", "v1"), ("v2", "OK", "t"), ("v3", "ERROR", "t")],
                [],
            )
        }
    )
    cloud.insert("alice", "p(1, 1) p(1, 2) p(2, 2) p(3, 'a') r(1) r(3) q(x) :- p(x, y)")
    return cloud


def test_select_with_constants(data: Runtime) -> None:
    assert texts(data, "alice", "p(1, y)") == ["p(1, 1)", "p(1, 2)"]
    assert texts(data, "alice", "p(x, 2)") == ["p(1, 2)", "p(2, 2)"]
    assert texts(data, "alice", "p(1, 2)") == ["p(1, 2)"]
    assert texts(data, "alice", "p(1, 5)") == []
    assert texts(data, "alice", 'p(3, "a")') == ['p(3, "a")']
    assert texts(data, "alice", "p(x, y)") == ["p(1, 1)", "p(1, 2)", "p(2, 2)", 'p(3, "a")']
    assert texts(data, "alice", "nosuch(x)") == []


def test_select_with_repeated_variables(data: Runtime) -> None:
    assert texts(data, "alice", "p(x, x)") == ["p(1, 1)", "p(2, 2)"]
    assert sorted(data.select_rows("alice", "p(x, x)")) == [(1, 1), (2, 2)]
    assert data.select_rows("nova", 's(x, "ERROR", x)') == []
    assert texts(data, "nova", 'servers(x, "ERROR", x)') == ['servers("v1", "ERROR", "v1")']


def test_select_with_column_references(data: Runtime) -> None:
    assert texts(data, "alice", 'nova:servers(id=x, status="ERROR")') == [
        'nova:servers("v1", "ERROR", "v1")',
        'nova:servers("v3", "ERROR", "t")',
    ]
    assert texts(data, "nova", 'servers(tenant="t")') == [
        'servers("v2", "OK", "t")',
        'servers("v3", "ERROR", "t")',
    ]
    with pytest.raises(PolicyError) as e:
        data.select("alice", "nova:servers(idd=x)")
    assert e.value.code == "unknown_column"


def test_select_a_rule_query(data: Runtime) -> None:
    assert texts(data, "alice", "q(x) :- p(x, y), r(x)") == ["q(1)", "q(3)"]
    assert texts(data, "alice", "z(x) :- q(x), not r(x)") == ["z(2)"]
    assert texts(data, "alice", 'z(x) :- nova:servers(x, "ERROR", t), builtin:equal(t, "t")') == [
        'z("v3")'
    ]
    # nothing was added to the policy
    assert "z" not in data.tables("alice")


def test_invalid_queries(data: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        data.select("alice", "p(x, y) q(x)")
    assert e.value.code == "invalid_query"
    assert e.value.message == (
        "line:1,col:1 A query must be exactly one literal or rule; found 2 statements"
    )
    with pytest.raises(PolicyError) as e:
        data.select("alice", "")
    assert e.value.code == "invalid_query"
    with pytest.raises(PolicyError) as e:
        data.select("alice", "p(x")
    assert e.value.code == "policy_parse_error"


def test_queries_on_action_policies_evaluate_their_rules(data: Runtime) -> None:
    data.create_policy("act", "action")
    data.insert(
        "act",
        'action("stop") stopped(x) :- stop(x) bad(x) :- alice:q(x) '
        'up(x) :- nova:servers(x, "OK", t) both(x) :- bad(x), alice:r(x)',
    )
    assert texts(data, "act", "action(x)") == ['action("stop")']
    assert texts(data, "act", "bad(x)") == ["bad(1)", "bad(2)", "bad(3)"]
    assert texts(data, "act", "both(x)") == ["both(1)", "both(3)"]
    assert texts(data, "act", "up(x)") == ['up("v2")']
    assert texts(data, "act", "stopped(x)") == []
    # on demand: they follow later changes of what they read
    data.insert("alice", "p(7, 7)")
    assert texts(data, "act", "bad(7)") == ["bad(7)"]
    assert data.rows("act", "bad") == set()  # never materialised


def test_queries_on_action_policies_keep_facts_of_derived_tables(rt: Runtime) -> None:
    rt.create_policy("act", "action")
    rt.insert("act", "p(1) p(x) :- q(x) q(2)")
    assert texts(rt, "act", "p(x)") == ["p(1)", "p(2)"]


# -- values -------------------------------------------------------------------------------------


def test_numbers_and_strings_are_distinct_values(rt: Runtime) -> None:
    rt.create_policy("a")
    res = rt.insert("a", 'v(1) v("1") v(1.5) v(-3) v(0x10) w(x) :- v(x), builtin:lt(x, 2)')
    assert res.changes[("a", "v")] == (rows(1, "1", 1.5, -3, 16), set())
    assert rt.rows("a", "w") == rows(1, 1.5, -3)
    assert texts(rt, "a", 'v("1")') == ['v("1")']
    assert texts(rt, "a", "v(1)") == ["v(1)"]
    assert rt.select_rows("a", "v(2)") == []
    assert rt.delete("a", "v(1)").changes == {
        ("a", "v"): (set(), rows(1)),
        ("a", "w"): (set(), rows(1)),
    }
    assert rt.rows("a", "v") == rows("1", 1.5, -3, 16)


def test_one_and_one_point_zero_are_the_same_value(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "v(1)")
    assert rt.insert("a", "w(x) :- v(x), builtin:equal(x, 1.0)").changes == {
        ("a", "w"): (rows(1), set())
    }
    assert rt.select_rows("a", "v(1.0)") == [(1.0,)]


def test_unicode_strings_are_kept(cloud: Runtime) -> None:
    cloud.insert("alice", 'name("héllo ☃") name("日本")  long(x) :- name(x), builtin:len(x, 2)')
    assert cloud.rows("alice", "name") == rows("héllo ☃", "日本")
    assert cloud.rows("alice", "long") == rows("日本")
    assert texts(cloud, "alice", 'name("日本")') == ['name("日本")']
    cloud.apply({("nova", "servers"): ([("ü", "ÉRROR", "ţ")], [])})
    assert cloud.rows("nova", "servers") == {("ü", "ÉRROR", "ţ")}


def test_errors_share_the_base_class(rt: Runtime) -> None:
    rt.create_policy("a")
    with pytest.raises(DatalogError):
        rt.insert("a", "p(x)")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(x)")
    assert e.value.code == "fact_not_ground"


def test_check_validates_without_changing_anything(rt: Runtime) -> None:
    rt.create_policy("a")
    rt.insert("a", "p(1)")
    checked = rt.check("a", "q(x) :- p(x)  r(2)")
    assert [to_text(r) for r in checked] == ["q(x) :- p(x)", "r(2)"]
    assert rt.rules("a") == [parse_statement("p(1)")]
    assert rt.rows("a", "q") == set()
    with pytest.raises(PolicyError) as e:
        rt.check("a", "s(x) :- s(x)")
    assert e.value.code == "recursive_rules"
    with pytest.raises(PolicyError) as e:
        rt.check("a", "t(x) :- u(y)")
    assert e.value.code == "unsafe_rule"
    assert rt.insert("a", checked).changes[("a", "q")] == ({(1,)}, set())
