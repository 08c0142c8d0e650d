"""Datasource tables into a policy engine: ``PolicyEngineSink``; and ``bus_executor``.

Imports: the standard library, congress.bus and congress.services (policy_engine,
datasource_execution).

``PolicyEngineSink(engine, bus)`` watches the bus's directory of publishers. For each
datasource announced it makes the datasource policy (``ensure_datasource`` with the announced
schema) and subscribes to its tables with a ``Subscriber``: to every table except those the
announcement calls lazy (the tables of a driver's ``lazy_tables``), which it subscribes to only
once a rule of this engine reads them (``PolicyEngineService.referenced_tables``, checked
whenever rules are added); the subscription is what makes the driver poll them. The snapshot
replaces the table in the engine (``replace``), deltas go in as batches (``receive``), each
named by its activation ``datasource:table:epoch:seqnum`` (the first snapshot of a subscription
by none: its rows held before and fire no action; ADR 0005). A datasource announced later is
subscribed to when it is announced; one that goes away is unsubscribed and its policy dropped
(its rows leave every policy). An announcement whose name belongs to a policy that is not a
datasource policy is refused with an error in the log.

``check()`` heals gaps left by lost messages and sends again the action requests no datasource
has acknowledged (``start(resync_period=...)`` runs it in a daemon thread; the in-process bus
loses nothing, so a single process needs no thread). A subscription that has not applied,
``BEHIND_GRACE`` after a publisher's heartbeat named it, the number that heartbeat named (a
lost message, not messages in flight) asks for a snapshot at once; a peer joining or expiring
sends the unacknowledged requests at once; the ``action_done`` event acknowledges one.

Bus lag: after applying a snapshot or delta that carries its send time, the sink tells its
lag listeners (``add_lag_listener``: metrics) how long ago, on ``wall_clock``, it was sent.

``bus_executor(bus, node_id)`` is an executor for ``PolicyEngineService`` that sends each
action request over the bus (for a datasource host in another process); in one process the
host's ``execute_request`` can be the executor directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from congress.bus import Announcement, ExecuteRequest, Subscriber, Transport
from congress.bus.messages import Row
from congress.bus.pubsub import DEFAULT_RESYNC_AFTER
from congress.services.datasource_execution import ACTION_DONE
from congress.services.datasources import STALE_INFO
from congress.services.policy_engine import PolicyEngineService

LOG = logging.getLogger(__name__)

BEHIND_GRACE = 1.0
"""Seconds a subscription may stay behind its publisher's heartbeat (messages in flight)."""

SUBSCRIBER_ID = "__engine"
"""The name under which a policy engine subscribes (the original's service id)."""


