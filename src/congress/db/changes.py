"""Reading policy state by revision: everything as of now, or every change since a revision.

Imports: standard library, SQLAlchemy, congress.db's models, records, revisions, policies and
_support.

A policy engine loads ``load_policy_state`` once, keeps its ``revision`` as a cursor, and then
applies ``changes_since(cursor)`` whenever notified (and periodically, so a lost notification
heals). Both read one consistent snapshot when called with an Engine (REPEATABLE READ, or SQLite's
transaction). Called within a caller's READ COMMITTED Session they are still exact: every query
is bounded by the revision read first, and revisions commit in order (see ``revisions``).

If ``changes_since`` answers with a revision lower than the cursor, the database was replaced:
reload everything.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from congress.db import revisions
from congress.db._support import transactional
from congress.db.models import DeletedPolicyRow, PolicyRow, RuleRow
from congress.db.policies import policy_record, rule_record
from congress.db.records import (
    Change,
    ChangeLog,
    Policy,
    PolicyCreated,
    PolicyDeleted,
    PolicyState,
    Rule,
    RuleAdded,
    RuleDeleted,
)

# Within one revision: rule deletions, policy deletions, policy creations, rule additions.
_PHASE: dict[type, int] = {RuleDeleted: 0, PolicyDeleted: 1, PolicyCreated: 2, RuleAdded: 3}


@transactional(readonly=True)
def load_policy_state(session: Session) -> PolicyState:
    """Every policy and rule live at the current revision, and that revision."""
    at = revisions.read(session)
    policies: dict[str, Policy] = {}
    for row in session.scalars(select(PolicyRow).where(PolicyRow.revision <= at)):
        policies[row.id] = policy_record(row)
    deleted_later = select(DeletedPolicyRow).where(
        DeletedPolicyRow.revision <= at, DeletedPolicyRow.deleted_revision > at
    )
    for deleted in session.scalars(deleted_later):
        policies.setdefault(deleted.id, policy_record(deleted))
    rules = session.scalars(
        select(RuleRow)
        .where(
            RuleRow.revision <= at,
            or_(RuleRow.deleted_revision.is_(None), RuleRow.deleted_revision > at),
        )
        .order_by(RuleRow.revision, RuleRow.created_at, RuleRow.id)
    )
    return PolicyState(
        revision=at,
        policies=tuple(sorted(policies.values(), key=lambda p: (p.revision, p.id))),
        rules=tuple(_as_of(rule_record(row), at) for row in rules),
    )


@transactional(readonly=True)
def changes_since(session: Session, revision: int) -> ChangeLog:
    """Every policy and rule change after ``revision`` up to the current one, in apply order."""
    at = revisions.read(session)
    changes: dict[tuple[type, str], Change] = {}

    def note(change: Change, key: str) -> None:
        changes.setdefault((type(change), key), change)

    live = select(PolicyRow).where(PolicyRow.revision > revision, PolicyRow.revision <= at)
    for row in session.scalars(live):
        note(PolicyCreated(row.revision, policy_record(row)), row.id)
    gone = select(DeletedPolicyRow).where(
        DeletedPolicyRow.deleted_revision > revision, DeletedPolicyRow.revision <= at
    )
    for deleted in session.scalars(gone):
        policy = policy_record(deleted)
        if deleted.revision > revision:
            note(PolicyCreated(deleted.revision, policy), deleted.id)
        if deleted.deleted_revision <= at:
            note(PolicyDeleted(deleted.deleted_revision, policy), deleted.id)
    touched = select(RuleRow).where(
        or_(RuleRow.revision > revision, RuleRow.deleted_revision > revision),
        RuleRow.revision <= at,
    )
    for rule_row in session.scalars(touched):
        rule = rule_record(rule_row)
        if rule.revision > revision:
            note(RuleAdded(rule.revision, _as_of(rule, at)), rule.id)
        if rule.deleted_revision is not None and revision < rule.deleted_revision <= at:
            note(RuleDeleted(rule.deleted_revision, rule), rule.id)
    ordered = sorted(changes.values(), key=_order)
    return ChangeLog(revision=at, changes=tuple(ordered))


def _order(change: Change) -> tuple[int, int, str]:
    key = change.policy.id if isinstance(change, PolicyCreated | PolicyDeleted) else ""
    if isinstance(change, RuleAdded | RuleDeleted):
        key = f"{change.rule.created_at.isoformat()} {change.rule.id}"
    return (change.revision, _PHASE[type(change)], key)


def _as_of(rule: Rule, at: int) -> Rule:
    """``rule`` as seen at revision ``at``: not deleted if its deletion came later."""
    if rule.deleted_revision is not None and rule.deleted_revision > at:
        return dataclasses.replace(rule, deleted_revision=None)
    return rule
