"""Safe enforcement: what happens to an ``execute[...]`` row between its derivation and the
driver (docs/enforcement.md, ADR 0010).

Imports: the standard library, oslo.config, SQLAlchemy's ``Engine`` type, congress.bus
(messages), congress.common (options), congress.datalog (AST, model types and names),
congress.db and congress.services (errors, quotas).

A policy engine hands each batch's new action requests to ``Enforcement.handle`` (under the
engine's lock). Each request, in this order:

0. **project policies** (``<name>@<project>``, docs/tenancy.md): an action that is not in
   ``[tenancy] project_actions`` (``driver:action``) is recorded as ``refused``; so is one
   that, when it would be sent (after steps 1 to 5, before the breaker counts it), would go
   over the project's ``actions_per_hour`` quota (``congress.services.quotas``), counted over
   the last hour in the execution log (every engine's). A project's action is recorded as
   ``requested`` before it is sent, so the next one counts it. The datasource host then runs
   it only if the driver says its target belongs to the project (``Driver.target_project``).
1. **dry-run**: the policy is in dry-run (``PATCH /v1/policies/<p>``): recorded as
   ``would_execute``; nothing is called.
2. **execution disabled** (``enable_execute_action = False``): recorded as ``logged``.
3. **breaker open**: recorded as ``blocked_by_breaker`` (with the reason it tripped).
4. **grace**: the policy's ``action_grace_seconds`` (or ``[enforcement]
   action_grace_seconds``) is above 0: recorded as ``deferred``; when the grace ends it goes
   on from step 1 if its ``execute`` row still holds, else it is ``cancelled``.
5. **stale data**: a datasource that the rules deriving the action read (directly, or through
   other policies' tables) is failing, has not completed its first poll, or is being
   re-snapshotted (the ``staleness`` sources): recorded as ``held`` and re-checked every
   ``check`` (``[enforcement] check_interval``); it runs when its data is fresh again and its
   row still holds (``cancelled`` when it no longer holds, ``expired`` after
   ``max_hold_seconds``).
6. **breaker**: at most ``breaker_max_actions`` per ``breaker_interval`` seconds per (policy,
   driver), and, when the largest table the action's rules read has at least
   ``breaker_min_rows`` rows, at most ``breaker_max_fraction`` of its rows acted on by one
   batch. Going over trips the policy's breaker: persisted (every node sees it), logged at
   ERROR, notified (``congress.breaker.tripped``) by the node that tripped it first; every
   later action of the policy is ``blocked_by_breaker`` until ``POST
   /v1/policies/<p>/breaker?action=reset``.
7. the request is sent to the driver (the datasource host records ``started``, then
   ``executed`` with the driver's answer or ``failed`` with the error).

An action's entry in the execution log has the action's identity as its id, the same on every
engine (``policy_engine.action_key``): the engines of a replicated deployment record each
action once, and a ``deferred`` or ``held`` entry moves on by compare-and-set
(``transition_execution``): to ``requested``, which the datasource host claims.
"""

from __future__ import annotations

import collections
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from oslo_config import cfg
from sqlalchemy.engine import Engine as DbEngine

from congress.bus.messages import ExecuteRequest
from congress.common import opts as common_opts
from congress.datalog import names
from congress.datalog.model import ActionRequest
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db.executions import FINAL
from congress.db.records import ActionExecution, PolicySettings
from congress.services import quotas

LOG = logging.getLogger(__name__)

BREAKER_EVENT = "congress.breaker.tripped"
"""The event type of the notification sent when a breaker trips."""

Staleness = Callable[[], Mapping[str, str]]
"""A source of stale datasources: ``{datasource: why}`` (empty: all fresh)."""
Notifier = Callable[[str, dict[str, Any]], object]


def action_text(service: str, action: str, args: Sequence[Any]) -> str:
    """An action as the logs show it: ``nova:pause('vm1')``."""
    return f"{service}:{action}({', '.join(map(repr, args))})"


QUOTA_WINDOW = datetime.timedelta(hours=1)
"""The window of a project's ``actions_per_hour`` quota."""


