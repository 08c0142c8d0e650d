"""Policy enforcement settings and circuit breakers (table ``policy_settings``).

Imports: standard library, SQLAlchemy, congress.db's errors, models, records, revisions and
_support.

A policy has a settings row once one of its settings left its default (``dry_run``,
``action_grace_seconds``) or its breaker tripped. Every change bumps the policy revision and
stamps the row with it, so that every policy engine, which reads the changed rows after the
revision it has seen (``policy_settings_since``), applies it: replicated engines agree.

``update_policy_settings`` and ``reset_breaker`` are conditional on the revision the writer has
applied (``expected_revision``), like every policy change. ``trip_breaker`` is not: every engine
of a deployment may trip the same breaker at once; it takes the revision's row lock first, so
the first one opens the breaker (and bumps the revision) and the others find it open and change
nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from congress.db import errors, models, revisions
from congress.db._support import check_length, from_json, now, to_json, transactional
from congress.db.models import PolicyRow, PolicySettingsRow, RevisionRow
from congress.db.records import PolicySettings

CLOSED = "closed"
OPEN = "open"


class Unchanged:
    """The type of ``UNCHANGED``."""


UNCHANGED = Unchanged()
"""``action_grace_seconds=UNCHANGED``: leave the setting as it is."""


def _record(row: PolicySettingsRow) -> PolicySettings:
    return PolicySettings(
        policy_id=row.policy_id,
        policy_name=row.policy_name,
        dry_run=bool(row.dry_run),
        action_grace_seconds=row.action_grace_seconds,
        breaker_state=row.breaker_state,
        breaker_reason=row.breaker_reason,
        breaker_tripped_at=row.breaker_tripped_at,
        breaker_tripped_by=row.breaker_tripped_by,
        breaker_counts=None if row.breaker_counts is None else from_json(row.breaker_counts),
        revision=row.revision,
    )


def _policy(session: Session, policy_id: str) -> PolicyRow:
    row = session.get(PolicyRow, policy_id)
    if row is None:
        raise errors.NotFound("policy", policy_id)
    return row


def _row(session: Session, policy: PolicyRow, revision: int) -> PolicySettingsRow:
    """The policy's settings row, locked (made with the defaults when absent)."""
    row = session.get(PolicySettingsRow, policy.id, with_for_update=True, populate_existing=True)
    if row is None:
        row = PolicySettingsRow(
            policy_id=policy.id,
            policy_name=policy.name,
            dry_run=False,
            action_grace_seconds=None,
            breaker_state=CLOSED,
            revision=revision,
        )
        session.add(row)
    return row


@transactional(readonly=True)
def get_policy_settings(session: Session, policy_id: str) -> PolicySettings:
    """The settings of a live policy (the defaults when it has no row). Raises NotFound."""
    policy = _policy(session, policy_id)
    row = session.get(PolicySettingsRow, policy_id)
    return PolicySettings(policy.id, policy.name) if row is None else _record(row)


@transactional(readonly=True)
def policy_settings_since(session: Session, revision: int) -> tuple[int, list[PolicySettings]]:
    """The current policy revision and the settings changed after ``revision``, of live
    policies, oldest change first."""
    at = revisions.read(session)
    statement = (
        select(PolicySettingsRow)
        .join(PolicyRow, PolicyRow.id == PolicySettingsRow.policy_id)
        .where(PolicySettingsRow.revision > revision)
        .order_by(PolicySettingsRow.revision, PolicySettingsRow.policy_id)
    )
    return at, [_record(row) for row in session.scalars(statement)]


@transactional()
def update_policy_settings(
    session: Session,
    policy_id: str,
    *,
    dry_run: bool | None = None,
    action_grace_seconds: float | Unchanged | None = UNCHANGED,
    expected_revision: int | None = None,
) -> PolicySettings:
    """Change a policy's settings (those given) at a new revision. Raises NotFound,
    InvalidValue and StaleRevision."""
    grace = action_grace_seconds
    if isinstance(grace, int | float) and not grace >= 0:
        raise errors.InvalidValue("action_grace_seconds", "not a number of seconds >= 0")
    revision = revisions.bump(session, expected_revision)
    row = _row(session, _policy(session, policy_id), revision)
    if dry_run is not None:
        row.dry_run = dry_run
    if not isinstance(grace, Unchanged):
        row.action_grace_seconds = None if grace is None else float(grace)
    row.revision = revision
    row.updated_at = now()
    session.flush()
    return _record(row)


@transactional()
def trip_breaker(
    session: Session,
    policy_id: str,
    *,
    reason: str,
    counts: object,
    node_id: str | None = None,
    when: datetime | None = None,
) -> tuple[PolicySettings, bool]:
    """Open a policy's breaker; True when this call opened it, False when it was open already
    (then nothing changes). Raises NotFound."""
    check_length("node_id", node_id, models.NAME_LENGTH)
    locked = select(RevisionRow.revision).where(RevisionRow.id == revisions.REVISION_ROW_ID)
    if session.scalar(locked.with_for_update()) is None:
        raise errors.DatabaseError("the policy_revision row is missing: run the migrations")
    policy = _policy(session, policy_id)
    found = session.get(PolicySettingsRow, policy_id, populate_existing=True)
    if found is not None and found.breaker_state == OPEN:
        return _record(found), False
    revision = revisions.bump(session)
    row = _row(session, policy, revision)
    row.breaker_state = OPEN
    row.breaker_reason = reason
    row.breaker_tripped_at = when or now()
    row.breaker_tripped_by = node_id
    row.breaker_counts = to_json(counts)
    row.revision = revision
    row.updated_at = now()
    session.flush()
    return _record(row), True


@transactional()
def reset_breaker(
    session: Session, policy_id: str, *, expected_revision: int | None = None
) -> PolicySettings:
    """Close a policy's breaker at a new revision (forgetting why it tripped). Raises NotFound
    and StaleRevision."""
    revision = revisions.bump(session, expected_revision)
    row = _row(session, _policy(session, policy_id), revision)
    row.breaker_state = CLOSED
    row.breaker_reason = row.breaker_tripped_at = row.breaker_tripped_by = None
    row.breaker_counts = None
    row.revision = revision
    row.updated_at = now()
    session.flush()
    return _record(row)
