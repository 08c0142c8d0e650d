"""One running datasource of the host: its driver, lock, publisher, persistence and threads.

Imports: the standard library, SQLAlchemy's ``Engine`` type, congress.bus, congress.db,
congress.datasources and congress.services.metrics.

A ``Runner`` serialises the calls to its driver under ``lock`` and publishes the driver's
tables through a ``Publisher`` under the same lock, so the numbers of each table go out in
order. A poll is the exception: it runs under its own lock (one poll at a time) without
holding ``lock``, so that a cloud that is slow to answer never holds up the status, rows and
actions of the datasource; the driver replaces each table's row set whole when a poll
translates it, so a reader sees the old set or the new one.

Push drivers with ``persist_data`` have each changed table stored in ``dstabledata`` after it
is published, and restored by ``restore`` before the first publication.

Threads (daemons, stopped by ``stop``): a polling driver gets one that polls at once, then
every ``poll_time`` seconds (0: only when asked) or as soon as ``request_refresh`` wakes it
(after failed polls it waits longer: ``PollingDriver.next_poll_delay``); a driver with
``expire``/``expire_interval`` (vitrage) gets one that expires old rows. Without threads
(``threads=False``), ``request_refresh`` polls in the caller's thread.

With ``metrics`` (the host's ``DatasourceMetrics``) each poll's duration and outcome is
observed, and each action the driver ran (executed or failed).

Lock order (to stay free of deadlocks): poll lock, then runner lock, then publisher, then the
bus's subscribers, then the policy engine. Nothing here waits for the host's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from congress.bus import Announcement, Publisher, Transport
from congress.datalog.ast import Row
from congress.datasources.driver import Driver, PollingDriver, PushDriver
from congress.datasources.errors import DatasourceError, NotSupported, UnknownAction
from congress.db import api as db
from congress.db.records import Datasource
from congress.services.metrics import OTHER, DatasourceMetrics

LOG = logging.getLogger(__name__)

JOIN_TIMEOUT = 10.0


def _sort_key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(f"{type(v).__name__}:{v!r}" for v in row)


def sorted_rows(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in a stable order (values of mixed types compare by their type's name first)."""
    return sorted(rows, key=_sort_key)


