"""Notification sinks, their cursors and dead letters, the history they deliver, and leases.

Imports: standard library, SQLAlchemy, congress.db's errors, models and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). A sink's ``secret`` is stored as given: encrypting it is the
caller's business. The outbox of every sink is ``table_history`` itself: a sink's cursor is
the id of the last entry it delivered or dead-lettered, and ``history_after`` reads the
entries after an id. A sink created gets a cursor at the latest entry (it sends what changes
from then on); deleting a sink deletes its cursor and dead letters. Cursors only move forward.

Leases (``acquire_lease``) choose one node among several without locking a table (Galera): a
compare-and-set ``UPDATE`` that succeeds when the caller holds the lease or it has expired, and
an ``INSERT`` the first time (of two nodes inserting at once, one wins). Expiry times come from
the callers' clocks, so the nodes' clocks must agree to well within the lease's lifetime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
from congress.db.models import (
    NotificationCursorRow,
    NotificationDeadLetterRow,
    NotificationLeaseRow,
    NotificationSinkRow,
    TableHistoryRow,
)

WEBHOOK = "webhook"
MESSAGING = "messaging"
SINK_TYPES = (WEBHOOK, MESSAGING)
DEFAULT_TABLES = ("*:error", "*:warning")
DEFAULT_MAX_RETRIES = 8
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class NotificationSink:
    """A sink as stored (``secret`` as the caller stored it: encrypted)."""

    id: str
    name: str
    type: str
    url: str | None
    topic: str | None
    secret: str | None
    tables: list[str]
    enabled: bool
    max_retries: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A batch a sink could not deliver: ``payload`` as it was to be sent (parsed JSON)."""

    id: int
    sink_id: str
    policy: str
    table: str
    payload: Any
    error: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime


def _sink(row: NotificationSinkRow) -> NotificationSink:
    return NotificationSink(
        id=row.id,
        name=row.name,
        type=row.sink_type,
        url=row.url,
        topic=row.topic,
        secret=row.secret,
        tables=list(from_json(row.tables)),
        enabled=row.enabled,
        max_retries=row.max_retries,
        created_at=row.created_at,
    )


def _dead_letter(row: NotificationDeadLetterRow) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        sink_id=row.sink_id,
        policy=row.policy_name,
        table=row.table_name,
        payload=from_json(row.payload),
        error=row.error,
        attempts=row.attempts,
        created_at=row.created_at,
    )


def _table(name: str) -> Table:
    return models.Base.metadata.tables[name]


def _latest_id(session: Session) -> int:
    found = session.scalar(select(func.max(TableHistoryRow.id)))
    return int(found or 0)


@transactional()
def create_sink(
    session: Session,
    name: str,
    sink_type: str,
    *,
    url: str | None = None,
    topic: str | None = None,
    secret: str | None = None,
    tables: Sequence[str] = DEFAULT_TABLES,
    enabled: bool = True,
    max_retries: int = DEFAULT_MAX_RETRIES,
    sink_id: str | None = None,
) -> NotificationSink:
    """Create a sink, with its cursor at the latest history entry. Raises DuplicateName,
    DuplicateId or InvalidValue."""
    if not name:
        raise errors.InvalidValue("name", "empty")
    check_length("name", name, models.NAME_LENGTH)
    if sink_type not in SINK_TYPES:
        raise errors.InvalidValue("type", f"{sink_type!r} is not one of {', '.join(SINK_TYPES)}")
    check_length("topic", topic, models.NAME_LENGTH)
    check_id(sink_id)
    if max_retries < 1:
        raise errors.InvalidValue("max_retries", "less than 1")
    row = NotificationSinkRow(
        id=sink_id or new_id(),
        name=name,
        sink_type=sink_type,
        url=url,
        topic=topic,
        secret=secret,
        tables=to_json(list(tables)),
        enabled=enabled,
        max_retries=max_retries,
        created_at=now(),
    )
    session.add(row)
    flush_or_conflict(
        session,
        {
            "uq_notification_sinks_name": lambda: errors.DuplicateName("notification sink", name),
            PRIMARY: lambda: errors.DuplicateId("notification sink", row.id),
        },
    )
    session.add(
        NotificationCursorRow(sink_id=row.id, last_id=_latest_id(session), updated_at=now())
    )
    session.flush()
    return _sink(row)


@transactional(readonly=True)
def list_sinks(session: Session) -> list[NotificationSink]:
    """Every sink, by name."""
    statement = select(NotificationSinkRow).order_by(NotificationSinkRow.name)
    return [_sink(row) for row in session.scalars(statement)]


@transactional(readonly=True)
def get_sink(session: Session, sink_id: str) -> NotificationSink:
    """The sink of that id. Raises NotFound."""
    row = session.get(NotificationSinkRow, sink_id)
    if row is None:
        raise errors.NotFound("notification sink", sink_id)
    return _sink(row)


def _find(session: Session, id_or_name: str) -> NotificationSinkRow:
    row = session.get(NotificationSinkRow, id_or_name) if len(id_or_name) <= 36 else None
    if row is None:
        statement = select(NotificationSinkRow).where(NotificationSinkRow.name == id_or_name)
        row = session.scalars(statement).first()
    if row is None:
        raise errors.NotFound("notification sink", id_or_name)
    return row


@transactional(readonly=True)
def find_sink(session: Session, id_or_name: str) -> NotificationSink:
    """The sink of that id, or else of that name. Raises NotFound."""
    return _sink(_find(session, id_or_name))


