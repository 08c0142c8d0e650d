"""Values the database refuses as invalid are ``InvalidValue`` (a 400), not ``DatabaseError``
(a 503, kept for a database that is away or failing).

What each database refuses, as found on the real servers:

- PostgreSQL (psycopg 3): a NUL character (``"\\x00"``) in a text column; psycopg refuses it
  before sending (``psycopg.DataError``, wrapped as ``sqlalchemy.exc.DataError``).
- MariaDB (strict SQL mode): a value over a column's size in bytes, ``Data too long for column``
  (error 1406: a ``TEXT`` column holds 65,535 bytes), and text a column's character set cannot
  hold, ``Incorrect string value`` (error 1366). NUL characters are stored.
- SQLite stores both: nothing changes there.
- Every driver: a lone surrogate (``"\\ud800"``) has no UTF-8 form; the driver fails to encode
  it (``UnicodeEncodeError``, not wrapped by SQLAlchemy).

JSON columns (a datasource's config, pushed rows) never hold a raw NUL: JSON escapes it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from congress.api import wire
from congress.db import api, errors
from congress.db.engine import (
    invalid_value,
    make_engine,
    run_in_transaction,
    session_factory,
)

NUL = "a\x00b"
TOO_LONG_FOR_MARIADB_TEXT = "x" * 70_000  # a MariaDB TEXT column holds 65,535 bytes
SURROGATE = "a\ud800b"


def _no_sql(message: str) -> None:
    for word in ("INSERT", "UPDATE", "SELECT", "[SQL", "parameters", "%(", "pymysql", "psycopg"):
        assert word not in message, message


def _refused_as(field: str, call: Callable[[], object]) -> errors.InvalidValue:
    with pytest.raises(errors.InvalidValue) as caught:
        call()
    exc = caught.value
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ")
    _no_sql(str(exc))
    answer = wire.to_api_error(exc)
    assert answer.status == 400
    assert answer.body()["error"]["error_data"] == {"code": "invalid_value"}
    return exc


# -- NUL characters ---------------------------------------------------------------------------


def _nul_writes(engine: Engine) -> dict[str, tuple[str, Callable[[], object]]]:
    """Writes with a NUL in a text column, by the field the NUL is in."""
    return {
        "policy name": ("name", lambda: api.create_policy(engine, NUL)),
        "policy description": (
            "description",
            lambda: api.create_policy(engine, "p", description=NUL),
        ),
        "rule": ("rule", lambda: api.add_rule(engine, "r", f'p("{NUL}")')),
        "rule comment": ("comment", lambda: api.add_rule(engine, "r", "q(1)", comment=NUL)),
        "datasource description": (
            "description",
            lambda: api.create_datasource(engine, "d", "drv", config={}, description=NUL),
        ),
        "library policy description": (
            "description",
            lambda: api.create_library_policy(engine, "lib", [], description=NUL),
        ),
        "execution detail": (
            "detail",
            lambda: api.record_execution(engine, datasource="d", action="a", args=[], detail=NUL),
        ),
    }


@pytest.mark.parametrize(
    "what",
    [
        "policy name",
        "policy description",
        "rule",
        "rule comment",
        "datasource description",
        "library policy description",
        "execution detail",
    ],
)
def test_a_nul_is_refused_by_postgresql_only(engine: Engine, backend_name: str, what: str) -> None:
    api.create_policy(engine, "r")
    revision = api.current_revision(engine)
    field, write = _nul_writes(engine)[what]
    if backend_name != "postgresql":
        write()  # SQLite and MariaDB store it
        return
    exc = _refused_as(field, write)
    assert "NUL" in str(exc)
    assert isinstance(exc.__cause__, DataError)
    assert api.current_revision(engine) == revision  # nothing was written
    assert [p.name for p in api.list_policies(engine)] == ["r"]


def test_a_nul_is_stored_where_the_database_takes_it(engine: Engine, backend_name: str) -> None:
    if backend_name == "postgresql":  # refuses NUL characters, and stores nothing
        _refused_as("name", lambda: api.create_policy(engine, NUL, description=NUL))
        assert api.list_policies(engine) == []
        return
    api.create_policy(engine, NUL, description=NUL)
    assert api.get_policy_by_name(engine, NUL).description == NUL
    assert api.add_rule(engine, NUL, f'p("{NUL}")').rule == f'p("{NUL}")'


def test_a_nul_in_json_values_is_stored_everywhere(engine: Engine) -> None:
    ds = api.create_datasource(engine, "d", "drv", config={"key": NUL, NUL: 1})
    assert api.get_datasource(engine, ds.id).config == {"key": NUL, NUL: 1}
    api.put_table_data(engine, ds.id, "t", [(NUL, 1)])
    assert api.get_table_data(engine, ds.id, "t") == [(NUL, 1)]
    api.record_execution(engine, datasource="d", action="a", args=[NUL])


def test_a_nul_in_a_lookup_is_not_found_or_invalid(engine: Engine, backend_name: str) -> None:
    if backend_name == "postgresql":
        _refused_as("name", lambda: api.get_policy_by_name(engine, NUL))
    else:
        with pytest.raises(errors.NotFound):
            api.get_policy_by_name(engine, NUL)


def test_a_nul_in_the_callers_session_is_invalid_value(engine: Engine, backend_name: str) -> None:
    make_session = session_factory(engine)
    with make_session() as session:
        session.begin()
        api.create_policy(session, "kept back")
        if backend_name == "postgresql":  # only PostgreSQL refuses NUL characters
            _refused_as("description", lambda: api.create_policy(session, "p", description=NUL))
        else:
            api.create_policy(session, "p", description=NUL)
        session.rollback()
    assert api.list_policies(engine) == []


# -- too long, or characters a column cannot hold (MariaDB) --------------------------------


def test_text_over_a_mariadb_text_column_is_refused(engine: Engine, backend_name: str) -> None:
    writes: dict[str, Callable[[], object]] = {
        "policy": lambda: api.create_policy(engine, "p", description=TOO_LONG_FOR_MARIADB_TEXT),
        "datasource": lambda: api.create_datasource(
            engine, "d", "drv", config={}, description=TOO_LONG_FOR_MARIADB_TEXT
        ),
        "library policy": lambda: api.create_library_policy(
            engine, "lib", [], description=TOO_LONG_FOR_MARIADB_TEXT
        ),
    }
    for write in writes.values():
        if backend_name == "mariadb":
            exc = _refused_as("description", write)
            assert "too long" in str(exc)
            assert isinstance(exc.__cause__, DataError)
        else:
            write()
    expected = [] if backend_name == "mariadb" else ["p"]
    assert [p.name for p in api.list_policies(engine)] == expected


def test_a_rule_over_a_mariadb_text_column_in_bytes_is_refused(
    engine: Engine, backend_name: str
) -> None:
    """20,000 characters (under max_rule_length) but 80,000 bytes of UTF-8."""
    api.create_policy(engine, "p")
    rule = 'p("' + "\U0001f600" * 20_000 + '")'
    if backend_name == "mariadb":
        _refused_as("rule", lambda: api.add_rule(engine, "p", rule))
        assert api.list_rules(engine, "p") == []
    else:
        assert api.add_rule(engine, "p", rule).rule == rule


def test_an_incorrect_string_value_on_mariadb_is_refused(engine: Engine, backend_name: str) -> None:
    """Congress's tables are utf8mb4; a utf8mb3 column cannot hold a 4-byte character (the
    other databases have no such column: there, Congress's columns hold it)."""
    if backend_name != "mariadb":
        api.create_policy(engine, "p", description="\U0001f600")
        assert api.get_policy_by_name(engine, "p").description == "\U0001f600"
        return

    def work(session: Session) -> None:
        session.execute(
            text("CREATE TEMPORARY TABLE narrow (title VARCHAR(10) CHARACTER SET utf8mb3)")
        )
        session.execute(text("INSERT INTO narrow (title) VALUES (:t)"), {"t": "\U0001f600"})

    exc = _refused_as("title", lambda: run_in_transaction(engine, work))
    assert "cannot store" in str(exc)


