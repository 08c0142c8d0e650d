"""The transport interface of the bus, and ``InProcessBus``, its implementation in one process.

Imports: the standard library and congress.bus.messages.

A ``Transport`` carries four things (reference 1.2, DESIGN.md "Tables on the bus", "Actions"):

- table messages: ``publish`` fans a ``TableSnapshot``/``TableDelta`` out to the handlers that
  ``subscribe``\\d to its (publisher, table); a subscriber asks the publisher for the current
  snapshot with ``request_snapshot`` (answered by the provider the publisher gave
  ``serve_tables``; None while the publisher has not published the table or is unknown);
- the directory of publishers: ``announce`` an ``Announcement`` (a datasource and its schema, or
  that it has gone); ``watch_services`` hands a handler every announcement from then on, after
  replaying those of the publishers present now;
- execute requests: ``send_execute`` hands an ``ExecuteRequest`` to the handler that the named
  service registered with ``serve_executions`` (``NoSuchService`` when none did);
- who subscribes: ``subscribers(publisher)`` names the subscribers of a publisher's tables, and
  the ``on_subscribe`` callback of ``serve_tables`` hears of each new subscription (lazy tables).

``InProcessBus`` calls handlers synchronously, in the publishing thread, outside its own lock;
a handler that raises is logged and the others still get the message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from congress.bus.messages import Announcement, ExecuteRequest, TableMessage, TableSnapshot

LOG = logging.getLogger(__name__)

TableHandler = Callable[[TableMessage], None]
SnapshotProvider = Callable[[str], TableSnapshot | None]
SubscribeHook = Callable[[str], None]
AnnouncementHandler = Callable[[Announcement], None]
ExecuteHandler = Callable[[ExecuteRequest], None]
RpcHandler = Callable[[str, dict[str, Any]], Any]
"""A named service's calls: ``handler(method, kwargs)`` answers JSON and never raises."""
EventHandler = Callable[[dict[str, Any]], None]
PeerHandler = Callable[[str, Any], None]
"""``handler(event, peer)``: ``joined``, ``beat`` or ``expired`` of another node."""


class NoSuchService(LookupError):
    """No node on the bus offers that service (or executes that datasource's actions)."""


class BusUnavailable(RuntimeError):
    """The bus could not deliver a call or did not get its answer in time."""


