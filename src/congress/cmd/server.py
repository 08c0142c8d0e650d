"""``congress-server``: run Congress.

    congress-server [--config-file F ...] [--api] [--policy-engine] [--datasources]
                    [--node-id ID]

With no role flag every role runs in this one process (API, policy engine, datasource drivers,
the policy library); with no options at all it runs on the in-process bus and a SQLite file in
``state_path``, which it creates (``congress-db-manage upgrade head`` is needed only for other
databases). The API is served by uvicorn on ``bind_host:bind_port`` (ADRs 0003, 0008).

With ``transport_url`` the node joins the bus of its ``[dse] bus_id`` on oslo.messaging
(ADR 0005): the role flags then choose what runs here (``--api --policy-engine`` for an API
and policy engine node, ``--datasources`` for the datasources node); an API without a local
engine or datasources calls them on the nodes that run them. A node id held by a live process
on the bus is refused.

Signals (docs/operations.md):

- SIGTERM (and SIGINT) stop the node gracefully: the health check's details answer 503 at
  once, the listener closes (new connections are refused), change feeds end with a complete
  chunked answer, the requests in progress are answered (for up to
  ``graceful_shutdown_timeout`` seconds; a policy write is one database transaction, so it is
  done or not at all), then the services stop: notification delivery finishes the batch it
  sends (its outbox, the history, is in the database), the history recorder writes what it
  queued, the datasources' polls in progress finish (a poll replaces a table whole, so an
  abandoned one leaves nothing half written), the node leaves the bus and the database
  connections close. Exit status 0. A node that has not exited
  ``graceful_shutdown_timeout + STOP_ALLOWANCE`` seconds after the signal exits with status 1.
- SIGHUP reloads the configuration files: oslo.config applies the options marked mutable
  (``debug``, ``log_config_append`` and Congress's own: ``graceful_shutdown_timeout``,
  ``[api] min_revision_wait`` and ``healthcheck_revision_grace``, ``[watch]
  feed_keepalive_seconds``, every ``[enforcement]`` option) and logs each change; the others
  keep their value until a restart (oslo.config warns about each changed one).

Under systemd ``Type=notify`` the node sends ``READY=1`` once it serves, ``RELOADING=1`` and
``READY=1`` around a reload and ``STOPPING=1`` when it begins to stop
(``congress.common.systemd``; deploy/systemd/).
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from oslo_config import cfg

from congress.api import pipeline
from congress.api.asgi import WSGIBridge
from congress.api.services import Services
from congress.bus.transport import InProcessBus, Transport
from congress.common import config, systemd
from congress.common.memory import LongLivedFreezer, limit_malloc_arenas, resident_bytes
from congress.datalog.model import Limits
from congress.datasources.loader import DriverLoader
from congress.db import errors as db_errors
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors, quotas, rpc
from congress.services.datasources import DatasourceHost
from congress.services.enforcement import EnforcementOptions
from congress.services.health import Readiness
from congress.services.history import start_history
from congress.services.library import LibraryService
from congress.services.metrics import Metrics
from congress.services.notify import start_notifications
from congress.services.policy_engine import PolicyEngineService
from congress.services.replication import Replicator
from congress.services.sink import PolicyEngineSink, bus_executor
from congress.services.watch import ChangeFeed

LOG = logging.getLogger(__name__)
API_THREADS = 16
STOP_ALLOWANCE = 30.0
"""Seconds the services get to stop after the requests drained (``graceful_shutdown_timeout``),
before a node that has still not exited gives up (exit status 1)."""
ROLES = ("api", "policy_engine", "datasources")


@dataclass
class Node:
    """The services of one process and, with the API role, the WSGI application."""

    bus: Transport
    roles: frozenset[str]
    services: Services | None = None
    app: Any = None
    engine: PolicyEngineService | None = None
    host: DatasourceHost | None = None
    readiness: Readiness | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        self.stop_event.set()
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:
                LOG.exception("stopping a service failed")
        for t in self.threads:
            t.join(timeout=5)


def _prepare_database(url: str) -> None:
    if url.startswith("sqlite"):
        try:
            migration.upgrade(url)  # the single-process default needs no separate step
        except db_errors.UnsupportedSchema as exc:  # OpenStack Congress's, or unknown
            raise SystemExit(f"congress-server: {exc}") from None
        return
    if migration.current(url) != migration.head():
        raise SystemExit(
            "congress-server: the database schema is not current; run "
            "'congress-db-manage --config-file <your file> upgrade head' first"
        )


def roles_of(conf: cfg.ConfigOpts) -> frozenset[str]:
    """The roles this process runs: those flagged, or every one when none is."""
    flagged = {
        r
        for r, on in zip(ROLES, (conf.api_role, conf.policy_engine, conf.datasources), strict=True)
        if on
    }
    return frozenset(flagged or ROLES)


def make_bus(conf: cfg.ConfigOpts, roles: frozenset[str]) -> Transport:
    """The in-process bus for a lone all-roles process; oslo.messaging with ``transport_url``."""
    # oslo.messaging's own default (rabbit://) does not count: a lone process needs no broker
    # (nor the messaging library: loading it alone costs the API a third more p99 latency)
    url = config.configured_transport_url(conf)
    if not url:
        if roles != frozenset(ROLES):
            raise SystemExit(
                "congress-server: running only some roles (--api, --policy-engine, "
                "--datasources) needs a message bus shared by the nodes: set transport_url "
                "(e.g. rabbit://user:password@host:5672/) in [DEFAULT]"
            )
        return InProcessBus()
    from congress.bus import messaging

    messaging.set_defaults(conf)
    try:
        level = messaging.message_level(conf)
    except ValueError as exc:
        raise SystemExit(f"congress-server: {exc}") from None
    bus = messaging.MessagingBus(
        conf,
        node_id=conf.node_id,
        bus_id=conf.dse.bus_id,
        url=url,
        call_timeout=float(conf.dse.ping_timeout) * 2,
        level=level,
    )
    try:
        bus.start()
    except messaging.NodeIdInUse as exc:
        bus.stop()
        raise SystemExit(f"congress-server: {exc}") from None
    return bus


def build_node(conf: cfg.ConfigOpts, roles: frozenset[str] | None = None) -> Node:
    """Wire and start the services of this process's roles."""
    roles = roles_of(conf) if roles is None else roles
    url = config.database_url(conf)
    _prepare_database(url)
    if conf.replicated_policy_engine and url.startswith("sqlite"):
        LOG.warning("replicated_policy_engine with SQLite: only one node can use that database")
    database = make_engine(url)
    bus = make_bus(conf, roles)
    node = Node(bus, roles)
    node.stoppers.append(database.dispose)  # last: every service has stopped using it
    node.stoppers.append(getattr(bus, "stop", lambda: None))
    distributed = not isinstance(bus, InProcessBus)
    try:
        _start_services(conf, node, database, distributed)
    except BaseException:
        node.stop()
        raise
    LOG.info("node %s runs %s", conf.node_id, ", ".join(sorted(roles)))
    return node


