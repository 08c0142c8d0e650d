"""Reliable table pub/sub over a ``Transport``: ``Publisher`` and ``Subscriber``.

Imports: the standard library and congress.bus.

The protocol (reference 1.2, DESIGN.md "Tables on the bus"). A publisher numbers the messages
of each of its tables within its ``epoch`` (a number that grows with each incarnation of the
publisher: by default the creation time in nanoseconds): the first publication of a table is a
``TableSnapshot`` numbered 0; every later change is a ``TableDelta`` with the next number; a
publication that changes nothing sends nothing. ``snapshot(table)`` answers a subscriber's
request with the table's contents at the current number; ``heartbeat()`` sends an empty delta
per table, so that a subscriber that lost the last real delta notices the gap. Every message
carries its send time (``sent_at``, the publisher's ``wall_clock``); a subscriber shows the one
it applies as ``applying_sent_at`` (for the bus lag metric).

A subscriber subscribes, then asks for a snapshot. Its receiver algorithm:

- the first message applied must be a snapshot; deltas that come before it wait;
- a message of an older epoch than the one applied is ignored; a snapshot of a newer epoch is a
  reset (the publisher restarted) and is applied whatever its number; a delta of a newer epoch
  waits for that epoch's snapshot;
- within the epoch, a snapshot is applied only when it is newer than what was applied
  (``seqnum > last``); a delta numbered ``last + 1`` is applied, then every waiting successor in
  order; one at or below ``last`` (a duplicate, an old message) is ignored; one further ahead
  waits (messages may arrive out of order);
- a gap that is not filled within ``resync_after`` seconds (checked on every message and by
  ``check()``), or more than ``max_waiting`` waiting messages, makes it ask for a snapshot. So
  nothing is lost when a message is lost, and nothing is applied twice.

Locks: a ``Publisher`` publishes under its own lock (so its numbers go out in order); a
``Subscriber`` applies under its own lock and never asks for a snapshot while holding it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from congress.bus.messages import Row, TableDelta, TableMessage, TableSnapshot
from congress.bus.transport import SubscribeHook, Transport

LOG = logging.getLogger(__name__)

DEFAULT_RESYNC_AFTER = 10.0  # the original's [dse] time_to_resub
DEFAULT_MAX_WAITING = 1000


class Publisher:
    """The tables of one publisher: each publication becomes a snapshot or a delta."""

    def __init__(
        self,
        transport: Transport,
        name: str,
        *,
        on_subscribe: SubscribeHook | None = None,
        epoch: int | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.epoch = time.time_ns() if epoch is None else epoch
        self._wall_clock = wall_clock
        self._transport = transport
        self._lock = threading.RLock()
        self._tables: dict[str, tuple[int, frozenset[Row]]] = {}
        transport.serve_tables(name, self.snapshot, on_subscribe)

    def publish(self, table: str, rows: Iterable[Row]) -> TableMessage | None:
        """Make ``rows`` the table's contents; returns the message sent (None: no change)."""
        new = frozenset(tuple(r) for r in rows)
        with self._lock:
            message: TableMessage
            if table not in self._tables:
                message = TableSnapshot(
                    self.name, table, 0, new, self.epoch, sent_at=self._wall_clock()
                )
            else:
                seqnum, old = self._tables[table]
                if new == old:
                    return None
                message = TableDelta(
                    self.name,
                    table,
                    seqnum + 1,
                    new - old,
                    old - new,
                    self.epoch,
                    sent_at=self._wall_clock(),
                )
            self._tables[table] = (message.seqnum, new)
            self._transport.publish(message)
            return message

    def heartbeat(self) -> None:
        """Send an empty delta for every table (it reveals a lost last delta)."""
        with self._lock:
            for table, (seqnum, rows) in sorted(self._tables.items()):
                message = TableDelta(
                    self.name,
                    table,
                    seqnum + 1,
                    frozenset(),
                    frozenset(),
                    self.epoch,
                    sent_at=self._wall_clock(),
                )
                self._tables[table] = (message.seqnum, rows)
                self._transport.publish(message)

    def snapshot(self, table: str) -> TableSnapshot | None:
        """The table's contents at its current number; None if it was never published."""
        with self._lock:
            current = self._tables.get(table)
            if current is None:
                return None
            return TableSnapshot(
                self.name, table, current[0], current[1], self.epoch, sent_at=self._wall_clock()
            )

    def seqnum(self, table: str) -> int | None:
        with self._lock:
            current = self._tables.get(table)
            return None if current is None else current[0]

    def tables(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)

    def close(self) -> None:
        """Stop answering snapshot requests."""
        self._transport.stop_serving_tables(self.name)


SnapshotSink = Callable[[frozenset[Row]], object]
DeltaSink = Callable[[frozenset[Row], frozenset[Row]], object]


