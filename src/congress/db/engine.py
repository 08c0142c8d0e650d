"""Engines, sessions and transactions with retries.

Imports: standard library and SQLAlchemy only.

- ``make_engine(url)`` builds an ``Engine`` for SQLite (``sqlite:///path``; the parent directory is
  created, foreign keys are enforced, the journal is WAL), MySQL/MariaDB (``mysql+pymysql://``,
  utf8mb4, strict SQL mode) or PostgreSQL (``postgresql+psycopg://``). Bare ``mysql://``,
  ``mariadb://`` and ``postgresql://`` URLs get those drivers, and OpenStack Congress's
  ``postgresql+psycopg2://`` gets psycopg (docs/migration.md).
- ``session_factory(engine)`` makes sessions that do not expire objects on commit.
- ``run_in_transaction(engine, fn)`` runs ``fn(session)`` in one transaction and runs it again,
  from the start, when the database reports a deadlock or a serialization failure (which is also
  how Galera reports a certification conflict). Write transactions on SQLite start with ``BEGIN
  IMMEDIATE``, so two writers queue on the file lock instead of failing; read-only transactions
  see one snapshot (``REPEATABLE READ`` on PostgreSQL and MySQL).

A value the database refuses as invalid leaves ``run_in_transaction`` as
``congress.db.errors.InvalidValue`` (see ``invalid_value``: a ``DataError``, such as a NUL
character on PostgreSQL or a value too long for a MariaDB column, or text with a lone surrogate,
which no driver can encode); other SQLAlchemy errors that it cannot handle leave it as
``congress.db.errors.DatabaseError``. Either way the original is chained; ``DBError``s raised by
``fn`` pass through unchanged.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError
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
    # OpenStack Congress's URLs (docs/migration.md): psycopg2 is not installed, psycopg is
    "postgresql+psycopg2": "postgresql+psycopg",
}
_SQLITE_BEGIN_OPTION = "congress_sqlite_begin"
# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
# MySQL/MariaDB error numbers: lock wait timeout, deadlock (also Galera certification failure).
_RETRY_MYSQL_ERRORS = frozenset({1205, 1213})
# SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED.
_RETRY_SQLITE_CODES = frozenset({5, 6})
# MySQL/MariaDB error numbers of a DataError: data too long, incorrect string value.
_MYSQL_TOO_LONG = 1406
_MYSQL_INCORRECT_STRING = 1366
# "... for column 'name' at row 1" or "... for column `db`.`table`.`name` at row 1".
_MYSQL_COLUMN = re.compile(r"for column (?:`[^`]*`\.)*[`']([^`']+)[`']")
# A bind parameter named after its column: name, name_1, name__0.
_PARAM_COLUMN = re.compile(r"([a-z][a-z_]*?)(?:_+\d+)?")
_MAX_DETAIL = 200


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


def invalid_value(exc: BaseException) -> errors.InvalidValue | None:
    """The ``InvalidValue`` for ``exc`` if it is the database (or its driver) refusing a value
    as invalid, else None.

    That is a ``sqlalchemy.exc.DataError`` (SQLSTATE class 22 on PostgreSQL, including
    psycopg's refusal of a NUL character; MariaDB's "Data too long", "Incorrect string value"
    and other data errors of strict mode) or a ``UnicodeEncodeError`` (a lone surrogate: the
    drivers raise it unwrapped). The message names the field where it can and what was wrong,
    never the SQL or the value. A database that is unreachable, or a lock timeout, is not
    this: those stay ``DatabaseError``s.
    """
    if isinstance(exc, UnicodeEncodeError):
        return errors.InvalidValue(
            "value", "has a lone surrogate (\\ud800-\\udfff), which the database cannot store"
        )
    if not isinstance(exc, DataError):
        return None
    orig = exc.orig
    args: tuple[object, ...] = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):  # PyMySQL: (errno, message)
        number, message = args[0], str(args[1])
        match = _MYSQL_COLUMN.search(message)
        field = match.group(1) if match else "value"
        if number == _MYSQL_TOO_LONG:
            return errors.InvalidValue(field, "too long for the database")
        if number == _MYSQL_INCORRECT_STRING:
            return errors.InvalidValue(field, "has characters the database cannot store")
        return errors.InvalidValue(field, f"refused by the database: {_first_line(message)}")
    diag = getattr(orig, "diag", None)  # psycopg (None when psycopg refused it itself)
    message = getattr(diag, "message_primary", None) or (str(args[0]) if args else str(orig))
    if "0x00" in message:  # psycopg before sending, or the server: NUL in text
        return errors.InvalidValue(
            _field_holding(exc.params, "\x00") or "value",
            "has a NUL character (\\u0000), which the database cannot store",
        )
    field = getattr(diag, "column_name", None) or "value"
    return errors.InvalidValue(field, f"refused by the database: {_first_line(message)}")


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "invalid data"
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


def _field_holding(params: object, needle: str) -> str | None:
    """The column whose bind parameter (in ``params``, a statement's parameters: a mapping or a
    sequence of them) is a string containing ``needle``."""
    batches = params if isinstance(params, list | tuple) else [params]
    for batch in batches:
        if not isinstance(batch, Mapping):
            continue
        for key, value in batch.items():
            if isinstance(value, str) and needle in value and isinstance(key, str):
                match = _PARAM_COLUMN.fullmatch(key)
                return match.group(1) if match else None
    return None


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
        except (SQLAlchemyError, UnicodeEncodeError) as exc:
            invalid = invalid_value(exc)
            if invalid is not None:
                raise invalid from exc
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
