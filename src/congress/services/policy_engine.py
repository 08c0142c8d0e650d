"""The policy engine service: one ``Runtime`` kept in step with the database.

May import congress.datalog, congress.db, congress.common and the standard library.

The database is the source of truth for policies and rules. A change goes:

1. checked against the runtime without applying it (``Runtime.check``: parse, analysis, graph);
2. written to the database in one transaction at a new revision, on the condition that the
   revision is still the one this engine has applied (``expected_revision``); when another
   engine wrote first (``StaleRevision``) this one catches up and tries again;
3. applied to the runtime. A change the runtime refuses at this point (an evaluation budget)
   is removed from the database again and the error raised.

``sync`` applies every change since the last applied revision (other engines' writes, or a
missed notification); it runs before each write and periodically. Data of datasources reaches
the runtime through ``receive``; every batch's ``execute[...]`` requests are recorded in the
execution log and handed to ``executor`` (or only logged when execution is disabled).

Every public method takes the service's lock: the runtime is not thread-safe and its calls are
short.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session

from congress.bus.messages import ExecuteRequest
from congress.common.memory import release_free_memory
from congress.datalog import errors as dl
from congress.datalog import names
from congress.datalog.ast import Literal, Row, Rule, Statement
from congress.datalog.parser import parse
from congress.datalog.printer import format_rule, to_text
from congress.datalog.runtime import (
    ActionRequest,
    BatchResult,
    ImpactResult,
    Limits,
    PolicyLimits,
    Runtime,
    SimulateResult,
)
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db import records
from congress.db import versions as db_versions
from congress.db.policies import QuotaExceeded as DbQuotaExceeded
from congress.db.policies import WriteQuota
from congress.services import errors
from congress.services import quotas as project_quotas
from congress.services.enforcement import (
    Enforcement,
    EnforcementOptions,
    action_text,
    breaker_body,
    execution_body,
)
from congress.services.gate import EngineGate
from congress.services.policy_versions import NOBODY, Actor, version_body
from congress.services.views import (
    Views,
    driver_schema,
    filtered,
    read_views,
    resolved_reference,
    sharing_body,
    sharing_of,
    view_name,
)

LOG = logging.getLogger(__name__)

SYSTEM_POLICIES = {"classification": "nonrecursive", "action": "action"}
"""Created on first start; they cannot be deleted."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PolicyView:
    id: str
    name: str
    abbreviation: str
    description: str
    owner_id: str
    kind: str
    dry_run: bool = False
    action_grace_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    policy: str
    rule: str  # as submitted
    name: str | None
    comment: str


Executor = Callable[[ExecuteRequest], None]

UNIQUE = ""
_NO_TIME = datetime.datetime.min
"""An activation that is new every time (a change made directly, e.g. in tests)."""


