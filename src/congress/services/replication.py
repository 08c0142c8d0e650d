"""Replicated policy engines: ``Replicator`` keeps one engine in step with the others.

Imports: the standard library, congress.bus and congress.services.policy_engine.

The database is the source of truth (ADR 0005). After every change an engine writes, it
broadcasts ``policy_changed`` with the new revision; every engine that hears a revision newer
than its own reads the database's changes since (``PolicyEngineService.sync``). Each engine
also sends its revision in its heartbeats, so an engine that missed a broadcast (the broker
was restarting) catches up within a heartbeat of hearing a peer ahead of it; the periodic
``datasource_sync_period`` synchronisation stays as the last resort.

Synchronisation runs in one thread of its own, so a burst of notifications costs one read of
the database, and the bus's threads never wait for the engine's lock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from congress.bus import Transport
from congress.services.policy_engine import PolicyEngineService

LOG = logging.getLogger(__name__)

POLICY_CHANGED = "policy_changed"


class Replicator:
    def __init__(self, engine: PolicyEngineService, bus: Transport) -> None:
        self._engine = engine
        self._bus = bus
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._target = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._engine.add_write_listener(self._announce)
        self._bus.listen(POLICY_CHANGED, self._on_change)
        self._bus.add_heartbeat_info("revision", lambda: self._engine.revision)
        self._bus.watch_peers(self._on_peer)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="congress-replicator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _announce(self, revision: int) -> None:
        self._bus.broadcast(POLICY_CHANGED, {"revision": revision})

    def _on_change(self, body: dict[str, Any]) -> None:
        self._want(body.get("revision"))

    def _on_peer(self, event: str, peer: Any) -> None:
        if event == "beat":
            self._want(getattr(peer, "info", {}).get("revision"))

    def _want(self, revision: Any) -> None:
        try:
            rev = int(revision)
        except (TypeError, ValueError):
            return
        if rev > self._engine.revision:
            self._target = max(self._target, rev)
            self._wanted.set()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping.is_set():
                return
            self._wanted.clear()
            try:
                self._engine.sync()
            except Exception:
                LOG.exception("applying the policy changes of other engines failed")
                self._stopping.wait(1.0)
                self._wanted.set()
