"""Policy versions (table ``policy_versions``): every change of a policy, recorded in the
change's own transaction, and rolling a policy back to one of its versions.

Imports: standard library, SQLAlchemy, congress.db's errors, models, records, revisions,
policies and _support.

``record_change(db, change, policy_name=..., action=...)`` runs ``change(session)`` (a
repository call that bumps the policy revision: creating or deleting the policy, adding or
deleting a rule, changing its settings) in one transaction with the record of it: the live
policy's state is read before and after, and the next version is appended. It first takes the
policy revision's row lock (which the change's ``bump`` takes anyway), so the state read before
is the latest committed one and versions are numbered without gaps or clashes, on every
backend; the primary key (policy_id, version) would refuse a clash all the same.

A policy's state is ``{id, name, kind, description, abbreviation, owner_id,
rules: [{id, name, comment, rule}], settings: {dry_run, action_grace_seconds}}``; the circuit
breaker is not part of it (it is the engines' safety state, not a setting someone chose).

Versions are numbered per policy from 1 (its creation). A policy that existed before versions
were recorded gets, at its first change, a version 1 ``baseline`` (its state then, by nobody)
before the change itself, so it can be rolled back to how it was.

``rollback_policy`` restores a live policy's rules and settings to what they were after one of
its versions, at one new revision, recorded as a version ``rollback``: rules that are there
already (the same id, or the same text, name and comment) stay; the others are deleted; rules
of the version that are missing are added again with new ids (a rule's id is never reused).
The policy's name, kind, description and abbreviation never change after its creation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from congress.db import errors, models, revisions
from congress.db._support import from_json, now, to_json, transactional
from congress.db.models import PolicyRow, PolicySettingsRow, PolicyVersionRow, RuleRow
from congress.db.policies import _insert_rules, _soft_delete
from congress.db.records import NewRule, PolicyVersion

T = TypeVar("T")

POLICY_CREATED = "policy_created"
POLICY_DELETED = "policy_deleted"
SETTINGS_CHANGED = "settings_changed"
RULE_ADDED = "rule_added"
RULE_DELETED = "rule_deleted"
LIBRARY_ACTIVATED = "library_activated"
ROLLBACK = "rollback"
BASELINE = "baseline"
ACTIONS = (
    POLICY_CREATED,
    POLICY_DELETED,
    SETTINGS_CHANGED,
    RULE_ADDED,
    RULE_DELETED,
    LIBRARY_ACTIVATED,
    ROLLBACK,
    BASELINE,
)
VERSION_KIND = "policy version"
"""The ``kind`` of the ``NotFound`` raised for a version that does not exist."""


def _record(row: PolicyVersionRow, *, full: bool = True) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.policy_id,
        policy_name=row.policy_name,
        version=row.version,
        action=row.action,
        user_id=row.user_id,
        project_id=row.project_id,
        node_id=row.node_id,
        created_at=row.created_at,
        revision=row.revision,
        detail=None if row.detail is None else from_json(row.detail),
        before=None if not full or row.before is None else from_json(row.before),
        after=None if not full or row.after is None else from_json(row.after),
    )


def _lock_revision(session: Session) -> int:
    statement = select(models.RevisionRow.revision).where(
        models.RevisionRow.id == revisions.REVISION_ROW_ID
    )
    value = session.scalar(statement.with_for_update())
    if value is None:
        raise errors.DatabaseError("the policy_revision row is missing: run the migrations")
    return value


def _live(session: Session, name: str) -> PolicyRow | None:
    return session.scalar(select(PolicyRow).where(PolicyRow.name == name))


def _rule(row: RuleRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "comment": row.comment, "rule": row.rule}


def _state(session: Session, policy: PolicyRow, rules: list[dict[str, Any]]) -> dict[str, Any]:
    settings = session.get(PolicySettingsRow, policy.id, populate_existing=True)
    return {
        "id": policy.id,
        "name": policy.name,
        "kind": policy.kind,
        "description": policy.description,
        "abbreviation": policy.abbreviation,
        "owner_id": policy.owner,
        "rules": rules,
        "settings": {
            "dry_run": bool(settings.dry_run) if settings is not None else False,
            "action_grace_seconds": None if settings is None else settings.action_grace_seconds,
        },
    }


def _read_state(session: Session, policy: PolicyRow) -> dict[str, Any]:
    """The full state of a live policy read from its rows (see the module's docs)."""
    statement = (
        select(RuleRow)
        .where(RuleRow.policy_name == policy.name, RuleRow.deleted == "")
        .order_by(RuleRow.revision, RuleRow.created_at, RuleRow.id)
    )
    return _state(session, policy, [_rule(r) for r in session.scalars(statement)])


def _latest(session: Session, policy_id: str) -> PolicyVersionRow | None:
    return session.scalar(
        select(PolicyVersionRow)
        .where(PolicyVersionRow.policy_id == policy_id)
        .order_by(PolicyVersionRow.version.desc())
        .limit(1)
    )


def _recorded_state(
    session: Session, policy: PolicyRow, latest: PolicyVersionRow | None
) -> tuple[dict[str, Any], str] | None:
    """The policy's state and its JSON text as its latest version recorded it, when nothing
    of it has changed since (every change is recorded; a tripped breaker is not part of the
    state, but bumps the settings' revision, so the state is then read again)."""
    if latest is None or latest.after is None:
        return None
    since = latest.revision
    changed = session.scalar(
        select(RuleRow.id)
        .where(
            RuleRow.policy_name == policy.name,
            or_(RuleRow.revision > since, RuleRow.deleted_revision > since),
        )
        .limit(1)
    )
    if changed is not None or policy.revision > since:
        return None
    settings = session.get(PolicySettingsRow, policy.id)
    if settings is not None and settings.revision > since:
        return None
    return from_json(latest.after), latest.after


def _state_after(
    session: Session, policy: PolicyRow, before: dict[str, Any] | None, revision: int
) -> dict[str, Any]:
    """The state of a live policy after the change that made ``revision``, from the state
    ``before`` it and the rules that change added and deleted (not every rule again)."""
    kept = [] if before is None or before["id"] != policy.id else list(before["rules"])
    gone = set(
        session.scalars(
            select(RuleRow.id).where(
                RuleRow.policy_name == policy.name, RuleRow.deleted_revision == revision
            )
        )
    )
    added = session.scalars(
        select(RuleRow)
        .where(RuleRow.policy_name == policy.name, RuleRow.revision == revision)
        .where(RuleRow.deleted == "")
        .order_by(RuleRow.created_at, RuleRow.id)
    )
    rules = [r for r in kept if r["id"] not in gone] + [_rule(r) for r in added]
    return _state(session, policy, rules)


def _fit(value: str | None) -> str | None:
    """An identity that fits its column (user and project ids are far shorter in practice)."""
    return None if value is None else value[: models.NAME_LENGTH]


@transactional()
def record_change(
    session: Session,
    change: Callable[[Session], T],
    *,
    policy_name: str,
    action: str,
    user_id: str | None = None,
    project_id: str | None = None,
    node_id: str | None = None,
    detail: Any = None,
) -> T:
    """Run ``change(session)`` and record it as the next version of the policy named
    ``policy_name`` (live before or after the change), in the same transaction. Returns what
    ``change`` returned; whatever it raises leaves nothing written.

    The state before is the latest version's (read again only when the policy changed
    without being recorded); the state after is that, with the rules the change added and
    deleted: a change costs a few rows, not all of the policy's rules."""
    before_revision = _lock_revision(session)
    found = _live(session, policy_name)
    before: dict[str, Any] | None = None
    before_text: str | None = None
    latest: PolicyVersionRow | None = None
    if found is not None:
        latest = _latest(session, found.id)
        recorded = _recorded_state(session, found, latest)
        if recorded is None:
            before = _read_state(session, found)
            before_text = to_json(before)
        else:
            before, before_text = recorded
    result = change(session)
    session.flush()
    revision = revisions.read(session)
    found = _live(session, policy_name)
    after = None if found is None else _state_after(session, found, before, revision)
    subject = after or before
    if subject is None:
        return result
    policy_id = str(subject["id"])
    if before is None or before["id"] != policy_id:
        before, before_text = None, None
        latest = _latest(session, policy_id)
    version = 1 if latest is None else latest.version + 1
    stamp = now()
    if latest is None and before is not None:  # a policy from before versions were recorded
        session.add(
            PolicyVersionRow(
                policy_id=policy_id,
                version=1,
                policy_name=str(before["name"]),
                action=BASELINE,
                user_id=None,
                project_id=None,
                node_id=None,
                created_at=stamp,
                before=None,
                after=before_text,
                revision=before_revision,
                detail=None,
            )
        )
        version = 2
    session.add(
        PolicyVersionRow(
            policy_id=policy_id,
            version=version,
            policy_name=str(subject["name"]),
            action=action,
            user_id=_fit(user_id),
            project_id=_fit(project_id),
            node_id=_fit(node_id or None),
            created_at=stamp,
            before=before_text,
            after=None if after is None else to_json(after),
            revision=revision,
            detail=None if detail is None else to_json(detail),
        )
    )
    session.flush()
    return result


@transactional(readonly=True)
def list_policy_versions(
    session: Session, policy_id: str, *, limit: int | None = None
) -> list[PolicyVersion]:
    """The versions of the policy ``policy_id`` (live or deleted), newest first, without
    their states (``before``/``after`` None). Empty for an unknown id."""
    statement = (
        select(PolicyVersionRow)
        .where(PolicyVersionRow.policy_id == policy_id)
        .order_by(PolicyVersionRow.version.desc())
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [_record(row, full=False) for row in session.scalars(statement)]


@transactional(readonly=True)
def get_policy_version(session: Session, policy_id: str, version: int) -> PolicyVersion:
    """One version of the policy ``policy_id``, with its states; NotFound (kind
    ``policy version``) otherwise."""
    return _record(_version_row(session, policy_id, version))


def _version_row(session: Session, policy_id: str, version: int) -> PolicyVersionRow:
    row = session.get(PolicyVersionRow, (policy_id, version))
    if row is None:
        raise errors.NotFound(VERSION_KIND, f"{policy_id} version {version}")
    return row


@transactional()
def rollback_policy(
    session: Session,
    policy_id: str,
    version: int,
    *,
    expected_revision: int | None = None,
    user_id: str | None = None,
    project_id: str | None = None,
    node_id: str | None = None,
) -> PolicyVersion:
    """Restore the live policy ``policy_id``'s rules and settings to its state after
    ``version``, at one new revision, recorded as the next version (``rollback``), which is
    returned. Raises NotFound (the policy, or the version: kind ``policy version``),
    InvalidValue (a version without a state to restore), StaleRevision, DuplicateRule."""
    _lock_revision(session)  # before any read: the latest committed state (see record_change)
    policy = session.get(PolicyRow, policy_id)
    if policy is None:
        raise errors.NotFound("policy", policy_id)
    name = policy.name

    def restore(inner: Session) -> int:
        revision = revisions.bump(inner, expected_revision)
        target = _version_row(inner, policy_id, version)
        if target.after is None:
            raise errors.InvalidValue("version", f"version {version} left no policy to restore")
        state = from_json(target.after)
        _restore_rules(inner, name, list(state.get("rules") or []), revision)
        _restore_settings(inner, policy_id, name, dict(state.get("settings") or {}), revision)
        inner.flush()
        return revision

    record_change(
        session,
        restore,
        policy_name=name,
        action=ROLLBACK,
        user_id=user_id,
        project_id=project_id,
        node_id=node_id,
        detail={"version": version},
    )
    latest = session.scalar(
        select(PolicyVersionRow)
        .where(PolicyVersionRow.policy_id == policy_id)
        .order_by(PolicyVersionRow.version.desc())
        .limit(1)
    )
    assert latest is not None
    return _record(latest)


def _restore_rules(
    session: Session, policy_name: str, wanted: list[dict[str, Any]], revision: int
) -> None:
    current = {
        row.id: row
        for row in session.scalars(
            select(RuleRow)
            .where(RuleRow.policy_name == policy_name, RuleRow.deleted == "")
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    kept: set[str] = set()
    missing: list[dict[str, Any]] = []
    for rule in wanted:
        same = current.get(str(rule.get("id")))
        if same is None or same.id in kept:
            same = next(
                (
                    row
                    for row in current.values()
                    if row.id not in kept
                    and (row.rule, row.name, row.comment)
                    == (rule.get("rule"), rule.get("name"), rule.get("comment") or "")
                ),
                None,
            )
        if same is None:
            missing.append(rule)
        else:
            kept.add(same.id)
    _soft_delete([row for rid, row in current.items() if rid not in kept], revision, now())
    session.flush()
    new = []
    for rule in missing:
        old = session.get(RuleRow, str(rule.get("id")))  # a deleted rule keeps its fingerprint
        new.append(
            NewRule(
                rule=str(rule["rule"]),
                name=rule.get("name"),
                comment=rule.get("comment") or "",
                fingerprint=None if old is None else old.fingerprint,
            )
        )
    if new:
        _insert_rules(session, policy_name, new, revision)


def _restore_settings(
    session: Session, policy_id: str, policy_name: str, wanted: dict[str, Any], revision: int
) -> None:
    dry_run = bool(wanted.get("dry_run", False))
    grace = wanted.get("action_grace_seconds")
    grace = None if grace is None else float(grace)
    row = session.get(PolicySettingsRow, policy_id, with_for_update=True, populate_existing=True)
    if row is None:
        if not dry_run and grace is None:
            return  # the defaults already
        row = PolicySettingsRow(
            policy_id=policy_id,
            policy_name=policy_name,
            dry_run=False,
            action_grace_seconds=None,
            breaker_state="closed",
            revision=revision,
        )
        session.add(row)
    elif bool(row.dry_run) == dry_run and row.action_grace_seconds == grace:
        return
    row.dry_run = dry_run
    row.action_grace_seconds = grace
    row.revision = revision
    row.updated_at = now()
