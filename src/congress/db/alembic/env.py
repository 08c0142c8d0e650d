"""Alembic environment of congress.db, loaded by Alembic (through congress.db.migration).

Imports: Alembic and congress.db (engine, models). Migrations run on the connection that
``congress.db.migration`` puts in ``config.attributes["connection"]``, or else on an engine made
from the ``sqlalchemy.url`` option (plain ``alembic`` command lines); offline mode writes SQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from congress.db.engine import make_engine
from congress.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
