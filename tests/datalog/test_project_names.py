"""Project policies in the language (congress.datalog.names, docs/tenancy.md): a reference in
a project's rule means the project's own policy, another project's is refused where it is
written, and the operator's rules may name a project's policy."""

from __future__ import annotations

import pytest

from congress.datalog import names
from congress.datalog.errors import PolicyError
from congress.datalog.lexer import tokenize
from congress.datalog.parser import parse
from congress.datalog.printer import to_text
from congress.datalog.runtime import Runtime


def test_names() -> None:
    assert names.scoped("ops", "p1") == "ops@p1"
    assert names.scoped("ops", None) == "ops"
    assert names.split("ops@p1") == ("ops", "p1")
    assert names.split("ops") == ("ops", None)
    assert names.owner_of("ops@p1") == "p1"
    assert names.owner_of("ops") == "user"
    assert names.valid_project("0a0a-B_9") and not names.valid_project("a:b")


def test_a_scoped_reference_parses_and_prints_back() -> None:
    (rule,) = parse("e(x) :- ops@0a1b:error(x)")
    assert rule.body[0].policy == "ops@0a1b"
    assert to_text(rule) == "e(x) :- ops@0a1b:error(x)"
    kinds = [t.kind for t in tokenize("ops@0a1b:error(x)")]
    assert kinds[:3] == ["ID", "SCOPE", ":"]


@pytest.mark.parametrize("text", ["e(x) :- ops@p1(x)", "e(x) :- ops @p1:error(x)", "e(@p1)"])
def test_a_scope_only_follows_a_policy_name(text: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse(text)
    assert e.value.code == "policy_parse_error"


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "tenant_id"]})
    rt.create_policy("nova@p1", "datasource", schema={"servers": ["id", "tenant_id"]})
    rt.create_policy("ops@p1")
    rt.create_policy("ops@p2")
    rt.apply(
        {
            ("nova", "servers"): ([("a", "p1"), ("b", "p2")], []),
            ("nova@p1", "servers"): ([("a", "p1")], []),
        }
    )
    return rt


def test_a_project_rule_reads_the_projects_own(rt: Runtime) -> None:
    rt.insert("ops@p1", "error(x) :- nova:servers(id=x)")
    assert rt.rows("ops@p1", "error") == {("a",)}
    (rule,) = rt.rules("ops@p1")
    assert rule.body[0].policy == "nova@p1"
    rt.insert("ops@p2", "mine(x) :- ops:error(x)")  # p2's own ops: nothing of p1
    assert rt.rows("ops@p2", "mine") == set()


def test_a_project_rule_naming_another_project_is_refused(rt: Runtime) -> None:
    with pytest.raises(PolicyError) as e:
        rt.insert("ops@p2", "stolen(x) :-\n  true, ops@p1:error(x)")
    problem = e.value.problems[0]
    assert problem.code == "cross_project_reference"
    assert (problem.line, problem.column) == (2, 9)
    assert "ops@p1:error names another project's policy" in problem.message


def test_naming_its_own_project_is_the_same_as_not(rt: Runtime) -> None:
    rt.insert("ops@p1", "error(x) :- nova@p1:servers(x, y)")
    assert rt.rows("ops@p1", "error") == {("a",)}


def test_queries_read_the_projects_own(rt: Runtime) -> None:
    assert [to_text(a) for a in rt.select("ops@p1", "nova:servers(x, y)")] == [
        'nova:servers("a", "p1")'
    ]
    with pytest.raises(PolicyError) as e:
        rt.select("ops@p1", "nova@p2:servers(x, y)")
    assert e.value.code == "cross_project_reference"


def test_the_operators_rules_read_any_project(rt: Runtime) -> None:
    rt.insert("ops@p1", "error(x) :- nova:servers(x, y)")
    rt.create_policy("audit")
    rt.insert("audit", "all(x) :- ops@p1:error(x)")
    rt.insert("audit", "every(x) :- nova:servers(x, y)")  # the operator's own: every row
    assert rt.rows("audit", "all") == {("a",)}
    assert rt.rows("audit", "every") == {("a",), ("b",)}


def test_a_view_not_made_yet_has_its_datasources_schema() -> None:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ["id", "tenant_id"]})
    rt.create_policy("ops@p1")
    rt.insert("ops@p1", "error(x) :- nova:servers(tenant_id=x)")  # named columns resolve
    assert rt.policy_kind("nova@p1") == "datasource"
    assert rt.policy_kind("ops@p9") is None


def test_project_policy_names() -> None:
    rt = Runtime()
    rt.create_policy("ops@0a0a-b_c")
    for bad in ("ops@", "ops@a@b", "ops@a:b"):
        with pytest.raises(PolicyError):
            rt.create_policy(bad)


def test_a_simulation_in_a_project_changes_the_projects_own(rt: Runtime) -> None:
    rt.insert("ops@p1", "error(x) :- nova:servers(x, y)")
    res = rt.simulate("ops@p1", "error(x)", 'nova:servers+("z", "p1")', None)
    assert sorted(to_text(a) for a in res.answers) == ['error("a")', 'error("z")']
    assert rt.rows("nova", "servers") == {("a", "p1"), ("b", "p2")}  # nothing of it stays
    for sequence in ('ops@p2:error+("x")', "p+(x) :- ops@p2:error(x)"):
        with pytest.raises(PolicyError) as e:
            rt.simulate("ops@p1", "error(x)", sequence, None)
        assert e.value.code == "cross_project_reference"
