"""Change feeds: every insert and delete of a watched table, as numbered events (ADR 0008).

The policy engine reports the net changes of each batch it applies (``add_change_listener``,
under its lock); the feed keeps, per table that someone watches (or watched within
``resume_seconds``), the last ``buffer_events`` events in one deque shared by all its watchers,
numbered from one sequence per feed (per node). A watcher is a cursor into that deque: it costs
no thread and no copy of the events, and the bytes of an event are encoded once for all.

Event ids are ``<epoch>-<seq>``: ``epoch`` is new with every feed (every process), so an id
from another node, or from before a restart, is recognised and answered with a ``reset`` and a
fresh snapshot; an id from this feed resumes after it, with nothing lost or repeated, while the
table's events after it are still kept.
"""

from __future__ import annotations

import collections
import fnmatch
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from congress.datalog.ast import Row
from congress.datalog.runtime import BatchResult
from congress.services import errors
from congress.services.policy_engine import PolicyEngineService

LOG = logging.getLogger(__name__)

SNAPSHOT = "snapshot"
INSERT = "insert"
DELETE = "delete"
RESET = "reset"


class TableSelector:
    """Which tables are watched: ``policy:table`` patterns (``*`` and ``?`` as in shell
    globs; a pattern without ``:`` means that table in every policy)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[tuple[str, str], ...] = tuple(
            self._split(p) for p in patterns if p.strip()
        )
        self._cache: dict[tuple[str, str], bool] = {}

    @staticmethod
    def _split(pattern: str) -> tuple[str, str]:
        pattern = pattern.strip()
        if ":" not in pattern:
            return "*", pattern
        policy, _, table = pattern.partition(":")
        return policy or "*", table or "*"

    def __call__(self, policy: str, table: str) -> bool:
        key = (policy, table)
        hit = self._cache.get(key)
        if hit is None:
            hit = any(
                fnmatch.fnmatchcase(policy, p) and fnmatch.fnmatchcase(table, t)
                for p, t in self.patterns
            )
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[key] = hit
        return hit


@dataclass(slots=True)
class Event:
    """One event of one table's feed. ``rows`` are the rows inserted or deleted (all of them
    for a snapshot); ``wire`` keeps the event's encoded form (filled by whoever sends it)."""

    seq: int
    kind: str
    rows: Sequence[Row]
    revision: int
    time: float
    wire: Any = None


class Behind(Exception):
    """The watcher's cursor is older than the events kept: it needs a reset and a snapshot."""


@dataclass
class _Table:
    events: collections.deque[Event] = field(default_factory=collections.deque)
    floor: int = 0  # events of this table with a seq above floor are all in ``events``
    watchers: set[Watcher] = field(default_factory=set)
    idle_since: float | None = None


class Watcher:
    """One client's view of one table's feed: a cursor, and a ``wake`` callback the feed
    calls (under its lock: it must not block) when there are events past it."""

    def __init__(
        self, feed: ChangeFeed, policy: str, table: str, wake: Callable[[], None] | None
    ) -> None:
        self.feed = feed
        self.policy = policy
        self.table = table
        self.cursor = 0
        self.wake = wake
        self.closed = False
        self._ready = threading.Event()  # for blocking readers (wait)

    def _notify(self) -> None:
        self._ready.set()
        if self.wake is not None:
            try:
                self.wake()
            except Exception:
                LOG.exception("waking a change-feed client failed")

    def take(self, limit: int = 1000) -> list[Event]:
        """The events past the cursor (at most ``limit``), moving the cursor; never blocks.
        Raises ``Behind`` when some of them are no longer kept."""
        return self.feed._take(self, limit)

    def wait(self, timeout: float) -> bool:
        """Block until there may be events (True) or ``timeout`` seconds pass (False)."""
        ready = self._ready.wait(timeout)
        self._ready.clear()
        return ready

    def resnapshot(self) -> list[Event]:
        """``reset`` and a fresh ``snapshot``, the cursor moved to it (may block briefly on
        the engine's lock: call it off an event loop)."""
        return [self.feed._reset_event(), self.feed._snapshot(self)]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.feed._close(self)


