"""Notification sinks on every backend: create, list, find, delete (with their cursors and dead
letters), cursors that only move forward, dead letters that move the cursor in their own
transaction, the history read after a cursor, and leases taken by compare-and-set (also by two
nodes at the same moment)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from congress.db import api, errors
from congress.db.engine import session_factory
from congress.db.history import INSERT, NewHistoryEntry
from congress.db.models import NotificationCursorRow, NotificationDeadLetterRow
from congress.db.notifications import DEFAULT_MAX_RETRIES, DEFAULT_TABLES

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def record(engine: Engine, *rows: int, table: str = "error") -> None:
    """One history entry per row (inserts of ``[n]`` into ``p:table``)."""
    api.record_history(
        engine,
        [NewHistoryEntry("p", table, INSERT, [n], f"ds:{table}:{n}", T0, 1, "n1") for n in rows],
    )


def count(engine: Engine, model: type[object]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_sink_is_created_with_defaults_and_found_by_id_or_name(engine: Engine) -> None:
    made = api.create_sink(engine, "ops", "webhook", url="https://example.com/hook")
    assert made.type == "webhook" and made.url == "https://example.com/hook"
    assert made.topic is None and made.secret is None
    assert made.tables == list(DEFAULT_TABLES)
    assert made.enabled and made.max_retries == DEFAULT_MAX_RETRIES
    assert made.created_at.tzinfo is not None
    assert api.get_sink(engine, made.id) == made
    assert api.find_sink(engine, made.id) == made
    assert api.find_sink(engine, "ops") == made
    assert api.list_sinks(engine) == [made]


def test_sinks_are_listed_by_name_with_what_they_store(engine: Engine) -> None:
    b = api.create_sink(
        engine,
        "b",
        "messaging",
        topic="congress.changes",
        tables=["p:*"],
        enabled=False,
        max_retries=3,
    )
    a = api.create_sink(engine, "a", "webhook", url="http://h/", secret="gAAAA-encrypted")
    assert [s.name for s in api.list_sinks(engine)] == ["a", "b"]
    assert (b.topic, b.tables, b.enabled, b.max_retries) == ("congress.changes", ["p:*"], False, 3)
    assert a.secret == "gAAAA-encrypted"


def test_a_duplicate_name_or_id_is_refused(engine: Engine) -> None:
    made = api.create_sink(engine, "ops", "webhook", url="http://h/")
    with pytest.raises(errors.DuplicateName):
        api.create_sink(engine, "ops", "webhook", url="http://other/")
    with pytest.raises(errors.DuplicateId):
        api.create_sink(engine, "other", "webhook", url="http://h/", sink_id=made.id)
    assert [s.name for s in api.list_sinks(engine)] == ["ops"]


def test_invalid_values_are_refused(engine: Engine) -> None:
    for kwargs in (
        {"name": "", "sink_type": "webhook"},
        {"name": "x" * 256, "sink_type": "webhook"},
        {"name": "x", "sink_type": "email"},
        {"name": "x", "sink_type": "messaging", "topic": "t" * 256},
        {"name": "x", "sink_type": "webhook", "max_retries": 0},
    ):
        with pytest.raises(errors.InvalidValue):
            api.create_sink(engine, **kwargs)  # type: ignore[arg-type]
    assert api.list_sinks(engine) == []


def test_unknown_sinks_are_not_found(engine: Engine) -> None:
    for call in (api.get_sink, api.find_sink, api.delete_sink):
        with pytest.raises(errors.NotFound):
            call(engine, "nosuch")
    with pytest.raises(errors.NotFound):
        api.find_sink(engine, "n" * 300)


def test_a_new_sink_starts_after_the_latest_history_entry(engine: Engine) -> None:
    assert api.latest_history_id(engine) == 0
    first = api.create_sink(engine, "first", "webhook", url="http://h/")
    assert api.get_cursor(engine, first.id) == 0
    record(engine, 1, 2, 3)
    latest = api.latest_history_id(engine)
    assert latest > 0
    second = api.create_sink(engine, "second", "webhook", url="http://h/")
    assert api.get_cursor(engine, second.id) == latest
    assert api.get_cursor(engine, first.id) == 0


def test_the_history_is_read_after_an_id_in_order(engine: Engine) -> None:
    record(engine, 1, 2, 3)
    record(engine, 4, table="warning")
    everything = api.history_after(engine, 0)
    assert [(c.table, c.row) for c in everything] == [
        ("error", [1]),
        ("error", [2]),
        ("error", [3]),
        ("warning", [4]),
    ]
    ids = [c.id for c in everything]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert all(len(c.key) == 64 and c.op == INSERT and c.revision == 1 for c in everything)
    assert everything[0].created_at == T0 and everything[0].policy == "p"
    assert api.history_after(engine, ids[1]) == everything[2:]
    assert api.history_after(engine, ids[0], limit=2) == everything[1:3]
    assert api.history_after(engine, ids[-1]) == []
    assert api.history_after(engine, 0, limit=0) == []


def test_a_cursor_only_moves_forward(engine: Engine) -> None:
    sink = api.create_sink(engine, "ops", "webhook", url="http://h/")
    assert api.advance_cursor(engine, sink.id, 5) == 5
    assert api.advance_cursor(engine, sink.id, 3) == 5
    assert api.get_cursor(engine, sink.id) == 5
    assert api.advance_cursor(engine, sink.id, 9) == 9
    # a built-in sink's cursor is made on first use
    assert api.get_cursor(engine, "_config") is None
    assert api.advance_cursor(engine, "_config", 4) == 4
    assert api.get_cursor(engine, "_config") == 4


def test_a_dead_letter_moves_the_cursor_in_its_transaction(engine: Engine) -> None:
    sink = api.create_sink(engine, "ops", "webhook", url="http://h/")
    payload = {"sink": "ops", "policy": "p", "table": "error", "changes": [{"id": 7}]}
    letter = api.add_dead_letter(
        engine,
        sink.id,
        policy="p",
        table="error",
        payload=payload,
        error="HTTP 500",
        attempts=8,
        cursor=7,
    )
    assert (letter.sink_id, letter.policy, letter.table) == (sink.id, "p", "error")
    assert (letter.payload, letter.error, letter.attempts) == (payload, "HTTP 500", 8)
    assert api.get_cursor(engine, sink.id) == 7
    second = api.add_dead_letter(
        engine, sink.id, policy="p", table="warning", payload={}, error="timeout", attempts=8
    )
    assert api.get_cursor(engine, sink.id) == 7  # no cursor given: not moved
    assert api.list_dead_letters(engine, sink.id) == [second, letter]  # newest first
    assert api.list_dead_letters(engine, sink.id, limit=1) == [second]
    assert api.list_dead_letters(engine, "other") == []


def test_a_dead_letter_and_its_cursor_roll_back_together(engine: Engine) -> None:
    sink = api.create_sink(engine, "ops", "webhook", url="http://h/")
    with session_factory(engine)() as session:
        api.add_dead_letter(
            session, sink.id, policy="p", table="t", payload={}, error="e", attempts=1, cursor=9
        )
        session.rollback()
    assert api.get_cursor(engine, sink.id) == 0
    assert api.list_dead_letters(engine, sink.id) == []
    with pytest.raises(errors.InvalidValue):
        api.add_dead_letter(
            engine, sink.id, policy="p" * 256, table="t", payload={}, error="e", attempts=1
        )


def test_deleting_a_sink_deletes_its_cursor_and_dead_letters(engine: Engine) -> None:
    doomed = api.create_sink(engine, "doomed", "webhook", url="http://h/")
    kept = api.create_sink(engine, "kept", "webhook", url="http://h/")
    for sink in (doomed, kept):
        api.add_dead_letter(
            engine, sink.id, policy="p", table="t", payload={}, error="e", attempts=1, cursor=3
        )
    assert api.delete_sink(engine, "doomed") == doomed
    assert api.list_sinks(engine) == [kept]
    assert api.get_cursor(engine, doomed.id) is None
    assert api.list_dead_letters(engine, doomed.id) == []
    assert count(engine, NotificationDeadLetterRow) == 1
    assert count(engine, NotificationCursorRow) == 1
    assert api.delete_sink(engine, kept.id) == kept
    assert api.list_sinks(engine) == []


def test_a_lease_is_taken_renewed_and_refused_to_others_until_it_expires(engine: Engine) -> None:
    assert api.get_lease(engine, "notify") is None
    assert api.acquire_lease(engine, "notify", "n1", at=T0, ttl=10)
    lease = api.get_lease(engine, "notify")
    assert lease is not None and (lease.holder, lease.expires_at) == ("n1", T0 + timedelta(0, 10))
    assert not api.acquire_lease(engine, "notify", "n2", at=T0 + timedelta(seconds=5), ttl=10)
    assert api.acquire_lease(engine, "notify", "n1", at=T0 + timedelta(seconds=8), ttl=10)
    assert not api.acquire_lease(engine, "notify", "n2", at=T0 + timedelta(seconds=17), ttl=10)
    # n1 stopped renewing: n2 takes it once it has expired, and n1 no longer holds it
    assert api.acquire_lease(engine, "notify", "n2", at=T0 + timedelta(seconds=19), ttl=10)
    assert not api.acquire_lease(engine, "notify", "n1", at=T0 + timedelta(seconds=20), ttl=10)
    lease = api.get_lease(engine, "notify")
    assert lease is not None and lease.holder == "n2"
    # leases of other names are apart
    assert api.acquire_lease(engine, "other", "n1", at=T0 + timedelta(seconds=20), ttl=10)


def test_a_released_lease_is_free_at_once_and_only_its_holder_releases_it(engine: Engine) -> None:
    assert api.acquire_lease(engine, "notify", "n1", at=T0, ttl=10)
    assert not api.release_lease(engine, "notify", "n2")
    assert not api.acquire_lease(engine, "notify", "n2", at=T0, ttl=10)
    assert api.release_lease(engine, "notify", "n1")
    assert api.get_lease(engine, "notify") is None
    assert api.acquire_lease(engine, "notify", "n2", at=T0, ttl=10)
    assert not api.release_lease(engine, "nosuch", "n2")


def test_two_nodes_taking_a_lease_at_once_get_it_once(
    engine: Engine, run_together: Callable[..., list[object]]
) -> None:
    for attempt in range(5):
        name = f"race{attempt}"
        results = run_together(
            lambda name=name: api.acquire_lease(engine, name, "n1", at=T0, ttl=10),
            lambda name=name: api.acquire_lease(engine, name, "n2", at=T0, ttl=10),
        )
        assert sorted(map(repr, results)) == ["False", "True"], results
        lease = api.get_lease(engine, name)
        assert lease is not None and lease.holder == ("n1", "n2")[results.index(True)]
    # and an expired one, taken over by two nodes at once
    assert api.acquire_lease(engine, "old", "n0", at=T0, ttl=1)
    later = T0 + timedelta(seconds=5)
    results = run_together(
        lambda: api.acquire_lease(engine, "old", "n1", at=later, ttl=10),
        lambda: api.acquire_lease(engine, "old", "n2", at=later, ttl=10),
    )
    assert sorted(map(repr, results)) == ["False", "True"], results


def test_advancing_a_cursor_from_two_transactions_at_once_keeps_the_highest(
    engine: Engine, run_together: Callable[..., list[object]]
) -> None:
    results = run_together(
        lambda: api.advance_cursor(engine, "_config", 5),
        lambda: api.advance_cursor(engine, "_config", 8),
    )
    assert all(isinstance(r, int) for r in results), results
    assert api.get_cursor(engine, "_config") == 8
