"""Policies and their rules: create, read, list, delete; every change bumps the revision.

Imports: standard library, SQLAlchemy, congress.db's errors, models, records, revisions and
_support.

Each function takes an ``Engine`` (it runs in its own transaction, retried on deadlocks) or a
``Session`` (it joins the caller's transaction). Each change is one revision: creating a policy
together with its rules, adding a batch of rules or deleting one (with the rules it removes) is
one bump, and every row it writes carries that revision. ``expected_revision`` makes a change
conditional on nothing having changed since the caller checked it (``StaleRevision`` otherwise).

Deleting a policy moves its row to ``policiesdeleted`` and soft-deletes its rules, so its name is
free again at once. Rules are addressed by id; their text is stored as submitted.

Quotas (docs/tenancy.md): ``create_policy`` and ``add_rules`` take an optional ``quota``
(``WriteQuota``), the limits of the project that owns the policy (its ``owner``; a global
policy, owner ``user``, has none). They count the project's live policies and rules in the
write's own transaction, after ``revisions.bump``: the revision's row lock orders every policy
writer, so two writers (two API nodes) cannot both see room for one more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from congress.db import errors, models, revisions
from congress.db._support import (
    PRIMARY,
    Db,
    check_id,
    check_length,
    flush_or_conflict,
    new_id,
    now,
    transactional,
)
from congress.db.models import DeletedPolicyRow, PolicyRow, RuleRow
from congress.db.records import NewRule, Policy, Rule

Ts = TypeVarTuple("Ts")

DEFAULT_OWNER = "user"
DEFAULT_KIND = "nonrecursive"


class QuotaExceeded(errors.DBError):
    """A write would take a project over one of its quotas; nothing was written."""

    code = "quota_exceeded"

    def __init__(self, quota: str, limit: int, project: str) -> None:
        super().__init__(f"Quota exceeded: project may own at most {limit} {quota}")
        self.quota = quota
        self.limit = limit
        self.project = project


@dataclasses.dataclass(frozen=True, slots=True)
class WriteQuota:
    """The limits a write checks for the project owning the policy; 0 means no limit."""

    policies: int = 0
    rules: int = 0


@transactional(readonly=True)
def project_usage(session: Session, project: str) -> dict[str, int]:
    """``{"policies": n, "rules": m}``: the live policies and rules ``project`` owns."""
    return {"policies": _owned_policies(session, project), "rules": _owned_rules(session, project)}


def _owned_policies(session: Session, project: str) -> int:
    count = session.scalar(select(func.count()).where(PolicyRow.owner == project))
    return int(count or 0)


def _owned_rules(session: Session, project: str) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(RuleRow)
        .join(PolicyRow, PolicyRow.name == RuleRow.policy_name)
        .where(PolicyRow.owner == project, RuleRow.deleted == "")
    )
    return int(count or 0)


def _check_quota(
    session: Session, owner: str, quota: WriteQuota | None, policies: int, rules: int
) -> None:
    """Refuse ``policies`` more policies and ``rules`` more rules for ``owner`` over its quota
    (after ``revisions.bump``: see the module's docstring)."""
    if quota is None or owner == DEFAULT_OWNER:
        return
    if policies and quota.policies and _owned_policies(session, owner) + policies > quota.policies:
        raise QuotaExceeded("policies", quota.policies, owner)
    if rules and quota.rules and _owned_rules(session, owner) + rules > quota.rules:
        raise QuotaExceeded("rules", quota.rules, owner)


def policy_record(row: PolicyRow | DeletedPolicyRow) -> Policy:
    return Policy(
        id=row.id,
        name=row.name,
        abbreviation=row.abbreviation,
        description=row.description,
        owner=row.owner,
        kind=row.kind,
        created_at=row.created_at,
        revision=row.revision,
    )


def rule_record(row: RuleRow) -> Rule:
    return Rule(
        id=row.id,
        policy_name=row.policy_name,
        rule=row.rule,
        name=row.name,
        comment=row.comment,
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        revision=row.revision,
        deleted_revision=row.deleted_revision,
    )


# ---------------------------------------------------------------------------- policies


@transactional()
def create_policy(
    session: Session,
    name: str,
    *,
    abbreviation: str | None = None,
    description: str = "",
    owner: str = DEFAULT_OWNER,
    kind: str = DEFAULT_KIND,
    policy_id: str | None = None,
    rules: Sequence[NewRule] = (),
    expected_revision: int | None = None,
    quota: WriteQuota | None = None,
) -> Policy:
    """Create a policy (and ``rules``, atomically); the abbreviation defaults to ``name[:5]``.

    Raises DuplicateName, DuplicateId, DuplicateRule, StaleRevision, InvalidValue or
    QuotaExceeded (``quota``: the owner's, when it is a project).
    """
    abbreviation = name[: models.ABBREVIATION_LENGTH] if abbreviation is None else abbreviation
    _check_policy(name, abbreviation, owner, kind, policy_id)
    _check_rules(name, rules)
    revision = revisions.bump(session, expected_revision)
    _check_quota(session, owner, quota, 1, len(rules))
    row = PolicyRow(
        id=policy_id or new_id(),
        name=name,
        abbreviation=abbreviation,
        description=description,
        owner=owner,
        kind=kind,
        revision=revision,
        created_at=now(),
        deleted="",
    )
    session.add(row)
    flush_or_conflict(
        session,
        {
            "uq_policies_name": lambda: errors.DuplicateName("policy", name),
            PRIMARY: lambda: errors.DuplicateId("policy", row.id),
        },
    )
    _insert_rules(session, name, rules, revision)
    return policy_record(row)


def _check_policy(
    name: str, abbreviation: str, owner: str, kind: str, policy_id: str | None
) -> None:
    if not name:
        raise errors.InvalidValue("name", "empty")
    check_length("name", name, models.NAME_LENGTH)
    check_length("abbreviation", abbreviation, models.ABBREVIATION_LENGTH)
    check_length("owner", owner, models.NAME_LENGTH)
    check_length("kind", kind, models.KIND_LENGTH)
    check_id(policy_id)


@transactional(readonly=True)
def get_policy(session: Session, policy_id: str) -> Policy:
    """The live policy with id ``policy_id``; NotFound otherwise."""
    row = session.scalar(select(PolicyRow).where(PolicyRow.id == policy_id))
    if row is None:
        raise errors.NotFound("policy", policy_id)
    return policy_record(row)


@transactional(readonly=True)
def get_policy_by_name(session: Session, name: str) -> Policy:
    """The live policy named ``name``; NotFound otherwise."""
    row = session.scalar(select(PolicyRow).where(PolicyRow.name == name))
    if row is None:
        raise errors.NotFound("policy", name)
    return policy_record(row)


@transactional(readonly=True)
def find_policy(session: Session, name_or_id: str) -> Policy:
    """The live policy whose id, or else whose name, is ``name_or_id``; NotFound otherwise."""
    rows = session.scalars(
        select(PolicyRow).where((PolicyRow.id == name_or_id) | (PolicyRow.name == name_or_id))
    ).all()
    if not rows:
        raise errors.NotFound("policy", name_or_id)
    return policy_record(min(rows, key=lambda row: row.id != name_or_id))


@transactional(readonly=True)
def list_policies(session: Session) -> list[Policy]:
    """Every live policy, oldest first."""
    rows = session.scalars(select(PolicyRow).order_by(PolicyRow.revision, PolicyRow.id))
    return [policy_record(row) for row in rows]


@transactional()
def delete_policy(
    session: Session, policy_id: str, *, expected_revision: int | None = None
) -> Policy:
    """Delete a policy and its rules; the row moves to ``policiesdeleted``.

    Returns the policy as it was. Raises NotFound or StaleRevision.
    """
    revision = revisions.bump(session, expected_revision)
    row = session.scalar(_locked(select(PolicyRow).where(PolicyRow.id == policy_id)))
    if row is None:
        raise errors.NotFound("policy", policy_id)
    stamp = now()
    rules = session.scalars(
        _locked(select(RuleRow).where(RuleRow.policy_name == row.name, RuleRow.deleted == ""))
    ).all()
    _soft_delete(rules, revision, stamp)
    session.add(
        DeletedPolicyRow(
            id=row.id,
            name=row.name,
            abbreviation=row.abbreviation,
            description=row.description,
            owner=row.owner,
            kind=row.kind,
            revision=row.revision,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=stamp,
            deleted=row.id,
            deleted_revision=revision,
        )
    )
    session.delete(row)
    session.flush()
    return dataclasses.replace(policy_record(row), deleted_revision=revision)


# ---------------------------------------------------------------------------- rules


@transactional()
def add_rules(
    session: Session,
    policy_name: str,
    rules: Sequence[NewRule],
    *,
    expected_revision: int | None = None,
    quota: WriteQuota | None = None,
) -> list[Rule]:
    """Add ``rules`` to the live policy ``policy_name``, atomically, at one new revision.

    Raises NotFound, DuplicateRule, DuplicateId, StaleRevision, InvalidValue or QuotaExceeded
    (``quota``: the policy's owner's, when it is a project).
    """
    _check_rules(policy_name, rules)
    revision = revisions.bump(session, expected_revision)
    owner = session.scalar(_locked(select(PolicyRow.owner).where(PolicyRow.name == policy_name)))
    if owner is None:
        raise errors.NotFound("policy", policy_name)
    _check_quota(session, owner, quota, 0, len(rules))
    return _insert_rules(session, policy_name, rules, revision)


def add_rule(
    db: Db,
    policy_name: str,
    rule: str,
    *,
    name: str | None = None,
    comment: str = "",
    fingerprint: str | None = None,
    rule_id: str | None = None,
    expected_revision: int | None = None,
    quota: WriteQuota | None = None,
) -> Rule:
    """Add one rule: ``add_rules`` with a single ``NewRule``."""
    new = NewRule(rule=rule, name=name, comment=comment, fingerprint=fingerprint, id=rule_id)
    (added,) = add_rules(db, policy_name, [new], expected_revision=expected_revision, quota=quota)
    return added


def _check_rules(policy_name: str, rules: Sequence[NewRule]) -> None:
    seen: set[str] = set()
    for new in rules:
        check_length("rule name", new.name, models.NAME_LENGTH)
        check_length("comment", new.comment, models.NAME_LENGTH)
        check_length("fingerprint", new.fingerprint, models.FINGERPRINT_LENGTH)
        check_id(new.id)
        if new.fingerprint is not None:
            if new.fingerprint in seen:
                raise errors.DuplicateRule(policy_name, new.fingerprint)
            seen.add(new.fingerprint)


def _insert_rules(
    session: Session, policy_name: str, rules: Sequence[NewRule], revision: int
) -> list[Rule]:
    fingerprints = [new.fingerprint for new in rules if new.fingerprint is not None]
    if fingerprints:
        clash = session.scalar(
            select(RuleRow.fingerprint).where(
                RuleRow.policy_name == policy_name,
                RuleRow.deleted == "",
                RuleRow.fingerprint.in_(fingerprints),
            )
        )
        if clash is not None:
            raise errors.DuplicateRule(policy_name, clash)
    stamp = now()
    rows = [_rule_row(policy_name, new, revision, stamp, i) for i, new in enumerate(rules)]
    session.add_all(rows)
    flush_or_conflict(
        session,
        {
            "uq_policy_rules_fingerprint": lambda: errors.DuplicateRule(policy_name, None),
            PRIMARY: lambda: errors.DuplicateId("rule", ", ".join(row.id for row in rows)),
        },
    )
    return [rule_record(row) for row in rows]


def _rule_row(
    policy_name: str, new: NewRule, revision: int, stamp: datetime, position: int
) -> RuleRow:
    # A microsecond per position keeps a batch listed in the order it was given.
    return RuleRow(
        id=new.id or new_id(),
        policy_name=policy_name,
        rule=new.rule,
        name=new.name,
        comment=new.comment,
        fingerprint=new.fingerprint,
        revision=revision,
        created_at=stamp + timedelta(microseconds=position),
        deleted="",
    )


@transactional(readonly=True)
def get_rule(session: Session, rule_id: str, *, policy_name: str | None = None) -> Rule:
    """The live rule ``rule_id`` (of policy ``policy_name`` when given); NotFound otherwise."""
    statement = select(RuleRow).where(RuleRow.id == rule_id, RuleRow.deleted == "")
    if policy_name is not None:
        statement = statement.where(RuleRow.policy_name == policy_name)
    row = session.scalar(statement)
    if row is None:
        raise errors.NotFound("rule", rule_id)
    return rule_record(row)


@transactional(readonly=True)
def list_rules(session: Session, policy_name: str | None = None) -> list[Rule]:
    """The live rules of ``policy_name`` (of every policy when None), in the order added."""
    statement = select(RuleRow).where(RuleRow.deleted == "")
    if policy_name is not None:
        statement = statement.where(RuleRow.policy_name == policy_name)
    rows = session.scalars(statement.order_by(RuleRow.revision, RuleRow.created_at, RuleRow.id))
    return [rule_record(row) for row in rows]


@transactional()
def delete_rules(
    session: Session,
    rule_ids: Iterable[str],
    *,
    policy_name: str | None = None,
    expected_revision: int | None = None,
) -> list[Rule]:
    """Delete live rules by id, all or none, at one new revision; returns them as deleted.

    Raises NotFound (naming the first missing id) or StaleRevision.
    """
    wanted = list(dict.fromkeys(rule_ids))
    revision = revisions.bump(session, expected_revision)
    statement = select(RuleRow).where(RuleRow.id.in_(wanted), RuleRow.deleted == "")
    if policy_name is not None:
        statement = statement.where(RuleRow.policy_name == policy_name)
    found = {row.id: row for row in session.scalars(_locked(statement))}
    for rule_id in wanted:
        if rule_id not in found:
            raise errors.NotFound("rule", rule_id)
    rows = [found[rule_id] for rule_id in wanted]
    _soft_delete(rows, revision, now())
    session.flush()
    return [rule_record(row) for row in rows]


def delete_rule(
    db: Db,
    rule_id: str,
    *,
    policy_name: str | None = None,
    expected_revision: int | None = None,
) -> Rule:
    """Delete one live rule: ``delete_rules`` with a single id."""
    (deleted,) = delete_rules(
        db, [rule_id], policy_name=policy_name, expected_revision=expected_revision
    )
    return deleted


def _soft_delete(rows: Iterable[RuleRow], revision: int, stamp: datetime) -> None:
    for row in rows:
        row.deleted = row.id
        row.deleted_at = stamp
        row.deleted_revision = revision


def _locked(statement: Select[*Ts]) -> Select[*Ts]:
    """``statement`` as a locking read of the latest committed rows (no table lock)."""
    return statement.with_for_update().execution_options(populate_existing=True)
