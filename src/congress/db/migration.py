"""Schema migrations: upgrade, downgrade and inspect a database with the Alembic scripts in
``congress/db/alembic`` (what ``congress-db-manage`` runs).

Imports: standard library, SQLAlchemy, Alembic and congress.db's engine, errors and original.

Each function takes a database URL (an engine is made and disposed of) or an ``Engine``. An
upgrade runs in one transaction where the database allows transactional DDL (PostgreSQL,
SQLite); on MySQL/MariaDB each DDL statement commits by itself.

``upgrade`` first looks at the revision the database is at. One of ours, or none: the usual
Alembic upgrade. OpenStack Congress's last revision (``c0125080d572``): with
``from_original=True`` the database is converted to revision 0001 by ``congress.db.original``
and then upgraded, in the same transaction; without it, ``OriginalDatabase`` is raised (so a
server never converts a database by itself: ``congress-db-manage upgrade`` does, after the
operator's backup). Any other revision is refused with ``UnsupportedSchema`` and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from congress.db import errors, original
from congress.db.engine import make_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"


class OriginalDatabase(errors.UnsupportedSchema):
    """The database is OpenStack Congress's and was not to be converted (``from_original``)."""


def upgrade(
    url: str | Engine,
    revision: str = "head",
    *,
    from_original: bool = False,
    fingerprinter: original.Fingerprinter | None = None,
) -> None:
    """Migrate the database at ``url`` up to ``revision`` (the latest by default).

    A database of OpenStack Congress at ``c0125080d572`` is converted first when
    ``from_original`` (``fingerprinter`` gives its rules' fingerprints), refused with
    ``OriginalDatabase`` otherwise; a database at a revision we do not know is refused with
    ``UnsupportedSchema``.
    """

    def step(config: Config) -> None:
        connection = config.attributes["connection"]
        found = MigrationContext.configure(connection).get_current_revision()
        if found is not None and found not in known_revisions():
            if found != original.ORIGINAL_HEAD:
                raise errors.UnsupportedSchema(original.refusal(found))
            if not from_original:
                raise OriginalDatabase(
                    f"the database is OpenStack Congress's (revision {found}): convert it "
                    "with 'congress-db-manage upgrade head' after backing it up "
                    "(docs/migration.md)"
                )
            original.convert(
                connection,
                lambda: command.upgrade(config, original.TARGET_REVISION),
                fingerprinter,
            )
        command.upgrade(config, revision)

    _run(url, step)


def known_revisions() -> set[str]:
    """Every revision of our scripts."""
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def state(revision: str | None) -> str:
    """What a database at ``revision`` is: ``empty``, ``head``, ``behind`` (one of ours),
    ``original`` (OpenStack Congress's last), ``original_old`` or ``unknown``."""
    if revision is None:
        return "empty"
    if revision == head():
        return "head"
    if revision in known_revisions():
        return "behind"
    if revision == original.ORIGINAL_HEAD:
        return "original"
    if original.is_original(revision):
        return "original_old"
    return "unknown"


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
