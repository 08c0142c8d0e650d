"""Policy versions (``policy_versions``): every change recorded in its own transaction, with
who, when, through which node and the state before and after; rollback to a version; on
SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from congress.db import api, errors
from congress.db.models import PolicyVersionRow
from congress.db.records import NewRule, PolicyVersion

RunTogether = Callable[..., list[object]]


def _create(engine: Engine, name: str, **kw: object) -> str:
    policy = api.record_change(
        engine,
        lambda s: api.create_policy(s, name, **kw),  # type: ignore[arg-type]
        policy_name=name,
        action="policy_created",
        user_id="u1",
        project_id="p1",
        node_id="pe1",
    )
    return policy.id


def _add(engine: Engine, name: str, text: str, **kw: object) -> str:
    rule = api.record_change(
        engine,
        lambda s: api.add_rule(s, name, text, **kw),  # type: ignore[arg-type]
        policy_name=name,
        action="rule_added",
        user_id="u2",
    )
    return rule.id


def test_each_change_is_the_next_version_with_its_states(engine: Engine) -> None:
    started = datetime.now(UTC)
    pid = _create(engine, "p", description="d", rules=[NewRule("a(1)", name="one")])
    rid = _add(engine, "p", "b(x) :- a(x)", comment="c")
    api.record_change(
        engine,
        lambda s: api.update_policy_settings(s, pid, dry_run=True, action_grace_seconds=5),
        policy_name="p",
        action="settings_changed",
    )
    api.record_change(
        engine, lambda s: api.delete_rule(s, rid), policy_name="p", action="rule_deleted"
    )
    listed = api.list_policy_versions(engine, pid)
    assert [v.version for v in listed] == [4, 3, 2, 1]
    assert [v.action for v in listed] == [
        "rule_deleted",
        "settings_changed",
        "rule_added",
        "policy_created",
    ]
    assert [v.revision for v in listed] == [4, 3, 2, 1]
    assert all(v.before is None and v.after is None for v in listed)  # listings: no states
    first = api.get_policy_version(engine, pid, 1)
    assert (first.user_id, first.project_id, first.node_id) == ("u1", "p1", "pe1")
    assert first.created_at.tzinfo is UTC and first.created_at >= started
    assert first.before is None
    assert first.after["name"] == "p" and first.after["description"] == "d"
    assert first.after["kind"] == "nonrecursive" and first.after["abbreviation"] == "p"
    assert [(r["rule"], r["name"]) for r in first.after["rules"]] == [("a(1)", "one")]
    assert first.after["settings"] == {"dry_run": False, "action_grace_seconds": None}
    second = api.get_policy_version(engine, pid, 2)
    assert second.before == first.after
    assert (second.user_id, second.project_id, second.node_id) == ("u2", None, None)
    assert second.after["rules"][1] == {
        "id": rid,
        "name": None,
        "comment": "c",
        "rule": "b(x) :- a(x)",
    }
    third = api.get_policy_version(engine, pid, 3)
    assert third.after["settings"] == {"dry_run": True, "action_grace_seconds": 5.0}
    assert len(api.get_policy_version(engine, pid, 4).after["rules"]) == 1
    assert api.list_policy_versions(engine, pid, limit=2) == listed[:2]


def test_a_deleted_policy_keeps_its_versions(engine: Engine) -> None:
    pid = _create(engine, "p")
    api.record_change(
        engine, lambda s: api.delete_policy(s, pid), policy_name="p", action="policy_deleted"
    )
    gone = api.get_policy_version(engine, pid, 2)
    assert gone.action == "policy_deleted" and gone.after is None and gone.before["id"] == pid
    again = _create(engine, "p")  # the name again: a new policy, versions of its own
    assert again != pid
    assert [v.version for v in api.list_policy_versions(engine, again)] == [1]
    assert [v.version for v in api.list_policy_versions(engine, pid)] == [2, 1]


def test_a_failed_change_records_nothing(engine: Engine) -> None:
    _create(engine, "p")
    with pytest.raises(errors.DuplicateName):
        _create(engine, "p")
    pid = api.get_policy_by_name(engine, "p").id

    def fail(session: Session) -> None:
        api.add_rule(session, "p", "a(1)")
        raise errors.InvalidValue("x", "no")

    with pytest.raises(errors.InvalidValue):
        api.record_change(engine, fail, policy_name="p", action="rule_added")
    assert [v.version for v in api.list_policy_versions(engine, pid)] == [1]
    assert api.list_rules(engine, "p") == []
    with pytest.raises(errors.StaleRevision):
        api.record_change(
            engine,
            lambda s: api.add_rule(s, "p", "a(1)", expected_revision=0),
            policy_name="p",
            action="rule_added",
        )
    assert len(api.list_policy_versions(engine, pid)) == 1


def test_unknown_versions_are_not_found(engine: Engine) -> None:
    pid = _create(engine, "p")
    with pytest.raises(errors.NotFound) as raised:
        api.get_policy_version(engine, pid, 2)
    assert raised.value.kind == "policy version"
    assert api.list_policy_versions(engine, "nosuch") == []
    with pytest.raises(errors.NotFound):
        api.rollback_policy(engine, pid, 7)
    with pytest.raises(errors.NotFound):
        api.rollback_policy(engine, "nosuch", 1)
    assert api.current_revision(engine) == 1  # nothing was written


def test_a_policy_without_versions_gets_a_baseline(engine: Engine) -> None:
    policy = api.create_policy(engine, "old", rules=[NewRule("a(1)")])  # before versions
    _add(engine, "old", "a(2)")
    listed = api.list_policy_versions(engine, policy.id)
    assert [(v.version, v.action, v.user_id) for v in listed] == [
        (2, "rule_added", "u2"),
        (1, "baseline", None),
    ]
    baseline = api.get_policy_version(engine, policy.id, 1)
    assert baseline.revision == 1 and [r["rule"] for r in baseline.after["rules"]] == ["a(1)"]
    api.rollback_policy(engine, policy.id, 1)
    assert [r.rule for r in api.list_rules(engine, "old")] == ["a(1)"]


def test_rollback_restores_rules_and_settings_as_one_new_version(engine: Engine) -> None:
    pid = _create(engine, "p", rules=[NewRule("a(1)", fingerprint="fa"), NewRule("a(2)")])
    kept = api.list_rules(engine, "p")
    _add(engine, "p", "a(3)", fingerprint="f3")
    api.record_change(
        engine,
        lambda s: api.update_policy_settings(s, pid, dry_run=True, action_grace_seconds=9),
        policy_name="p",
        action="settings_changed",
    )
    api.record_change(
        engine, lambda s: api.delete_rule(s, kept[0].id), policy_name="p", action="rule_deleted"
    )
    revision = api.current_revision(engine)
    done = api.rollback_policy(
        engine, pid, 1, expected_revision=revision, user_id="u9", project_id="p9", node_id="pe2"
    )
    assert isinstance(done, PolicyVersion)
    assert (done.version, done.action, done.detail) == (5, "rollback", {"version": 1})
    assert (done.user_id, done.project_id, done.node_id) == ("u9", "p9", "pe2")
    assert done.revision == revision + 1 == api.current_revision(engine)
    rules = api.list_rules(engine, "p")
    assert sorted(r.rule for r in rules) == ["a(1)", "a(2)"]
    by_text = {r.rule: r for r in rules}
    assert by_text["a(2)"].id == kept[1].id  # a rule that was there stays as it is
    assert by_text["a(1)"].id != kept[0].id  # a deleted rule comes back with a new id
    assert by_text["a(1)"].fingerprint == "fa" and by_text["a(1)"].revision == done.revision
    settings = api.get_policy_settings(engine, pid)
    assert (settings.dry_run, settings.action_grace_seconds) == (False, None)
    assert settings.revision == done.revision
    assert done.after["rules"][0]["rule"] == "a(2)" and len(done.after["rules"]) == 2
    assert done.before["settings"]["dry_run"] is True
    # the changes reach every engine through the log like any other change
    log = api.changes_since(engine, revision)
    assert {type(c).__name__ for c in log.changes} == {"RuleAdded", "RuleDeleted"}
    assert api.policy_settings_since(engine, revision)[1] == [settings]
    # rolling forward again: to the version with dry-run on
    again = api.rollback_policy(engine, pid, 3)
    assert again.version == 6 and api.get_policy_settings(engine, pid).dry_run is True
    assert sorted(r.rule for r in api.list_rules(engine, "p")) == ["a(1)", "a(2)", "a(3)"]


def test_rollback_is_conditional_and_atomic(engine: Engine) -> None:
    pid = _create(engine, "p", rules=[NewRule("a(1)")])
    _add(engine, "p", "a(2)")
    with pytest.raises(errors.StaleRevision):
        api.rollback_policy(engine, pid, 1, expected_revision=1)
    assert len(api.list_policy_versions(engine, pid)) == 2
    assert len(api.list_rules(engine, "p")) == 2
    api.record_change(
        engine, lambda s: api.delete_policy(s, pid), policy_name="p", action="policy_deleted"
    )
    with pytest.raises(errors.NotFound):
        api.rollback_policy(engine, pid, 1)  # a deleted policy is not restored


def test_concurrent_changes_get_distinct_versions(
    engine: Engine, run_together: RunTogether
) -> None:
    pid = _create(engine, "p")
    results = run_together(*[(lambda i=i: _add(engine, "p", f"a({i})")) for i in range(4)])
    assert all(isinstance(r, str) for r in results), results
    listed = api.list_policy_versions(engine, pid)
    assert [v.version for v in listed] == [5, 4, 3, 2, 1]
    assert [v.revision for v in listed] == [5, 4, 3, 2, 1]
    for v in listed[:-1]:  # each state follows from the one before
        older = api.get_policy_version(engine, pid, v.version - 1)
        assert api.get_policy_version(engine, pid, v.version).before == older.after


def test_versions_table_round_trips_unicode_and_long_states(engine: Engine) -> None:
    long_rule = "p(" + ", ".join(f'"{"x" * 50}{i}"' for i in range(400)) + ")"
    pid = _create(engine, "ünï", description="déjà 🚀", rules=[NewRule(long_rule)])
    state = api.get_policy_version(engine, pid, 1).after
    assert state["description"] == "déjà 🚀" and state["rules"][0]["rule"] == long_rule
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(PolicyVersionRow))
        assert count == 1
        session.execute(delete(PolicyVersionRow))
        session.commit()