def project_action(service: str, action: str) -> str:
    """An action as ``[tenancy] project_actions`` names it: ``nova:servers.pause`` (the
    datasource's name without any ``@<project>``)."""
    return f"{names.base_of(service)}:{action}"


def not_allowed(service: str, action: str) -> str:
    """The detail of an action a project's policy may not ask for."""
    return f"action {project_action(service, action)} is not allowed for project policies"


def over_quota(limit: int) -> str:
    """The detail of an action over its project's ``actions_per_hour``."""
    return f"quota_exceeded: actions_per_hour ({limit})"


_DEFAULT_CONF: cfg.ConfigOpts | None = None


def _tenancy_defaults() -> cfg.ConfigOpts:
    """A configuration with ``[tenancy]`` at its defaults (for options without ``conf``)."""
    global _DEFAULT_CONF
    if _DEFAULT_CONF is None:
        conf = cfg.ConfigOpts()
        conf.register_opts(common_opts.tenancy_opts, group=common_opts.TENANCY_GROUP)
        _DEFAULT_CONF = conf
    return _DEFAULT_CONF


@dataclass(frozen=True, slots=True)
class EnforcementOptions:
    """``[enforcement]`` (congress.common.opts)."""

    stale_guard: bool = True
    max_hold_seconds: float = 3600.0
    """A held action older than this is recorded as ``expired`` (0: held for ever)."""
    action_grace_seconds: float = 0.0
    breaker_max_actions: int = 100
    """At most this many actions per ``breaker_interval`` per (policy, driver) (0: no limit)."""
    breaker_interval: float = 60.0
    breaker_max_fraction: float = 0.5
    """At most this fraction of a table's rows acted on by one batch (0: no limit)."""
    breaker_min_rows: int = 10
    """The fraction rule applies to tables of at least this many rows."""
    check_interval: float = 1.0
    project_actions: frozenset[str] | None = None
    """``[tenancy] project_actions``: the actions (``driver:action``) a project's policy may
    ask for; None: those of ``conf`` (none without it)."""
    conf: cfg.ConfigOpts | None = field(default=None, compare=False)
    """The configuration whose ``[tenancy]`` gives the projects' default quotas (under the
    database's ``project_quotas``) and, unless ``project_actions`` is set, the allow-list;
    None: the options' defaults."""

    def tenancy_conf(self) -> cfg.ConfigOpts:
        """The configuration of ``[tenancy]`` (``conf``, or one at the defaults)."""
        return self.conf if self.conf is not None else _tenancy_defaults()

    def allowed_project_actions(self) -> frozenset[str]:
        """The actions a project's policy may ask for."""
        if self.project_actions is not None:
            return self.project_actions
        if self.conf is None:
            return frozenset()
        try:
            listed = self.conf.tenancy.project_actions
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            return frozenset()
        return frozenset(str(a).strip() for a in listed or ())


class EngineAccess(Protocol):
    """What enforcement needs of its policy engine (called under the engine's lock)."""

    def policy_id(self, policy: str) -> str | None: ...

    def action_holds(self, req: ActionRequest) -> bool: ...

    def action_inputs(self, req: ActionRequest) -> tuple[set[str], int]: ...

    def dispatch_action(self, request: ExecuteRequest) -> None: ...

    def announce_revision(self, revision: int) -> None: ...

    def current_revision(self) -> int: ...


@dataclass(slots=True)
class Pending:
    """An action that waits: ``deferred`` until ``due``, or ``held`` since ``since``."""

    req: ActionRequest
    request: ExecuteRequest
    activation: str
    status: str
    since: float
    due: float


@dataclass(slots=True)
class _Item:
    req: ActionRequest
    request: ExecuteRequest
    activation: str
    pending: Pending | None = None


@dataclass(slots=True)
class _Batch:
    dispatch: list[_Item] = field(default_factory=list)


@dataclass(slots=True)
class _Budget:
    """A project's ``actions_per_hour`` while one batch is sent: the limit (0: none) and the
    actions counted so far (None: the quota could not be read)."""

    limit: int
    used: int | None


