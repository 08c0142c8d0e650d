"""The policy revision: strictly increasing, one per change, conditional writes, and catching up
from a revision."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from congress.db import api, errors
from congress.db.records import (
    NewRule,
    PolicyCreated,
    PolicyDeleted,
    Rule,
    RuleAdded,
    RuleDeleted,
)

RunTogether = Callable[..., list[object]]


def test_every_change_is_one_new_revision(engine: Engine) -> None:
    assert api.current_revision(engine) == 0
    seen = [
        api.create_policy(engine, "p").revision,
        api.add_rule(engine, "p", "a(1)").revision,
        api.add_rules(engine, "p", [NewRule("b(1)"), NewRule("c(1)")])[0].revision,
    ]
    rule = api.list_rules(engine, "p")[0]
    deleted = api.delete_rule(engine, rule.id).deleted_revision
    assert deleted is not None
    seen.append(deleted)
    api.delete_policy(engine, api.get_policy_by_name(engine, "p").id)
    seen.append(api.current_revision(engine))
    assert seen == [1, 2, 3, 4, 5]


def test_failed_changes_do_not_move_the_revision(engine: Engine) -> None:
    api.create_policy(engine, "p")
    for change in (
        lambda: api.create_policy(engine, "p"),
        lambda: api.add_rule(engine, "missing", "a(1)"),
        lambda: api.delete_rule(engine, "missing"),
        lambda: api.delete_policy(engine, "missing"),
    ):
        with pytest.raises(errors.DBError):
            change()
    assert api.current_revision(engine) == 1


def test_expected_revision_makes_a_change_conditional(engine: Engine) -> None:
    api.create_policy(engine, "p", expected_revision=0)
    with pytest.raises(errors.StaleRevision) as caught:
        api.add_rule(engine, "p", "a(1)", expected_revision=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    rule = api.add_rule(engine, "p", "a(1)", expected_revision=1)
    with pytest.raises(errors.StaleRevision):
        api.delete_rule(engine, rule.id, expected_revision=1)
    with pytest.raises(errors.StaleRevision):
        api.create_policy(engine, "q", expected_revision=1)
    api.delete_rule(engine, rule.id, expected_revision=2)
    assert api.current_revision(engine) == 3
    assert [p.name for p in api.list_policies(engine)] == ["p"]


def test_concurrent_changes_get_distinct_increasing_revisions(
    engine: Engine, run_together: RunTogether
) -> None:
    api.create_policy(engine, "p")
    calls = [(lambda i=i: api.add_rule(engine, "p", f"a({i})")) for i in range(4)]
    results = run_together(*calls)
    assert all(isinstance(r, Rule) for r in results), results
    revisions = sorted(r.revision for r in results if isinstance(r, Rule))
    assert revisions == [2, 3, 4, 5]
    assert api.current_revision(engine) == 5


def test_concurrent_conditional_changes_have_one_winner(
    engine: Engine, run_together: RunTogether
) -> None:
    """Two engines checked a rule against revision 1; only one may write it."""
    api.create_policy(engine, "p")
    results = run_together(
        lambda: api.add_rule(engine, "p", "a(1)", expected_revision=1),
        lambda: api.add_rule(engine, "p", "b(1)", expected_revision=1),
    )
    assert sorted(type(r).__name__ for r in results) == ["Rule", "StaleRevision"], results
    assert len(api.list_rules(engine, "p")) == 1


def test_a_write_holding_the_revision_lock_is_next_whatever_others_try(engine: Engine) -> None:
    """``write_exclusively``: between its catching up (a read) and its write, no other
    writer's change can commit; one that tried meanwhile finds the revision moved."""
    api.create_policy(engine, "p")  # revision 1
    locked = threading.Event()
    other: list[object] = []

    def meanwhile() -> None:
        locked.wait(10)
        try:
            other.append(api.add_rule(engine, "p", "theirs(1)", expected_revision=1))
        except errors.DBError as e:
            other.append(e)

    def write(session: Session) -> Rule:
        seen = api.current_revision(engine)  # what a catching-up engine reads, elsewhere
        locked.set()
        time.sleep(0.3)  # the other writer is waiting on the lock by now
        return api.add_rule(session, "p", "mine(1)", expected_revision=seen)

    thread = threading.Thread(target=meanwhile)
    thread.start()
    mine = api.write_exclusively(engine, write)
    thread.join(30)
    assert mine.revision == 2
    assert len(other) == 1 and isinstance(other[0], errors.StaleRevision), other
    assert [r.rule for r in api.list_rules(engine, "p")] == ["mine(1)"]


