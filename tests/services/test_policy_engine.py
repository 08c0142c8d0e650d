"""The policy engine service keeps one runtime in step with the database (SQLite here; the
repository functions underneath are tested on PostgreSQL and MariaDB in tests/db)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from congress.bus import ExecuteRequest
from congress.datalog.errors import LimitExceeded, PolicyError
from congress.datalog.runtime import Limits
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.policy_engine import PolicyEngineService, created_rule_text

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0)


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


def service(database: Engine, **kw: object) -> PolicyEngineService:
    kw.setdefault("node_id", "n1")
    svc = PolicyEngineService(database, clock=lambda: CLOCK, **kw)  # type: ignore[arg-type]
    svc.start()
    return svc


def test_first_start_creates_the_system_policies(database: Engine) -> None:
    svc = service(database)
    assert {(p.name, p.kind) for p in svc.list_policies()} == {
        ("classification", "nonrecursive"),
        ("action", "action"),
    }
    assert {p.name for p in db.list_policies(database)} == {"classification", "action"}
    with pytest.raises(errors.SystemPolicy):
        svc.delete_policy("classification")
    # a second start finds them and creates nothing new
    again = service(database)
    assert len(db.list_policies(database)) == 2
    assert again.revision == svc.revision


def test_rules_are_persisted_and_restored_exactly(database: Engine) -> None:
    svc = service(database)
    pol, _ = svc.create_policy("alice", description="test", abbreviation="al")
    r1 = svc.create_rule("alice", "error(x) :- q(x), not r(x)", name="r1", comment="c")
    svc.create_rule("alice", "q(1)")
    svc.create_rule("alice", "q(2)")
    svc.create_rule(pol.id, "r(2)")
    assert svc.rows("alice", "error") == [(1,)]
    stored = {r.rule for r in db.list_rules(database, "alice")}
    assert stored == {"error(x) :- q(x), not r(x)", "q(1)", "q(2)", "r(2)"}
    restarted = service(database)
    assert restarted.rows("alice", "error") == [(1,)]
    assert restarted.get_rule("alice", r1.id) == r1
    assert restarted.get_policy("alice") == pol
    assert created_rule_text(r1) == "error(x) :-\n  q(x),\n  not r(x)"


def test_bad_rules_are_refused_before_anything_is_written(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("alice")
    before = db.current_revision(database)
    with pytest.raises(PolicyError) as e:
        svc.create_rule("alice", "p(x) :- q(x,")
    assert e.value.code == "policy_parse_error"
    with pytest.raises(PolicyError) as e:
        svc.create_rule("alice", "p(x) :- p(x)")
    assert e.value.code == "recursive_rules"
    with pytest.raises(errors.MultipleRules):
        svc.create_rule("alice", "p(1) p(2)")
    svc.create_rule("alice", "p(1)")
    with pytest.raises(errors.RuleExists):
        svc.create_rule("alice", "p(1)")
    assert [r.rule for r in db.list_rules(database, "alice")] == ["p(1)"]
    assert db.current_revision(database) == before + 1
    with pytest.raises(errors.PolicyNotFound):
        svc.create_rule("nosuch", "p(1)")


def test_delete_rule_and_policy(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("alice")
    fact = svc.create_rule("alice", "p(1)")
    svc.create_rule("alice", "q(x) :- p(x)")
    assert svc.rows("alice", "q") == [(1,)]
    svc.delete_rule("alice", fact.id)
    assert svc.rows("alice", "q") == []
    assert [r.rule for r in db.list_rules(database, "alice")] == ["q(x) :- p(x)"]
    svc.delete_policy("alice")
    assert "alice" not in {p.name for p in svc.list_policies()}
    assert service(database).list_rules("classification") == []
    with pytest.raises(errors.PolicyNotFound):
        service(database).get_policy("alice")


def test_policy_created_with_rules_all_or_nothing(database: Engine) -> None:
    svc = service(database)
    pol, rules = svc.create_policy(
        "bob", kind="materialized", rules=[{"rule": "p(1)"}, {"rule": "q(x) :- p(x)", "name": "n"}]
    )
    assert pol.kind == "materialized"
    assert sorted(r.rule for r in rules) == ["p(1)", "q(x) :- p(x)"]
    assert svc.rows("bob", "q") == [(1,)]
    with pytest.raises(PolicyError):
        svc.create_policy("carol", rules=[{"rule": "p(1)"}, {"rule": "p(x) :- q(y)"}])
    assert "carol" not in {p.name for p in db.list_policies(database)}
    with pytest.raises(errors.InvalidAbbreviation):
        svc.create_policy("dave", abbreviation="toolong")


def test_two_engines_converge_through_the_database(database: Engine) -> None:
    a = service(database)
    b = service(database)
    a.create_policy("alice")
    a.create_rule("alice", "p(1)")
    # b has not synced: its write is at a stale revision, so it catches up and retries
    b.create_rule("alice", "q(x) :- p(x)")
    assert b.rows("alice", "q") == [(1,)]
    a.sync()
    assert a.rows("alice", "q") == [(1,)]
    assert {r.rule for r in a.list_rules("alice")} == {r.rule for r in b.list_rules("alice")}
    b.delete_policy("alice")
    a.sync()
    assert "alice" not in {p.name for p in a.list_policies()}


def test_datasource_data_and_edge_triggered_execution(database: Engine) -> None:
    calls: list[ExecuteRequest] = []
    svc = service(database, executor=calls.append)
    svc.ensure_datasource("nova", {"servers": ["id", "status"]})
    svc.create_policy("alice")
    svc.create_rule("alice", 'execute[nova:servers.pause(x)] :- nova:servers(id=x, status="ERROR")')
    svc.receive("nova", "servers", [("vm1", "ERROR"), ("vm2", "ACTIVE")], [])
    assert [(c.service, c.action, c.positional) for c in calls] == [
        ("nova", "servers.pause", ("vm1",))
    ]
    svc.receive("nova", "servers", [("vm3", "ACTIVE")], [])  # vm1 stays: no new request
    assert len(calls) == 1
    svc.replace("nova", "servers", [("vm1", "ERROR"), ("vm2", "ERROR")])
    assert [c.positional for c in calls] == [("vm1",), ("vm2",)]
    assert {c.policy for c in calls} == {"alice"} and {c.node_id for c in calls} == {"n1"}
    assert len({c.key for c in calls}) == 2
    # the datasource host, not the engine, writes the execution log
    assert db.list_executions(database) == []


def test_every_engine_names_an_action_the_same_way(database: Engine) -> None:
    """The identity of a request is (policy, execute head, row, activation): two engines
    given the same change produce the same key; another activation, another key."""
    first: list[ExecuteRequest] = []
    second: list[ExecuteRequest] = []
    a = service(database, executor=first.append, node_id="a")
    a.create_policy("alice")
    a.create_rule("alice", "execute[nova:servers.pause(x)] :- nova:servers(x)")
    b = service(database, executor=second.append, node_id="b")
    for svc in (a, b):
        svc.ensure_datasource("nova", {"servers": ["id"]})
        svc.receive("nova", "servers", [("vm1",)], [], activation="nova:servers:7:1")
    assert len(first) == len(second) == 1
    assert first[0].key == second[0].key
    assert (first[0].node_id, second[0].node_id) == ("a", "b")
    a.receive("nova", "servers", [], [("vm1",)], activation="nova:servers:7:2")
    a.receive("nova", "servers", [("vm1",)], [], activation="nova:servers:7:3")
    assert len(first) == 2 and first[1].key != first[0].key


def test_rows_present_before_fire_nothing(database: Engine) -> None:
    """A snapshot marked as what was there before, a restart's loading of rules, and the
    rules that wait for a schema fire no action."""
    calls: list[ExecuteRequest] = []
    svc = service(database, executor=calls.append)
    svc.ensure_datasource("nova", {"servers": ["id"]})
    svc.create_policy("alice")
    svc.create_rule("alice", "execute[nova:servers.pause(x)] :- nova:servers(x)")
    svc.replace("nova", "servers", [("vm1",)], activation=None)
    assert calls == []
    svc.replace("nova", "servers", [("vm1",), ("vm2",)], activation="nova:servers:1:5")
    assert [c.positional for c in calls] == [("vm2",)]
    svc.create_rule("alice", "execute[nova:servers.pause(x)] :- p(x)")
    svc.create_rule("alice", 'p("vm9")')  # a rule change fires, named by its revision
    assert [c.positional for c in calls][-1] == ("vm9",)
    restarted: list[ExecuteRequest] = []
    again = service(database, executor=restarted.append)  # loads p("vm9") and its rules
    assert restarted == []
    assert again.rows("alice", "p") == [("vm9",)]


def test_requests_are_kept_until_acknowledged_and_sent_again(database: Engine) -> None:
    calls: list[ExecuteRequest] = []
    svc = service(database, executor=calls.append)
    svc.ensure_datasource("nova", {"servers": ["id"]})
    svc.create_policy("alice")
    svc.create_rule("alice", "execute[nova:servers.pause(x)] :- nova:servers(x)")
    svc.receive("nova", "servers", [("vm1",), ("vm2",)], [])
    assert len(calls) == 2 and len(svc.pending_actions()) == 2
    assert svc.resend_pending(after=60.0) == 0  # too early
    assert svc.acknowledge(calls[0].key)
    assert not svc.acknowledge(calls[0].key)
    assert svc.resend_pending(after=0.0) == 1
    assert calls[-1] == calls[1]  # the same request, the same identity
    assert svc.resend_pending(after=0.0, give_up=1e-9) == 0  # too old: given up
    assert svc.pending_actions() == []


def test_a_failing_executor_keeps_the_request(database: Engine) -> None:
    def refuse(request: ExecuteRequest) -> None:
        raise RuntimeError("the bus is down")

    svc = service(database, executor=refuse)
    svc.ensure_datasource("nova", {"servers": ["id"]})
    svc.create_policy("alice")
    svc.create_rule("alice", "execute[nova:servers.pause(x)] :- nova:servers(x)")
    svc.receive("nova", "servers", [("vm1",)], [])  # does not raise
    assert [r.positional for r in svc.pending_actions()] == [("vm1",)]


def test_execution_disabled_only_logs(database: Engine) -> None:
    calls: list[ExecuteRequest] = []
    svc = service(database, executor=calls.append, enable_execute_action=False)
    svc.create_policy("alice")
    svc.create_rule("alice", "execute[nova:servers.pause(x)] :- p(x)")
    svc.create_rule("alice", 'p("vm1")')
    assert calls == []
    assert [e.status for e in db.list_executions(database)] == ["logged"]


def test_rule_waiting_for_a_datasource_schema(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("alice")
    svc.ensure_datasource("nova", {"servers": ["id", "status"]})
    svc.create_rule("alice", 'bad(x) :- nova:servers(id=x, status="ERROR")')
    # a restart before the datasource is known: the rule waits, then applies
    again = service(database)
    assert [r.rule for r in again.list_rules("alice")] == [
        'bad(x) :- nova:servers(id=x, status="ERROR")'
    ]
    again.ensure_datasource("nova", {"servers": ["id", "status"]})
    again.receive("nova", "servers", [("vm1", "ERROR")], [])
    assert again.rows("alice", "bad") == [("vm1",)]


def test_a_rule_over_budget_is_removed_from_the_database(database: Engine) -> None:
    svc = service(database, limits=Limits(max_rows=5))
    svc.create_policy("alice")
    for i in range(3):
        svc.create_rule("alice", f"p({i})")
    with pytest.raises(LimitExceeded):
        svc.create_rule("alice", "pair(x, y) :- p(x), p(y)")
    assert sorted(r.rule for r in db.list_rules(database, "alice")) == ["p(0)", "p(1)", "p(2)"]
    assert svc.rows("alice", "p") == [(0,), (1,), (2,)]
    with pytest.raises(errors.NotFound):
        svc.rows("alice", "pair")


def test_rows_of_tables_never_mentioned_are_404(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("alice")
    svc.create_rule("alice", "p(x) :- q(x)")
    assert svc.rows("alice", "p") == []
    assert svc.rows("alice", "q") == []
    with pytest.raises(errors.NotFound):
        svc.rows("alice", "zz")


def test_policy_created_with_rules_checked_together_against_schemas(database: Engine) -> None:
    svc = service(database)
    svc.ensure_datasource("nova", {"servers": ["id", "status"]})
    pol, rules = svc.create_policy(
        "eve", kind="nonrecursive", rules=[{"rule": 'bad(x) :- nova:servers(id=x, status="ERROR")'}]
    )
    assert pol.name == "eve" and pol.kind == "nonrecursive"
    assert [r.rule for r in rules] == ['bad(x) :- nova:servers(id=x, status="ERROR")']
    svc.receive("nova", "servers", [("vm1", "ERROR")], [])
    assert svc.rows("eve", "bad") == [("vm1",)]
    # a problem only visible when the rules are checked together refuses the whole policy
    with pytest.raises(PolicyError) as e:
        svc.create_policy("frank", rules=[{"rule": "p(x) :- q(x)"}, {"rule": "q(x) :- p(x)"}])
    assert e.value.code == "recursive_rules"
    with pytest.raises(PolicyError) as e:
        svc.create_policy("gina", rules=[{"rule": "p(1)"}, {"rule": "p(1, 2)"}])
    assert e.value.code == "arity_mismatch"
    assert {p.name for p in svc.list_policies()} == {"classification", "action", "eve"}
    assert {p.name for p in db.list_policies(database)} == {"classification", "action", "eve"}


def test_an_engine_that_always_loses_the_race_writes_under_the_revision_lock(
    database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optimistic writes that another engine beats every time (as under steady writing from
    several engines) do not give up: the second try holds the revision's row lock."""
    a, b = service(database, node_id="a"), service(database, node_id="b")
    a.create_policy("p")
    b.sync()
    real_record_change = db.record_change  # every write runs in one, with its version
    raced: list[str] = []
    in_b = [False]

    def record_change(handle: object, *args: object, **kw: object) -> object:
        if isinstance(handle, Engine) and not in_b[0]:  # each optimistic try of a: b first
            in_b[0] = True
            raced.append(b.create_rule("p", f"b{len(raced)}(1)").rule)
            in_b[0] = False
        return real_record_change(handle, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "record_change", record_change)
    view = a.create_rule("p", "mine(1)")
    assert raced == ["b0(1)"]  # one lost race, then the write under the lock
    assert view.rule == "mine(1)"
    assert sorted(r.rule for r in a.list_rules("p")) == ["b0(1)", "mine(1)"]
    b.sync()
    assert sorted(r.rule for r in b.list_rules("p")) == ["b0(1)", "mine(1)"]
    revisions = sorted(r.revision for r in db.list_rules(database, "p"))
    assert revisions == [revisions[0], revisions[0] + 1]  # b's, then a's: no gap, no reorder