class Enforcement:
    """The safe-enforcement state of one policy engine (see the module's documentation)."""

    def __init__(
        self,
        database: DbEngine,
        engine: EngineAccess,
        *,
        options: EnforcementOptions | None = None,
        node_id: str = "",
        execute_enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self._db = database
        self._engine = engine
        self.options = options or EnforcementOptions()
        self._node_id = node_id
        self._execute_enabled = execute_enabled
        self._clock = clock
        self._wall_clock = wall_clock
        self._settings: dict[str, PolicySettings] = {}  # by policy name
        self._cursor = 0
        self._windows: dict[tuple[str, str], collections.deque[float]] = {}
        self._pending: dict[str, Pending] = {}  # by action key
        self._staleness: list[Staleness] = []
        self.notifier: Notifier | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- configuration -------------------------------------------------------------------
    def add_staleness_source(self, source: Staleness) -> None:
        """Ask ``source()`` which datasources are stale (it must not block)."""
        self._staleness.append(source)

    def stale_datasources(self) -> dict[str, str]:
        """Every stale datasource and why (from every source)."""
        out: dict[str, str] = {}
        for source in self._staleness:
            try:
                for name, why in source().items():
                    out.setdefault(name, why)
            except Exception:
                LOG.exception("a staleness source failed")
        return out

    # -- settings ------------------------------------------------------------------------
    def refresh(self, *, reload: bool = False, current: int | None = None) -> None:
        """Read the settings changed since the last read (all of them with ``reload``).
        ``current``: the policy revision the caller has just read; every settings change bumps
        it, so when it is not past the last read there is nothing to read."""
        if reload:
            self._settings.clear()
            self._cursor = 0
        elif current is not None and current <= self._cursor:
            return
        try:
            at, changed = db.policy_settings_since(self._db, self._cursor)
        except db_errors.DBError as exc:
            LOG.warning("could not read the policies' enforcement settings: %s", exc)
            return
        for settings in changed:
            self.apply(settings)
        self._cursor = max([self._cursor, at, *(s.revision for s in changed)])

    def apply(self, settings: PolicySettings) -> None:
        """Use ``settings`` (read from, or just written to, the database)."""
        old = self._settings.get(settings.policy_name)
        if old is not None and old.revision > settings.revision:
            return
        self._settings[settings.policy_name] = settings
        was_open = old is not None and old.breaker_state == "open"
        if settings.breaker_state == "open" and not was_open:
            LOG.warning(
                "policy %s: circuit breaker open (%s): its actions are blocked",
                settings.policy_name,
                settings.breaker_reason,
            )
        elif settings.breaker_state != "open" and was_open:
            LOG.warning("policy %s: circuit breaker closed", settings.policy_name)
            for key in [k for k in self._windows if k[0] == settings.policy_name]:
                del self._windows[key]
        if old is not None and old.dry_run != settings.dry_run:
            LOG.warning(
                "policy %s: dry-run %s", settings.policy_name, "on" if settings.dry_run else "off"
            )

    def settings(self, policy: str) -> PolicySettings:
        """The settings of a live policy (the defaults when it has none)."""
        pid = self._engine.policy_id(policy) or ""
        found = self._settings.get(policy)
        if found is None or found.policy_id != pid:
            return PolicySettings(pid, policy)
        return found

    def grace(self, settings: PolicySettings) -> float:
        if settings.action_grace_seconds is not None:
            return settings.action_grace_seconds
        return self.options.action_grace_seconds

    def window_counts(self, policy: str) -> dict[str, int]:
        """Actions sent in the current breaker interval, by driver."""
        now = self._clock()
        out = {}
        for (name, service), times in self._windows.items():
            if name == policy:
                self._expire(times, now)
                if times:
                    out[service] = len(times)
        return out

    def pending(self) -> list[Pending]:
        """The deferred and held actions, oldest first."""
        return sorted(self._pending.values(), key=lambda p: p.since)

    # -- actions -------------------------------------------------------------------------
    def handle(self, items: Iterable[tuple[ActionRequest, ExecuteRequest, str]]) -> None:
        """New action requests ``(request, execute request, activation)`` of one batch."""
        self._process([_Item(req, request, activation) for req, request, activation in items])

    def check(self) -> int:
        """Move on the deferred actions whose grace has ended and re-check the held ones;
        returns how many were decided (sent, cancelled, expired, blocked)."""
        now = self._clock()
        stale = self.stale_datasources() if self._pending else {}
        due: list[_Item] = []
        for key, p in list(self._pending.items()):
            if p.status == "deferred" and p.due > now:
                continue
            if p.status == "held":
                limit = self.options.max_hold_seconds
                if limit > 0 and now - p.since >= limit:
                    del self._pending[key]
                    self._transition(
                        p.request,
                        ("held",),
                        "expired",
                        f"held for {limit:g} s while its data was stale; not run",
                    )
                    continue
                if self._stale_reason(p.req, stale) is not None and self._engine.action_holds(
                    p.req
                ):
                    continue  # still stale and still wanted: keep holding it
            due.append(_Item(p.req, p.request, p.activation, p))
        self._process(due)
        return len(due)

    def _process(self, items: Sequence[_Item]) -> None:
        if not items:
            return
        stale = self.stale_datasources() if self.options.stale_guard else {}
        ready: list[_Item] = []
        for item in items:
            req = item.req
            if item.pending is not None:
                self._pending.pop(item.request.key, None)
                if not self._engine.action_holds(req):
                    self._transition(
                        item.request,
                        ("deferred", "held"),
                        "cancelled",
                        "its execute row no longer holds",
                    )
                    LOG.info(
                        "%s of policy %s cancelled: its row no longer holds",
                        action_text(req.service, req.action, req.args),
                        req.policy,
                    )
                    continue
            if names.project_of(req.policy) is not None and (
                project_action(req.service, req.action)
                not in self.options.allowed_project_actions()
            ):
                self._final(item, "refused", not_allowed(req.service, req.action))
                continue
            settings = self.settings(req.policy)
            if settings.dry_run:
                self._final(item, "would_execute", "the policy is in dry-run")
                continue
            if not self._execute_enabled:
                self._final(item, "logged", "execution is disabled (enable_execute_action)")
                continue
            if settings.breaker_state == "open":
                self._final(item, "blocked_by_breaker", settings.breaker_reason)
                continue
            grace = self.grace(settings)
            if item.pending is None and grace > 0:
                self._wait(item, "deferred", f"waits {grace:g} s before it runs", grace)
                continue
            why = self._stale_reason(req, stale) if self.options.stale_guard else None
            if why is not None:
                self._wait(item, "held", why, 0.0)
                continue
            ready.append(item)
        self._breaker(ready)

    def _stale_reason(self, req: ActionRequest, stale: Mapping[str, str]) -> str | None:
        if not stale:
            return None
        sources, _ = self._engine.action_inputs(req)
        for name in sorted(sources):
            if name in stale:
                return f"datasource {name} {stale[name]}"
        return None

    def _wait(self, item: _Item, status: str, detail: str, grace: float) -> None:
        now = self._clock()
        key = item.request.key
        if item.pending is None:
            self._record(item, status, detail)
            self._pending[key] = Pending(
                item.req, item.request, item.activation, status, now, now + grace
            )
        else:
            if item.pending.status != status:
                self._transition(item.request, (item.pending.status,), status, detail)
                item.pending.status, item.pending.since = status, now
            self._pending[key] = item.pending
        if status == "held":
            LOG.warning(
                "action %s of policy %s held: %s",
                action_text(item.req.service, item.req.action, item.req.args),
                item.req.policy,
                detail,
            )

    def _breaker(self, items: Sequence[_Item]) -> None:
        opts = self.options
        now = self._clock()
        tripped: dict[str, str] = {}
        per_action: dict[tuple[str, str, str], list[_Item]] = collections.defaultdict(list)
        for item in items:
            per_action[(item.req.policy, item.req.service, item.req.action)].append(item)
        if opts.breaker_max_fraction > 0:
            for (policy, service, action), group in per_action.items():
                if policy in tripped:
                    continue
                _, rows = self._engine.action_inputs(group[0].req)
                n = len(group)
                if rows >= max(1, opts.breaker_min_rows) and n > opts.breaker_max_fraction * rows:
                    tripped[policy] = (
                        f"{n} {service}:{action} actions at once, more than "
                        f"{opts.breaker_max_fraction:g} of the {rows} rows their rules read"
                    )
                    self._trip(policy, tripped[policy], {"batch": {f"{service}:{action}": n}})
        budgets: dict[str, _Budget] = {}
        keys = {item.request.key for item in items}
        for item in items:
            policy, service = item.req.policy, item.req.service
            project = names.project_of(policy)
            if project is not None and policy not in tripped:
                budget = self._budget(project, budgets, keys)
                why = self._over_budget(budget)
                if why is not None:
                    self._final(item, "refused", why)
                    continue
            if policy not in tripped and opts.breaker_max_actions > 0:
                times = self._windows.setdefault((policy, service), collections.deque())
                self._expire(times, now)
                if len(times) >= opts.breaker_max_actions:
                    tripped[policy] = (
                        f"more than {opts.breaker_max_actions} {service} actions within "
                        f"{opts.breaker_interval:g} s"
                    )
                    counts = {"window": self.window_counts(policy)}
                    counts["window"][service] = len(times) + 1
                    self._trip(policy, tripped[policy], counts)
            if policy in tripped:
                self._final(item, "blocked_by_breaker", tripped[policy])
                continue
            if opts.breaker_max_actions > 0:
                self._windows.setdefault((policy, service), collections.deque()).append(now)
            if project is not None:
                budget = budgets[project]
                if budget.used is not None:
                    budget.used += 1
            self._send(item)

    def _budget(self, project: str, budgets: dict[str, _Budget], keys: set[str]) -> _Budget:
        """``project``'s quota and the actions its policies sent within the last hour (from
        the execution log, leaving out this batch's ``keys``), read once per batch."""
        budget = budgets.get(project)
        if budget is not None:
            return budget
        try:
            limit = quotas.effective(
                self.options.tenancy_conf(), self._db, project
            ).actions_per_hour
            used = 0
            if limit > 0:
                since = self._wall_clock() - QUOTA_WINDOW
                used = db.count_project_executions(self._db, project, since, exclude=keys)
            budget = _Budget(limit, used)
        except db_errors.DBError as exc:
            LOG.error("project %s: cannot read its actions_per_hour quota: %s", project, exc)
            budget = _Budget(0, None)
        budgets[project] = budget
        return budget

    @staticmethod
    def _over_budget(budget: _Budget) -> str | None:
        if budget.used is None:
            return "quota_unavailable: actions_per_hour could not be read"
        if budget.limit > 0 and budget.used >= budget.limit:
            return over_quota(budget.limit)
        return None

    def _expire(self, times: collections.deque[float], now: float) -> None:
        while times and now - times[0] >= self.options.breaker_interval:
            times.popleft()

    def _trip(self, policy: str, reason: str, counts: dict[str, Any]) -> None:
        """Open ``policy``'s breaker here at once, then in the database (for every node)."""
        current = self.settings(policy)
        when = self._wall_clock()
        self._settings[policy] = PolicySettings(
            current.policy_id,
            policy,
            current.dry_run,
            current.action_grace_seconds,
            "open",
            reason,
            when,
            self._node_id,
            counts,
            current.revision,
        )
        LOG.error("policy %s: circuit breaker tripped: %s; its actions stop", policy, reason)
        if not current.policy_id:
            return
        try:
            settings, opened = db.trip_breaker(
                self._db,
                current.policy_id,
                reason=reason,
                counts=counts,
                node_id=self._node_id or None,
                when=when,
            )
        except db_errors.DBError as exc:
            LOG.error("policy %s: could not record the breaker's trip: %s", policy, exc)
            return
        self._settings[policy] = settings
        if not opened:
            return
        self._engine.announce_revision(settings.revision)
        if self.notifier is not None:
            payload = {
                "policy": policy,
                "reason": reason,
                "tripped_at": when.isoformat(),
                "node": self._node_id,
                "counts": counts,
            }
            try:
                self.notifier(BREAKER_EVENT, payload)
            except Exception:
                LOG.exception("policy %s: could not notify the breaker's trip", policy)

    # -- the execution log ---------------------------------------------------------------
    def _send(self, item: _Item) -> None:
        request = item.request
        if item.pending is None and names.project_of(request.policy or "") is not None:
            # in the log before it is sent: the project's next action counts it (any engine)
            if self._record(item, "requested", None) is False and self._decided(request):
                return  # another engine decided it otherwise
        elif item.pending is not None:
            moved = self._transition(request, (item.pending.status,), "requested", None)
            if moved is None and self._decided(request):
                return  # another engine decided it otherwise
        LOG.info(
            "requesting %s from policy %s (action %s, %s)",
            action_text(request.service, request.action, request.positional),
            request.policy,
            request.key,
            item.activation,
        )
        self._engine.dispatch_action(request)

    def _decided(self, request: ExecuteRequest) -> bool:
        """Whether the request's entry of the log has a final status (another engine's)."""
        try:
            status = db.get_execution(self._db, request.key).status
        except db_errors.DBError:
            return False
        return status in FINAL

    def _final(self, item: _Item, status: str, detail: str | None) -> None:
        LOG.info(
            "%s of policy %s: %s (%s)",
            action_text(item.req.service, item.req.action, item.req.args),
            item.req.policy,
            status,
            detail,
        )
        if item.pending is not None:
            self._transition(item.request, (item.pending.status,), status, detail)
        else:
            self._record(item, status, detail)

    def _record(self, item: _Item, status: str, detail: str | None) -> bool | None:
        """Append the action to the log: True; False when it is there already (another
        engine's), None when the log cannot be written."""
        request = item.request
        try:
            db.record_execution(
                self._db,
                execution_id=request.key,
                policy=request.policy,
                datasource=request.service,
                action=request.action,
                args={"positional": list(request.positional), "named": dict(request.named)},
                revision=self._engine.current_revision(),
                derivation=f"execute[{request.service}:{request.action}] {item.activation}",
                node_id=self._node_id or None,
                status=status,
                detail=detail,
            )
        except db_errors.DuplicateId:
            return False  # another engine recorded the same action
        except db_errors.DBError:
            LOG.exception("could not log the action %s", request.key)
            return None
        return True

    def _transition(
        self, request: ExecuteRequest, from_statuses: Sequence[str], status: str, detail: str | None
    ) -> ActionExecution | None:
        try:
            return db.transition_execution(self._db, request.key, from_statuses, status, detail)
        except db_errors.DBError:
            LOG.exception("could not log the action %s as %s", request.key, status)
            return None

    # -- the thread ----------------------------------------------------------------------
    def start(self, run: Callable[[], object]) -> None:
        """Call ``run()`` (the engine's ``check_actions``) every ``check_interval`` seconds."""
        if self._thread is not None or self.options.check_interval <= 0:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(run,), name="congress-enforcement", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10.0)

    def _loop(self, run: Callable[[], object]) -> None:
        while not self._stopping.wait(self.options.check_interval):
            try:
                run()
            except Exception:
                LOG.exception("checking the waiting actions failed")


