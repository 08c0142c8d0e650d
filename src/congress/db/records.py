"""Plain records returned by the repository functions, and the inputs they take.

Imports: standard library only. Records are frozen dataclasses detached from any session, so
callers never hold a database session or an ORM object. Timestamps are aware (UTC). JSON-valued
fields (``config``, ``rules``, ``args``) are whatever ``json.loads`` gave back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    name: str
    abbreviation: str
    description: str
    owner: str
    kind: str
    created_at: datetime
    revision: int
    """The policy revision at which the policy was created."""
    deleted_revision: int | None = None
    """The policy revision at which the policy was deleted (in what deleting answers)."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    policy_name: str
    rule: str
    """The rule's text as submitted."""
    name: str | None
    comment: str
    fingerprint: str | None
    """A caller-chosen key (e.g. a digest of the canonical text): unique among live rules."""
    created_at: datetime
    revision: int
    """The policy revision at which the rule was added."""
    deleted_revision: int | None = None
    """The policy revision at which the rule was deleted; None while live."""


@dataclass(frozen=True, slots=True)
class NewRule:
    """A rule to add."""

    rule: str
    name: str | None = None
    comment: str = ""
    fingerprint: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyCreated:
    revision: int
    policy: Policy


@dataclass(frozen=True, slots=True)
class PolicyDeleted:
    revision: int
    policy: Policy


@dataclass(frozen=True, slots=True)
class RuleAdded:
    revision: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class RuleDeleted:
    revision: int
    rule: Rule


Change = PolicyCreated | PolicyDeleted | RuleAdded | RuleDeleted


@dataclass(frozen=True, slots=True)
class ChangeLog:
    """Every change after a revision, in the order to apply them, up to ``revision``.

    Changes are sorted by revision; within one revision rule deletions come before policy
    deletions, and policy creations before rule additions. Pass ``revision`` to the next call.
    """

    revision: int
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class PolicyState:
    """Every live policy and rule, as of ``revision`` (one consistent snapshot)."""

    revision: int
    policies: tuple[Policy, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Datasource:
    id: str
    name: str
    driver: str
    config: dict[str, Any]
    description: str | None
    enabled: bool
    owner: str = "user"
    """``user`` (the operator's) or the project that owns it (docs/tenancy.md)."""


@dataclass(frozen=True, slots=True)
class LibraryPolicy:
    id: str
    name: str
    abbreviation: str
    description: str
    kind: str
    rules: list[Any] | None
    """The rules as stored (a JSON list); None when listed without rules."""
    owner: str = "user"
    """``user`` (the operator's) or the project that owns it (docs/tenancy.md)."""


@dataclass(frozen=True, slots=True)
class ActionExecution:
    id: str
    created_at: datetime
    updated_at: datetime | None
    policy: str | None
    datasource: str
    action: str
    args: Any
    revision: int | None
    derivation: str | None
    node_id: str | None
    status: str
    detail: str | None
    result: Any = None
    """The driver's answer (JSON) of an action that ran."""


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """A policy's enforcement settings and circuit breaker (docs/enforcement.md)."""

    policy_id: str
    policy_name: str
    dry_run: bool = False
    action_grace_seconds: float | None = None
    """None: the configured default ([enforcement] action_grace_seconds)."""
    breaker_state: str = "closed"
    breaker_reason: str | None = None
    breaker_tripped_at: datetime | None = None
    breaker_tripped_by: str | None = None
    breaker_counts: Any = None
    revision: int = 0
    """The policy revision of the last change of these settings."""


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One change of a policy (docs/policy-lifecycle.md). ``before`` and ``after`` are the
    policy's state (``{id, name, kind, description, abbreviation, owner_id, rules: [{id, name,
    comment, rule}], settings: {dry_run, action_grace_seconds}}``), None before a creation and
    after a deletion; they are left out (None) by listings."""

    policy_id: str
    policy_name: str
    version: int
    action: str
    user_id: str | None
    project_id: str | None
    node_id: str | None
    created_at: datetime
    revision: int
    detail: Any = None
    before: Any = None
    after: Any = None