def _start_services(conf: cfg.ConfigOpts, node: Node, database: Any, distributed: bool) -> None:
    bus, roles = node.bus, node.roles
    host = engine = library = sink = None
    if "datasources" in roles:
        allowed, disabled = config.allowed_drivers(conf)
        host = DatasourceHost(
            database,
            bus=bus,
            loader=DriverLoader(allowed, disabled, conf.custom_driver_endpoints),
            key_path=config.key_path(conf),
            clock=lambda: datetime.datetime.now(datetime.UTC),
            node_id=conf.node_id,
            sync_period=float(conf.datasource_sync_period),
            local_engine="policy_engine" in roles,
            request_timeout=float(conf.datasource_request_timeout),
            max_name_length=conf.limits.max_name_length,
        )
    if "policy_engine" in roles:
        engine = PolicyEngineService(
            database,
            clock=datetime.datetime.now,
            timer=time.monotonic,
            enable_execute_action=conf.enable_execute_action,
            executor=host.execute_request if host is not None else bus_executor(bus, conf.node_id),
            node_id=conf.node_id,
            limits=Limits(
                max_rows=conf.limits.max_derived_rows or None,
                max_seconds=conf.limits.max_evaluation_seconds or None,
                max_memory=(conf.limits.max_memory_mb << 20) or None,
            ),
            memory=resident_bytes,
            max_rule_length=conf.limits.max_rule_length,
            max_name_length=conf.limits.max_name_length,
            enforcement=enforcement_options(conf),
            quota_defaults=quotas.defaults(conf),
        )
        engine.start()
        sink = PolicyEngineSink(
            engine,
            bus,
            resync_after=float(conf.dse.time_to_resub),
            give_up=float(conf.dse.execute_action_retry_timeout),
        )
        sink.start(resync_period=1.0 if distributed else None)
        node.stoppers.append(sink.stop)
        if host is not None:
            sink.attach_host(host)
        engine.enforcement.start(engine.check_actions)
        node.stoppers.append(engine.enforcement.stop)
        if distributed:
            replicator = Replicator(engine, bus)
            replicator.start()
            node.stoppers.append(replicator.stop)
        library = LibraryService(database, engine)
        library.load_on_first_start(config.library_path(conf))
        if distributed:
            rpc.serve(
                bus,
                rpc.ENGINE,
                engine,
                rpc.ENGINE_METHODS,
                written_revision=engine.take_written_revision,
            )
            rpc.serve(
                bus,
                rpc.LIBRARY,
                library,
                rpc.LIBRARY_METHODS,
                written_revision=engine.take_written_revision,
            )
        period = float(conf.datasource_sync_period)
        if period > 0:
            t = threading.Thread(
                target=_sync_loop,
                args=(engine, period, node.stop_event),
                daemon=True,
                name="congress-policy-sync",
            )
            t.start()
            node.threads.append(t)
        node.engine = engine
    if host is not None:
        host.start()
        node.stoppers.append(host.stop)
        if distributed:
            rpc.serve(bus, rpc.DATASOURCES, host, rpc.DATASOURCE_METHODS)
        node.host = host
    if "api" in roles:
        services = Services(
            engine if engine is not None else rpc.RemoteEngine(bus),
            host
            if host is not None
            else rpc.Remote(
                bus,
                rpc.DATASOURCES,
                unavailable=errors.DatasourcesUnavailable,
                what="datasources node",
                spec=DatasourceHost,
                timeouts={"execute": float(conf.dse.long_timeout)},
            ),
            library
            if library is not None
            else rpc.Remote(
                bus,
                rpc.LIBRARY,
                unavailable=errors.EngineUnavailable,
                what="policy library",
                spec=LibraryService,
            ),
            min_revision_wait=float(conf.api.min_revision_wait),
            feed=None
            if engine is None
            else ChangeFeed(
                engine,
                buffer_events=conf.watch.feed_buffer_events,
                resume_seconds=float(conf.watch.feed_resume_seconds),
                max_watchers=conf.watch.max_watchers,
            ),
            feed_keepalive=float(conf.watch.feed_keepalive_seconds),
            project_drivers=tuple(conf.tenancy.project_drivers),
        )
        services.metrics = Metrics(
            engine=engine,
            host=services.datasources,
            sink=sink,
            project_labels=conf.tenancy.project_metrics,
        )
        if engine is not None:
            history = start_history(conf, database, engine, conf.node_id)
            node.stoppers.append(history.stop)
            services.history = history
        sinks = start_notifications(conf, database, services.history, conf.node_id)
        node.stoppers.append(sinks.stop)
        if engine is not None:
            engine.enforcement.notifier = sinks.emit
        services.sinks = sinks
        services.metrics.watch(services.feed, services.history)
        node.readiness = services.readiness = Readiness(
            database=database,
            bus=bus,
            engine=services.engine,
            datasources=services.datasources,
            revision_grace=float(conf.api.healthcheck_revision_grace),
        )
        node.stoppers.append(node.readiness.close)
        node.services = services
        node.app = pipeline.build(services, conf)