class Runner:
    """A datasource the host runs."""

    def __init__(
        self,
        record: Datasource,
        driver: Driver,
        bus: Transport,
        database: DbEngine,
        metrics: DatasourceMetrics | None = None,
    ) -> None:
        self.record = record
        self.driver = driver
        self._metrics = metrics
        self.lock = threading.RLock()
        # A poll waits for its cloud without holding ``lock``: status, rows and actions are
        # answered meanwhile (the driver replaces each table's set whole, never edits it).
        self._poll_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._db = database
        self._publisher = Publisher(bus, record.name, on_subscribe=self.activate)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ordered: dict[str, tuple[AbstractSet[Row], list[tuple[Any, ...]]]] = {}

    def ordered_rows(self, table: str) -> list[tuple[Any, ...]]:
        """A table's rows in order (``sorted_rows``), kept until the table changes (the
        driver's set of it is replaced): paging through a big table sorts it once. The list
        is shared: never change it."""
        with self.lock:
            current = self.driver.current_rows(table)
            hit = self._ordered.get(table)
            if hit is None or hit[0] is not current:
                hit = self._ordered[table] = (current, sorted_rows(current))
            return hit[1]

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def threaded(self) -> bool:
        return bool(self._threads)

    def announcement(self, node_id: str) -> Announcement:
        driver = self.driver
        schema = driver.datasource_schema()
        lazy: list[str] = []
        if isinstance(driver, PollingDriver):
            lazy = [t for t in schema if driver.root_of(t) in driver.lazy_tables]
        return Announcement(
            self.name,
            {t: tuple(c.name for c in cols) for t, cols in schema.items()},
            node_id,
            lazy=tuple(lazy),
        )

    # -- life cycle --------------------------------------------------------------------------
    def restore(self) -> None:
        """Load the persisted tables of a push driver with ``persist_data``."""
        driver = self.driver
        if isinstance(driver, PushDriver) and driver.persist_data:
            with self.lock:
                driver.restore(db.get_all_table_data(self._db, self.record.id))

    def start(self, threads: bool) -> None:
        """Publish every table, then start the threads (when ``threads``)."""
        self.publish()
        if not threads:
            return
        if isinstance(self.driver, PollingDriver):
            self._spawn("poll", self._poll_loop)
        interval = getattr(self.driver, "expire_interval", None)
        if callable(getattr(self.driver, "expire", None)) and isinstance(interval, int | float):
            self._spawn("expire", lambda: self._expire_loop(float(interval)))

    def _spawn(self, what: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"congress-{what}-{self.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop the threads (waiting for a poll in progress) and stop serving snapshots."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(JOIN_TIMEOUT)
                if thread.is_alive():
                    LOG.warning("thread %s did not stop in time", thread.name)
        self._threads.clear()
        self._publisher.close()

    # -- tables ------------------------------------------------------------------------------
    def published(self) -> dict[str, list[int]]:
        """``{table: [epoch, seqnum]}`` of what has been published (sent in heartbeats, so a
        subscriber that lost a message notices)."""
        pub = self._publisher
        out = {}
        for table in pub.tables():
            seqnum = pub.seqnum(table)
            if seqnum is not None:
                out[table] = [pub.epoch, seqnum]
        return out

    def publish(self, tables: Iterable[str] | None = None) -> None:
        """Publish the driver's tables (only ``tables`` when given).

        The rows are copied under ``lock`` and delivered outside it (under a lock of their
        own, which keeps publications in order): delivery to an engine in this process waits
        while the engine evaluates a change, and the datasource's status, rows and schema must
        go on answering meanwhile. Callers must not hold ``lock``.
        """
        with self._publish_lock:
            with self.lock:
                copies = self.driver.tables(tables)
            for table, rows in copies.items():
                self._publisher.publish(table, rows)

    def persist(self, tables: Iterable[str] | None) -> None:
        """Write the current rows of ``tables`` (None: every table) of a push driver that
        persists its data."""
        driver = self.driver
        if not (isinstance(driver, PushDriver) and driver.persist_data):
            return
        with self.lock:
            current = driver.tables(tables)
            for table in current if tables is None else tables:
                rows = sorted_rows(current.get(table, ()))
                db.put_table_data(self._db, self.record.id, table, rows)

    def activate(self, table: str) -> None:
        """Someone subscribed to ``table``: a lazy root becomes active and is polled."""
        driver = self.driver
        if not isinstance(driver, PollingDriver):
            return
        with self.lock:
            try:
                newly = driver.activate(table)
            except DatasourceError:
                return
        if newly and self.threaded:
            self.request_refresh()

    # -- polling -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Poll a polling driver now and publish what changed (failures become last_error)."""
        driver = self.driver
        if not isinstance(driver, PollingDriver):
            return
        with self._poll_lock:
            started = time.perf_counter()
            try:
                driver.poll()
            except Exception as exc:
                LOG.exception("datasource %s: poll failed", self.name)
                driver.last_error = exc
            seconds = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.observe_poll(self.name, seconds, ok=driver.last_error is None)
            self.publish()

    def request_refresh(self) -> None:
        """Poll as soon as possible: wake the polling thread, or poll here without one."""
        driver = self.driver
        if not isinstance(driver, PollingDriver):
            return
        if self.threaded:
            with self.lock:
                driver.request_refresh()
            self._wake.set()
        else:
            self.poll()

    def _poll_loop(self) -> None:
        assert isinstance(self.driver, PollingDriver)
        while not self._stopping.is_set():
            self.poll()
            with self.lock:
                delay = self.driver.next_poll_delay()
            self._wake.wait(delay)
            self._wake.clear()

    def expire(self) -> None:
        with self.lock:
            try:
                removed = self.driver.expire()  # type: ignore[attr-defined]
            except Exception:
                LOG.exception("datasource %s: expiring old rows failed", self.name)
                return
        if removed:
            self.publish()
            self.persist(None)

    def _expire_loop(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            self.expire()

    # -- pushes and actions ------------------------------------------------------------------
    def _count_action(self, action: str, *, executed: bool) -> None:
        if self._metrics is not None:
            self._metrics.count_action(self.name, action, executed=executed)

    def _push_driver(self, what: str) -> PushDriver:
        if not isinstance(self.driver, PushDriver):
            raise NotSupported(f"datasource {self.name} does not accept {what}")
        return self.driver

    def replace_rows(self, table: str, body: Any) -> None:
        with self.lock:
            self._push_driver("pushed rows").replace_table(table, body)
        self.publish([table])
        self.persist([table])

    def webhook(self, payload: Any) -> list[str]:
        with self.lock:
            changed = self._push_driver("webhook notifications").webhook(payload)
        self.publish(changed)
        self.persist(changed)
        return changed

    def execute(self, action: str, positional: Sequence[Any], named: Mapping[str, Any]) -> Any:
        driver = self.driver
        try:
            with self.lock:
                result = driver.execute(action, positional, named)
        except UnknownAction:
            self._count_action(OTHER, executed=False)  # a name no one declares: not a label
            raise
        except Exception:
            self._count_action(action, executed=False)
            raise
        else:
            self._count_action(action, executed=True)
            return result
        finally:
            # a driver that asked for a refresh after acting (to show the action's effect)
            if isinstance(driver, PollingDriver) and driver.refresh_requested and self.threaded:
                self._wake.set()
