"""Change feeds (congress.services.watch): a watcher's snapshot plus its events is always the
table, resuming loses and repeats nothing, and what the feed cannot continue is a reset."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.policy_engine import PolicyEngineService
from congress.services.watch import (
    DELETE,
    INSERT,
    RESET,
    SNAPSHOT,
    Behind,
    ChangeFeed,
    Event,
    TableSelector,
    Watcher,
)

CLOCK = datetime.datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    url = f"sqlite:///{tmp_path_factory.mktemp('watch') / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@pytest.fixture
def engine(database: Engine) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: CLOCK, node_id="n1")
    svc.start()
    if "inv" not in {p.name for p in svc.list_policies()} and not svc.runtime.policy_exists("inv"):
        svc.ensure_datasource("inv", {"servers": ["id", "status"]})
    if not any("inv:servers" in r.rule for r in svc.list_rules("classification")):
        svc.create_rule("classification", 'error(x) :- inv:servers(x, "ERROR")')
    svc.replace("inv", "servers", [])
    return svc


def push(engine: PolicyEngineService, rows: list[tuple[str, str]]) -> None:
    engine.replace("inv", "servers", rows)


def apply(table: set[tuple[Any, ...]], events: list[Event]) -> set[tuple[Any, ...]]:
    """What a client holds after ``events``."""
    for e in events:
        if e.kind == SNAPSHOT:
            table = set(e.rows)
        elif e.kind == INSERT:
            assert not table & set(e.rows), "an insert of a row the client already has"
            table |= set(e.rows)
        elif e.kind == DELETE:
            assert set(e.rows) <= table, "a delete of a row the client does not have"
            table -= set(e.rows)
        elif e.kind == RESET:
            table = set()
    return table


def error_rows(engine: PolicyEngineService) -> set[tuple[Any, ...]]:
    return set(engine.rows("classification", "error"))


def test_first_event_is_a_snapshot_then_inserts_and_deletes(engine: PolicyEngineService) -> None:
    push(engine, [("a", "ERROR"), ("b", "OK")])
    feed = ChangeFeed(engine)
    woken = threading.Event()
    watcher, first = feed.watch("classification", "error", wake=woken.set)
    assert [(e.kind, list(e.rows)) for e in first] == [(SNAPSHOT, [("a",)])]
    assert watcher.take() == []
    push(engine, [("b", "ERROR"), ("c", "ERROR")])
    assert woken.is_set()
    events = watcher.take()
    assert [(e.kind, sorted(e.rows)) for e in events] == [
        (DELETE, [("a",)]),
        (INSERT, [("b",), ("c",)]),
    ]
    assert events[0].seq < events[1].seq
    assert watcher.take() == []
    watcher.close()
    assert feed.watchers == 0


def test_unknown_policy_or_table_is_not_found(engine: PolicyEngineService) -> None:
    feed = ChangeFeed(engine)
    with pytest.raises(errors.NotFound):
        feed.watch("nosuch", "error")
    with pytest.raises(errors.NotFound):
        feed.watch("classification", "nosuch")
    assert feed.watchers == 0


def test_resume_with_last_event_id_replays_exactly_what_was_missed(
    engine: PolicyEngineService,
) -> None:
    feed = ChangeFeed(engine)
    watcher, first = feed.watch("classification", "error")
    push(engine, [("a", "ERROR")])
    seen = first + watcher.take()
    last_id = feed.event_id(seen[-1].seq)
    watcher.close()  # the client goes away; the table is still recorded
    push(engine, [("a", "ERROR"), ("b", "ERROR")])
    push(engine, [("b", "ERROR")])
    again, replay = feed.watch("classification", "error", last_event_id=last_id)
    assert replay == []  # nothing to send before the cursor's successors are taken
    missed = again.take()
    assert [(e.kind, list(e.rows)) for e in missed] == [(INSERT, [("b",)]), (DELETE, [("a",)])]
    assert apply(apply(set(), seen), missed) == error_rows(engine) == {("b",)}


def test_an_id_of_another_node_or_process_gets_a_reset_and_a_snapshot(
    engine: PolicyEngineService,
) -> None:
    push(engine, [("a", "ERROR")])
    other = ChangeFeed(engine)
    feed = ChangeFeed(engine)
    _, first = other.watch("classification", "error")
    for last_id in (other.event_id(first[0].seq), "garbage", f"{feed.epoch}-999999"):
        watcher, events = feed.watch("classification", "error", last_event_id=last_id)
        assert [e.kind for e in events] == [RESET, SNAPSHOT]
        assert list(events[1].rows) == [("a",)]
        watcher.close()


def test_a_watcher_further_behind_than_the_buffer_is_reset(engine: PolicyEngineService) -> None:
    feed = ChangeFeed(engine, buffer_events=10)
    watcher, first = feed.watch("classification", "error")
    for i in range(12):
        push(engine, [(f"s{i}", "ERROR")])
    with pytest.raises(Behind):
        watcher.take()
    events = watcher.resnapshot()
    assert [e.kind for e in events] == [RESET, SNAPSHOT]
    assert apply(set(), events) == error_rows(engine) == {("s11",)}
    push(engine, [])
    assert apply(apply(set(), events), watcher.take()) == set()
    # a resume from before the kept events is a reset too
    _, replay = feed.watch("classification", "error", last_event_id=feed.event_id(first[0].seq))
    assert [e.kind for e in replay] == [RESET, SNAPSHOT]


def test_max_watchers_is_a_503(engine: PolicyEngineService) -> None:
    feed = ChangeFeed(engine, max_watchers=2)
    a, _ = feed.watch("classification", "error")
    feed.watch("classification", "error")
    with pytest.raises(errors.Unavailable, match="max_watchers"):
        feed.watch("classification", "error")
    a.close()
    a.close()  # twice is once
    feed.watch("classification", "error")
    assert feed.watchers == 2


def test_tables_nobody_watches_are_forgotten_after_the_resume_window(
    engine: PolicyEngineService,
) -> None:
    now = [0.0]
    feed = ChangeFeed(engine, resume_seconds=60, timer=lambda: now[0])
    watcher, first = feed.watch("classification", "error")
    watcher.close()
    now[0] = 61.0
    push(engine, [("z", "ERROR")])  # the change that finds the table idle forgets it
    assert feed._tables == {}
    _, events = feed.watch("classification", "error", last_event_id=feed.event_id(first[0].seq))
    assert [e.kind for e in events] == [RESET, SNAPSHOT]


def test_events_are_shared_by_every_watcher_of_a_table(engine: PolicyEngineService) -> None:
    feed = ChangeFeed(engine)
    watchers = [feed.watch("classification", "error")[0] for _ in range(100)]
    push(engine, [("a", "ERROR")])
    taken = [w.take() for w in watchers]
    assert all(t == taken[0] and len(t) == 1 for t in taken)
    assert all(t[0] is taken[0][0] for t in taken)  # one object, encoded once


def test_a_blocking_reader_waits_for_changes(engine: PolicyEngineService) -> None:
    feed = ChangeFeed(engine)
    watcher, _ = feed.watch("classification", "error")
    assert watcher.wait(0.01) is False
    threading.Timer(0.05, lambda: push(engine, [("w", "ERROR")])).start()
    assert watcher.wait(5.0) is True
    assert [e.kind for e in watcher.take()] == [INSERT]


def test_a_watch_started_while_a_change_evaluates_sees_it_once(
    engine: PolicyEngineService,
) -> None:
    """Registration runs as a read during a pause of a long change: its snapshot is the
    state before the change and the change comes as events after it."""
    feed = ChangeFeed(engine)
    big = [(f"v{i}", "ERROR") for i in range(20000)]
    got: list[tuple[Watcher, list[Event]]] = []
    started = threading.Event()

    def watch_when_paused() -> None:
        started.wait(5)
        got.append(feed.watch("classification", "error"))

    t = threading.Thread(target=watch_when_paused)
    t.start()
    original = engine.runtime.pause_hook

    def hook() -> None:
        if not started.is_set():
            started.set()
            deadline = time.monotonic() + 5
            while not engine.lock._waiting and time.monotonic() < deadline:  # the watch waits
                time.sleep(0.001)
        if original is not None:
            original()

    engine.runtime.pause_hook = hook
    pauses = engine.lock.pauses
    try:
        push(engine, big)
    finally:
        engine.runtime.pause_hook = original
    t.join(10)
    assert engine.lock.pauses > pauses  # the watch did start during the change
    watcher, first = got[0]
    assert apply(apply(set(), first), watcher.take()) == error_rows(engine)
    assert len(error_rows(engine)) == 20000


def test_table_selector_patterns() -> None:
    sel = TableSelector(["*:error", "warning", "ops:alarm_?", " "])
    assert sel("classification", "error") and sel("x", "error")
    assert sel("any", "warning")
    assert sel("ops", "alarm_1") and not sel("ops", "alarm_10") and not sel("dev", "alarm_1")
    assert not sel("classification", "errors")
    assert not TableSelector([])("p", "error")


ops = st.lists(
    st.tuples(
        st.sets(st.sampled_from(["a", "b", "c", "d", "e"])),  # servers in ERROR
        st.sampled_from(["stay", "leave", "resume", "resume_stale"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops)
def test_a_client_that_comes_and_goes_always_ends_with_the_table(
    engine: PolicyEngineService, steps: list[tuple[set[str], str]]
) -> None:
    """Property: whatever the changes and whenever the client disconnects and resumes (with
    its last id, or with an id from a feed that no longer exists), snapshot plus events is the
    table, and no insert or delete is repeated (``apply`` checks)."""
    feed = ChangeFeed(engine, buffer_events=10)
    stale = ChangeFeed(engine)
    held: set[tuple[Any, ...]] = set()
    watcher, first = feed.watch("classification", "error")
    held = apply(held, first)
    last = first[-1].seq
    for errored, move in steps:
        push(engine, [(s, "ERROR") for s in errored])
        if watcher is None:
            continue
        try:
            events = watcher.take()
        except Behind:
            events = watcher.resnapshot()
        held = apply(held, events)
        last = next((e.seq for e in reversed(events) if e.kind != RESET), last)
        if move == "leave":
            watcher.close()
            watcher = None
            continue
        if move.startswith("resume"):
            watcher.close()
            last_id = stale.epoch + "-1" if move == "resume_stale" else feed.event_id(last)
            watcher, events = feed.watch("classification", "error", last_event_id=last_id)
            try:
                events += watcher.take()
            except Behind:
                events += watcher.resnapshot()
            held = apply(held, events)
            last = next((e.seq for e in reversed(events) if e.kind != RESET), last)
        assert held == error_rows(engine)
    if watcher is None:
        watcher, events = feed.watch("classification", "error", last_event_id=feed.event_id(last))
        held = apply(held, events)
    try:
        held = apply(held, watcher.take())
    except Behind:
        held = apply(held, watcher.resnapshot())
    assert held == error_rows(engine)