def enforcement_options(conf: cfg.ConfigOpts) -> EnforcementOptions:
    """``[enforcement]`` (docs/enforcement.md)."""
    group = conf.enforcement
    return EnforcementOptions(
        stale_guard=bool(group.stale_guard),
        max_hold_seconds=float(group.max_hold_seconds),
        action_grace_seconds=float(group.action_grace_seconds),
        breaker_max_actions=int(group.breaker_max_actions),
        breaker_interval=float(group.breaker_interval),
        breaker_max_fraction=float(group.breaker_max_fraction),
        breaker_min_rows=int(group.breaker_min_rows),
        check_interval=float(group.check_interval),
        conf=conf,  # [tenancy]: project_actions and the quota defaults
    )


def _freeze_loop(freezer: LongLivedFreezer, period: float, stop: threading.Event) -> None:
    """Freeze long-lived data after the process grew (``LongLivedFreezer``)."""
    while not stop.wait(period):
        try:
            if freezer.check():
                LOG.debug("froze long-lived objects (%d frozen)", gc.get_freeze_count())
        except Exception:
            LOG.exception("freezing long-lived objects failed")


def _sync_loop(engine: PolicyEngineService, period: float, stop: threading.Event) -> None:
    """Re-read policy from the database now and then: a missed change heals itself."""
    while not stop.wait(period):
        try:
            engine.sync()
        except Exception:
            LOG.exception("periodic policy synchronisation failed")