class ChangeFeed:
    """The change feeds of one policy engine (one per process)."""

    def __init__(
        self,
        engine: PolicyEngineService,
        *,
        buffer_events: int = 10000,
        resume_seconds: float = 300.0,
        max_watchers: int = 1000,
        timer: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.epoch = os.urandom(6).hex()
        self.buffer_events = buffer_events
        self.resume_seconds = resume_seconds
        self.max_watchers = max_watchers
        self._timer = timer
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._last = 0
        self._tables: dict[tuple[str, str], _Table] = {}
        self._count = 0
        engine.add_change_listener(self._on_change)

    # -- ids -------------------------------------------------------------------------------
    def event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def parse_id(self, last_event_id: str | None) -> int | None:
        """The seq of ``last_event_id`` when this feed issued it, else None."""
        if not last_event_id:
            return None
        epoch, _, seq = last_event_id.strip().rpartition("-")
        if epoch != self.epoch or not seq.isdigit():
            return None
        n = int(seq)
        return n if n <= self._last else None

    @property
    def watchers(self) -> int:
        return self._count

    # -- watching --------------------------------------------------------------------------
    def watch(
        self,
        policy: str,
        table: str,
        *,
        last_event_id: str | None = None,
        wake: Callable[[], None] | None = None,
    ) -> tuple[Watcher, list[Event]]:
        """Start watching ``policy:table``: the watcher and its first events (a snapshot; or,
        resuming with an id of this feed whose successors are all kept, the events after it;
        or, with an id of another feed or one too old, a reset and a snapshot)."""
        with self.engine.lock.read():
            name = self.engine.get_policy(policy).name
            if table not in self.engine.runtime.tables(name):
                raise errors.NotFound(f"Table {table} does not exist in policy {name}")
            with self._lock:
                if self._count >= self.max_watchers:
                    raise errors.Unavailable(
                        f"This node serves {self.max_watchers} change-feed clients already "
                        "([watch] max_watchers); try again or another node"
                    )
                watcher = Watcher(self, name, table, wake)
                state = self._tables.get((name, table))
                resume = self.parse_id(last_event_id)
                if state is not None and resume is not None and resume >= state.floor:
                    watcher.cursor = resume
                    self._attach(watcher, state)
                    first: list[Event] = []
                else:
                    first = [self._snapshot_locked(watcher)]
                    if last_event_id:
                        first.insert(0, self._reset_event())
                self._count += 1
        return watcher, first

    def _attach(self, watcher: Watcher, state: _Table) -> None:
        state.watchers.add(watcher)
        state.idle_since = None

    def _snapshot(self, watcher: Watcher) -> Event:
        with self.engine.lock.read(), self._lock:
            return self._snapshot_locked(watcher)

    def _snapshot_locked(self, watcher: Watcher) -> Event:
        """Under the engine's read lock and the feed's lock: the table now, and the cursor
        moved to the last event issued (every later change is an event past it)."""
        key = (watcher.policy, watcher.table)
        state = self._tables.get(key)
        if state is None:
            state = self._tables[key] = _Table(floor=self._last)
        self._attach(watcher, state)
        rows = self.engine.runtime.rows(watcher.policy, watcher.table)
        watcher.cursor = self._last
        return Event(
            self._last,
            SNAPSHOT,
            sorted(rows, key=repr),
            self.engine.revision,
            self._clock(),
        )

    def _reset_event(self) -> Event:
        return Event(self._last, RESET, (), self.engine.revision, self._clock())

    def _take(self, watcher: Watcher, limit: int) -> list[Event]:
        with self._lock:
            state = self._tables.get((watcher.policy, watcher.table))
            if state is None or watcher.cursor < state.floor:
                raise Behind
            events = state.events
            if not events or events[-1].seq <= watcher.cursor:
                return []
            # the events are in seq order: skip those at or before the cursor
            start = len(events)
            while start > 0 and events[start - 1].seq > watcher.cursor:
                start -= 1
            out = list(itertools.islice(events, start, start + limit))
            watcher.cursor = out[-1].seq
            return out

    def _close(self, watcher: Watcher) -> None:
        with self._lock:
            self._count -= 1
            state = self._tables.get((watcher.policy, watcher.table))
            if state is not None:
                state.watchers.discard(watcher)
                if not state.watchers:
                    state.idle_since = self._timer()

    # -- changes from the engine ---------------------------------------------------------
    def _on_change(self, result: BatchResult, activation: str | None) -> None:
        if not self._tables:
            return
        revision = self.engine.revision
        now = self._clock()
        woken: list[Watcher] = []
        with self._lock:
            self._expire()
            for key, state in self._tables.items():
                change = result.changes.get(key)
                if change is None:
                    continue
                inserts, deletes = change
                for kind, rows in ((DELETE, deletes), (INSERT, inserts)):
                    if not rows:
                        continue
                    seq = next(self._seq)
                    self._last = seq
                    state.events.append(Event(seq, kind, sorted(rows, key=repr), revision, now))
                    if len(state.events) > self.buffer_events:
                        state.floor = state.events.popleft().seq
                woken.extend(state.watchers)
            for watcher in woken:
                watcher._notify()

    def _expire(self) -> None:
        """Forget the tables nobody has watched for ``resume_seconds``."""
        now = self._timer()
        for key in [
            k
            for k, s in self._tables.items()
            if s.idle_since is not None and now - s.idle_since > self.resume_seconds
        ]:
            del self._tables[key]