def action_key(policy: str, service: str, action: str, args: Sequence[Any], activation: str) -> str:
    """The identity of one action request, the same on every engine (ADR 0005): a UUID-shaped
    digest of (policy, the execute head, the row, the activation)."""
    text = json.dumps([policy, f"{service}:{action}", list(args), activation], sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def fingerprint(rule: Rule) -> str:
    """A digest of the rule's canonical text: the database refuses two equal live rules."""
    return hashlib.sha256(to_text(rule).encode()).hexdigest()


def _view(p: records.Policy) -> PolicyView:
    return PolicyView(p.id, p.name, p.abbreviation, p.description, p.owner, p.kind)


class PolicyEngineService:
    """Policies and rules from the database, evaluated by one runtime."""

    def __init__(
        self,
        database: DbEngine,
        *,
        clock: Callable[[], datetime.datetime] = datetime.datetime.now,
        timer: Callable[[], float] | None = None,
        limits: Limits | None = None,
        enable_execute_action: bool = True,
        executor: Executor | None = None,
        node_id: str = "",
        max_rule_length: int | None = None,
        max_name_length: int | None = None,
        memory: Callable[[], int] | None = None,
        enforcement: EnforcementOptions | None = None,
        enforcement_clock: Callable[[], float] = time.monotonic,
        quota_defaults: Mapping[str, float] | None = None,
    ) -> None:
        self._db = database
        self._max_rule_length = max_rule_length
        self._max_name_length = max_name_length
        self._rt = Runtime(clock=clock, timer=timer, limits=limits, memory=memory)
        self._timer = timer or time.perf_counter  # times each batch for the batch listeners
        self._lock = EngineGate()
        self._rt.pause_hook = self._lock.pause_point
        self._rt.on_limit = self._limit_hit
        # projects' quotas (congress.services.quotas): [tenancy]'s defaults (``quota_defaults``),
        # and the database's rows, read again every QUOTA_REFRESH_SECONDS for the runtime's
        # per-policy limits (rows_per_table, evaluation_seconds)
        self._quota_defaults = dict(quota_defaults or project_quotas.option_defaults())
        self._quota_rows: dict[str, dict[str, float]] = {}
        self._quota_read_at: float | None = None
        self._rt.policy_limits = self._policy_limits
        self._revision = 0
        self._generation = 0
        self._policies: dict[str, PolicyView] = {}  # by name
        self._rules: dict[str, tuple[RuleView, Rule]] = {}  # by id: the record, checked form
        # by id: where a rule is listed, as the database lists rules (revision, time: a batch's
        # rules are a microsecond apart in the order given, id), the same on every engine
        # whatever order it learnt the rules in
        self._rule_order: dict[str, tuple[int, datetime.datetime, str]] = {}
        self._pending: dict[str, records.Rule] = {}  # rules that could not be checked yet
        self._execute = enable_execute_action
        self._executor = executor
        self._node_id = node_id
        self._tl = threading.local()  # the revision the current thread's last write produced
        self._write_listeners: list[Callable[[int], None]] = []
        self._rules_listeners: list[Callable[[], None]] = []
        self._change_listeners: list[Callable[[BatchResult, str | None], None]] = []
        self._batch_listeners: list[Callable[[BatchResult, float], None]] = []
        # why the rows that appear now appear (see _handle); None: they were there before
        self._activation: str | None = UNIQUE
        self._unacked_lock = threading.Lock()
        self._unacked: dict[str, tuple[ExecuteRequest, float, float]] = {}  # key: req, first, last
        self._views = Views()  # projects' views of shared datasources (congress.services.views)
        self.enforcement = Enforcement(
            database,
            self,
            options=enforcement,
            node_id=node_id,
            execute_enabled=enable_execute_action and executor is not None,
            clock=enforcement_clock,
        )

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Load every policy and rule; create the system policies when absent."""
        with self._lock, self._activating(None):  # what policy derives now was there before
            self._load_sharing()
            state = db.load_policy_state(self._db)
            for policy in state.policies:
                self._apply_policy_created(policy)
            for rule in state.rules:
                self._apply_rule_added(rule)
            self._revision = state.revision
            self.enforcement.refresh(reload=True)
            for name, kind in SYSTEM_POLICIES.items():
                if name not in self._policies:
                    try:
                        self.create_policy(name, kind=kind)
                    except (db_errors.DuplicateName, errors.PolicyExists):
                        self.sync()  # another engine made it first (nodes started at once)

    @property
    def runtime(self) -> Runtime:
        """The runtime (for reads by the same thread that holds ``lock``)."""
        return self._rt

    @property
    def lock(self) -> EngineGate:
        """The engine's lock: ``with lock:`` to change or read the runtime; ``lock.read()``
        for the reads the runtime answers while a change pauses (see ``congress.services.gate``)."""
        return self._lock

    @property
    def revision(self) -> int:
        return self._revision

    def current_revision(self) -> int:
        """The latest policy revision applied here."""
        return self._revision

    def add_write_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(revision)`` after each change this engine writes (to announce it)."""
        self._write_listeners.append(listener)

    def add_rules_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after rules were added to the runtime (from this node's writes,
        from another node's, or a reload), under the engine's lock: it must not block."""
        self._rules_listeners.append(listener)

    def add_change_listener(self, listener: Callable[[BatchResult, str | None], None]) -> None:
        """Call ``listener(result, activation)`` with the net changes of every batch this
        engine applies, under the engine's lock (it must not block): ``activation`` names the
        batch's cause the same way on every engine (``datasource:table:epoch:seqnum``,
        ``rev:N``), is unique to this node for a direct change, or is None for rows that
        were there before (a reload, a first snapshot after a start)."""
        self._change_listeners.append(listener)

    def add_batch_listener(self, listener: Callable[[BatchResult, float], None]) -> None:
        """Call ``listener(result, seconds)`` after every batch the runtime applied (data, a
        snapshot, a rule inserted or deleted, a policy deleted), with the seconds it took on
        the engine's timer, under the engine's lock (it must not block): metrics."""
        self._batch_listeners.append(listener)

    def referenced_tables(self, policy: str) -> set[str]:
        """The tables of ``policy`` that some rule's body reads (``policy:table``)."""
        with self._lock.read():
            return {
                lit.table
                for _, rule in self._rules.values()
                for lit in rule.body_literals()
                if lit.policy is not None
                and (lit.policy == policy or self._views.base(lit.policy) == policy)
            }

    @staticmethod
    def _limit_hit(err: dl.LimitExceeded) -> None:
        """An evaluation ran over a limit and was undone: say so, and give back the memory."""
        LOG.warning("%s: undone", err.message)
        release_free_memory()

    def _rules_changed(self) -> None:
        for listener in self._rules_listeners:
            try:
                listener()
            except Exception:
                LOG.exception("a rules listener failed")

    def take_written_revision(self) -> int | None:
        """The revision the last write of this thread produced (then forgotten)."""
        revision: int | None = getattr(self._tl, "revision", None)
        self._tl.revision = None
        return revision

    def _written(self, revision: int) -> None:
        self._revision = max(self._revision, revision)
        self._tl.revision = revision
        for listener in self._write_listeners:
            try:
                listener(revision)
            except Exception:
                LOG.exception("announcing policy revision %d failed", revision)

    def wait_for_revision(self, revision: int, wait: float) -> bool:
        """True once this engine has applied ``revision`` (it reads the database's changes
        while it waits); False if ``wait`` seconds pass first."""
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            if self._revision >= revision:
                return True
            self.sync()
            if self._revision >= revision:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def policy_errors(self) -> dict[str, str]:
        """The policies in an error state (a budget ran out) and why."""
        with self._lock.read():
            out = {}
            for name in self._policies:
                err = self._rt.policy_error(name)
                if err:
                    out[name] = err
            return out

    def sync(self) -> None:
        """Apply every change written to the database since the last one applied here."""
        with self._lock:
            log = db.changes_since(self._db, self._revision)
            if log.revision < self._revision:
                LOG.warning("database revision went back: reloading every policy")
                self._reload()
                return
            # a rule added and deleted again within the changes read (one another engine
            # refused over a limit, say) is neither evaluated nor fires anything here
            gone = {c.rule.id for c in log.changes if isinstance(c, records.RuleDeleted)}
            for change in log.changes:
                if isinstance(change, records.RuleAdded) and change.rule.id in gone:
                    continue
                self._apply_change(change)
            moved = log.revision > self._revision
            self._revision = max(self._revision, log.revision)
            if moved:  # sharing may have changed (set_datasource_sharing bumps the revision)
                with self._activating(f"rev:{log.revision}"):
                    self._load_sharing()
                    self._sync_views()
            self.enforcement.refresh(current=log.revision)

    def _reload(self) -> None:
        with self._activating(None):
            self._reload_now()

    def _reload_now(self) -> None:
        for name in list(self._policies):
            self._apply_policy_deleted(name)
        self._rules.clear()
        self._pending.clear()
        self._rule_order.clear()
        self._revision = 0
        self.start()

    def _apply_change(self, change: records.Change) -> None:
        with self._activating(f"rev:{change.revision}"):
            self._apply_change_now(change)

    def _apply_change_now(self, change: records.Change) -> None:
        if isinstance(change, records.PolicyCreated):
            if change.policy.name not in self._policies:
                self._apply_policy_created(change.policy)
        elif isinstance(change, records.PolicyDeleted):
            if change.policy.name in self._policies:
                self._apply_policy_deleted(change.policy.name)
        elif isinstance(change, records.RuleAdded):
            if change.rule.id not in self._rules:
                self._apply_rule_added(change.rule)
        elif change.rule.id in self._rules or change.rule.id in self._pending:
            self._apply_rule_deleted(change.rule.id)

    # -- policies ------------------------------------------------------------------------
    def list_policies(self) -> list[PolicyView]:
        with self._lock.read():
            found = sorted(self._policies.values(), key=lambda p: p.name)
            return [self._with_settings(p) for p in found]

    def get_policy(self, name_or_id: str) -> PolicyView:
        with self._lock.read():
            return self._with_settings(self._find_policy(name_or_id))

    def _with_settings(self, view: PolicyView) -> PolicyView:
        settings = self.enforcement.settings(view.name)
        return dataclasses.replace(
            view,
            dry_run=settings.dry_run,
            action_grace_seconds=settings.action_grace_seconds,
        )

    def _find_policy(self, name_or_id: str) -> PolicyView:
        pol = self._policies.get(name_or_id)
        if pol is None:
            pol = next((p for p in self._policies.values() if p.id == name_or_id), None)
        if pol is None:
            raise errors.PolicyNotFound(f"Policy {name_or_id} does not exist")
        return pol

    def create_policy(
        self,
        name: str,
        *,
        kind: str | None = None,
        abbreviation: str | None = None,
        description: str | None = None,
        owner: str = "user",
        rules: Sequence[Mapping[str, Any]] = (),
        actor: Actor | None = None,
        activated_from: str | None = None,
    ) -> tuple[PolicyView, list[RuleView]]:
        """Create a policy (and its rules, all or nothing); ``actor`` asked for it (its first
        version), ``activated_from`` names the library policy it activates."""
        kind = kind or "nonrecursive"
        self._check_length("The policy name", name, "max_name_length", self._max_name_length)
        for given in rules:
            if isinstance(given, Mapping):
                self._check_rule_size(given.get("rule"), given.get("name"))
        if abbreviation is not None and not 1 <= len(abbreviation) <= 5:
            raise errors.InvalidAbbreviation(
                f"abbreviation {abbreviation!r} is not 1 to 5 characters"
            )
        with self._lock:
            self.sync()
            if name in self._policies or self._rt.policy_exists(name):
                raise errors.PolicyExists(f"Policy with name {name} already exists")
            # the policy exists in memory while its rules are checked together, against the
            # schemas of the datasources; it goes again if the database refuses the write
            self._rt.create_policy(name, kind, abbreviation=abbreviation)
            try:
                policy, added = self._persist_policy(
                    name, kind, abbreviation, description or "", owner, rules, actor, activated_from
                )
            except db_errors.DuplicateName as e:
                self._abandon(name, kind, abbreviation)
                raise errors.PolicyExists(f"Policy with name {name} already exists") from e
            except db_errors.DuplicateRule as e:
                self._abandon(name, kind, abbreviation)
                raise errors.RuleExists(f"A rule is given twice in policy {name}") from e
            except BaseException:
                self._abandon(name, kind, abbreviation)
                raise
            self._policies[name] = _view(policy)
            with self._activating(f"rev:{policy.revision}"):
                for rule in added:
                    self._apply_rule_added(rule)
            self._written(policy.revision)
            return self._policies[name], [
                self._rules[r.id][0] for r in added if r.id in self._rules
            ]

    def _abandon(self, name: str, kind: str, abbreviation: str | None) -> None:
        """Take back a policy created in memory whose write failed. Another engine's policy of
        the same name may have arrived meanwhile (``sync`` while retrying the write) into the
        same runtime policy: it stays when it is of the same kind; else everything is
        reloaded from the database (rare: two engines creating one name as different kinds)."""
        arrived = self._policies.get(name)
        if arrived is None:
            self._rt.delete_policy(name)
            return
        if arrived.kind == kind and (abbreviation is None or arrived.abbreviation == abbreviation):
            return
        LOG.warning("policy %s was created by another engine as %s: reloading", name, arrived.kind)
        self._rt.delete_policy(name)
        del self._policies[name]
        self._reload()

    def _persist_policy(
        self,
        name: str,
        kind: str,
        abbreviation: str | None,
        description: str,
        owner: str,
        rules: Sequence[Mapping[str, Any]],
        actor: Actor | None = None,
        activated_from: str | None = None,
    ) -> tuple[records.Policy, list[records.Rule]]:
        statements = []
        for r in rules:
            parsed = parse(r["rule"])
            if len(parsed) != 1:
                raise errors.MultipleRules(
                    f"Received string representing {len(parsed)} rules; exactly one expected"
                )
            statements.extend(parsed)
        checked = self._rt.check(name, statements)
        for given, one in zip(rules, checked, strict=True):
            self._check_visibility(name, [one], given["rule"])
        new = [
            records.NewRule(
                rule=r["rule"],
                name=r.get("name"),
                comment=r.get("comment") or "",
                fingerprint=fingerprint(c),
            )
            for r, c in zip(rules, checked, strict=True)
        ]
        quota = self._write_quota(owner)
        try:
            policy = self._write(
                "create_policy",
                self._versioned(
                    lambda handle, rev: db.create_policy(
                        handle,
                        name,
                        abbreviation=abbreviation,
                        description=description,
                        owner=owner,
                        kind=kind,
                        rules=new,
                        expected_revision=rev,
                        quota=quota,
                    ),
                    name,
                    db_versions.LIBRARY_ACTIVATED if activated_from else db_versions.POLICY_CREATED,
                    actor,
                    {"library_policy": activated_from} if activated_from else None,
                ),
            )
        except DbQuotaExceeded as e:
            raise project_quotas.from_db(e) from None
        return policy, db.list_rules(self._db, name)

    def delete_policy(self, name_or_id: str, *, actor: Actor | None = None) -> PolicyView:
        with self._lock:
            self.sync()
            pol = self._find_policy(name_or_id)
            if pol.name in SYSTEM_POLICIES:
                raise errors.SystemPolicy("Cannot delete system-maintained policy")
            gone = self._write(
                "delete_policy",
                self._versioned(
                    lambda handle, rev: db.delete_policy(handle, pol.id, expected_revision=rev),
                    pol.name,
                    db_versions.POLICY_DELETED,
                    actor,
                ),
            )
            revision = _deleted_at(gone.deleted_revision)
            with self._activating(f"rev:{revision}"):
                self._apply_policy_deleted(pol.name)
            self._written(revision)
            return pol

    def _apply_policy_created(self, policy: records.Policy) -> None:
        self._generation += 1
        if not self._rt.policy_exists(policy.name):
            self._rt.create_policy(policy.name, policy.kind, abbreviation=policy.abbreviation)
        self._policies[policy.name] = _view(policy)

    def _apply_policy_deleted(self, name: str) -> None:
        self._generation += 1
        for rid in [rid for rid, (v, _) in self._rules.items() if v.policy == name]:
            del self._rules[rid]
            self._rule_order.pop(rid, None)
        for rid in [rid for rid, r in self._pending.items() if r.policy_name == name]:
            del self._pending[rid]
            self._rule_order.pop(rid, None)
        started = self._timer()
        self._handle(self._rt.delete_policy(name), started)
        del self._policies[name]
        self._sync_views()

    # -- rules ---------------------------------------------------------------------------
    def list_rules(self, policy: str) -> list[RuleView]:
        with self._lock.read():
            pol = self._find_policy(policy)
            views = [v for v, _ in self._rules.values() if v.policy == pol.name]
            views += [
                self._rule_view(r) for r in self._pending.values() if r.policy_name == pol.name
            ]
            return sorted(views, key=lambda v: self._rule_order.get(v.id, (0, _NO_TIME, v.id)))

    def get_rule(self, policy: str, rule_id: str) -> RuleView:
        with self._lock.read():
            pol = self._find_policy(policy)
            for view in self.list_rules(pol.name):
                if view.id == rule_id or (view.name is not None and view.name == rule_id):
                    return view
            raise errors.NotFound(f"Rule {rule_id} does not exist in policy {pol.name}")

    def create_rule(
        self,
        policy: str,
        text: str,
        *,
        name: str | None = None,
        comment: str | None = None,
        actor: Actor | None = None,
    ) -> RuleView:
        """Check, persist, then apply one rule (or fact); 409 when it is already there."""
        self._check_rule_size(text, name)
        with self._lock:
            pol, checked = self._new_rule(policy, text)
            quota = self._write_quota(pol.owner_id)
            try:
                record = self._write(
                    "add_rule",
                    self._versioned(
                        lambda handle, rev: db.add_rule(
                            handle,
                            pol.name,
                            text,
                            name=name,
                            comment=comment or "",
                            fingerprint=fingerprint(checked),
                            expected_revision=rev,
                            quota=quota,
                        ),
                        pol.name,
                        db_versions.RULE_ADDED,
                        actor,
                    ),
                )
            except db_errors.DuplicateRule as e:
                raise errors.RuleExists(f"Rule already exists in policy {pol.name}") from e
            except DbQuotaExceeded as e:
                raise project_quotas.from_db(e) from None
            if record.id in self._rules:  # another engine's copy arrived while catching up
                return self._rules[record.id][0]
            try:
                with self._activating(f"rev:{record.revision}"):
                    self._insert(record, checked)
            except dl.DatalogError:
                # refused after all (a budget, or a cycle with a rule another engine wrote
                # meanwhile): the database must not keep it
                who = actor or NOBODY
                db.record_change(
                    self._db,
                    lambda session: db.delete_rule(session, record.id),
                    policy_name=pol.name,
                    action=db_versions.RULE_DELETED,
                    user_id=who.user_id,
                    project_id=who.project_id,
                    node_id=self._node_id,
                    detail={"refused": record.id},
                )
                self.sync()
                raise
            self._written(record.revision)
            return self._rules[record.id][0]

    def delete_rule(self, policy: str, rule_id: str, *, actor: Actor | None = None) -> RuleView:
        with self._lock:
            self.sync()
            view = self.get_rule(policy, rule_id)
            gone = self._write(
                "delete_rule",
                self._versioned(
                    lambda handle, rev: db.delete_rule(
                        handle, view.id, policy_name=view.policy, expected_revision=rev
                    ),
                    view.policy,
                    db_versions.RULE_DELETED,
                    actor,
                ),
            )
            revision = _deleted_at(gone.deleted_revision)
            with self._activating(f"rev:{revision}"):
                self._apply_rule_deleted(view.id)
            self._written(revision)
            return view

    def _check_rule_size(self, text: Any, name: Any) -> None:
        self._check_length("The rule", text, "max_rule_length", self._max_rule_length)
        self._check_length("The rule name", name, "max_name_length", self._max_name_length)

    @staticmethod
    def _check_length(what: str, value: Any, limit: str, maximum: int | None) -> None:
        """``LimitExceeded`` (400) for a text over its limit (before anything is done)."""
        if maximum is not None and isinstance(value, str) and len(value) > maximum:
            raise errors.LimitExceeded(what, len(value), limit, maximum)

    def _write(self, what: str, change: Callable[[DbEngine | Session, int], T]) -> T:
        """Run a database change, ``change(database or session, expected revision)``,
        conditional on the revision applied here. When another engine wrote first, catch up
        and write again in a transaction holding the revision's row lock, so that no engine
        can write in between: retrying optimistically could lose again and again while the
        other engines keep writing (the HA soak saw 13 of 23,131 rule writes give up after 5
        tries)."""
        try:
            return change(self._db, self._revision)
        except db_errors.StaleRevision:
            pass

        def caught_up(session: Session) -> T:
            self.sync()
            return change(session, self._revision)

        try:
            return db.write_exclusively(self._db, caught_up)
        except db_errors.StaleRevision as e:  # a database that ignored the lock
            raise errors.Unavailable(f"{what}: other policy engines kept changing policy") from e

    def _versioned(
        self,
        change: Callable[[DbEngine | Session, int], T],
        policy_name: str,
        action: str,
        actor: Actor | None,
        detail: Any = None,
    ) -> Callable[[DbEngine | Session, int], T]:
        """``change`` recorded, in its own transaction, as the next version of the policy
        (docs/policy-lifecycle.md): by ``actor``, through this node."""
        who = actor or NOBODY

        def recorded(handle: DbEngine | Session, revision: int) -> T:
            return db.record_change(
                handle,
                lambda session: change(session, revision),
                policy_name=policy_name,
                action=action,
                user_id=who.user_id,
                project_id=who.project_id,
                node_id=self._node_id,
                detail=detail,
            )

        return recorded

    def _check_one(self, rt: Runtime, policy: str, text: str) -> Rule:
        checked = rt.check(policy, text)
        if len(checked) != 1:
            raise errors.MultipleRules(
                f"Received string representing {len(checked)} rules; exactly one expected"
            )
        return checked[0]

    @staticmethod
    def _rule_view(r: records.Rule) -> RuleView:
        return RuleView(r.id, r.policy_name, r.rule, r.name, r.comment)

    def _note_order(self, record: records.Rule) -> None:
        created = record.created_at
        if created.tzinfo is not None:
            created = created.astimezone(datetime.UTC).replace(tzinfo=None)
        self._rule_order[record.id] = (record.revision, created, record.id)

    def _apply_rule_added(self, record: records.Rule) -> None:
        try:
            checked = self._check_one(self._rt, record.policy_name, record.rule)
        except (dl.DatalogError, errors.ServiceError) as e:
            # e.g. a column reference to a datasource whose schema is not known yet
            LOG.info("rule %s of %s waits: %s", record.id, record.policy_name, e)
            self._pending[record.id] = record
            self._note_order(record)
            return
        try:
            self._insert(record, checked)
        except dl.LimitExceeded as e:
            # another engine accepted it (its data, or its clock, differed): here it waits,
            # listed with the policy's rules, until rules or schemas change
            LOG.warning("rule %s of %s waits: %s", record.id, record.policy_name, e.message)
            self._pending[record.id] = record
            self._note_order(record)

    def _insert(self, record: records.Rule, checked: Rule) -> None:
        self._make_views(record.policy_name, checked)
        started = self._timer()
        self._handle(self._rt.insert(record.policy_name, [checked]), started)
        self._rules[record.id] = (self._rule_view(record), checked)
        self._note_order(record)
        self._pending.pop(record.id, None)
        self._rules_changed()

    def _apply_rule_deleted(self, rule_id: str) -> None:
        self._rule_order.pop(rule_id, None)
        if self._pending.pop(rule_id, None) is not None:
            return
        view, checked = self._rules.pop(rule_id)
        if not any(r == checked and v.policy == view.policy for v, r in self._rules.values()):
            started = self._timer()
            self._handle(self._rt.delete(view.policy, [checked]), started)
            self._sync_views()

    def retry_pending(self) -> None:
        """Try again the rules that could not be checked (a schema has become known)."""
        with self._lock, self._activating(None):
            for record in list(self._pending.values()):
                self._pending.pop(record.id)
                self._apply_rule_added(record)

    # -- tables, rows, queries -----------------------------------------------------------
    def tables(self, policy: str) -> list[str]:
        with self._lock.read():
            return self._rt.tables(self._find_policy(policy).name)

    def rows(self, policy: str, table: str) -> list[Row]:
        """Rows of a table the policy mentions, in order (by their printed form); a table it
        never mentions is a 404."""
        with self._lock.read():
            name = self._table_of(policy, table)
            return sorted(self._rt.rows(name, table), key=repr)

    def _table_of(self, policy: str, table: str) -> str:
        """The name of the policy ``policy`` (a name or an id), which must mention ``table``."""
        name = self._find_policy(policy).name
        if table not in self._rt.tables(name):
            raise errors.NotFound(f"Table {table} does not exist in policy {name}")
        return name

    def explain_rows(self, policy: str, table: str) -> str:
        """Why each row of a table holds, as indented proof trees (the rows route's trace)."""
        with self._lock:
            name = self._find_policy(policy).name
            width = len(next(iter(self._rt.rows(name, table)), ()))
            args = ", ".join(f"x{i}" for i in range(width))
            lines: list[str] = []
            for proof in self._rt.explain(name, f"{table}({args})"):
                lines.extend(proof.lines())
            return "\n".join(lines)

    def explain(self, policy: str, table: str, row: Sequence[Any]) -> dict[str, Any]:
        """Why a row holds, ``{"holds": true, "explanation": proof}``, or why it does not,
        ``{"holds": false, "why_not": ...}`` (docs/explanations.md); rules carry their ids."""
        with self._lock:
            name = self._table_of(policy, table)
            width = self._rt.known_arity(name, table)
            if width is not None and len(row) != width:
                raise errors.BadRequest(
                    f"Table {table} of policy {name} has {width} columns; the row has {len(row)}"
                )
            ids = self._rule_id_of()
            proof = self._rt.explain_row(name, table, row)
            if proof is not None:
                return {"holds": True, "explanation": proof.as_json(ids)}
            out: dict[str, Any] = {
                "holds": False,
                "why_not": self._rt.why_not(name, table, row).as_json(ids),
            }
            error = self._rt.policy_error(name)
            if error:
                out["policy_error"] = error
            return out

    def explain_table(self, policy: str, table: str) -> list[dict[str, Any]]:
        """Every row of a table with why it holds: ``[{"data": row, "explanation": proof}]``."""
        with self._lock:
            name = self._table_of(policy, table)
            ids = self._rule_id_of()
            out: list[dict[str, Any]] = []
            for row in sorted(self._rt.rows(name, table), key=repr):
                proof = self._rt.explain_row(name, table, row)
                out.append({"data": list(row), "explanation": proof and proof.as_json(ids)})
            return out

    def _rule_id_of(self) -> Callable[[str, Rule], str | None]:
        """The id of a rule or fact of a policy, as this engine knows it (None: not known)."""
        ids: dict[tuple[str, Rule], str] = {}
        for view, checked in self._rules.values():
            ids.setdefault((view.policy, checked), view.id)
        return lambda policy, rule: ids.get((policy, rule))

    def impact(
        self,
        policy: str,
        *,
        add_rules: Sequence[str] = (),
        delete_rules: Sequence[str] = (),
        tables: Sequence[str] | None = None,
        query: str | None = None,
        sequence: str | None = None,
        action_policy: str | None = "action",
        delta: bool = False,
        trace: bool = False,
    ) -> ImpactResult:
        """Which rows of ``tables`` (default: the policy's ``error`` and ``warning``) would
        appear and disappear if the rules ``add_rules`` (texts) were added to the policy and
        the rules ``delete_rules`` (ids) deleted, then ``sequence`` applied; ``query``'s
        answers then. Nothing changes. A rule text that does not parse or check is the
        language error (line and column); an unknown rule id or table is ``NotFound``."""
        for text in add_rules:
            self._check_rule_size(text, None)
        with self._lock:
            name = self._find_policy(policy).name
            if action_policy is not None and sequence:
                self._find_policy(action_policy)
            added = [self._one_statement(text) for text in add_rules]
            gone = self._rules_to_delete(name, delete_rules)
            mentioned = [r for r in added if isinstance(r, Rule)]
            watched, unknown = self._rt.impact_tables(name, mentioned, tables)
            if unknown:
                raise errors.NotFound(f"Table {unknown[0]} does not exist in policy {name}")
            return self._rt.impact(
                name,
                added,
                gone,
                watched,
                query,
                sequence or (),
                action_policy,
                delta=delta,
                trace=trace,
            )

    def preview_rule(
        self, policy: str, text: str, *, name: str | None = None, comment: str | None = None
    ) -> tuple[RuleView, ImpactResult]:
        """What ``create_rule`` would answer (the rule, with no id) and the rows of the policy's
        ``error`` and ``warning`` tables that would appear and disappear; nothing is created."""
        self._check_rule_size(text, name)
        with self._lock:
            pol, checked = self._new_rule(policy, text)
            result = self._rt.impact(pol.name, [checked])
            return RuleView("", pol.name, text, name, comment or ""), result

    def _new_rule(self, policy: str, text: str) -> tuple[PolicyView, Rule]:
        """The policy and the checked form of a rule about to be created (under the lock,
        after catching up); 409 when the policy already has it."""
        self.sync()
        pol = self._find_policy(policy)
        checked = self._check_one(self._rt, pol.name, text)
        self._check_visibility(pol.name, [checked], text)
        if any(r == checked and v.policy == pol.name for v, r in self._rules.values()):
            raise errors.RuleExists(f"Rule already exists in policy {pol.name}: {text}")
        return pol, checked

    def _one_statement(self, text: str) -> Statement:
        """The one statement of a rule text; a parse error names the text as its rule."""
        try:
            stmts = parse(text)
        except dl.PolicyError as e:
            raise dl.PolicyError(
                [p if p.rule is not None else dataclasses.replace(p, rule=text) for p in e.problems]
            ) from None
        if len(stmts) != 1:
            raise errors.MultipleRules(
                f"Received string representing {len(stmts)} rules; exactly one expected"
            )
        return stmts[0]

    def _rules_to_delete(self, policy: str, rule_ids: Sequence[str]) -> list[Rule]:
        """The rules of ``policy`` the runtime would delete for these ids (or names): a rule
        another id keeps stays, and a rule waiting to be checked is not in the runtime."""
        ids: list[str] = []
        for rule_id in rule_ids:
            found = next(
                (
                    rid
                    for rid, (view, _) in self._rules.items()
                    if view.policy == policy and rule_id in (rid, view.name)
                ),
                None,
            )
            if found is None:
                pending = any(
                    r.policy_name == policy and rule_id in (rid, r.name)
                    for rid, r in self._pending.items()
                )
                if not pending:
                    raise errors.NotFound(f"Rule {rule_id} does not exist in policy {policy}")
                continue
            ids.append(found)
        gone = {self._rules[rid][1] for rid in ids}
        kept = {
            checked
            for rid, (view, checked) in self._rules.items()
            if view.policy == policy and rid not in ids
        }
        return [r for r in gone if r not in kept]

    def select(self, policy: str, query: str) -> list[Literal]:
        with self._lock:
            return self._rt.select(self._find_policy(policy).name, query)

    def simulate(
        self,
        policy: str,
        query: str,
        sequence: str,
        action_policy: str | None,
        *,
        delta: bool = False,
        trace: bool = False,
    ) -> SimulateResult:
        with self._lock:
            name = self._find_policy(policy).name
            if action_policy is not None:
                self._find_policy(action_policy)
            return self._rt.simulate(name, query, sequence, action_policy, delta=delta, trace=trace)

    # -- data from datasources -----------------------------------------------------------
    def ensure_datasource(self, name: str, schema: Mapping[str, Sequence[str]]) -> None:
        """Create (or re-schema) the datasource policy ``name``; rules waiting for it retry."""
        with self._lock:
            if self._rt.policy_exists(name):
                self._rt.set_schema(name, schema)
            else:
                self._rt.create_policy(name, "datasource", schema=schema)
            self.retry_pending()
            with self._activating(None):
                self._sync_views()

    def drop_datasource(self, name: str) -> None:
        with self._lock:
            if self._rt.policy_exists(name) and self._rt.kind(name) == "datasource":
                with self._activating(None):
                    for view in self._views.of(name):
                        self._drop_view(view)
                    started = self._timer()
                    self._handle(self._rt.delete_policy(name), started)

    def receive(
        self,
        datasource: str,
        table: str,
        inserts: Iterable[Row],
        deletes: Iterable[Row],
        *,
        activation: str | None = UNIQUE,
    ) -> BatchResult:
        """One batch of a datasource table's changes; ``activation`` names it the same way on
        every engine (the sink: ``datasource:table:epoch:seqnum``)."""
        with self._lock, self._activating(activation):
            started = self._timer()
            batch: Mapping[tuple[str, str], tuple[Iterable[Any], Iterable[Any]]]
            if self._views.of(datasource):  # the projects' views get their part (same batch)
                batch = self._views.expand(datasource, table, list(inserts), list(deletes))
            else:
                batch = {(datasource, table): (inserts, deletes)}
            result = self._rt.apply(batch)
            self._handle(result, started)
            return result

    def replace(
        self, datasource: str, table: str, rows: Iterable[Row], *, activation: str | None = UNIQUE
    ) -> BatchResult:
        """A datasource table's full contents (a snapshot); with ``activation`` None its rows
        count as present before (a first snapshot after a restart fires no action)."""
        with self._lock, self._activating(activation):
            started = self._timer()
            if self._views.of(datasource):
                result = self._rt.apply(self._replacing(datasource, table, rows))
            else:
                result = self._rt.replace_table(datasource, table, rows)
            self._handle(result, started)
            return result

    # -- projects' views of shared datasources (congress.services.views) -------------------
    def is_view(self, name: str) -> bool:
        """Whether ``name`` is a project's view of a shared datasource (``nova@P``): a runtime
        policy of this engine, never a policy of the project (not listed, not found)."""
        with self._lock.read():
            return self._views.is_view(name)

    def views(self) -> list[str]:
        """The views this engine keeps, sorted."""
        with self._lock.read():
            return sorted(self._views.built)

    def _load_sharing(self) -> None:
        """Read every datasource's sharing from the database (under the lock)."""
        self._views.sharing = {r.name: sharing_of(r) for r in db.list_datasource_sharing(self._db)}

    def _global_datasource(self, name: str) -> bool:
        return (
            names.project_of(name) is None
            and self._rt.policy_exists(name)
            and self._rt.kind(name) == "datasource"
        )

    def _wanted(self, datasource: str, project: str) -> bool:
        return self._global_datasource(datasource) and self._views.visible(datasource, project)

    def _make_views(self, policy: str, rule: Rule) -> None:
        """Make (and fill) the views ``rule`` of ``policy`` reads, before it is inserted."""
        batch: dict[tuple[str, str], tuple[list[Row], list[Row]]] = {}
        for datasource, project in sorted(read_views([(policy, rule)])):
            name = view_name(datasource, project)
            if name not in self._views.built and self._wanted(datasource, project):
                self._build_view(name, batch)
        self._apply_views(batch)

    def _sync_views(self) -> None:
        """Make every view the rules read and the sharing allows, drop the others, and rebuild
        those whose datasource's schema or project columns changed (under the lock, in the
        caller's activation)."""
        wanted = {
            view_name(d, p)
            for d, p in read_views((v.policy, r) for v, r in self._rules.values())
            if self._wanted(d, p)
        }
        for name in sorted(set(self._views.built) - wanted):
            self._drop_view(name)
        batch: dict[tuple[str, str], tuple[list[Row], list[Row]]] = {}
        for name in sorted(wanted):
            self._build_view(name, batch)
        self._apply_views(batch)

    def _schema_of(self, datasource: str) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for table in self._rt.tables(datasource):
            columns = self._rt.complete_columns(datasource, table)
            if columns is not None:
                out[table] = tuple(columns)
        return out

    def _build_view(
        self, name: str, batch: dict[tuple[str, str], tuple[list[Row], list[Row]]]
    ) -> None:
        """Add to ``batch`` what makes view ``name`` hold its rows; create it (with its
        datasource's schema) or re-create it (the schema changed) first."""
        datasource, project = names.split(name)
        assert project is not None
        schema = self._schema_of(datasource)
        plan = self._views.plan(datasource, schema)
        if name in self._views.built:
            if self._views.schemas.get(name) == schema and self._views.built[name] == plan:
                return  # up to date: the data keep it so
            if self._views.schemas.get(name) != schema:
                self._drop_view(name)
        if name not in self._views.built:
            if self._rt.policy_exists(name):  # not a view: never replace a policy
                LOG.error("%s is a policy, not a view of datasource %s", name, datasource)
                return
            self._rt.create_policy(name, "datasource", schema=schema)
            self._views.schemas[name] = schema
            LOG.info("made the view %s of datasource %s", name, datasource)
        self._views.built[name] = plan
        for table, index in plan.items():
            want = set(filtered(self._rt.rows(datasource, table), index, project))
            have = self._rt.rows(name, table)
            if want != have:  # rows in any order: a batch is a set of changes
                batch[(name, table)] = (list(want - have), list(have - want))

    def _apply_views(self, batch: dict[tuple[str, str], tuple[list[Row], list[Row]]]) -> None:
        if batch:
            started = self._timer()
            self._handle(self._rt.apply(batch), started)

    def _drop_view(self, name: str) -> None:
        """Delete view ``name`` (its rows leave every rule that read it)."""
        self._views.built.pop(name, None)
        self._views.schemas.pop(name, None)
        if self._rt.policy_exists(name) and self._rt.kind(name) == "datasource":
            started = self._timer()
            self._handle(self._rt.delete_policy(name), started)
            LOG.info("dropped the view %s", name)

    def _replacing(
        self, datasource: str, table: str, rows: Iterable[Row]
    ) -> dict[tuple[str, str], tuple[list[Row], list[Row]]]:
        """The batch making ``(datasource, table)`` exactly ``rows`` and each view its part."""
        new = {tuple(r) for r in rows}
        current = self._rt.rows(datasource, table)
        batch = {(datasource, table): (list(new - current), list(current - new))}
        for name in self._views.of(datasource):
            plan = self._views.built[name]
            if table in plan:
                want = set(filtered(new, plan[table], names.project_of(name) or ""))
                have = self._rt.rows(name, table)
                batch[(name, table)] = (list(want - have), list(have - want))
        return batch

    def _check_visibility(self, policy: str, rules: Sequence[Rule], text: str | None) -> None:
        """Refuse a rule of a project's policy that reads what the project may not: a global
        policy, or a datasource not shared with it (``cross_project_reference``). Its own
        policies, the datasources shared with it and names that are nothing yet may be read."""
        project = names.project_of(policy)
        if project is None:
            return
        problems: list[dl.Problem] = []
        for rule in rules:
            for lit in rule.body_literals():
                ref = resolved_reference(lit, project)
                if ref is None or ref in self._policies:
                    continue
                base, other = names.split(ref)
                if other != project:
                    continue  # another project's name: the analysis refuses it
                if base in self._views.sharing or self._global_datasource(base):
                    if self._views.visible(base, project):
                        continue
                elif base not in self._policies and not self._rt.policy_exists(base):
                    continue  # nothing yet: the project's own policy to come
                problems.append(
                    dl.Problem(
                        "cross_project_reference",
                        f"{base}:{lit.table} is not visible to this project",
                        None if lit.loc is None else lit.loc.line,
                        None if lit.loc is None else lit.loc.column,
                        policy,
                        text,
                    )
                )
        if problems:
            raise dl.PolicyError(problems)

    def datasource_sharing(self, datasource: str) -> dict[str, Any]:
        """``{shared_with, project_columns}`` of a datasource (name or id): the projects that
        may read it and the effective project column of each table (the driver's, with the
        operator's overrides)."""
        record = self._datasource_record(datasource)
        return sharing_body(db.get_datasource_sharing(self._db, record.id))

    def list_datasource_sharing(self) -> dict[str, dict[str, Any]]:
        """``datasource_sharing`` of every datasource, by datasource id."""
        return {r.datasource_id: sharing_body(r) for r in db.list_datasource_sharing(self._db)}

    def _datasource_record(self, datasource: str) -> records.Datasource:
        try:
            return db.find_datasource(self._db, datasource)
        except db_errors.NotFound:
            raise errors.DatasourceNotFound(f"Datasource not found {datasource}") from None

    def update_datasource_sharing(
        self, datasource: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a datasource's ``shared_with`` (project ids, or ``["*"]``) and/or its
        ``project_columns`` overrides (``{table: column or null}``, replacing the previous
        overrides; a table and column must exist). Written at a new policy revision, so every
        engine applies it (``sync``); this one applies it at once. Answers
        ``datasource_sharing``."""
        unknown = sorted(set(changes) - {"shared_with", "project_columns"})
        if unknown:
            raise errors.BadRequest(
                "Only 'shared_with' and 'project_columns' of a datasource can be changed, "
                f"not {', '.join(map(repr, unknown))}"
            )
        shared = changes.get("shared_with")
        columns = changes.get("project_columns")
        with self._lock:
            self.sync()
            record = self._datasource_record(datasource)
            schema: Mapping[str, Sequence[str]] | None = None
            if columns is not None:
                schema = self._datasource_schema(record)
            try:
                done = self._write(
                    "update_datasource",
                    lambda handle, rev: db.set_datasource_sharing(
                        handle,
                        record.id,
                        shared_with=shared,
                        project_columns=columns,
                        schema=schema,
                        expected_revision=rev,
                    ),
                )
            except db_errors.InvalidValue as e:
                raise errors.BadRequest(f"Invalid datasource sharing: {e}") from None
            except db_errors.NotFound:
                raise errors.DatasourceNotFound(f"Datasource not found {datasource}") from None
            assert done.revision is not None
            with self._activating(f"rev:{done.revision}"):
                self._load_sharing()
                self._sync_views()
            self._written(done.revision)
            LOG.info(
                "datasource %s: shared with %s, project columns %s",
                record.name,
                list(done.shared_with),
                done.project_columns,
            )
            return sharing_body(done)

    def _datasource_schema(self, record: records.Datasource) -> Mapping[str, Sequence[str]]:
        """The tables and columns of a datasource: as its publisher announced them, else
        its driver's (a 400 when neither is known here: a push datasource not running)."""
        if self._global_datasource(record.name):
            return self._schema_of(record.name)
        schema = driver_schema(record.driver)
        if not schema:
            raise errors.BadRequest(
                f"The tables of datasource {record.name} are not known yet (is it running?)"
            )
        return schema

    # -- project quotas (congress.services.quotas) -----------------------------------------
    QUOTA_REFRESH_SECONDS = 5.0
    """How stale the quotas behind the runtime's per-policy limits may be (a change through
    this engine applies at once)."""

    def quotas(self, project: str) -> project_quotas.Quotas:
        """The quotas that hold for ``project`` now, read from the database."""
        return project_quotas.merge(
            self._quota_defaults,
            db.get_project_quotas(self._db, db.ALL_PROJECTS),
            db.get_project_quotas(self._db, project),
        )

    def _write_quota(self, owner: str) -> WriteQuota | None:
        """The limits a write of a policy owned by ``owner`` is checked against (None for
        the operator's global policies)."""
        if owner == names.GLOBAL_OWNER:
            return None
        return project_quotas.write_quota(self.quotas(owner))

    def _cached_quotas(self, project: str) -> project_quotas.Quotas:
        now = time.monotonic()
        if self._quota_read_at is None or now - self._quota_read_at > self.QUOTA_REFRESH_SECONDS:
            self._refresh_quotas()
        return project_quotas.merge(
            self._quota_defaults,
            self._quota_rows.get(db.ALL_PROJECTS, {}),
            self._quota_rows.get(project, {}),
        )

    def _refresh_quotas(self) -> None:
        try:
            self._quota_rows = db.list_project_quotas(self._db)
        except db_errors.DBError as e:  # keep the last ones known; try again next time
            LOG.warning("reading the projects' quotas failed: %s", e)
        self._quota_read_at = time.monotonic()

    def _policy_limits(self, name: str) -> PolicyLimits | None:
        """The runtime's hook: a project policy's rows_per_table and evaluation_seconds."""
        view = self._policies.get(name)
        if view is None or view.owner_id == names.GLOBAL_OWNER or view.kind == "datasource":
            return None
        return project_quotas.policy_limits(self._cached_quotas(view.owner_id))

    def list_quotas(self) -> dict[str, dict[str, float]]:
        """``GET /v1/quotas``: every project with quotas of its own (and ``*``), with them."""
        return db.list_project_quotas(self._db)

    def get_quotas(self, project: str) -> dict[str, Any]:
        """``{quotas, own, usage}`` of ``project``: the quotas that hold for it, those set for
        it alone, and the policies and rules it owns (``*``: the quotas of every project
        without its own, no usage)."""
        _check_project(project)
        own = db.get_project_quotas(self._db, project)
        if project == db.ALL_PROJECTS:
            quotas = project_quotas.merge(self._quota_defaults, own)
            return {"quotas": quotas.as_dict(), "own": own, "usage": {}}
        return {
            "quotas": self.quotas(project).as_dict(),
            "own": own,
            "usage": db.project_usage(self._db, project),
        }

    def set_quotas(self, project: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set some of ``project``'s own quotas (a ``null`` removes one: it takes the default
        again); the others stay. Answers ``get_quotas``."""
        _check_project(project)
        if not isinstance(changes, Mapping):
            raise errors.BadRequest("The body must be an object of quotas")
        given = project_quotas.validated({k: v for k, v in changes.items() if v is not None})
        removed = [k for k, v in changes.items() if v is None]
        project_quotas.validated(dict.fromkeys(removed, 0))  # unknown names: 400
        own = db.get_project_quotas(self._db, project)
        own.update(given)
        for name in removed:
            own.pop(name, None)
        try:
            db.set_project_quotas(self._db, project, own)
        except db_errors.InvalidValue as e:
            raise errors.BadRequest(f"Invalid project id {project!r}: {e}") from None
        self._quotas_changed()
        LOG.info("project %s: quotas now %s", project, own)
        return self.get_quotas(project)

    def delete_quotas(self, project: str) -> None:
        """Remove ``project``'s own quotas: it takes the defaults again (404 when it had none)."""
        _check_project(project)
        if not db.delete_project_quotas(self._db, project):
            raise errors.NotFound(f"Project {project} has no quotas of its own")
        self._quotas_changed()
        LOG.info("project %s: quotas back to the defaults", project)

    def _quotas_changed(self) -> None:
        """Quotas were set here: use them at once, and try again the policies in an error
        state (a raised quota may let them out; other engines retry at their next deletion
        of data or rules)."""
        with self._lock, self._activating(UNIQUE):
            self._refresh_quotas()
            started = self._timer()
            self._handle(self._rt.retry_errors(), started)

    # -- enforcement ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """A number that changes whenever any table or policy may have changed (for caches of
        answers: an answer computed at generation g is current while it stays g)."""
        return self._generation

    @contextlib.contextmanager
    def _activating(self, activation: str | None) -> Iterator[None]:
        saved, self._activation = self._activation, activation
        try:
            yield
        finally:
            self._activation = saved

    def _handle(self, result: BatchResult, started: float) -> None:
        """After a batch that began at ``started`` (the engine's timer): listeners, actions."""
        self._generation += 1
        if self._batch_listeners:
            seconds = self._timer() - started
            for batch_listener in self._batch_listeners:
                try:
                    batch_listener(result, seconds)
                except Exception:
                    LOG.exception("a batch listener failed")
        activation = self._activation
        if activation == UNIQUE:
            activation = f"local:{self._node_id}:{time.time_ns()}:{self._generation}"
        if result.changes:
            for listener in self._change_listeners:
                try:
                    listener(result, activation)
                except Exception:
                    LOG.exception("a change listener failed")
        if not result.actions:
            return
        if activation is None:
            for req in result.actions:
                LOG.info(
                    "not requesting %s of policy %s again: it held before",
                    action_text(req.service, req.action, req.args),
                    req.policy,
                )
            return
        self.enforcement.handle(
            (req, self._request(req, activation), activation) for req in result.actions
        )

    def _request(self, req: ActionRequest, activation: str) -> ExecuteRequest:
        args = tuple(req.args)
        key = action_key(req.policy, req.service, req.action, args, activation)
        return ExecuteRequest(req.service, req.action, args, {}, req.policy, self._node_id, key=key)

    # -- safe enforcement (congress.services.enforcement) ----------------------------------
    def policy_id(self, policy: str) -> str | None:
        """The id of a live policy (None: no such policy)."""
        view = self._policies.get(policy)
        return None if view is None else view.id

    def action_holds(self, req: ActionRequest) -> bool:
        """Whether the ``execute`` row of ``req`` still holds."""
        name = req.policy
        if not self._rt.policy_exists(name):
            return False
        tables = [f"execute[{req.service}:{req.action}]"]
        if req.service == name:
            tables.append(f"execute[{req.action}]")
        row = tuple(req.args)
        return any(row in self._rt.rows(name, t) for t in tables if t in self._rt.tables(name))

    def action_inputs(self, req: ActionRequest) -> tuple[set[str], int]:
        """The datasources that the rules deriving ``req`` read (directly or through other
        policies' tables), and the rows of the largest table those rules read directly."""
        by_head: dict[tuple[str, str], list[Rule]] = {}
        actions: list[tuple[str, Rule]] = []
        for view, rule in self._rules.values():
            for head in rule.head:
                if head.modal == "execute":
                    service = head.policy or view.policy
                    if (view.policy, service, head.table) == (req.policy, req.service, req.action):
                        actions.append((view.policy, rule))
                else:
                    by_head.setdefault((head.policy or view.policy, head.table), []).append(rule)
        datasources: set[str] = set()
        largest = 0
        seen: set[tuple[str, str]] = set()
        todo = [(policy, lit, True) for policy, rule in actions for lit in rule.body]
        while todo:
            policy, lit, direct = todo.pop()
            key = (lit.policy or policy, lit.table)
            if direct and not lit.negated and self._rt.policy_exists(key[0]):
                try:
                    largest = max(largest, self._rt.count(*key))
                except dl.DatalogError:
                    pass
            if key in seen:
                continue
            seen.add(key)
            if self._rt.policy_exists(key[0]) and self._rt.kind(key[0]) == "datasource":
                datasources.add(self._views.base(key[0]) or key[0])
                continue
            for rule in by_head.get(key, ()):
                todo.extend((key[0], body_lit, False) for body_lit in rule.body)
        return datasources, largest

    def announce_revision(self, revision: int) -> None:
        """Tell the write listeners (other engines) of a revision written here, without
        taking it as applied (``sync`` applies it)."""
        for listener in self._write_listeners:
            try:
                listener(revision)
            except Exception:
                LOG.exception("announcing policy revision %d failed", revision)

    def check_actions(self) -> int:
        """Move on the deferred and held actions (``Enforcement.check``)."""
        with self._lock:
            return self.enforcement.check()

    def update_policy(
        self, policy: str, changes: Mapping[str, Any], *, actor: Actor | None = None
    ) -> PolicyView:
        """Change a policy's enforcement settings: ``dry_run`` (bool), ``action_grace_seconds``
        (seconds >= 0, or None for the configured default)."""
        unknown = sorted(set(changes) - {"dry_run", "action_grace_seconds"})
        if unknown:
            raise errors.BadRequest(
                f"Only 'dry_run' and 'action_grace_seconds' of a policy can be changed, "
                f"not {', '.join(map(repr, unknown))}"
            )
        dry_run = changes.get("dry_run")
        if dry_run is not None and not isinstance(dry_run, bool):
            raise errors.BadRequest("Field 'dry_run' must be true or false")
        kwargs: dict[str, Any] = {} if dry_run is None else {"dry_run": dry_run}
        if "action_grace_seconds" in changes:
            grace = changes["action_grace_seconds"]
            if grace is not None and (
                isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0
            ):
                raise errors.BadRequest(
                    "Field 'action_grace_seconds' must be a number of seconds >= 0, or null"
                )
            kwargs["action_grace_seconds"] = grace
        with self._lock:
            self.sync()
            view = self._find_policy(policy)
            settings = self._write(
                "update_policy",
                self._versioned(
                    lambda handle, rev: db.update_policy_settings(
                        handle, view.id, expected_revision=rev, **kwargs
                    ),
                    view.name,
                    db_versions.SETTINGS_CHANGED,
                    actor,
                ),
            )
            self.enforcement.apply(settings)
            self._written(settings.revision)
            LOG.info("policy %s: enforcement settings now %s", view.name, kwargs)
            return self._with_settings(view)

    # -- policy versions (docs/policy-lifecycle.md) ---------------------------------------
    def _versions_of(self, policy: str) -> str:
        """The id of the policy whose versions ``policy`` names: a live policy's name or id,
        or the id of a deleted one (its name may be another policy's now)."""
        with self._lock.read():
            try:
                return self._find_policy(policy).id
            except errors.PolicyNotFound:
                pass
        if db.list_policy_versions(self._db, policy, limit=1):
            return policy
        raise errors.PolicyNotFound(f"Policy {policy} does not exist")

    def list_versions(self, policy: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """``GET /v1/policies/<p>/versions``: the policy's versions, newest first."""
        policy_id = self._versions_of(policy)
        found = db.list_policy_versions(self._db, policy_id, limit=limit)
        return [version_body(v) for v in found]

    def get_version(self, policy: str, version: int) -> dict[str, Any]:
        """``GET /v1/policies/<p>/versions/<n>``: one version, with the policy's state before
        and after it."""
        policy_id = self._versions_of(policy)
        return version_body(self._version(policy, policy_id, version), full=True)

    def _version(self, policy: str, policy_id: str, version: int) -> records.PolicyVersion:
        try:
            return db.get_policy_version(self._db, policy_id, version)
        except db_errors.NotFound:
            raise errors.VersionNotFound(f"Policy {policy} has no version {version}") from None

    def rollback_policy(
        self, policy: str, version: int, *, actor: Actor | None = None
    ) -> dict[str, Any]:
        """Restore the policy's rules and settings to what they were at ``version``: one new
        change (the next version, ``rollback``) written like any other, so every engine
        applies it from the database; this one applies it the same way (``sync``)."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise errors.BadRequest("Field 'version' must be an integer")
        who = actor or NOBODY
        with self._lock:
            self.sync()
            pol = self._find_policy(policy)
            if pol.name in SYSTEM_POLICIES:
                raise errors.SystemPolicy("Cannot roll back system-maintained policy")
            target = self._version(policy, pol.id, version)
            if target.after is None:
                raise errors.BadRequest(f"Version {version} of policy {pol.name} left no policy")
            try:
                done = self._write(
                    "rollback",
                    lambda handle, rev: db.rollback_policy(
                        handle,
                        pol.id,
                        version,
                        expected_revision=rev,
                        user_id=who.user_id,
                        project_id=who.project_id,
                        node_id=self._node_id,
                    ),
                )
            except db_errors.DuplicateRule as e:
                raise errors.RuleExists(
                    f"Rolling policy {pol.name} back to version {version} would repeat a rule"
                ) from e
            except db_errors.NotFound as e:  # deleted by another engine meanwhile
                raise errors.PolicyNotFound(f"Policy {policy} does not exist") from e
            self.sync()  # the restored rules and settings, applied as every engine does
            self._written(done.revision)
            LOG.info(
                "policy %s: rolled back to version %d (version %d)", pol.name, version, done.version
            )
            return version_body(done)

    def breaker(self, policy: str) -> dict[str, Any]:
        """``GET /v1/policies/<p>/breaker``: the state of the policy's circuit breaker, from
        the database (the same on every node), with this engine's counts."""
        with self._lock.read():
            view = self._find_policy(policy)
            live = self.enforcement.window_counts(view.name)
        settings = db.get_policy_settings(self._db, view.id)
        return breaker_body(view.name, settings, self.enforcement.options, live)

    def reset_breaker(self, policy: str) -> dict[str, Any]:
        """Close the policy's circuit breaker (every engine applies it)."""
        with self._lock:
            self.sync()
            view = self._find_policy(policy)
            settings = self._write(
                "reset_breaker",
                lambda handle, rev: db.reset_breaker(handle, view.id, expected_revision=rev),
            )
            self.enforcement.apply(settings)
            self._written(settings.revision)
            LOG.warning("policy %s: circuit breaker reset", view.name)
            live = self.enforcement.window_counts(view.name)
            return breaker_body(view.name, settings, self.enforcement.options, live)

    def list_executions(
        self,
        *,
        limit: int = 100,
        policy: str | None = None,
        driver: str | None = None,
        action: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        project: str | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /v1/executions``: entries of the execution log, newest first (times in ISO
        8601); ``project``: only those of the project's policies."""
        found = db.list_executions(
            self._db,
            limit=limit,
            project=project,
            policy=policy,
            datasource=driver,
            action=action,
            status=status,
            since=None if since is None else datetime.datetime.fromisoformat(since),
            until=None if until is None else datetime.datetime.fromisoformat(until),
        )
        return [execution_body(e) for e in found]

    def dispatch_action(self, request: ExecuteRequest) -> None:
        """Send an action request to its datasource (again until acknowledged)."""
        key = request.key
        now = time.monotonic()
        with self._unacked_lock:
            self._unacked[key] = (request, now, now)
        self._send(request)

    def _send(self, request: ExecuteRequest) -> None:
        assert self._executor is not None
        try:
            self._executor(request)
        except Exception as exc:  # sent again later; data processing goes on
            LOG.warning(
                "could not send %s:%s (action %s) yet: %s",
                request.service,
                request.action,
                request.key,
                exc,
            )

    # -- acknowledgements ----------------------------------------------------------------
    def acknowledge(self, key: str) -> bool:
        """The datasource has run (or knows) the action ``key``: stop sending it."""
        with self._unacked_lock:
            return self._unacked.pop(key, None) is not None

    def pending_actions(self) -> list[ExecuteRequest]:
        """The requests sent and not acknowledged yet, oldest first."""
        with self._unacked_lock:
            return [r for r, _, _ in sorted(self._unacked.values(), key=lambda v: v[1])]

    def resend_pending(self, after: float = 2.0, give_up: float = 600.0) -> int:
        """Send again every request unacknowledged for ``after`` seconds (a new leader picks
        them up); forget those older than ``give_up`` seconds (0 or less: never)."""
        now = time.monotonic()
        again = []
        with self._unacked_lock:
            for key, (request, first, last) in list(self._unacked.items()):
                if give_up > 0 and now - first > give_up:
                    LOG.error("giving up action %s (%s:%s)", key, request.service, request.action)
                    del self._unacked[key]
                elif now - last >= after:
                    self._unacked[key] = (request, first, now)
                    again.append(request)
        for request in again:
            self._send(request)
        return len(again)


def _check_project(project: str) -> None:
    if project != db.ALL_PROJECTS and not names.valid_project(project):
        raise errors.BadRequest(
            f"Invalid project id {project!r}: a project id is letters, digits, '_' and '-', "
            f"or '{db.ALL_PROJECTS}' for every project"
        )


def created_rule_text(view: RuleView) -> str:
    """The rule as the original answered a create: ``head :-\\n  lit1,\\n  lit2``."""
    from congress.datalog.parser import parse_statement

    stmt = parse_statement(view.rule)
    return format_rule(stmt) if isinstance(stmt, Rule) else view.rule


def _deleted_at(revision: int | None) -> int:
    """The revision a deletion made (announced to the other engines, and the one reads must
    wait for); the record's ``revision`` is when the policy or rule was created."""
    if revision is None:
        raise AssertionError("a deletion answered without its revision")
    return revision
