"""Library policies: named sets of rules kept apart from the live policies until activated.

Imports: standard library, SQLAlchemy, congress.db's errors, models, records and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). ``rules`` is stored as JSON text exactly as given (a list, normally of
``{"rule", "name"?, "comment"?}`` objects): validating rules is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from congress.db import errors, models
from congress.db._support import (
    PRIMARY,
    check_id,
    check_length,
    flush_or_conflict,
    from_json,
    new_id,
    to_json,
    transactional,
)
from congress.db.models import LibraryPolicyRow
from congress.db.records import LibraryPolicy

DEFAULT_KIND = "nonrecursive"


def _record(row: LibraryPolicyRow, *, with_rules: bool = True) -> LibraryPolicy:
    return LibraryPolicy(
        id=row.id,
        name=row.name,
        abbreviation=row.abbreviation,
        description=row.description,
        kind=row.kind,
        rules=from_json(row.rules) if with_rules else None,
        owner=row.owner,
    )


def _check(name: str, abbreviation: str, kind: str) -> None:
    if not name:
        raise errors.InvalidValue("name", "empty")
    check_length("name", name, models.NAME_LENGTH)
    check_length("abbreviation", abbreviation, models.ABBREVIATION_LENGTH)
    check_length("kind", kind, models.KIND_LENGTH)


def _conflicts(name: str, row: LibraryPolicyRow) -> dict[str, Any]:
    return {
        "uq_library_policies_name": lambda: errors.DuplicateName("library policy", name),
        PRIMARY: lambda: errors.DuplicateId("library policy", row.id),
    }


@transactional()
def create_library_policy(
    session: Session,
    name: str,
    rules: Sequence[object],
    *,
    description: str = "",
    kind: str = DEFAULT_KIND,
    abbreviation: str | None = None,
    policy_id: str | None = None,
    owner: str = "user",
) -> LibraryPolicy:
    """Create a library policy; the abbreviation defaults to ``name[:5]``; ``owner``: ``user``
    (the operator's) or a project id.

    Raises DuplicateName, DuplicateId or InvalidValue.
    """
    abbreviation = name[: models.ABBREVIATION_LENGTH] if abbreviation is None else abbreviation
    _check(name, abbreviation, kind)
    check_id(policy_id)
    row = LibraryPolicyRow(
        id=policy_id or new_id(),
        name=name,
        abbreviation=abbreviation,
        description=description,
        kind=kind,
        rules=to_json(list(rules)),
        owner=owner,
    )
    session.add(row)
    flush_or_conflict(session, _conflicts(name, row))
    return _record(row)


@transactional(readonly=True)
def get_library_policy(session: Session, policy_id: str) -> LibraryPolicy:
    """The library policy with id ``policy_id``; NotFound otherwise."""
    row = session.get(LibraryPolicyRow, policy_id)
    if row is None:
        raise errors.NotFound("library policy", policy_id)
    return _record(row)


@transactional(readonly=True)
def get_library_policy_by_name(session: Session, name: str) -> LibraryPolicy:
    """The library policy named ``name``; NotFound otherwise."""
    row = session.scalar(select(LibraryPolicyRow).where(LibraryPolicyRow.name == name))
    if row is None:
        raise errors.NotFound("library policy", name)
    return _record(row)


@transactional(readonly=True)
def list_library_policies(
    session: Session, *, name: str | None = None, include_rules: bool = True
) -> list[LibraryPolicy]:
    """Library policies by name (only the one named ``name`` when given).

    With ``include_rules=False`` the rules are not read and come back as None.
    """
    statement = select(LibraryPolicyRow).order_by(LibraryPolicyRow.name)
    if name is not None:
        statement = statement.where(LibraryPolicyRow.name == name)
    rows = session.scalars(statement)
    return [_record(row, with_rules=include_rules) for row in rows]


@transactional()
def replace_library_policy(
    session: Session,
    policy_id: str,
    name: str,
    rules: Sequence[object],
    *,
    description: str = "",
    kind: str = DEFAULT_KIND,
    abbreviation: str | None = None,
) -> LibraryPolicy:
    """Replace every field of a library policy but its id (PUT).

    Raises NotFound, DuplicateName or InvalidValue.
    """
    abbreviation = name[: models.ABBREVIATION_LENGTH] if abbreviation is None else abbreviation
    _check(name, abbreviation, kind)
    row = session.get(LibraryPolicyRow, policy_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise errors.NotFound("library policy", policy_id)
    row.name = name
    row.abbreviation = abbreviation
    row.description = description
    row.kind = kind
    row.rules = to_json(list(rules))
    flush_or_conflict(session, _conflicts(name, row))
    return _record(row)


@transactional()
def delete_library_policy(session: Session, policy_id: str) -> LibraryPolicy:
    """Delete a library policy; returns it as it was. Raises NotFound."""
    row = session.get(LibraryPolicyRow, policy_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise errors.NotFound("library policy", policy_id)
    session.delete(row)
    session.flush()
    return _record(row)


@transactional()
def delete_all_library_policies(session: Session) -> int:
    """Delete every library policy (before reloading the library); returns how many."""
    return session.connection().execute(delete(LibraryPolicyRow)).rowcount