def breaker_body(
    policy: str, settings: PolicySettings, options: EnforcementOptions, live: Mapping[str, int]
) -> dict[str, Any]:
    """The answer of ``GET /v1/policies/<p>/breaker``."""
    tripped = settings.breaker_tripped_at
    return {
        "policy": policy,
        "state": settings.breaker_state,
        "reason": settings.breaker_reason,
        "tripped_at": None if tripped is None else tripped.isoformat(),
        "tripped_by": settings.breaker_tripped_by,
        "counts": {"window": dict(live), "at_trip": settings.breaker_counts},
        "limits": {
            "max_actions": options.breaker_max_actions,
            "interval_seconds": options.breaker_interval,
            "max_fraction": options.breaker_max_fraction,
            "min_rows": options.breaker_min_rows,
        },
    }


def execution_body(e: ActionExecution) -> dict[str, Any]:
    """One entry of ``GET /v1/executions``."""
    return {
        "id": e.id,
        "time": e.created_at.isoformat(),
        "updated_at": None if e.updated_at is None else e.updated_at.isoformat(),
        "policy": e.policy,
        "driver": e.datasource,
        "action": e.action,
        "args": e.args,
        "status": e.status,
        "detail": e.detail,
        "result": e.result,
        "node": e.node_id,
    }