class PolicyEngineSink:
    """Feeds a policy engine service with every datasource's tables from the bus."""

    def __init__(
        self,
        engine: PolicyEngineService,
        bus: Transport,
        *,
        resync_after: float = DEFAULT_RESYNC_AFTER,
        clock: Callable[[], float] = time.monotonic,
        resend_after: float = 2.0,
        give_up: float = 600.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._wall_clock = wall_clock
        self._lag_listeners: list[Callable[[str, float], None]] = []
        self._resend_after = resend_after
        self._give_up = give_up
        self._engine = engine
        self._bus = bus
        self._resync_after = resync_after
        self._clock = clock
        self._lock = threading.RLock()
        self._schemas: dict[str, Mapping[str, tuple[str, ...]]] = {}
        self._subs: dict[str, dict[str, Subscriber]] = {}  # datasource -> table -> subscriber
        self._lazy: dict[str, frozenset[str]] = {}  # datasource -> tables taken only when read
        self._lazy_lock = threading.Lock()
        self._lazy_pending = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # per table behind its publisher: since when, and the (epoch, seqnum) it was behind
        self._behind: dict[tuple[str, str], tuple[float, tuple[int, int]]] = {}
        # the stale datasources each datasources node's heartbeat names (by node id)
        self._remote_stale: dict[str, dict[str, str]] = {}
        # datasources re-snapshotted from a new publisher (a failover, a restart): since when
        self._resnapshot: dict[str, float] = {}
        self._host: Any = None  # a DatasourceHost of this very process
        # guards the two above; a leaf lock: enforcement asks under the engine's lock
        self._stale_lock = threading.Lock()
        engine.enforcement.add_staleness_source(self.stale_datasources)

    def start(self, resync_period: float | None = None) -> None:
        """Watch the directory (subscribing to every datasource present now); with
        ``resync_period``, run ``check`` that often in a daemon thread."""
        self._stopping.clear()
        self._engine.add_rules_listener(self._rules_added)
        self._bus.listen(ACTION_DONE, self._on_action_done)
        self._bus.watch_services(self.on_announcement)
        self._bus.watch_peers(self._on_peer)
        if resync_period and self._thread is None:
            self._thread = threading.Thread(
                target=self._check_loop, args=(resync_period,), name="congress-sink", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop watching and unsubscribe (the engine keeps the data it has)."""
        self._bus.unwatch_services(self.on_announcement)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            for tables in self._subs.values():
                for sub in tables.values():
                    sub.stop()
            self._subs.clear()
            self._schemas.clear()

    def add_lag_listener(self, listener: Callable[[str, float], None]) -> None:
        """Call ``listener(publisher, seconds)`` after each table message applied to the engine
        that carries its send time: the seconds from its sending to now (never negative)."""
        self._lag_listeners.append(listener)

    def _applied(self, publisher: str, sent_at: float | None) -> None:
        if sent_at is None or not self._lag_listeners:
            return
        lag = max(0.0, self._wall_clock() - sent_at)
        for listener in self._lag_listeners:
            try:
                listener(publisher, lag)
            except Exception:
                LOG.exception("a lag listener failed")

    def subscriptions(self) -> dict[str, list[str]]:
        """The tables subscribed to, by datasource."""
        with self._lock:
            return {ds: sorted(tables) for ds, tables in sorted(self._subs.items())}

    def check(self) -> int:
        """Ask for a snapshot wherever a gap has been open too long, and send again the
        action requests no datasource has acknowledged; returns how many snapshots."""
        with self._lock:
            subs = [s for tables in self._subs.values() for s in tables.values()]
        asked = sum(sub.check() for sub in subs)
        self._engine.resend_pending(after=self._resend_after, give_up=self._give_up)
        return asked

    def _on_action_done(self, body: dict[str, Any]) -> None:
        key = body.get("key")
        if isinstance(key, str) and key:
            self._engine.acknowledge(key)

    def _check_loop(self, period: float) -> None:
        while not self._stopping.wait(period):
            try:
                self.check()
            except Exception:
                LOG.exception("checking the datasource subscriptions failed")

    def attach_host(self, host: Any) -> None:
        """The ``DatasourceHost`` of this process: its datasources' staleness is read directly
        (one process sends no heartbeats)."""
        self._host = host

    def stale_datasources(self) -> dict[str, str]:
        """``{datasource: why}`` of the datasources whose data this engine cannot trust now
        (the actions that depend on them wait: congress.services.enforcement): failing or not
        polled yet (the datasources node says so), being re-snapshotted after a failover, or a
        subscription without its first snapshot, missing messages or behind its publisher."""
        out: dict[str, str] = {}
        local: dict[str, str] | None = None
        local_names: set[str] = set()
        if self._host is not None:
            local = dict(self._host.staleness())
            local_names = set(self._host.published())
            out.update(local)
        with self._stale_lock:
            for stale in self._remote_stale.values():
                for name, why in stale.items():
                    out.setdefault(name, str(why))
            for name in list(self._resnapshot):
                if local is not None and name in local_names and name not in local:
                    del self._resnapshot[name]  # it runs here, and its data is fresh
                else:
                    out.setdefault(name, "is being re-snapshotted after a failover")
        # copies under the GIL: no subscriber's lock here (a subscriber applies under its
        # lock and then waits for the engine's, which the caller may hold)
        for name, tables in list(self._subs.items()):
            for table, sub in list(tables.items()):
                if sub.last_seqnum is None:
                    out.setdefault(name, f"has not sent its first snapshot of {table}")
                elif (name, table) in self._behind:
                    out.setdefault(name, f"is behind its publisher for {table}")
        return out

    def _heard_staleness(self, event: str, peer: Any) -> None:
        node = str(getattr(peer, "node_id", ""))
        info = getattr(peer, "info", {}) or {}
        with self._stale_lock:
            if event == "expired":
                self._remote_stale.pop(node, None)
                return
            stale = info.get(STALE_INFO)
            if event != "beat" or not isinstance(stale, dict):
                return
            self._remote_stale[node] = {str(k): str(v) for k, v in stale.items()}
            published = info.get("tables") or {}
            for name in list(self._resnapshot):
                if name in published and name not in stale:
                    LOG.info("datasource %s is fresh again after its re-snapshot", name)
                    del self._resnapshot[name]

    def _on_peer(self, event: str, peer: Any) -> None:
        """A publisher's heartbeat names the last number of each table: a subscription still
        behind it a grace period later lost a message, and asks for a snapshot at once."""
        self._heard_staleness(event, peer)
        if event in ("joined", "expired"):
            # a datasources node came (back), or a leader went: send what waits at once
            self._engine.resend_pending(after=0.0, give_up=self._give_up)
            return
        if event != "beat":
            return
        tables = getattr(peer, "info", {}).get("tables") or {}
        now = self._clock()
        stale = []
        with self._lock:
            for ds, states in tables.items():
                subs = self._subs.get(ds, {})
                for table, state in dict(states).items():
                    sub = subs.get(table)
                    if sub is None:
                        continue
                    key = (ds, table)
                    epoch, seqnum = int(state[0]), int(state[1])
                    at = (
                        None
                        if sub.epoch is None or sub.last_seqnum is None
                        else (sub.epoch, sub.last_seqnum)
                    )
                    if at is not None and at >= (epoch, seqnum):
                        self._behind.pop(key, None)
                        continue
                    since, target = self._behind.get(key, (now, (epoch, seqnum)))
                    if at is not None and at >= target:
                        # it applied what it lacked a beat ago: messages in flight under
                        # load, not a lost one; measure again from the newer number
                        since, target = now, (epoch, seqnum)
                    if now - since >= BEHIND_GRACE:
                        del self._behind[key]
                        stale.append(sub)
                    else:
                        self._behind[key] = (since, target)
        for sub in stale:
            LOG.info("%s:%s fell behind; asking for a snapshot", sub.publisher, sub.table)
            sub.resync()

    # -- announcements -----------------------------------------------------------------------
    def on_announcement(self, announcement: Announcement) -> None:
        with self._lock:
            if announcement.present:
                self._lazy[announcement.publisher] = frozenset(announcement.lazy)
                self._attach(announcement.publisher, announcement.schema)
            else:
                self._detach(announcement.publisher)

    def _attach(self, name: str, schema: Mapping[str, tuple[str, ...]]) -> None:
        engine = self._engine
        with engine.lock:
            rt = engine.runtime
            if rt.policy_exists(name) and rt.kind(name) != "datasource":
                LOG.error("datasource %s has the name of a policy: its data is ignored", name)
                return
        if self._schemas.get(name) == schema and name in self._subs:
            return
        engine.ensure_datasource(name, {t: list(c) for t, c in schema.items()})
        old_schema = self._schemas.get(name, {})
        self._schemas[name] = dict(schema)
        tables = self._subs.setdefault(name, {})
        for table in list(tables):
            if schema.get(table) != old_schema.get(table):
                tables.pop(table).stop()
        lazy = self._lazy.get(name, frozenset())
        wanted = self._engine.referenced_tables(name) if lazy else set()
        for table in schema:
            if table not in tables and (table not in lazy or table in wanted):
                sub = self._subscriber(name, table)
                tables[table] = sub
                sub.start()

    def subscribe_read_lazy_tables(self) -> None:
        """Subscribe to the lazy tables that rules now read."""
        with self._lock:
            for name, schema in list(self._schemas.items()):
                lazy = self._lazy.get(name, frozenset())
                tables = self._subs.get(name)
                if not lazy or tables is None:
                    continue
                for table in sorted(self._engine.referenced_tables(name) & lazy):
                    if table in schema and table not in tables:
                        LOG.info("a rule reads %s:%s: subscribing", name, table)
                        sub = self._subscriber(name, table)
                        tables[table] = sub
                        sub.start()

    def _rules_added(self) -> None:
        # called under the engine's lock: subscribing (which may wait for a snapshot from
        # another process) happens in a short-lived thread, one at a time
        if self._stopping.is_set() or not any(self._lazy.values()):
            return
        with self._lazy_lock:
            if self._lazy_pending:
                return
            self._lazy_pending = True
        threading.Thread(target=self._lazy_once, name="congress-sink-lazy", daemon=True).start()

    def _lazy_once(self) -> None:
        with self._lazy_lock:
            self._lazy_pending = False
        try:
            self.subscribe_read_lazy_tables()
        except Exception:
            LOG.exception("subscribing to lazy tables failed")

    def _detach(self, name: str) -> None:
        self._lazy.pop(name, None)
        for sub in self._subs.pop(name, {}).values():
            sub.stop()
        if self._schemas.pop(name, None) is not None:
            self._engine.drop_datasource(name)

    def _subscriber(self, name: str, table: str) -> Subscriber:
        engine = self._engine
        holder: list[Subscriber] = []

        def activation() -> str:
            epoch, seqnum = holder[0].applying
            return f"{name}:{table}:{epoch}:{seqnum}"

        def replace(rows: frozenset[Row]) -> None:
            # the first snapshot holds what was there before (an engine or datasource start):
            # it fires no action; a later one (a gap healed, a failover) fires what it adds
            first = holder[0].snapshots_applied == 0
            old_epoch = holder[0].epoch
            if not first and old_epoch is not None and holder[0].applying[0] != old_epoch:
                # a new publisher (a failover, a restart): its data may be partial until its
                # first poll; the actions depending on it wait until it is known to be fresh
                LOG.warning("datasource %s: re-snapshotted from a new publisher", name)
                with self._stale_lock:
                    self._resnapshot[name] = self._clock()
            engine.replace(name, table, rows, activation=None if first else activation())
            self._applied(name, holder[0].applying_sent_at)

        def receive(inserts: frozenset[Row], deletes: frozenset[Row]) -> None:
            engine.receive(name, table, inserts, deletes, activation=activation())
            self._applied(name, holder[0].applying_sent_at)

        sub = Subscriber(
            self._bus,
            name,
            table,
            on_snapshot=replace,
            on_delta=receive,
            subscriber=SUBSCRIBER_ID,
            resync_after=self._resync_after,
            clock=self._clock,
        )
        holder.append(sub)
        return sub


def bus_executor(bus: Transport, node_id: str = "") -> Callable[[ExecuteRequest], None]:
    """An executor for ``PolicyEngineService`` that sends each request over ``bus`` (to the
    node that runs the datasource)."""

    def send(request: ExecuteRequest) -> None:
        bus.send_execute(request)

    return send