@transactional()
def delete_sink(session: Session, id_or_name: str) -> NotificationSink:
    """Delete the sink of that id (or else name), its cursor and its dead letters; the sink as
    it was. Raises NotFound."""
    row = _find(session, id_or_name)
    record = _sink(row)
    session.execute(
        delete(NotificationDeadLetterRow).where(NotificationDeadLetterRow.sink_id == row.id)
    )
    session.execute(delete(NotificationCursorRow).where(NotificationCursorRow.sink_id == row.id))
    session.delete(row)
    session.flush()
    return record


@transactional(readonly=True)
def latest_history_id(session: Session) -> int:
    """The id of the latest ``table_history`` entry (0: none)."""
    return _latest_id(session)


@transactional(readonly=True)
def get_cursor(session: Session, sink_id: str) -> int | None:
    """A sink's cursor (None: it has none)."""
    row = session.get(NotificationCursorRow, sink_id)
    return None if row is None else row.last_id


def _insert_if_absent(session: Session, name: str, values: dict[str, Any]) -> bool:
    """Insert a row into table ``name`` unless one with its primary key exists (also one that
    another transaction is inserting: then after it ends); True if inserted. No savepoint: on
    MariaDB a deadlock rolls the whole transaction back (and ``run_in_transaction`` retries)."""
    table = _table(name)
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        # IGNORE is safe here: every value was checked to fit its column first
        statement = insert(table).values(values).prefix_with("IGNORE")
    else:
        raise errors.InvalidValue("database", f"no insert-or-ignore for {dialect}")
    found = session.connection().execute(statement.execution_options(preserve_rowcount=True))
    return found.rowcount == 1


def _advance(session: Session, sink_id: str, last_id: int) -> int:
    check_length("sink_id", sink_id, models.UUID_LENGTH)
    table = _table(NotificationCursorRow.__tablename__)
    for _ in range(2):
        # a locking read: it sees what other transactions committed (REPEATABLE READ too)
        stored = session.connection().scalar(
            select(table.c.last_id).where(table.c.sink_id == sink_id).with_for_update()
        )
        if stored is not None:
            if stored >= last_id:
                return int(stored)
            session.connection().execute(
                update(table)
                .where(table.c.sink_id == sink_id)
                .values(last_id=last_id, updated_at=now())
            )
            return last_id
        values = {"sink_id": sink_id, "last_id": last_id, "updated_at": now()}
        if _insert_if_absent(session, NotificationCursorRow.__tablename__, values):
            return last_id
    raise errors.Conflict(f"the cursor of {sink_id} is being created and deleted at once")


@transactional()
def advance_cursor(session: Session, sink_id: str, last_id: int) -> int:
    """Move a sink's cursor forward to ``last_id`` (never back; created if missing); the
    cursor stored afterwards."""
    return _advance(session, sink_id, last_id)


@transactional()
def add_dead_letter(
    session: Session,
    sink_id: str,
    *,
    policy: str,
    table: str,
    payload: object,
    error: str,
    attempts: int,
    cursor: int | None = None,
) -> DeadLetter:
    """Record a batch a sink could not deliver and, in the same transaction, move its cursor
    forward to ``cursor`` (when given). Raises InvalidValue."""
    check_length("sink_id", sink_id, models.UUID_LENGTH)
    check_length("policy_name", policy, models.NAME_LENGTH)
    check_length("table_name", table, models.NAME_LENGTH)
    row = NotificationDeadLetterRow(
        sink_id=sink_id,
        policy_name=policy,
        table_name=table,
        payload=to_json(payload),
        error=error,
        attempts=attempts,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    if cursor is not None:
        _advance(session, sink_id, cursor)
    return _dead_letter(row)


@transactional(readonly=True)
def list_dead_letters(
    session: Session, sink_id: str, *, limit: int = DEFAULT_LIMIT
) -> list[DeadLetter]:
    """A sink's latest ``limit`` dead letters, newest first."""
    statement = (
        select(NotificationDeadLetterRow)
        .where(NotificationDeadLetterRow.sink_id == sink_id)
        .order_by(NotificationDeadLetterRow.id.desc())
        .limit(limit)
    )
    return [_dead_letter(row) for row in session.scalars(statement)]


@transactional()
def acquire_lease(session: Session, name: str, holder: str, *, at: datetime, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``at + ttl`` seconds: True if
    ``holder`` holds it now (it did, or the lease had expired at ``at``, or there was none)."""
    check_length("name", name, models.NAME_LENGTH)
    check_length("holder", holder, models.NAME_LENGTH)
    expires = at + timedelta(seconds=ttl)
    table = _table(NotificationLeaseRow.__tablename__)
    taken = session.connection().execute(
        update(table)
        .where(table.c.name == name, or_(table.c.holder == holder, table.c.expires_at < at))
        .values(holder=holder, expires_at=expires)
    )
    if taken.rowcount == 1:
        return True
    values = {"name": name, "holder": holder, "expires_at": expires}
    return _insert_if_absent(session, NotificationLeaseRow.__tablename__, values)


@transactional()
def release_lease(session: Session, name: str, holder: str) -> bool:
    """Give the lease up if ``holder`` holds it (another node may take it at once)."""
    table = _table(NotificationLeaseRow.__tablename__)
    gone = session.connection().execute(
        delete(table).where(table.c.name == name, table.c.holder == holder)
    )
    return bool(gone.rowcount)


@transactional(readonly=True)
def get_lease(session: Session, name: str) -> Lease | None:
    """The lease as stored (it may have expired)."""
    row = session.get(NotificationLeaseRow, name, populate_existing=True)
    if row is None:
        return None
    return Lease(name=row.name, holder=row.holder, expires_at=row.expires_at)
