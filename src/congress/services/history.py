"""The history of watched tables: every change recorded once in the database, for every node
(docs/history.md, ADR 0008).

Imports: the standard library, oslo.config (``start_history`` only), congress.db and
congress.services (policy_engine, watch, errors).

``History`` listens to the policy engine's net changes (``add_change_listener``). Under the
engine's lock it only queues the changes of watched tables (``[watch] tables``); one writer
thread records them, in order, several batches per transaction. A batch the database refuses
(it is down) is retried with a growing pause: nothing is lost while the process lives, unless
the queue overflows (``max_queued`` entries), which is logged and repaired by a reconciliation.

Every entry's ``key`` digests (policy, table, op, row, activation): the activation names the
batch's cause identically on every engine of an HA deployment, so the engines' entries of one
change collapse into one (the database keeps the first, ``record_history``). Changes whose
activation is None (rows that were there before: an engine start, a reload, a first snapshot)
are not recorded as such: a reconciliation, ``reconcile_delay`` seconds after the last of them
(and after a start), compares each watched table with the history's current state and records
the differences, keyed by ``reconcile:after:<id of the row's latest entry, or 0>`` so that two
engines reconciling the same row also collapse. That is how a row that vanished while the only
node was down gets its delete. A row whose latest entry is younger than ``reconcile_grace``
seconds is left for a later pass: another engine may be ahead of this one (it applied a change
this one has not applied yet), or behind.

Retention: at start and every ``retention_period`` seconds, entries older than the cutoff
(``retention_days``; 0 keeps everything) are deleted, but for the entry that inserted a row
still there at the cutoff, so that the table can be answered as of any time after the cutoff.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Engine as DbEngine

from congress.datalog.ast import Row
from congress.datalog.runtime import BatchResult
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db.history import DELETE, INSERT, HistoryEntry, NewHistoryEntry
from congress.services import errors
from congress.services.policy_engine import PolicyEngineService
from congress.services.watch import TableSelector

LOG = logging.getLogger(__name__)

UTC = dt.UTC
RECONCILE = "reconcile:after:"
"""The activation prefix of the entries a reconciliation records."""
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
MAX_POINTS = 1000
"""The most points a count over time answers."""
DEFAULT_SPAN = dt.timedelta(days=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest time asked of the database (MariaDB's DATETIME starts at year 1000)."""
RETENTION_OPTION = "[watch] history_retention_days"


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def as_utc(when: dt.datetime) -> dt.datetime:
    """``when`` as an aware UTC time (a naive one is taken to be UTC)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def iso(when: dt.datetime) -> str:
    """ISO 8601 with microseconds and ``+00:00``: ``2026-11-25T12:00:00.000000+00:00``."""
    return as_utc(when).isoformat(timespec="microseconds")


@dataclass(slots=True)
class _Batch:
    seq: int
    entries: list[NewHistoryEntry]
    queued_at: float = 0.0  # on the timer


class History:
    """Records the changes of one policy engine's watched tables, and answers the history."""

    def __init__(
        self,
        database: DbEngine,
        engine: PolicyEngineService,
        selector: TableSelector,
        node_id: str | None,
        clock: Callable[[], dt.datetime] = utcnow,
        retention_days: int = 30,
        *,
        timer: Callable[[], float] = time.monotonic,
        reconcile_delay: float = 5.0,
        reconcile_grace: float = 30.0,
        retention_period: float = 3600.0,
        max_queued: int = 100_000,
        write_batch: int = 1000,
        backoff: tuple[float, float] = (0.5, 30.0),
        linger: float = 0.25,
    ) -> None:
        self._db = database
        self._engine = engine
        self._patterns: tuple[str, ...] = tuple(f"{p}:{t}" for p, t in selector.patterns)
        self._selector = selector
        self._node_id = node_id or None
        self._clock = clock
        self.retention_days = retention_days
        self._timer = timer
        self._reconcile_delay = reconcile_delay
        self._reconcile_grace = reconcile_grace
        self._retention_period = retention_period
        self._max_queued = max_queued
        self._write_batch = write_batch
        # seconds the writer waits for more changes before writing a small batch: fewer
        # transactions (on SQLite each one takes the database's only write lock, which API
        # writes wait for: a 10-minute soak answered half as many requests without it)
        self._linger = linger
        self._flushing = 0  # flush() calls waiting: write at once
        self._backoff_first, self._backoff_max = backoff
        self._backoff = self._backoff_first

        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[_Batch] = collections.deque()
        self._queued = 0  # entries in the queue
        self._seq = 0  # the last batch queued
        self._written = 0  # the last batch written (or dropped as unwritable)
        self._reconcile_at: float | None = None  # on the timer
        self._reconciling = False
        self._prune_at: float | None = None
        self._overflowing = False
        self.dropped = 0
        self.recorded = 0  # entries written (duplicates of another engine's included)
        self.writes = 0  # transactions that wrote them
        self.write_seconds = 0.0  # spent writing them
        """Entries dropped because the queue was full (a reconciliation repairs the history)."""
        self._started = False
        self._stopping = False
        self._abandoned = False
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Listen to the engine's changes and start the writer thread (once)."""
        with self._cond:
            if self._started:
                return
            self._started = True
            self._reconcile_at = self._timer() + self._reconcile_delay
            if self.retention_days > 0:
                self._prune_at = self._timer()
        self._engine.add_change_listener(self._on_change)
        self._thread = threading.Thread(target=self._run, name="congress-history", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            with self._cond:
                self._abandoned = True
                left = self._queued
                self._cond.notify_all()
            LOG.warning("history: stopping with %d changes of watched tables not recorded", left)
            thread.join(1.0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every change queued so far is written and a reconciliation due by now is
        done; False if ``timeout`` seconds pass first."""
        with self._cond:
            target, now = self._seq, self._timer()

            def done() -> bool:
                due = self._reconcile_at is not None and self._reconcile_at <= now
                return self._written >= target and not self._reconciling and not due

            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(done, timeout)
            finally:
                self._flushing -= 1

    # -- what is watched -------------------------------------------------------------------
    def watched(self, policy: str, table: str) -> bool:
        """Whether the changes of ``policy:table`` are recorded."""
        return self._selector(policy, table)

    def add_tables(self, patterns: Iterable[str]) -> None:
        """Watch the tables of ``policy:table`` patterns too (a sink's); their current rows
        are recorded by the reconciliation that follows."""
        wanted = [p.strip() for p in patterns if p.strip()]
        with self._cond:
            new = [p for p in dict.fromkeys(wanted) if p not in self._patterns]
            if not new:
                return
            self._patterns = (*self._patterns, *new)
            self._selector = TableSelector(self._patterns)
            self._schedule_reconcile(self._reconcile_delay, debounce=True)

    def reconcile(self, delay: float = 0.0) -> None:
        """Reconcile every watched table with the history in ``delay`` seconds (or sooner)."""
        with self._cond:
            self._schedule_reconcile(delay, debounce=False)

    # -- reads -----------------------------------------------------------------------------
    def cutoff(self) -> dt.datetime | None:
        """The start of the history kept (None: forever)."""
        if self.retention_days <= 0:
            return None
        return as_utc(self._clock()) - dt.timedelta(days=self.retention_days)

    def rows_as_of(self, policy: str, table: str, when: dt.datetime) -> list[list[Any]]:
        """The rows of ``policy:table`` at ``when``, sorted; HistoryExpired before the cutoff."""
        when = as_utc(when)
        cutoff = self.cutoff()
        if cutoff is not None and when < cutoff:
            raise errors.HistoryExpired(
                f"No history before {iso(cutoff)}: {iso(when)} is older than the "
                f"{self.retention_days} days kept ({RETENTION_OPTION})"
            )
        if when < EPOCH:
            return []
        return db.history_as_of(self._db, policy, table, when)

    def changes(
        self,
        policy: str,
        table: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[dict[str, Any]]:
        """The changes of ``policy:table`` from ``since`` (default and earliest: the start of
        the history kept) to ``until`` (excluded), in order, at most ``limit``:
        ``{"time", "revision", "op", "row"}``; a redundant repeat is left out."""
        floor = self.cutoff() or EPOCH
        start = floor if since is None else max(as_utc(since), floor)
        end = None if until is None else as_utc(until)
        if end is not None and end <= start:
            return []
        found = db.history_changes(
            self._db, policy, table, since=start, until=end, limit=min(limit, MAX_LIMIT)
        )
        return [_change_body(entry) for entry in found]

    def counts(
        self,
        policy: str,
        table: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        step: float | None = None,
    ) -> tuple[list[tuple[dt.datetime, int]], float]:
        """How many rows ``policy:table`` had over time: at ``since`` (default: a day before
        ``until``; at the earliest, the start of the history kept), every ``step`` seconds
        after it (default: a 24th of the span) and at ``until`` (default: now), at most
        ``MAX_POINTS`` points. Answers the points and the step."""
        end = as_utc(self._clock()) if until is None else as_utc(until)
        start = end - DEFAULT_SPAN if since is None else as_utc(since)
        start = max(start, self.cutoff() or EPOCH)
        if end <= start:
            raise errors.BadRequest(
                f"The span from {iso(start)} to {iso(end)} is empty: 'until' must come after "
                "'since' and after the start of the history kept"
            )
        span = (end - start).total_seconds()
        seconds = span / 24 if step is None else step
        if seconds <= 0 or span / seconds > MAX_POINTS:
            raise errors.BadRequest(
                f"Parameter 'step' must be a number of seconds that cuts the span of {span:g} s "
                f"into at most {MAX_POINTS} points, not {seconds:g}"
            )
        times: list[dt.datetime] = []
        at = start
        while at < end:
            times.append(at)
            at = start + dt.timedelta(seconds=seconds * len(times))
        times.append(end)
        found = db.history_counts(self._db, policy, table, times)
        return list(zip(times, found, strict=True)), seconds

    # -- the engine's changes (under its lock: no waiting here) --------------------------
    def _on_change(self, result: BatchResult, activation: str | None) -> None:
        if self._stopping:
            return
        selector = self._selector
        touched = [(key, change) for key, change in result.changes.items() if selector(*key)]
        if activation is None:
            with self._cond:
                # rows of a watched table that were there before; or, with a reconciliation
                # planned, the engine still catching up: wait for the rest
                if touched or self._reconcile_at is not None:
                    self._schedule_reconcile(self._reconcile_delay, debounce=True)
            return
        if not touched:
            return
        when, revision, node = (
            as_utc(self._clock()),
            _revision(self._engine, activation),
            self._node_id,
        )
        entries = [
            NewHistoryEntry(policy, table, op, row, activation, when, revision, node)
            for (policy, table), (inserts, deletes) in touched
            for op, rows in ((DELETE, deletes), (INSERT, inserts))
            for row in rows
        ]
        if not entries:
            return
        with self._cond:
            if self._queued + len(entries) > self._max_queued:
                if not self._overflowing:
                    LOG.warning(
                        "history: %d changes of watched tables wait to be recorded: dropping "
                        "more until the database takes them (a reconciliation follows)",
                        self._queued,
                    )
                self._overflowing = True
                self.dropped += len(entries)
                self._schedule_reconcile(self._reconcile_delay, debounce=False)
                return
            self._seq += 1
            self._queue.append(_Batch(self._seq, entries, self._timer()))
            self._queued += len(entries)
            self._cond.notify_all()

    def _schedule_reconcile(self, delay: float, *, debounce: bool) -> None:
        """Under ``_cond``: a reconciliation ``delay`` seconds from now; ``debounce`` moves one
        already planned later, else it only ever comes sooner."""
        at = self._timer() + delay
        if debounce or self._reconcile_at is None or at < self._reconcile_at:
            self._reconcile_at = at
        self._cond.notify_all()

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                task = self._next_task()
                if task is None:
                    return
            try:
                task()
            except Exception:  # never let the writer die
                LOG.exception("history: unexpected failure")
                self._pause()

    def _next_task(self) -> Callable[[], None] | None:
        """Under ``_cond``: wait for the next thing to do (None: stop)."""
        while True:
            if self._abandoned:
                return None
            now = self._timer()
            if self._queue:
                wait = self._queue[0].queued_at + self._linger - now
                if (
                    wait <= 0
                    or self._stopping
                    or self._flushing
                    or self._queued >= self._write_batch
                ):
                    return self._write_front
                self._cond.wait(wait)
                continue
            if self._stopping:
                return None
            if self._reconcile_at is not None and self._reconcile_at <= now:
                self._reconcile_at = None
                self._reconciling = True
                return self._reconcile
            if self._prune_at is not None and self._prune_at <= now:
                self._prune_at = None
                return self._prune
            planned = [t for t in (self._reconcile_at, self._prune_at) if t is not None]
            self._cond.wait(None if not planned else max(0.0, min(planned) - now))

    def _pause(self) -> None:
        """Wait before trying the database again (longer each time, until a success)."""
        with self._cond:
            self._cond.wait_for(lambda: self._abandoned, self._backoff)
        self._backoff = min(self._backoff * 2, self._backoff_max)

    def _write_front(self) -> None:
        """Write the batches at the front of the queue in one transaction."""
        with self._cond:
            batches: list[_Batch] = []
            size = 0
            for batch in self._queue:
                if batches and size + len(batch.entries) > self._write_batch:
                    break
                batches.append(batch)
                size += len(batch.entries)
        # batch by batch; within one, in a stable order (its ids break ties in time)
        entries = [entry for batch in batches for entry in sorted(batch.entries, key=_order)]
        started = time.perf_counter()
        try:
            db.record_history(self._db, entries)
            self.recorded += len(entries)
            self.writes += 1
            self.write_seconds += time.perf_counter() - started
        except db_errors.InvalidValue:
            if not self._write_one_by_one(entries):
                return
        except db_errors.DBError as exc:
            LOG.warning(
                "history: could not record %d changes of watched tables (retrying in %.1f s): %s",
                len(entries),
                self._backoff,
                exc,
            )
            self._pause()
            return
        except Exception:  # a bug, not the database: retrying would block every later change
            LOG.exception("history: dropping %d changes (a reconciliation follows)", len(entries))
            with self._cond:
                self._schedule_reconcile(self._reconcile_delay, debounce=False)
        self._backoff = self._backoff_first
        with self._cond:
            for batch in batches:
                self._queue.popleft()
                self._queued -= len(batch.entries)
                self._written = batch.seq
            if not self._queue:
                self._overflowing = False
            self._cond.notify_all()

    def _write_one_by_one(self, entries: Sequence[NewHistoryEntry]) -> bool:
        """Write ``entries`` one at a time, dropping (and logging) those the database refuses
        as invalid; False if the database failed otherwise (retry later: the keys make writing
        an entry twice harmless)."""
        for entry in entries:
            try:
                db.record_history(self._db, [entry])
            except db_errors.InvalidValue as exc:
                LOG.error(
                    "history: cannot record %s of %s:%s %r: %s",
                    entry.op,
                    entry.policy,
                    entry.table,
                    entry.row,
                    exc,
                )
            except db_errors.DBError as exc:
                LOG.warning("history: could not record changes (retrying): %s", exc)
                self._pause()
                return False
        return True

    def _drain(self, upto: int) -> bool:
        """Write every batch queued up to ``upto``; False when stopping first."""
        while True:
            with self._cond:
                if self._written >= upto or not self._queue:
                    return True
                if self._abandoned or self._stopping:
                    return False
            self._write_front()

    # -- reconciliation --------------------------------------------------------------------
    def _reconcile(self) -> None:
        try:
            recheck = self._reconcile_once()
        except db_errors.DBError as exc:
            LOG.warning("history: reconciliation failed (retrying): %s", exc)
            with self._cond:
                self._reconciling = False
                self._schedule_reconcile(self._backoff, debounce=False)
            self._backoff = min(self._backoff * 2, self._backoff_max)
            return
        except BaseException:
            with self._cond:
                self._reconciling = False
                self._schedule_reconcile(self._backoff_max, debounce=False)
            raise
        with self._cond:
            self._reconciling = False
            if recheck:
                self._schedule_reconcile(max(self._reconcile_grace, 1.0), debounce=False)
            self._cond.notify_all()

    def _reconcile_once(self) -> bool:
        """Record the differences between the watched tables and the history; True if some
        rows were left for a later pass (their latest entry is too recent to judge)."""
        selector = self._selector
        live: dict[tuple[str, str], set[Row]] = {}
        with self._engine.lock.read():
            rt = self._engine.runtime
            for policy in rt.policy_names():
                for table in rt.tables(policy):
                    if selector(policy, table):
                        live[(policy, table)] = rt.rows(policy, table)
            revision = self._engine.revision
            with self._cond:
                marker = self._seq  # the batches that made the rows just read
        if not self._drain(marker):
            return False
        now = as_utc(self._clock())
        grace = dt.timedelta(seconds=self._reconcile_grace)
        tables = set(live) | {key for key in db.history_tables(self._db) if selector(*key)}
        entries: list[NewHistoryEntry] = []
        recheck = False

        def add(policy: str, table: str, op: str, row: Sequence[Any], after: int) -> None:
            entries.append(
                NewHistoryEntry(
                    policy, table, op, row, f"{RECONCILE}{after}", now, revision, self._node_id
                )
            )

        for policy, table in sorted(tables):
            rows = live.get((policy, table), set())
            latest: dict[tuple[Any, ...], HistoryEntry] = {
                tuple(entry.row): entry for entry in db.history_latest(self._db, policy, table)
            }
            for row in sorted(rows, key=repr):
                entry = latest.get(row)
                if entry is not None and entry.op == INSERT:
                    continue
                if entry is not None and now - entry.created_at < grace:
                    recheck = True
                    continue
                add(policy, table, INSERT, row, 0 if entry is None else entry.id)
            for row, entry in latest.items():
                if entry.op != INSERT or row in rows:
                    continue
                if now - entry.created_at < grace:
                    recheck = True
                    continue
                add(policy, table, DELETE, entry.row, entry.id)
        entries.sort(key=_order)
        for start in range(0, len(entries), self._write_batch):
            db.record_history(self._db, entries[start : start + self._write_batch])
        if entries:
            LOG.info("history: reconciliation recorded %d changes", len(entries))
        return recheck

    # -- retention -------------------------------------------------------------------------
    def _prune(self) -> None:
        try:
            self.prune()
        except db_errors.DBError as exc:
            LOG.warning("history: applying the retention failed (retrying): %s", exc)
            with self._cond:
                self._prune_at = self._timer() + min(self._retention_period, 60.0)
            return
        with self._cond:
            self._prune_at = self._timer() + self._retention_period

    def prune(self) -> int:
        """Apply the retention now (in the caller's thread, a transaction per ``write_batch``
        entries): how many entries were deleted."""
        cutoff = self.cutoff()
        if cutoff is None:
            return 0
        total = 0
        while True:
            deleted = db.prune_history(self._db, cutoff, limit=self._write_batch)
            total += deleted
            if deleted < self._write_batch:
                break
        if total:
            LOG.info("history: deleted %d changes older than %s", total, iso(cutoff))
        return total


def _revision(engine: PolicyEngineService, activation: str) -> int:
    """The policy revision of a batch: the one a policy change makes (``rev:N``; the engine
    applies it before it counts it as applied), else the engine's."""
    cause, _, number = activation.partition(":")
    if cause == "rev" and number.isdigit():
        return max(int(number), engine.revision)
    return engine.revision


def _order(entry: NewHistoryEntry) -> tuple[str, str, bool, str]:
    return (entry.policy, entry.table, entry.op == INSERT, repr(tuple(entry.row)))


def _change_body(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "time": iso(entry.created_at),
        "revision": entry.revision,
        "op": entry.op,
        "row": entry.row,
    }


def start_history(
    conf: cfg.ConfigOpts, database: DbEngine, engine: PolicyEngineService, node_id: str | None
) -> History:
    """The history of ``engine``'s watched tables as ``[watch]`` configures it, started."""
    history = History(
        database,
        engine,
        TableSelector(conf.watch.tables),
        node_id,
        retention_days=conf.watch.history_retention_days,
    )
    history.start()
    return history
