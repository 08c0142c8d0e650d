"""``congress-server``: run Congress.

    congress-server [--config-file F ...] [--api] [--policy-engine] [--datasources]
                    [--node-id ID]

With no role flag every role runs in this one process (API, policy engine, datasource drivers,
the policy library), on the in-process bus; with no options at all it runs on a SQLite file in
``state_path``, which it creates (``congress-db-manage upgrade head`` is needed only for other
databases). The API is served by waitress on ``bind_host:bind_port`` (ADR 0003).

Several processes on RabbitMQ (the role flags) come with issue 4; until then a role flag that
leaves out a role this build needs in the same process is refused with a clear message.
"""

from __future__ import annotations

import datetime
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg

from congress.api import pipeline
from congress.api.services import Services
from congress.bus.transport import InProcessBus
from congress.common import config
from congress.datasources.loader import DriverLoader
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.datasources import DatasourceHost
from congress.services.library import LibraryService
from congress.services.policy_engine import PolicyEngineService
from congress.services.sink import PolicyEngineSink

LOG = logging.getLogger(__name__)
API_THREADS = 16


@dataclass
class Node:
    """The services of one process and the WSGI application serving them."""

    services: Services
    app: Any
    sink: PolicyEngineSink
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def stop(self) -> None:
        self.stop_event.set()
        self.sink.stop()
        if self.services.datasources is not None:
            self.services.datasources.stop()
        for t in self.threads:
            t.join(timeout=5)


def _prepare_database(url: str) -> None:
    if url.startswith("sqlite"):
        migration.upgrade(url)  # the single-process default needs no separate step
        return
    if migration.current(url) != migration.head():
        raise SystemExit(
            "congress-server: the database schema is not current; run "
            "'congress-db-manage --config-file <your file> upgrade head' first"
        )


def build_node(conf: cfg.ConfigOpts) -> Node:
    """Wire every service of a single-process node and start them."""
    url = config.database_url(conf)
    _prepare_database(url)
    database = make_engine(url)
    bus = InProcessBus()
    allowed, disabled = config.allowed_drivers(conf)
    host = DatasourceHost(
        database,
        bus=bus,
        loader=DriverLoader(allowed, disabled, conf.custom_driver_endpoints),
        key_path=config.key_path(conf),
        clock=lambda: datetime.datetime.now(datetime.UTC),
        node_id=conf.node_id,
        sync_period=float(conf.datasource_sync_period),
    )
    engine = PolicyEngineService(
        database,
        clock=datetime.datetime.now,
        timer=time.monotonic,
        enable_execute_action=conf.enable_execute_action,
        executor=host.execute_request,
        node_id=conf.node_id,
    )
    engine.start()
    sink = PolicyEngineSink(engine, bus)
    sink.start()
    host.start()
    library = LibraryService(database, engine)
    library.load_on_first_start(config.library_path(conf))
    services = Services(engine, host, library)
    node = Node(services, pipeline.build(services, conf), sink)
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
    return node


def _sync_loop(engine: PolicyEngineService, period: float, stop: threading.Event) -> None:
    """Re-read policy from the database now and then: a missed change heals itself."""
    while not stop.wait(period):
        try:
            engine.sync()
        except Exception:
            LOG.exception("periodic policy synchronisation failed")


def main(argv: Sequence[str] | None = None) -> int:
    conf = config.CONF
    config.init(list(sys.argv[1:] if argv is None else argv), conf=conf)
    roles = [r for r in ("api", "policy_engine", "datasources") if conf[r]]
    if roles and set(roles) != {"api", "policy_engine", "datasources"}:
        LOG.error("running only some roles (%s) needs the multi-process mode", ", ".join(roles))
        print(
            "congress-server: separate role processes are not available yet; "
            "run without role flags for the single-process server",
            file=sys.stderr,
        )
        return 2
    node = build_node(conf)
    import waitress  # type: ignore[import-untyped]

    LOG.info("Congress API on http://%s:%s", conf.bind_host, conf.bind_port)
    server = waitress.create_server(
        node.app,
        host=conf.bind_host,
        port=conf.bind_port,
        threads=API_THREADS,
        connection_limit=conf.max_simultaneous_requests,
        ident="congress",
    )

    def shutdown(signum: int, frame: Any) -> None:
        LOG.info("stopping on signal %s", signum)
        server.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        server.run()
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
