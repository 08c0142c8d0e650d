"""Execute requests on the datasource host: local-leader choice and one worker thread.

Imports: the standard library, SQLAlchemy's ``Engine`` type, congress.bus, congress.datalog
(names), congress.datasources (the driver type) and congress.db.

Policy engines derive ``execute[...]`` rows under their own lock and hand each request to an
executor; the host must not call a driver from there (a poll in progress holds the driver's
lock while it feeds the engine). So ``ExecutionWorker.submit`` only queues the request, and a
daemon thread runs the queue in order. Before it is started (and after it is stopped) a
request runs in the caller's thread.

``record_execution`` appends a request's outcome to the execution log (the policy engine has
recorded it as ``requested`` already; the host records failures, and the API's executions).

Local leader (reference 1.5): with replicated policy engines every engine sends the same
requests; for each datasource the first engine heard (by ``node_id``) becomes its leader and
requests of other engines are dropped until ``forget_node`` (called when the leader's node
stops heartbeating). A host whose own node runs a policy engine follows that one
(``local_leader``).

A request of a project's policy (``<name>@<project>``, docs/tenancy.md) runs only if the
driver says its target belongs to that project (``target_refusal`` asks
``Driver.target_project``); otherwise it is recorded as ``refused``, with the same detail
whether the target is another project's, missing, or cannot be told.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from congress.bus import ExecuteRequest
from congress.datalog import names
from congress.datasources.driver import Driver
from congress.db import api as db
from congress.db import errors as db_errors

LOG = logging.getLogger(__name__)

JOIN_TIMEOUT = 10.0

ACTION_DONE = "action_done"
"""The event (``{key, status}``) by which a datasource host tells every policy engine that an
action has run, failed, or had run already: the engines stop sending it."""


class ExecutionWorker:
    """Runs accepted execute requests with ``run`` (which must not raise), in order."""

    def __init__(
        self, run: Callable[[ExecuteRequest], None], *, local_leader: str | None = None
    ) -> None:
        self._run = run
        self._local_leader = local_leader
        self._cond = threading.Condition()
        self._queue: collections.deque[ExecuteRequest | None] = collections.deque()
        self._busy = 0
        self._thread: threading.Thread | None = None
        self._leaders: dict[str, str] = {}

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="congress-execute", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Run what is queued, then stop the thread."""
        with self._cond:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.append(None)
            self._cond.notify_all()
        thread.join(JOIN_TIMEOUT)
        if thread.is_alive():
            LOG.warning("the execution thread did not stop in time")

    def leader(self, service: str) -> str | None:
        with self._cond:
            return self._leaders.get(service)

    def forget_leader(self, service: str | None = None) -> None:
        with self._cond:
            if service is None:
                self._leaders.clear()
            else:
                self._leaders.pop(service, None)

    def forget_node(self, node_id: str) -> None:
        """The policy engine of ``node_id`` has gone: it leads nothing any more."""
        with self._cond:
            for service in [s for s, n in self._leaders.items() if n == node_id]:
                LOG.info("leader %s of %s has gone; the next engine heard leads", node_id, service)
                del self._leaders[service]

    def submit(self, request: ExecuteRequest) -> bool:
        """Queue a request; False if it was dropped (it does not come from the leader)."""
        with self._cond:
            if self._local_leader is not None:
                leader = self._local_leader  # the engine of this very node leads
            else:
                leader = self._leaders.setdefault(request.service, request.node_id)
            if request.node_id != leader:
                LOG.debug(
                    "dropping %s:%s from %r: %r is the leader",
                    request.service,
                    request.action,
                    request.node_id,
                    leader,
                )
                return False
            if self._thread is not None:
                self._busy += 1
                self._queue.append(request)
                self._cond.notify_all()
                return True
        self._run(request)
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued request has run; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                request = self._queue.popleft()
            if request is None:
                return
            try:
                self._run(request)
            except Exception:  # ``run`` should not raise; the thread must survive anyway
                LOG.exception("executing %s:%s failed", request.service, request.action)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()


def record_execution(
    database: DbEngine,
    request: ExecuteRequest,
    status: str,
    detail: str | None,
    node_id: str,
    result: Any = None,
) -> None:
    """Append to the execution log (with the driver's answer ``result``); a failure to write
    is logged, never raised."""
    try:
        db.record_execution(
            database,
            datasource=request.service,
            action=request.action,
            args={"positional": list(request.positional), "named": dict(request.named)},
            policy=request.policy,
            node_id=request.node_id or node_id,
            status=status,
            detail=detail,
            result=result,
        )
    except (db_errors.DBError, TypeError, ValueError):
        LOG.exception("could not record the execution of %s:%s", request.service, request.action)


def foreign_target(request: ExecuteRequest) -> str:
    """The detail of a project's action whose target is not the project's (never saying
    whose it is, or whether it exists)."""
    return (
        f"the target of {names.base_of(request.service)}:{request.action} "
        "does not belong to the project"
    )


def target_refusal(request: ExecuteRequest, driver: Driver) -> str | None:
    """Why ``request`` may not run on ``driver`` (None: it may): the request of a project's
    policy whose target the driver does not place in that project (``target_project`` None,
    another project, or failing). Requests of global policies and of the API run as before.
    The caller serialises calls to the driver."""
    project = names.project_of(request.policy) if request.policy else None
    if project is None:
        return None
    try:
        owner = driver.target_project(request.action, request.positional, request.named)
    except Exception:
        LOG.exception(
            "the target of %s:%s (action %s) could not be told",
            request.service,
            request.action,
            request.key,
        )
        owner = None
    if owner is not None and owner == project:
        return None
    LOG.warning(
        "refusing %s:%s (action %s) of policy %s: its target is not the project's",
        request.service,
        request.action,
        request.key,
        request.policy,
    )
    return foreign_target(request)