def test_changes_since_replays_history_in_order(engine: Engine) -> None:
    p = api.create_policy(engine, "p", rules=[NewRule("a(1)")])  # 1
    (a,) = api.list_rules(engine, "p")
    b = api.add_rule(engine, "p", "b(1)")  # 2
    q = api.create_policy(engine, "q")  # 3
    api.delete_policy(engine, p.id)  # 4: deletes a and b
    p2 = api.create_policy(engine, "p")  # 5
    c = api.add_rule(engine, "p", "c(1)")  # 6

    log = api.changes_since(engine, 0)
    assert log.revision == 6
    summary = [(type(ch).__name__, ch.revision, _subject(ch)) for ch in log.changes]
    assert summary == [
        ("PolicyCreated", 1, p.id),
        ("RuleAdded", 1, a.id),
        ("RuleAdded", 2, b.id),
        ("PolicyCreated", 3, q.id),
        ("RuleDeleted", 4, a.id),
        ("RuleDeleted", 4, b.id),
        ("PolicyDeleted", 4, p.id),
        ("PolicyCreated", 5, p2.id),
        ("RuleAdded", 6, c.id),
    ]
    # a rule added after the cursor and deleted since is reported as it was added
    added = [ch for ch in log.changes if isinstance(ch, RuleAdded) and ch.rule.id == a.id]
    assert added[0].rule.deleted_revision == 4

    later = api.changes_since(engine, 3)
    assert [(type(ch).__name__, ch.revision) for ch in later.changes] == [
        ("RuleDeleted", 4),
        ("RuleDeleted", 4),
        ("PolicyDeleted", 4),
        ("PolicyCreated", 5),
        ("RuleAdded", 6),
    ]
    assert api.changes_since(engine, 6).changes == ()
    assert api.changes_since(engine, 6).revision == 6


def _subject(change: object) -> str:
    if isinstance(change, PolicyCreated | PolicyDeleted):
        return change.policy.id
    assert isinstance(change, RuleAdded | RuleDeleted)
    return change.rule.id


def test_catching_up_from_the_log_reproduces_the_state(engine: Engine) -> None:
    """An engine that loads the state once and then applies changes sees what a fresh load
    sees."""
    state = api.load_policy_state(engine)
    policies = {p.id: p.name for p in state.policies}
    rules = {r.id: r.rule for r in state.rules}
    cursor = state.revision
    p = api.create_policy(engine, "p", rules=[NewRule("a(1)"), NewRule("b(1)")])
    api.delete_rule(engine, api.list_rules(engine, "p")[0].id)
    api.create_policy(engine, "q", rules=[NewRule("c(1)")])
    for step in range(2):
        log = api.changes_since(engine, cursor)
        for change in log.changes:
            if isinstance(change, PolicyCreated):
                policies[change.policy.id] = change.policy.name
            elif isinstance(change, PolicyDeleted):
                del policies[change.policy.id]
            elif isinstance(change, RuleAdded):
                rules[change.rule.id] = change.rule.rule
            else:
                del rules[change.rule.id]
        cursor = log.revision
        fresh = api.load_policy_state(engine)
        assert fresh.revision == cursor
        assert policies == {x.id: x.name for x in fresh.policies}
        assert rules == {r.id: r.rule for r in fresh.rules}
        if step == 0:
            api.delete_policy(engine, p.id)
            api.add_rule(engine, "q", "d(1)")


def test_load_policy_state(engine: Engine) -> None:
    assert api.load_policy_state(engine).revision == 0
    p = api.create_policy(engine, "p", rules=[NewRule("a(1)")])
    q = api.create_policy(engine, "q")
    gone = api.create_policy(engine, "gone", rules=[NewRule("x(1)")])
    api.delete_policy(engine, gone.id)
    b = api.add_rule(engine, "q", "b(1)")
    state = api.load_policy_state(engine)
    assert state.revision == 5
    assert state.policies == (p, q)
    assert [r.rule for r in state.rules] == ["a(1)", "b(1)"]
    assert state.rules[1] == b


def test_changes_in_one_session_commit_together(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        api.create_policy(session, "p")
        api.add_rule(session, "p", "a(1)")
        assert api.current_revision(session) == 2
    assert api.current_revision(engine) == 2
    with Session(engine) as session:
        api.create_policy(session, "q")
        session.rollback()
    assert api.current_revision(engine) == 2
    assert [p.name for p in api.list_policies(engine)] == ["p"]
