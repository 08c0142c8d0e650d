"""What every repository module needs: the Engine-or-Session calling convention, ids, clock,
JSON text, length checks, and naming the unique constraint an IntegrityError broke.

Imports: standard library, SQLAlchemy, and congress.db's engine, errors and models.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from congress.db import errors, models
from congress.db.engine import invalid_value, run_in_transaction

P = ParamSpec("P")
R = TypeVar("R")

Db = Engine | Session
"""Where a repository function runs: an Engine (its own transaction, retried on deadlocks) or a
Session (the caller's transaction: nothing is committed, nothing retried)."""

PRIMARY = "primary"


def transactional(
    *, readonly: bool = False
) -> Callable[[Callable[Concatenate[Session, P], R]], Callable[Concatenate[Db, P], R]]:
    """Let ``fn(session, ...)`` be called as ``fn(engine_or_session, ...)``.

    A value the database refuses raises ``InvalidValue`` either way (``run_in_transaction``
    maps it for an Engine; here for the caller's Session, whose transaction must then be rolled
    back); other SQLAlchemy errors in the caller's Session pass through as they are."""

    def decorate(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Db, P], R]:
        @functools.wraps(fn)
        def run(db: Db, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if isinstance(db, Session):
                try:
                    return fn(db, *args, **kwargs)
                except (SQLAlchemyError, UnicodeEncodeError) as exc:
                    invalid = invalid_value(exc)
                    if invalid is None:
                        raise
                    raise invalid from exc
            return run_in_transaction(
                db, lambda session: fn(session, *args, **kwargs), readonly=readonly
            )

        return run

    return decorate


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def to_json(value: object) -> str:
    """JSON text for ``value``: Unicode kept as is, no NaN or infinities."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise errors.InvalidValue("json", str(exc)) from exc


def from_json(text: str) -> Any:
    return json.loads(text)


def check_length(field: str, value: str | None, limit: int) -> None:
    """Raise InvalidValue unless ``value`` fits a column of ``limit`` characters."""
    if value is not None and len(value) > limit:
        raise errors.InvalidValue(field, f"longer than {limit} characters")


def check_id(value: str | None) -> None:
    check_length("id", value, models.UUID_LENGTH)
    if value == "":
        raise errors.InvalidValue("id", "empty")


_MYSQL_KEY = re.compile(r"for key '(?:[^']*\.)?([^'.]+)'")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the unique constraint ``exc`` reports (``PRIMARY`` for a primary key)."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        name = getattr(diag, "constraint_name", None)
        return _primary_or(name)
    args: tuple[object, ...] = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):  # PyMySQL: (errno, message)
        match = _MYSQL_KEY.search(str(args[1]))
        return _primary_or(match.group(1)) if match else None
    match = _SQLITE_UNIQUE.search(str(orig))
    return _sqlite_constraint(match.group(1)) if match else None


def _primary_or(name: str | None) -> str | None:
    if name is not None and (name == "PRIMARY" or name.startswith("pk_")):
        return PRIMARY
    return name


def _sqlite_constraint(columns_text: str) -> str | None:
    """Map SQLite's ``table.col, table.col`` to the constraint on those columns."""
    qualified = [part.strip() for part in columns_text.split(",")]
    table = models.Base.metadata.tables.get(qualified[0].split(".")[0])
    if table is None:
        return None
    columns = {part.split(".", 1)[1] for part in qualified}
    if columns == {column.name for column in table.primary_key.columns}:
        return PRIMARY
    for constraint in table.constraints:
        names = {column.name for column in getattr(constraint, "columns", ())}
        if names == columns and isinstance(constraint.name, str):
            return constraint.name
    return None


def flush_or_conflict(session: Session, conflicts: dict[str, Callable[[], errors.DBError]]) -> None:
    """Flush ``session``; a unique constraint named in ``conflicts`` raises its error instead."""
    try:
        session.flush()
    except IntegrityError as exc:
        make_error = conflicts.get(violated_constraint(exc) or "")
        if make_error is None:
            raise
        raise make_error() from exc