class Subscriber:
    """One subscription to a (publisher, table), applying what arrives through two callbacks:
    ``on_snapshot(rows)`` (replace the table) and ``on_delta(inserts, deletes)``."""

    def __init__(
        self,
        transport: Transport,
        publisher: str,
        table: str,
        *,
        on_snapshot: SnapshotSink,
        on_delta: DeltaSink,
        subscriber: str = "",
        resync_after: float = DEFAULT_RESYNC_AFTER,
        max_waiting: int = DEFAULT_MAX_WAITING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publisher = publisher
        self.table = table
        self.subscriber = subscriber
        self.resyncs = 0
        self._transport = transport
        self._on_snapshot = on_snapshot
        self._on_delta = on_delta
        self._resync_after = resync_after
        self._max_waiting = max_waiting
        self._clock = clock
        self._lock = threading.RLock()
        self._epoch: int | None = None
        self._last: int | None = None
        self.applying: tuple[int, int] = (0, 0)
        """(epoch, seqnum) of the message being applied, while a callback runs."""
        self.applying_sent_at: float | None = None
        """The send time of the message being applied (None: its publisher gave none)."""
        self.snapshots_applied = 0
        self._waiting: dict[tuple[int, int], tuple[float, TableDelta]] = {}

    @property
    def last_seqnum(self) -> int | None:
        """The number of the last message applied (None: no snapshot yet)."""
        return self._last

    @property
    def epoch(self) -> int | None:
        """The publisher's epoch of the last message applied."""
        return self._epoch

    @property
    def waiting(self) -> list[int]:
        """The numbers of the deltas waiting for their predecessors."""
        with self._lock:
            return [seqnum for _, seqnum in sorted(self._waiting)]

    def start(self) -> None:
        """Subscribe, then ask for the current snapshot."""
        self._transport.subscribe(
            self.publisher, self.table, self.receive, subscriber=self.subscriber
        )
        self.resync()

    def stop(self) -> None:
        self._transport.unsubscribe(self.publisher, self.table, self.receive)

    def resync(self) -> None:
        """Ask the publisher for a snapshot and apply it."""
        self.resyncs += 1
        snapshot = self._transport.request_snapshot(self.publisher, self.table)
        if snapshot is not None:
            self.receive(snapshot)

    def check(self) -> bool:
        """Ask for a snapshot if a gap has been open too long; True if it asked."""
        if self._gap_too_old():
            self.resync()
            return True
        return False

    def receive(self, message: TableMessage) -> None:
        """Handle one message of the subscription (the transport's handler)."""
        if message.publisher != self.publisher or message.table != self.table:
            return
        with self._lock:
            if isinstance(message, TableSnapshot):
                self._snapshot(message)
            else:
                self._delta(message)
            stale = self._gap_too_old()
        if stale:
            LOG.info(
                "%s:%s: messages after %s are missing; asking for a snapshot",
                self.publisher,
                self.table,
                self._last,
            )
            self.resync()

    def _snapshot(self, message: TableSnapshot) -> None:
        key = (message.epoch, message.seqnum)
        if self._seen(key):
            return  # a duplicate, an old snapshot, or one of an older epoch
        self.applying = key
        self.applying_sent_at = message.sent_at
        self._on_snapshot(message.rows)
        self.snapshots_applied += 1
        self._epoch, self._last = message.epoch, message.seqnum
        for old in [k for k in self._waiting if k <= key]:
            del self._waiting[old]
        self._drain()

    def _delta(self, message: TableDelta) -> None:
        key = (message.epoch, message.seqnum)
        if self._seen(key):
            return  # a duplicate, an old message, or one of an older epoch
        if self._last is None or key != (self._epoch, self._last + 1):
            self._waiting.setdefault(key, (self._clock(), message))
            return
        self.applying = key
        self.applying_sent_at = message.sent_at
        self._on_delta(message.inserts, message.deletes)
        self._last = message.seqnum
        self._drain()

    def _seen(self, key: tuple[int, int]) -> bool:
        return (
            self._epoch is not None
            and self._last is not None
            and key
            <= (
                self._epoch,
                self._last,
            )
        )

    def _drain(self) -> None:
        assert self._last is not None and self._epoch is not None
        while (self._epoch, self._last + 1) in self._waiting:
            _, message = self._waiting.pop((self._epoch, self._last + 1))
            self.applying = (message.epoch, message.seqnum)
            self.applying_sent_at = message.sent_at
            self._on_delta(message.inserts, message.deletes)
            self._last = message.seqnum

    def _gap_too_old(self) -> bool:
        with self._lock:
            if not self._waiting:
                return False
            if len(self._waiting) > self._max_waiting:
                return True
            oldest = min(arrived for arrived, _ in self._waiting.values())
            return self._clock() - oldest >= self._resync_after