def _drain_timeout(conf: cfg.ConfigOpts) -> float | None:
    """``graceful_shutdown_timeout`` as uvicorn takes it (None: no limit)."""
    seconds = float(conf.graceful_shutdown_timeout)
    return seconds if seconds > 0 else None


def apply_mutable_options(conf: cfg.ConfigOpts, node: Node, server: _Server | None) -> None:
    """Put the current value of Congress's mutable options where the running node reads
    them (after a reload: ``reload_config``)."""
    services = node.services
    if services is not None:
        services.min_revision_wait = float(conf.api.min_revision_wait)
        services.feed_keepalive = float(conf.watch.feed_keepalive_seconds)
    if node.readiness is not None:
        node.readiness.revision_grace = float(conf.api.healthcheck_revision_grace)
    if node.engine is not None:
        node.engine.enforcement.options = enforcement_options(conf)
    if server is not None:
        server.config.timeout_graceful_shutdown = _drain_timeout(conf)  # type: ignore[assignment]


def reload_config(conf: cfg.ConfigOpts, node: Node, server: _Server | None) -> list[str]:
    """SIGHUP: read the configuration files again and apply the mutable options (oslo.log's
    ``debug`` and ``log_config_append`` through its own hook); the names of the options that
    changed. A file that cannot be read keeps the previous configuration."""
    systemd.reloading()
    LOG.info("reloading the configuration files (SIGHUP)")
    try:
        changed = conf.mutate_config_files()
    except Exception:
        LOG.exception("reloading the configuration failed: the previous one stays in effect")
        systemd.notify("READY=1", "STATUS=Serving (the last reload failed)")
        return []
    apply_mutable_options(conf, node, server)
    names = sorted(f"{group or 'DEFAULT'}.{name}" for group, name in changed)
    LOG.info(
        "configuration reloaded: %s",
        ", ".join(names) + " changed" if names else "no mutable option changed",
    )
    LOG.debug("configuration files read again: %s", ", ".join(conf.config_file or []) or "none")
    systemd.notify("READY=1", "STATUS=Serving")
    return names


