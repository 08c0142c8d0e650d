"""Policy enforcement settings, circuit breakers and the execution log's new statuses, answers
and filters, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from congress.db import api as db
from congress.db import errors


def test_settings_default_until_changed_and_bump_the_revision(engine: Engine) -> None:
    policy = db.create_policy(engine, "p")
    assert db.get_policy_settings(engine, policy.id).dry_run is False
    assert db.policy_settings_since(engine, 0) == (1, [])
    changed = db.update_policy_settings(
        engine, policy.id, dry_run=True, expected_revision=policy.revision
    )
    assert (changed.dry_run, changed.action_grace_seconds, changed.revision) == (True, None, 2)
    assert db.current_revision(engine) == 2
    graced = db.update_policy_settings(engine, policy.id, action_grace_seconds=30)
    assert (graced.dry_run, graced.action_grace_seconds, graced.revision) == (True, 30.0, 3)
    assert db.policy_settings_since(engine, 2) == (3, [graced])
    assert db.policy_settings_since(engine, 3) == (3, [])
    back = db.update_policy_settings(engine, policy.id, action_grace_seconds=None)
    assert back.action_grace_seconds is None and back.dry_run is True


def test_settings_changes_are_conditional_on_the_revision(engine: Engine) -> None:
    policy = db.create_policy(engine, "p")
    with pytest.raises(errors.StaleRevision):
        db.update_policy_settings(engine, policy.id, dry_run=True, expected_revision=0)
    with pytest.raises(errors.NotFound):
        db.update_policy_settings(engine, "nosuch", dry_run=True)
    with pytest.raises(errors.InvalidValue):
        db.update_policy_settings(engine, policy.id, action_grace_seconds=-1.0)


def test_a_deleted_policy_leaves_its_settings_behind(engine: Engine) -> None:
    policy = db.create_policy(engine, "p")
    db.update_policy_settings(engine, policy.id, dry_run=True)
    db.delete_policy(engine, policy.id)
    assert db.policy_settings_since(engine, 0)[1] == []
    again = db.create_policy(engine, "p")
    assert db.get_policy_settings(engine, again.id).dry_run is False


def test_a_breaker_trips_once_and_resets(engine: Engine) -> None:
    policy = db.create_policy(engine, "p")
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    tripped, opened = db.trip_breaker(
        engine,
        policy.id,
        reason="too many",
        counts={"window": {"nova": 3}},
        node_id="pe1",
        when=when,
    )
    assert opened and tripped.breaker_state == "open" and tripped.breaker_tripped_at == when
    assert (tripped.breaker_reason, tripped.breaker_counts) == ("too many", {"window": {"nova": 3}})
    again, opened = db.trip_breaker(engine, policy.id, reason="other", counts={}, node_id="pe2")
    assert not opened and again == tripped
    assert db.current_revision(engine) == tripped.revision
    closed = db.reset_breaker(engine, policy.id, expected_revision=tripped.revision)
    assert closed.breaker_state == "closed" and closed.breaker_reason is None
    assert db.get_policy_settings(engine, policy.id) == closed


def test_engines_tripping_at_once_open_the_breaker_once(engine: Engine) -> None:
    policy = db.create_policy(engine, "p")
    opened: list[bool] = []
    start = threading.Barrier(4)

    def trip(node: str) -> None:
        start.wait()
        opened.append(db.trip_breaker(engine, policy.id, reason=node, counts={}, node_id=node)[1])

    threads = [threading.Thread(target=trip, args=(f"pe{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(opened) == [False, False, False, True]
    assert db.current_revision(engine) == policy.revision + 1


def _log(engine: Engine, key: str, **kw: object) -> None:
    fields: dict[str, object] = {"datasource": "nova", "action": "pause", "policy": "p"}
    fields.update(kw)
    db.record_execution(engine, execution_id=key, args={"positional": [key]}, **fields)  # type: ignore[arg-type]


def test_transitions_are_compare_and_set(engine: Engine) -> None:
    _log(engine, "a", status="held")
    assert db.transition_execution(engine, "a", ("deferred",), "requested") is None
    moved = db.transition_execution(engine, "a", ("held", "deferred"), "requested", "fresh")
    assert moved is not None and (moved.status, moved.detail) == ("requested", "fresh")
    assert db.transition_execution(engine, "a", ("held",), "cancelled") is None
    assert db.transition_execution(engine, "nosuch", ("held",), "cancelled") is None
    done = db.set_execution_status(engine, "a", "executed", None, result={"id": "vm1", "n": 2})
    assert done.result == {"id": "vm1", "n": 2}
    assert db.get_execution(engine, "a").result == {"id": "vm1", "n": 2}
    odd = db.set_execution_status(engine, "a", "executed", None, result={1, 2})
    assert odd.result == "{1, 2}"


def test_the_log_filters_by_policy_driver_action_status_and_time(engine: Engine) -> None:
    _log(engine, "a", status="executed")
    _log(engine, "b", status="failed", action="stop")
    _log(engine, "c", status="executed", datasource="cinder", policy="q")
    keys = [e.id for e in db.list_executions(engine)]
    assert keys == ["c", "b", "a"]
    assert [e.id for e in db.list_executions(engine, policy="p")] == ["b", "a"]
    assert [e.id for e in db.list_executions(engine, datasource="cinder")] == ["c"]
    assert [e.id for e in db.list_executions(engine, action="stop")] == ["b"]
    assert [e.id for e in db.list_executions(engine, status="executed")] == ["c", "a"]
    b = db.get_execution(engine, "b").created_at
    assert [e.id for e in db.list_executions(engine, since=b)] == ["c", "b"]
    assert [e.id for e in db.list_executions(engine, until=b)] == ["a"]
    later = b + timedelta(days=1)
    assert db.list_executions(engine, since=later) == []
    assert [e.id for e in db.list_executions(engine, limit=1)] == ["c"]