class Transport(Protocol):
    def publish(self, message: TableMessage) -> None: ...

    def subscribe(
        self, publisher: str, table: str, handler: TableHandler, *, subscriber: str = ""
    ) -> None: ...

    def unsubscribe(self, publisher: str, table: str, handler: TableHandler) -> None: ...

    def request_snapshot(self, publisher: str, table: str) -> TableSnapshot | None: ...

    def serve_tables(
        self,
        publisher: str,
        provider: SnapshotProvider,
        on_subscribe: SubscribeHook | None = None,
    ) -> None: ...

    def stop_serving_tables(self, publisher: str) -> None: ...

    def subscribers(self, publisher: str) -> list[str]: ...

    def announce(self, announcement: Announcement) -> None: ...

    def watch_services(self, handler: AnnouncementHandler) -> None: ...

    def unwatch_services(self, handler: AnnouncementHandler) -> None: ...

    def services(self) -> list[Announcement]: ...

    def send_execute(self, request: ExecuteRequest) -> None: ...

    def serve_executions(self, service: str, handler: ExecuteHandler) -> None: ...

    def stop_serving_executions(self, service: str) -> None: ...

    def serve_rpc(self, service: str, handler: RpcHandler) -> None: ...

    def stop_serving_rpc(self, service: str) -> None: ...

    def offers(self, service: str) -> bool: ...

    def call(
        self,
        service: str,
        method: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any: ...

    def broadcast(self, kind: str, body: Mapping[str, Any]) -> None: ...

    def listen(self, kind: str, handler: EventHandler) -> None: ...

    def watch_peers(self, handler: PeerHandler) -> None: ...

    def add_heartbeat_info(self, key: str, provider: Callable[[], Any]) -> None: ...


class LocalHandlers:
    """What one process has registered with its bus, shared by both transports: the table
    subscriptions (handler and subscriber name per (publisher, table)), the event listeners,
    and delivery to them (a handler that raises is logged, the others still run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[tuple[str, str], list[tuple[TableHandler, str]]] = {}
        self._listeners: dict[str, list[EventHandler]] = {}

    def subscribe(self, publisher: str, table: str, handler: TableHandler, subscriber: str) -> bool:
        """Add a subscription; False if that handler had it already."""
        with self._lock:
            handlers = self._subs.setdefault((publisher, table), [])
            if any(h == handler for h, _ in handlers):
                return False
            handlers.append((handler, subscriber))
            return True

    def unsubscribe(self, publisher: str, table: str, handler: TableHandler) -> None:
        with self._lock:
            handlers = self._subs.get((publisher, table), [])
            handlers[:] = [(h, s) for h, s in handlers if h != handler]
            if not handlers:
                self._subs.pop((publisher, table), None)

    def subscriptions(self) -> dict[str, dict[str, list[str]]]:
        """``{publisher: {table: [subscriber names]}}``."""
        with self._lock:
            out: dict[str, dict[str, list[str]]] = {}
            for (pub, table), handlers in self._subs.items():
                out.setdefault(pub, {})[table] = sorted({s for _, s in handlers if s})
            return out

    def deliver(self, message: TableMessage) -> None:
        with self._lock:
            handlers = [h for h, _ in self._subs.get((message.publisher, message.table), ())]
        for handler in handlers:
            try:
                handler(message)
            except Exception:
                LOG.exception(
                    "a subscriber of %s:%s failed on message %d",
                    message.publisher,
                    message.table,
                    message.seqnum,
                )

    def listen(self, kind: str, handler: EventHandler) -> None:
        with self._lock:
            self._listeners.setdefault(kind, []).append(handler)

    def dispatch(self, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            handlers = list(self._listeners.get(kind, ()))
        for handler in handlers:
            try:
                handler(dict(body))
            except Exception:
                LOG.exception("a listener of %s failed", kind)


def tell(handler: AnnouncementHandler, announcement: Announcement) -> None:
    """Hand an announcement to a directory watcher; a watcher that raises is logged."""
    try:
        handler(announcement)
    except Exception:
        LOG.exception("a watcher failed on the announcement of %s", announcement.publisher)


class InProcessBus:
    """A ``Transport`` within one process: every call is a direct, synchronous call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = LocalHandlers()
        self._providers: dict[str, tuple[SnapshotProvider, SubscribeHook | None]] = {}
        self._services: dict[str, Announcement] = {}
        self._watchers: list[AnnouncementHandler] = []
        self._executors: dict[str, ExecuteHandler] = {}
        self._rpc: dict[str, RpcHandler] = {}

    # -- tables ------------------------------------------------------------------------------
    def publish(self, message: TableMessage) -> None:
        self._local.deliver(message)

    def subscribe(
        self, publisher: str, table: str, handler: TableHandler, *, subscriber: str = ""
    ) -> None:
        if not self._local.subscribe(publisher, table, handler, subscriber):
            return
        with self._lock:
            hook = self._providers.get(publisher, (None, None))[1]
        if hook is not None:
            try:
                hook(table)
            except Exception:
                LOG.exception("publisher %s failed to hear of a subscription", publisher)

    def unsubscribe(self, publisher: str, table: str, handler: TableHandler) -> None:
        self._local.unsubscribe(publisher, table, handler)

    def request_snapshot(self, publisher: str, table: str) -> TableSnapshot | None:
        with self._lock:
            provider = self._providers.get(publisher, (None, None))[0]
        return None if provider is None else provider(table)

    def serve_tables(
        self,
        publisher: str,
        provider: SnapshotProvider,
        on_subscribe: SubscribeHook | None = None,
    ) -> None:
        with self._lock:
            self._providers[publisher] = (provider, on_subscribe)

    def stop_serving_tables(self, publisher: str) -> None:
        with self._lock:
            self._providers.pop(publisher, None)

    def subscribers(self, publisher: str) -> list[str]:
        tables = self._local.subscriptions().get(publisher, {})
        return sorted({name for names in tables.values() for name in names})

    # -- the directory -----------------------------------------------------------------------
    def announce(self, announcement: Announcement) -> None:
        with self._lock:
            if announcement.present:
                self._services[announcement.publisher] = announcement
            else:
                self._services.pop(announcement.publisher, None)
            watchers = list(self._watchers)
        for watcher in watchers:
            tell(watcher, announcement)

    def watch_services(self, handler: AnnouncementHandler) -> None:
        with self._lock:
            if handler in self._watchers:
                return
            self._watchers.append(handler)
            present = list(self._services.values())
        for announcement in present:
            tell(handler, announcement)

    def unwatch_services(self, handler: AnnouncementHandler) -> None:
        with self._lock:
            self._watchers = [w for w in self._watchers if w != handler]

    def services(self) -> list[Announcement]:
        with self._lock:
            return sorted(self._services.values(), key=lambda a: a.publisher)

    # -- execute requests --------------------------------------------------------------------
    def send_execute(self, request: ExecuteRequest) -> None:
        with self._lock:
            handler = self._executors.get(request.service)
        if handler is None:
            raise NoSuchService(f"no service {request.service} executes actions on the bus")
        handler(request)

    def serve_executions(self, service: str, handler: ExecuteHandler) -> None:
        with self._lock:
            self._executors[service] = handler

    def stop_serving_executions(self, service: str) -> None:
        with self._lock:
            self._executors.pop(service, None)

    # -- named services and events (one process: direct calls; no peers) ---------------------
    def serve_rpc(self, service: str, handler: RpcHandler) -> None:
        with self._lock:
            self._rpc[service] = handler

    def stop_serving_rpc(self, service: str) -> None:
        with self._lock:
            self._rpc.pop(service, None)

    def offers(self, service: str) -> bool:
        with self._lock:
            return service in self._rpc

    def call(
        self,
        service: str,
        method: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        with self._lock:
            handler = self._rpc.get(service)
        if handler is None:
            raise NoSuchService(f"no service {service} on the bus")
        return handler(method, dict(kwargs or {}))

    def broadcast(self, kind: str, body: Mapping[str, Any]) -> None:
        self._local.dispatch(kind, dict(body))

    def listen(self, kind: str, handler: EventHandler) -> None:
        self._local.listen(kind, handler)

    def watch_peers(self, handler: PeerHandler) -> None:
        """No other node is ever heard in one process."""

    def add_heartbeat_info(self, key: str, provider: Callable[[], Any]) -> None:
        """One process sends no heartbeats."""