# -- lone surrogates (every database) --------------------------------------------------------


def test_a_lone_surrogate_is_refused_everywhere(engine: Engine) -> None:
    exc = _refused_as("value", lambda: api.create_policy(engine, "p", description=SURROGATE))
    assert "surrogate" in str(exc)
    assert isinstance(exc.__cause__, UnicodeEncodeError)
    assert api.list_policies(engine) == []
    ds = api.create_datasource(engine, "d", "drv", config={})
    _refused_as("value", lambda: api.put_table_data(engine, ds.id, "t", [(SURROGATE,)]))
    with pytest.raises(errors.NotFound):
        api.get_table_data(engine, ds.id, "t")


# -- the database being away or failing stays DatabaseError (a 503) ------------------------


def test_an_unreachable_database_is_still_database_error() -> None:
    away = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/congress?connect_timeout=2")
    try:
        with pytest.raises(errors.DatabaseError) as caught:
            api.create_policy(away, NUL)
    finally:
        away.dispose()
    assert isinstance(caught.value.__cause__, OperationalError)
    assert wire.to_api_error(caught.value).status == 503


def test_a_lock_timeout_is_still_database_error(engine: Engine, backend_name: str) -> None:
    api.create_policy(engine, "p")
    holder = create_engine(engine.url)
    lock = text("UPDATE policies SET description = 'x' WHERE name = 'p'")
    timeout = {
        "postgresql": "SET LOCAL lock_timeout = '50ms'",
        "mariadb": "SET SESSION innodb_lock_wait_timeout = 1",
        "sqlite": "PRAGMA busy_timeout = 50",  # writers queue on the file lock, this long
    }[backend_name]

    def wait_for_the_lock(session: Session) -> None:
        session.execute(text(timeout))
        session.execute(lock)

    try:
        with holder.begin() as connection:
            connection.execute(lock)
            with pytest.raises(errors.DatabaseError) as caught:
                run_in_transaction(engine, wait_for_the_lock, attempts=1)
    finally:
        holder.dispose()
    assert not isinstance(caught.value, errors.InvalidValue)
    assert wire.to_api_error(caught.value).status == 503


