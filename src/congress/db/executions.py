"""The execution log: one row per action a policy engine (or the API) asked a datasource for.

Imports: standard library, SQLAlchemy, congress.db's errors, models, records and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). An entry records who asked (``policy``, ``node_id``), what
(``datasource``, ``action``, ``args`` as JSON), why (the policy ``revision`` and the
``derivation`` that produced it) and what happened (``status``, ``detail``). Status words are
the caller's; ``STATUSES`` lists the usual ones. Entries are appended, updated in status and
pruned by age; nothing else changes them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from congress.db import errors, models
from congress.db._support import (
    PRIMARY,
    check_id,
    check_length,
    flush_or_conflict,
    from_json,
    new_id,
    now,
    to_json,
    transactional,
)
from congress.db.models import ActionExecutionRow
from congress.db.records import ActionExecution

STATUSES = (
    "requested",
    "started",
    "executed",
    "failed",
    "dropped",
    "logged",
    "would_execute",
    "deferred",
    "held",
    "cancelled",
    "expired",
    "blocked_by_breaker",
    "refused",
)
FINAL: tuple[str, ...] = ("executed", "failed", "dropped", "logged", "would_execute")
FINAL += ("cancelled", "expired", "blocked_by_breaker", "refused")
"""The statuses an entry keeps (``transition_execution`` never leaves them)."""
SENT: tuple[str, ...] = ("requested", "started", "executed", "failed")
"""The statuses of an action sent to its driver (what a project's ``actions_per_hour`` counts)."""
DEFAULT_LIMIT = 100


def _record(row: ActionExecutionRow) -> ActionExecution:
    return ActionExecution(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        policy=row.policy,
        datasource=row.datasource,
        action=row.action,
        args=from_json(row.args),
        revision=row.revision,
        derivation=row.derivation,
        node_id=row.node_id,
        status=row.status,
        detail=row.detail,
        result=None if row.result is None else from_json(row.result),
    )


@transactional()
def record_execution(
    session: Session,
    *,
    datasource: str,
    action: str,
    args: object,
    policy: str | None = None,
    revision: int | None = None,
    derivation: str | None = None,
    node_id: str | None = None,
    status: str = "requested",
    detail: str | None = None,
    execution_id: str | None = None,
    result: object = None,
) -> ActionExecution:
    """Append an entry to the execution log. Raises InvalidValue, and DuplicateId when an
    ``execution_id`` is given that the log already has (an action's identity: it runs once)."""
    check_id(execution_id)
    for field, value in (("datasource", datasource), ("action", action), ("policy", policy)):
        check_length(field, value, models.NAME_LENGTH)
    check_length("node_id", node_id, models.NAME_LENGTH)
    check_length("status", status, models.STATUS_LENGTH)
    row = ActionExecutionRow(
        id=execution_id or new_id(),
        created_at=now(),
        policy=policy,
        datasource=datasource,
        action=action,
        args=to_json(args),
        revision=revision,
        derivation=derivation,
        node_id=node_id,
        status=status,
        detail=detail,
        result=None if result is None else result_json(result),
    )
    session.add(row)
    flush_or_conflict(session, {PRIMARY: lambda: errors.DuplicateId("action execution", row.id)})
    return _record(row)


@transactional()
def set_execution_status(
    session: Session,
    execution_id: str,
    status: str,
    detail: str | None = None,
    *,
    result: object = None,
) -> ActionExecution:
    """Set an entry's status (and detail, and the driver's answer ``result``: JSON, or its
    ``repr`` when it is not). Raises NotFound or InvalidValue."""
    check_length("status", status, models.STATUS_LENGTH)
    row = session.get(
        ActionExecutionRow, execution_id, with_for_update=True, populate_existing=True
    )
    if row is None:
        raise errors.NotFound("action execution", execution_id)
    row.status = status
    row.detail = detail
    row.result = None if result is None else result_json(result)
    row.updated_at = now()
    session.flush()
    return _record(row)


def result_json(result: object) -> str:
    """A driver's answer as JSON text (its ``repr`` as a JSON string when it is not JSON)."""
    try:
        return to_json(result)
    except errors.InvalidValue:
        return to_json(repr(result))


@transactional()
def transition_execution(
    session: Session,
    execution_id: str,
    from_statuses: Sequence[str],
    status: str,
    detail: str | None = None,
) -> ActionExecution | None:
    """Set an entry's status only if it is one of ``from_statuses`` (a compare-and-set: of the
    engines and hosts that try, one wins); the entry as changed, or None when it was absent or
    in another status."""
    check_length("status", status, models.STATUS_LENGTH)
    row = session.get(
        ActionExecutionRow, execution_id, with_for_update=True, populate_existing=True
    )
    if row is None or row.status not in from_statuses:
        return None
    row.status = status
    if detail is not None:
        row.detail = detail
    row.updated_at = now()
    session.flush()
    return _record(row)


@transactional(readonly=True)
def get_execution(session: Session, execution_id: str) -> ActionExecution:
    """One entry. Raises NotFound."""
    row = session.get(ActionExecutionRow, execution_id)
    if row is None:
        raise errors.NotFound("action execution", execution_id)
    return _record(row)


@transactional(readonly=True)
def list_executions(
    session: Session,
    *,
    limit: int = DEFAULT_LIMIT,
    datasource: str | None = None,
    policy: str | None = None,
    action: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    project: str | None = None,
) -> list[ActionExecution]:
    """The latest ``limit`` entries, newest first, optionally of one datasource, policy,
    action or status, created at or after ``since`` and before ``until``; with ``project``,
    only those of the project's policies (``<name>@<project>``)."""
    statement = select(ActionExecutionRow)
    if project is not None:
        statement = statement.where(
            ActionExecutionRow.policy.endswith(f"@{project}", autoescape=True)
        )
    if datasource is not None:
        statement = statement.where(ActionExecutionRow.datasource == datasource)
    if policy is not None:
        statement = statement.where(ActionExecutionRow.policy == policy)
    if action is not None:
        statement = statement.where(ActionExecutionRow.action == action)
    if status is not None:
        statement = statement.where(ActionExecutionRow.status == status)
    if since is not None:
        statement = statement.where(ActionExecutionRow.created_at >= since)
    if until is not None:
        statement = statement.where(ActionExecutionRow.created_at < until)
    statement = statement.order_by(
        ActionExecutionRow.created_at.desc(), ActionExecutionRow.id.desc()
    ).limit(limit)
    return [_record(row) for row in session.scalars(statement)]


@transactional(readonly=True)
def count_project_executions(
    session: Session,
    project: str,
    since: datetime,
    *,
    statuses: Sequence[str] = SENT,
    exclude: Collection[str] = (),
) -> int:
    """How many entries of the policies of ``project`` (internal names ``<name>@<project>``)
    created at or after ``since`` have one of ``statuses``, leaving out the ids ``exclude``."""
    statement = (
        select(func.count())
        .select_from(ActionExecutionRow)
        .where(
            ActionExecutionRow.created_at >= since,
            ActionExecutionRow.policy.endswith(f"@{project}", autoescape=True),
            ActionExecutionRow.status.in_(list(statuses)),
        )
    )
    if exclude:
        statement = statement.where(ActionExecutionRow.id.not_in(list(exclude)))
    return int(session.scalar(statement) or 0)


@transactional()
def prune_executions(session: Session, older_than: datetime) -> int:
    """Delete the entries created before ``older_than``; returns how many."""
    statement = delete(ActionExecutionRow).where(ActionExecutionRow.created_at < older_than)
    return session.connection().execute(statement).rowcount
