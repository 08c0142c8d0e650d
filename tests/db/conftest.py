"""Fixtures of the persistence tests: every test runs on SQLite, PostgreSQL and MariaDB.

Each pytest(-xdist) worker gets its own database per backend (a SQLite file; on the servers
``congress_test_<worker>_<pid>``, dropped at the end), migrated to head once; each test starts
from empty tables and revision 0. A server that does not answer FAILS the tests: run
``scripts/services`` to start PostgreSQL and MariaDB. ``CONGRESS_TEST_POSTGRESQL`` and
``CONGRESS_TEST_MARIADB`` override the server URLs (without a database name).
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, delete, text, update
from sqlalchemy.exc import SQLAlchemyError

from congress.db import migration
from congress.db.engine import make_engine
from congress.db.models import Base, RevisionRow

BACKENDS = ("sqlite", "postgresql", "mariadb")
SERVERS = {
    "postgresql": os.environ.get(
        "CONGRESS_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432"
    ),
    "mariadb": os.environ.get("CONGRESS_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306"),
}
ADMIN_DATABASE = {"postgresql": "postgres", "mariadb": "mysql"}
_TEST_DATABASE = re.compile(r"^congress_test_\w+_(\d+)$")


@pytest.fixture(scope="session")
def database_name(worker_id: str) -> str:
    return f"congress_test_{worker_id}_{os.getpid()}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def migrated_engine(
    backend: str, database_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on this worker's database of ``backend``, migrated to head."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/congress.db"
        engine = make_engine(url)
        migration.upgrade(engine)
        yield engine
        engine.dispose()
        return
    admin = _admin_engine(backend)
    try:
        _drop_abandoned_databases(backend, admin)
        _create_database(backend, admin, database_name)
        engine = make_engine(f"{SERVERS[backend]}/{database_name}")
        migration.upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        _drop_database(backend, admin, database_name)
        admin.dispose()


def _admin_engine(backend: str) -> Engine:
    url = f"{SERVERS[backend]}/{ADMIN_DATABASE[backend]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        pytest.fail(
            f"{backend} at {SERVERS[backend]} does not answer ({exc}); run scripts/services"
        )
    return engine


def _quote(name: str) -> str:
    assert re.fullmatch(r"\w+", name), name
    return name


def _create_database(backend: str, admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        _drop(backend, connection, name)
        suffix = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if backend == "mariadb" else ""
        connection.execute(text(f"CREATE DATABASE {_quote(name)}{suffix}"))


def _drop_database(backend: str, admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        _drop(backend, connection, name)


def _drop(backend: str, connection: Connection, name: str) -> None:
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    connection.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)}{force}"))


def _drop_abandoned_databases(backend: str, admin: Engine) -> None:
    """Drop test databases left behind by test runs whose process is gone."""
    query = (
        "SELECT datname FROM pg_database"
        if backend == "postgresql"
        else "SELECT schema_name FROM information_schema.schemata"
    )
    with admin.connect() as connection:
        for (name,) in connection.execute(text(query)).all():
            match = _TEST_DATABASE.match(name)
            if match and not _alive(int(match.group(1))):
                _drop(backend, connection, name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def empty_database_url(backend: str, database_name: str, tmp_path: pathlib.Path) -> Iterator[str]:
    """The URL of a new, empty database of ``backend`` (never migrated), dropped at the end."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.sqlite"
        return
    name = database_name.replace("congress_test_", "congress_test_empty", 1)
    admin = _admin_engine(backend)
    try:
        _create_database(backend, admin, name)
        yield f"{SERVERS[backend]}/{name}"
    finally:
        _drop_database(backend, admin, name)
        admin.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """``migrated_engine`` with every table empty and the policy revision back at 0."""
    if migration.current(migrated_engine) != migration.head():
        migration.upgrade(migrated_engine)
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != RevisionRow.__tablename__:
                connection.execute(delete(table))
        connection.execute(update(RevisionRow).values(revision=0, updated_at=None))
    return migrated_engine


@pytest.fixture
def backend_name(engine: Engine) -> str:
    name: str = engine.dialect.name
    return "mariadb" if name == "mysql" else name


@pytest.fixture
def run_together() -> Callable[..., list[object]]:
    """Run callables in threads released at the same moment; returns results or exceptions."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    def run(*calls: Callable[[], object]) -> list[object]:
        barrier = threading.Barrier(len(calls))

        def start(call: Callable[[], object]) -> object:
            barrier.wait()
            try:
                return call()
            except Exception as exc:
                return exc

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(start, calls))

    return run