# -- the classifier ----------------------------------------------------------------------------


class _MySqlDataError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            DataError(
                "INSERT", {}, _MySqlDataError(1406, "Data too long for column 'name' at row 1")
            ),
            "name: too long for the database",
        ),
        (
            DataError(
                "INSERT",
                {},
                _MySqlDataError(
                    1366,
                    "Incorrect string value: '\\xF0\\x9F\\x98\\x80' for column "
                    "`db`.`policies`.`name` at row 1",
                ),
            ),
            "name: has characters the database cannot store",
        ),
        (
            DataError(
                "INSERT",
                {"id": "1", "description": NUL},
                _MySqlDataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
            ),
            "description: has a NUL character (\\u0000), which the database cannot store",
        ),
        (
            DataError(
                "INSERT", {"a": 1}, _MySqlDataError(1264, "Out of range value for column 'n'")
            ),
            "n: refused by the database: Out of range value for column 'n'",
        ),
        (
            UnicodeEncodeError("utf-8", SURROGATE, 1, 2, "surrogates not allowed"),
            "value: has a lone surrogate (\\ud800-\\udfff), which the database cannot store",
        ),
    ],
)
def test_data_errors_are_classified(exc: BaseException, expected: str) -> None:
    found = invalid_value(exc)
    assert found is not None
    assert str(found) == expected


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, Exception(2003, "Can't connect to MySQL server")),
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        SQLAlchemyError("x"),
        ValueError("x"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
)
def test_other_errors_are_not_invalid_values(exc: BaseException) -> None:
    assert invalid_value(exc) is None
