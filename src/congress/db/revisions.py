"""The policy revision: one counter, bumped by every policy or rule change.

Imports: standard library, SQLAlchemy, congress.db's errors, models and _support.

``bump(session, expected)`` is the first statement of every policy change: an ``UPDATE`` of the
single ``policy_revision`` row that increments it (and, when ``expected`` is given, only if it
still equals ``expected``: optimistic concurrency). Its row lock orders concurrent writers, so
revisions commit in increasing order, without any table lock; on Galera two nodes bumping at once
conflict at commit, which reaches the caller as a deadlock and is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from congress.db import errors
from congress.db._support import now, transactional
from congress.db.engine import run_in_transaction
from congress.db.models import RevisionRow

REVISION_ROW_ID = 1
T = TypeVar("T")


def read(session: Session) -> int:
    """The revision as this transaction sees it."""
    value = session.scalar(select(RevisionRow.revision).where(RevisionRow.id == REVISION_ROW_ID))
    if value is None:
        raise errors.DatabaseError("the policy_revision row is missing: run the migrations")
    return value


def bump(session: Session, expected: int | None = None) -> int:
    """Increment the revision and return the new value.

    Raises StaleRevision when ``expected`` is given and the revision is no longer ``expected``.
    """
    statement = (
        update(RevisionRow)
        .where(RevisionRow.id == REVISION_ROW_ID)
        .values(revision=RevisionRow.revision + 1, updated_at=now())
    )
    if expected is not None:
        statement = statement.where(RevisionRow.revision == expected)
    if session.connection().execute(statement).rowcount != 1:
        actual = read(session)
        raise errors.StaleRevision(expected if expected is not None else actual, actual)
    return read(session)


@transactional(readonly=True)
def current_revision(session: Session) -> int:
    """The latest committed policy revision (0 before the first change)."""
    return read(session)


def write_exclusively(db: Engine, fn: Callable[[Session], T]) -> T:
    """Run ``fn(session)`` in a transaction that first takes the revision's row lock, so that
    no other writer's ``bump`` commits until it ends: a writer that lost the optimistic race
    can catch up inside ``fn`` and then write, sure to be next. ``fn`` may run again after a
    deadlock (see ``run_in_transaction``)."""

    def locked(session: Session) -> T:
        statement = select(RevisionRow.revision).where(RevisionRow.id == REVISION_ROW_ID)
        if session.scalar(statement.with_for_update()) is None:
            raise errors.DatabaseError("the policy_revision row is missing: run the migrations")
        return fn(session)

    return run_in_transaction(db, locked)
