"""Schema migrations: upgrade, downgrade and inspect a database with the Alembic scripts in
``congress/db/alembic`` (what ``congress-db-manage`` runs).

Imports: standard library, SQLAlchemy, Alembic and congress.db.engine.

Each function takes a database URL (an engine is made and disposed of) or an ``Engine``. An
upgrade runs in one transaction where the database allows transactional DDL (PostgreSQL,
SQLite); on MySQL/MariaDB each DDL statement commits by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from congress.db.engine import make_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (the latest by default)."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str | Engine, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current(url: str | Engine) -> str | None:
    """The revision the database at ``url`` is at; None for a database never migrated."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if isinstance(url, str):
            engine.dispose()


def head() -> str:
    """The latest revision the scripts know."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migration scripts in {SCRIPT_LOCATION}")
    return revision


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def _run(url: str | Engine, step: Callable[[Config], None]) -> None:
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            step(config)
    finally:
        if isinstance(url, str):
            engine.dispose()