class _Reloader:
    """Runs ``reload_config`` on its own thread when SIGHUP asks (a signal handler must not
    take the locks that reloading and logging take)."""

    def __init__(self, conf: cfg.ConfigOpts, node: Node) -> None:
        self.conf = conf
        self.node = node
        self.server: _Server | None = None
        self.wanted = threading.Event()
        self.reloads = 0
        self._thread = threading.Thread(target=self._run, name="congress-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, signum: int = signal.SIGHUP, frame: Any = None) -> None:
        self.wanted.set()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.node.stop_event.is_set():
                return
            try:
                reload_config(self.conf, self.node, self.server)
            except Exception:
                LOG.exception("reloading the configuration failed")
            self.reloads += 1


class _Server(uvicorn.Server):
    """uvicorn, which also tells the node (health check, systemd) and ends the change feeds
    when it is told to stop (they would otherwise hold the graceful shutdown for its whole
    timeout)."""

    def __init__(self, config: uvicorn.Config, bridge: WSGIBridge, node: Node) -> None:
        super().__init__(config)
        self.bridge = bridge
        self.node = node

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            systemd.notify("READY=1", "STATUS=Serving")

    def handle_exit(self, sig: int, frame: Any) -> None:
        LOG.info("stopping on signal %s: draining the requests in progress", sig)
        self.stop()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        _stopping(self.node)
        self.bridge.stop_streams()
        self.should_exit = True


def _stopping(node: Node) -> None:
    """The node begins to stop: its health check fails from now on; tell systemd."""
    if node.readiness is not None and not node.readiness.stopping:
        node.readiness.stopping = True
        systemd.notify("STOPPING=1", "STATUS=Stopping")


def _http_server(node: Node, conf: cfg.ConfigOpts) -> _Server:
    """The API's HTTP server: uvicorn in front of the WSGI pipeline (ADR 0008)."""
    bridge = WSGIBridge(node.app, threads=API_THREADS, max_body=conf.limits.max_request_body_size)
    LOG.info("Congress API on http://%s:%s", conf.bind_host, conf.bind_port)
    config = uvicorn.Config(
        bridge,
        host=conf.bind_host,
        port=conf.bind_port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        interface="asgi3",
        log_config=None,
        access_log=False,
        server_header=False,
        headers=[("server", "congress")],
        limit_concurrency=conf.max_simultaneous_requests,
        timeout_graceful_shutdown=_drain_timeout(conf),  # type: ignore[arg-type]
    )
    return _Server(config, bridge, node)


def _watchdog(conf: cfg.ConfigOpts) -> None:
    """Exit (status 1) if the node has not stopped ``graceful_shutdown_timeout +
    STOP_ALLOWANCE`` seconds from now (a service that does not stop must not keep the
    process, and its resources, for ever)."""
    drain = _drain_timeout(conf)
    if drain is None:
        return
    limit = drain + STOP_ALLOWANCE

    def expire() -> None:
        time.sleep(limit)
        LOG.error("the node did not stop within %g s: exiting now", limit)
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=expire, name="congress-stop-watchdog", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread starts (see congress.common.memory)
    conf = config.CONF
    config.init(list(sys.argv[1:] if argv is None else argv), conf=conf)
    node = build_node(conf)
    # what start-up made (modules, options, loaded policy) lives as long as the process: keep
    # it out of the collector's full passes, which otherwise walk it every few hundred
    # requests (the API's p99 latency doubled: docs/performance.md)
    gc.collect()
    gc.freeze()
    freezer = threading.Thread(
        target=_freeze_loop,
        args=(LongLivedFreezer(), 1.0, node.stop_event),
        daemon=True,
        name="congress-gc",
    )
    freezer.start()
    node.threads.append(freezer)
    stopping = threading.Event()
    server: _Server | None = None
    reloader = _Reloader(conf, node)

    def shutdown(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            LOG.info("stopping on signal %s", signum)
        stopping.set()
        _stopping(node)
        if server is not None:
            server.stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGHUP, reloader.request)
    reloader.start()
    try:
        if node.app is None:
            systemd.notify("READY=1", "STATUS=Serving")
            while not stopping.wait(1.0):
                pass
        else:
            server = reloader.server = _http_server(node, conf)
            if not stopping.is_set():
                server.run()
    finally:
        _stopping(node)
        systemd.notify("STOPPING=1", "STATUS=Stopping")
        _watchdog(conf)
        if server is not None:
            server.bridge.close(timeout=10.0)
        node.stop()
        reloader.request()  # let its thread end
        LOG.info("node %s stopped", conf.node_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
