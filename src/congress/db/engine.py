"""Engines, sessions and transactions with retries.

Imports: standard library and SQLAlchemy only.

- ``make_engine(url)`` builds an ``Engine`` for SQLite (``sqlite:///path``; the parent directory is
  created, foreign keys are enforced, the journal is WAL), MySQL/MariaDB (``mysql+pymysql://``,
  utf8mb4, strict SQL mode) or PostgreSQL (``postgresql+psycopg://``). Bare ``mysql://``,
  ``mariadb://`` and ``postgresql://`` URLs get those drivers.
- ``session_factory(engine)`` makes sessions that do not expire objects on commit.
- ``run_in_transaction(engine, fn)`` runs ``fn(session)`` in one transaction and runs it again,
  from the start, when the database reports a deadlock or a serialization failure (which is also
  how Galera reports a certification conflict). Write transactions on SQLite start with ``BEGIN
  IMMEDIATE``, so two writers queue on the file lock instead of failing; read-only transactions
  see one snapshot (``REPEATABLE READ`` on PostgreSQL and MySQL).

SQLAlchemy errors that ``run_in_transaction`` cannot handle leave it as
``congress.db.errors.DatabaseError`` (the original chained); ``DBError``s raised by ``fn`` pass
through unchanged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from congress.db import errors

T = TypeVar("T")

DEFAULT_ATTEMPTS = 5
SQLITE_BUSY_TIMEOUT = 30.0
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_SQLITE_BEGIN_OPTION = "congress_sqlite_begin"
# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
# MySQL/MariaDB error numbers: lock wait timeout, deadlock (also Galera certification failure).
_RETRY_MYSQL_ERRORS = frozenset({1205, 1213})
# SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED.
_RETRY_SQLITE_CODES = frozenset({5, 6})


def normalize_url(url: str | URL) -> URL:
    """``url`` as a URL object, with our drivers chosen for bare database names."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An Engine for ``url``, configured as the module docstring says.

    Extra keyword arguments go to ``sqlalchemy.create_engine``.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _make_sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 3600)
    engine = create_engine(parsed, **kwargs)
    if backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", _mysql_on_connect)
    return engine


def _make_sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if not in_memory and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
    engine = create_engine(url, **kwargs)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _mysql_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION sql_mode = 'TRADITIONAL'")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or serialization failure worth retrying the transaction."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRY_MYSQL_ERRORS:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _RETRY_SQLITE_CODES


def run_in_transaction(
    engine: Engine,
    fn: Callable[[Session], T],
    *,
    readonly: bool = False,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn(session)`` in one transaction, committed if it returns; retried on deadlocks.

    ``fn`` may run up to ``attempts`` times, so it must not have effects outside the database.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _run_once(engine, fn, readonly)
        except errors.DBError:
            raise
        except SQLAlchemyError as exc:
            if not is_retryable(exc):
                raise errors.DatabaseError(str(exc)) from exc
            if attempt == attempts:
                raise errors.RetryLimitExceeded(attempts) from exc
            sleep(min(0.5, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")  # pragma: no cover


def _run_once(engine: Engine, fn: Callable[[Session], T], readonly: bool) -> T:
    with engine.connect() as connection:
        _set_transaction_options(connection, readonly)
        with connection.begin(), Session(bind=connection) as session:
            result = fn(session)
            session.flush()
            return result


def _set_transaction_options(connection: Connection, readonly: bool) -> None:
    if connection.dialect.name == "sqlite":
        if not readonly:
            connection.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    elif readonly:
        connection.execution_options(isolation_level="REPEATABLE READ")
