"""Whether this node can serve: the deep readiness check behind ``GET /healthcheck?details=true``.

``Readiness.check()`` answers ``{"status", "detailed", "reasons", "checks", "datasources",
"policy_errors"}``; ``status`` is ``"OK"`` (HTTP 200) or ``"UNAVAILABLE"`` (503). Only what
stops this node from answering correctly fails it:

- ``database``: the database does not answer a read of the policy revision (within
  ``timeout`` seconds);
- ``bus``: on a multi-process node, its own heartbeats no longer come back through the broker
  (``MessagingBus.connected``); the in-process bus always passes;
- ``policy_engine``: the node's policy engine has not applied a policy revision that the
  database had ``revision_grace`` seconds ago (it answers with stale policy), or, on an API
  node without a local engine, the engine does not answer;
- ``stopping``: the node received SIGTERM and is draining its requests.

The datasources' freshness (age of the last update and the last successful poll, the last
error) and the policies in an error state are listed but never fail the check: a failing
cloud or a policy over its budget is not something another API node would answer better.

``reasons`` follows oslo.middleware's detailed healthcheck: one ``{reason, details, class}``
per check, ``reason`` being ``"OK"`` or what is wrong.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from congress.db import revisions

LOG = logging.getLogger(__name__)

OK = "OK"
UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Check:
    """One condition: its name, whether it passes, and what was seen."""

    name: str
    ok: bool
    details: str
    fails: bool = True  # False: listed only, never fails the check

    def reason(self) -> dict[str, str]:
        """oslo.middleware's detailed form of a result."""
        return {
            "reason": OK if self.ok else self.details,
            "details": self.details,
            "class": self.name,
        }


class Readiness:
    """The readiness of one node (see the module's documentation).

    ``database`` is the node's SQLAlchemy engine, ``bus`` its transport, ``engine`` its policy
    engine (local or ``rpc.RemoteEngine``; None on a node without the API), ``datasources`` its
    datasource host (local or remote; None when none is reachable from here).
    """

    def __init__(
        self,
        *,
        database: Any,
        bus: Any = None,
        engine: Any = None,
        datasources: Any = None,
        revision_grace: float = 30.0,
        timeout: float = 3.0,
        timer: Callable[[], float] = time.monotonic,
        read_revision: Callable[[Any], int] = revisions.current_revision,
    ) -> None:
        self.database = database
        self.bus = bus
        self.engine = engine
        self.datasources = datasources
        self.revision_grace = revision_grace
        self.timeout = timeout
        self.stopping = False
        self._timer = timer
        self._read_revision = read_revision
        self._lock = threading.Lock()
        # the oldest revision of the database this node's engine has not applied yet, and
        # when it was first seen
        self._behind: tuple[int, float] | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="congress-health")
        self._pending: concurrent.futures.Future[int] | None = None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the conditions ----------------------------------------------------------------------
    def _database(self) -> tuple[Check, int | None]:
        """Read the policy revision, within ``timeout`` (a database that hangs fails too)."""
        with self._lock:
            pending = self._pending
            if pending is None or pending.done():
                pending = self._pending = self._pool.submit(self._read_revision, self.database)
        try:
            revision = pending.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            return Check("database", False, f"no answer within {self.timeout:g} s"), None
        except Exception as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Check("database", False, f"unreachable: {text[:300]}"), None
        return Check("database", True, f"reachable; policy revision {revision}"), revision

    def _bus(self) -> Check:
        connected = getattr(self.bus, "connected", None)
        if not callable(connected):
            return Check("bus", True, "in-process bus")
        try:
            ok, why = connected()
        except Exception as exc:
            return Check("bus", False, f"unknown: {exc}")
        return Check("bus", bool(ok), str(why))

    def _engine_revision(self) -> int:
        engine = self.engine
        call = getattr(engine, "call", None)
        if callable(call):  # another node's engine: do not wait for it as long as a request
            return int(call("current_revision", timeout=self.timeout))
        return int(engine.current_revision())

    def _policy_engine(self, database_revision: int | None) -> Check:
        if self.engine is None:
            return Check("policy_engine", True, "no policy engine on this node")
        try:
            applied = self._engine_revision()
        except Exception as exc:
            return Check("policy_engine", False, f"does not answer: {exc}")
        if database_revision is None:  # the database check already fails
            return Check("policy_engine", True, f"applied policy revision {applied}")
        now = self._timer()
        with self._lock:
            if applied >= database_revision:
                self._behind = None
                return Check("policy_engine", True, f"applied policy revision {applied}")
            if self._behind is None or applied >= self._behind[0]:
                self._behind = (database_revision, now)
            wanted, since = self._behind
        late = now - since
        details = (
            f"applied policy revision {applied}; the database had revision {wanted} "
            f"{late:.1f} s ago"
        )
        return Check("policy_engine", late <= self.revision_grace, details)

    def _freshness(self) -> tuple[list[dict[str, Any]], str | None]:
        host = self.datasources
        if host is None:
            return [], None
        try:
            remote = getattr(host, "call", None)
            found = (
                remote("freshness", timeout=self.timeout)
                if remote is not None
                else host.freshness()
            )
        except Exception as exc:
            return [], f"the datasources did not answer: {exc}"
        return list(found), None

    def _policy_errors(self) -> dict[str, Any]:
        if self.engine is None:
            return {}
        try:
            remote = getattr(self.engine, "call", None)
            if remote is not None:
                return dict(remote("policy_errors", timeout=self.timeout))
            return dict(self.engine.policy_errors())
        except Exception as exc:
            LOG.debug("health: policy errors unknown: %s", exc)
            return {}

    # -- the answer --------------------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """The detailed answer (see the module's documentation)."""
        checks: list[Check] = []
        if self.stopping:
            checks.append(Check("stopping", False, "the node is stopping"))
        database, revision = self._database()
        checks += [database, self._bus(), self._policy_engine(revision)]
        datasources, unknown = self._freshness()
        if unknown is not None:
            checks.append(Check("datasources", False, unknown, fails=False))
        ok = all(c.ok for c in checks if c.fails)
        return {
            "status": OK if ok else UNAVAILABLE,
            "detailed": True,
            "reasons": [c.reason() for c in checks],
            "checks": {c.name: {"ok": c.ok, "details": c.details} for c in checks},
            "datasources": datasources,
            "policy_errors": self._policy_errors(),
        }
