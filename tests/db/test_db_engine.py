"""Engines and transactions: URL handling, SQLite set-up, and retries on deadlocks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from congress.db import api, errors
from congress.db.engine import (
    is_retryable,
    make_engine,
    normalize_url,
    run_in_transaction,
    session_factory,
)
from congress.db.models import RevisionRow


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mariadb+pymysql"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_bare_urls_get_our_drivers(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_mysql_urls_speak_utf8mb4() -> None:
    assert normalize_url("mysql+pymysql://u@h/db").query["charset"] == "utf8mb4"
    assert normalize_url("mysql://u@h/db?charset=utf8").query["charset"] == "utf8"


def test_sqlite_engine_makes_the_directory_and_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a/b/congress.db")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert (tmp_path / "a" / "b").is_dir()
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _wrapped(orig: Exception) -> OperationalError:
    return OperationalError("UPDATE t", {}, orig)


def _sqlite_error(code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = code
    return exc


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (_PgError("40001"), True),  # serialization_failure
        (_PgError("40P01"), True),  # deadlock_detected
        (_PgError("23505"), False),  # unique_violation
        (Exception(1213, "Deadlock found when trying to get lock"), True),
        (Exception(1205, "Lock wait timeout exceeded"), True),
        (Exception(1062, "Duplicate entry"), False),
        (_sqlite_error(5), True),  # SQLITE_BUSY
        (_sqlite_error(517), True),  # SQLITE_BUSY_SNAPSHOT
        (_sqlite_error(1), False),
    ],
)
def test_deadlocks_and_serialization_failures_are_retryable(
    orig: Exception, expected: bool
) -> None:
    assert is_retryable(_wrapped(orig)) is expected


def test_plain_exceptions_are_not_retryable() -> None:
    assert not is_retryable(ValueError("x"))


def _flaky(failures: int) -> tuple[Callable[[Session], int], list[int]]:
    calls: list[int] = []

    def work(session: Session) -> int:
        calls.append(1)
        session.execute(update(RevisionRow).values(revision=RevisionRow.revision + 1))
        if len(calls) <= failures:
            raise _wrapped(_PgError("40P01"))
        return len(calls)

    return work, calls


def test_a_transaction_is_retried_until_it_succeeds(engine: Engine) -> None:
    work, _ = _flaky(2)
    assert run_in_transaction(engine, work, sleep=lambda _: None) == 3
    assert api.current_revision(engine) == 1  # the failed attempts were rolled back


def test_retries_end_with_retry_limit_exceeded(engine: Engine) -> None:
    work, calls = _flaky(10)
    with pytest.raises(errors.RetryLimitExceeded) as caught:
        run_in_transaction(engine, work, attempts=3, sleep=lambda _: None)
    assert len(calls) == 3
    assert isinstance(caught.value.__cause__, OperationalError)
    assert api.current_revision(engine) == 0


def test_other_database_errors_become_database_error(engine: Engine) -> None:
    with pytest.raises(errors.DatabaseError) as caught:
        run_in_transaction(engine, lambda s: s.execute(text("SELECT * FROM no_such_table")))
    assert not isinstance(caught.value, errors.RetryLimitExceeded)


def test_repository_errors_pass_through_and_roll_back(engine: Engine) -> None:
    def work(session: Session) -> None:
        api.create_policy(session, "p")
        raise errors.NotFound("thing", "x")

    with pytest.raises(errors.NotFound):
        run_in_transaction(engine, work)
    assert api.list_policies(engine) == []


def test_session_factory_sessions_commit_several_calls_together(engine: Engine) -> None:
    make_session = session_factory(engine)
    with make_session() as session, session.begin():
        api.create_policy(session, "p")
        api.add_rule(session, "p", "q(1)")
    assert [r.rule for r in api.list_rules(engine, "p")] == ["q(1)"]
    with make_session() as session:
        session.begin()
        api.create_policy(session, "gone")
        session.rollback()
    assert [p.name for p in api.list_policies(engine)] == ["p"]


def test_a_real_deadlock_is_retried(engine: Engine, backend_name: str) -> None:
    """Two transactions lock two rows in opposite orders: on the servers one is chosen as the
    victim, retried, and both complete; SQLite writers queue on the file lock instead."""
    a = api.create_datasource(engine, "a", "d", config={}).id
    b = api.create_datasource(engine, "b", "d", config={}).id
    queued = backend_name == "sqlite"
    both_locked_first = threading.Barrier(2, timeout=10)
    attempts: list[str] = []
    lock_row = text("UPDATE datasources SET enabled = enabled WHERE id = :i")

    def lock(first: str, second: str) -> Callable[[Session], None]:
        def work(session: Session) -> None:
            attempts.append(first)
            if backend_name == "postgresql":
                session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            session.execute(lock_row, {"i": first})
            if not queued and len(attempts) <= 2:
                both_locked_first.wait()
            session.execute(lock_row, {"i": second})

        return work

    threads = [
        threading.Thread(target=run_in_transaction, args=(engine, lock(x, y)))
        for x, y in ((a, b), (b, a))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(attempts) == (2 if queued else 3)
