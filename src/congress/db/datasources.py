"""Datasources and their persisted push data (``dstabledata``).

Imports: standard library, SQLAlchemy, congress.db's errors, models, records and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). ``config`` is stored as JSON text exactly as given: encrypting secret
fields is the caller's business. Table data are rows (sequences of JSON values) stored per
(datasource id, table name); ``put_table_data`` replaces a table's rows in one statement (an
upsert), and deleting a datasource deletes its table data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
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
from congress.db.models import DatasourceRow, TableDataRow
from congress.db.records import Datasource

Row = tuple[Any, ...]


def _record(row: DatasourceRow) -> Datasource:
    return Datasource(
        id=row.id,
        name=row.name,
        driver=row.driver,
        config=from_json(row.config),
        description=row.description,
        enabled=row.enabled,
    )


@transactional()
def create_datasource(
    session: Session,
    name: str,
    driver: str,
    *,
    config: Mapping[str, object],
    description: str | None = None,
    enabled: bool = True,
    datasource_id: str | None = None,
) -> Datasource:
    """Create a datasource. Raises DuplicateName, DuplicateId or InvalidValue."""
    if not name:
        raise errors.InvalidValue("name", "empty")
    check_length("name", name, models.NAME_LENGTH)
    check_length("driver", driver, models.NAME_LENGTH)
    check_id(datasource_id)
    row = DatasourceRow(
        id=datasource_id or new_id(),
        name=name,
        driver=driver,
        config=to_json(dict(config)),
        description=description,
        enabled=enabled,
    )
    session.add(row)
    flush_or_conflict(
        session,
        {
            "uq_datasources_name": lambda: errors.DuplicateName("datasource", name),
            PRIMARY: lambda: errors.DuplicateId("datasource", row.id),
        },
    )
    return _record(row)


@transactional(readonly=True)
def get_datasource(session: Session, datasource_id: str) -> Datasource:
    """The datasource with id ``datasource_id``; NotFound otherwise."""
    row = session.get(DatasourceRow, datasource_id)
    if row is None:
        raise errors.NotFound("datasource", datasource_id)
    return _record(row)


@transactional(readonly=True)
def get_datasource_by_name(session: Session, name: str) -> Datasource:
    """The datasource named ``name``; NotFound otherwise."""
    row = session.scalar(select(DatasourceRow).where(DatasourceRow.name == name))
    if row is None:
        raise errors.NotFound("datasource", name)
    return _record(row)


@transactional(readonly=True)
def find_datasource(session: Session, name_or_id: str) -> Datasource:
    """The datasource whose id, or else whose name, is ``name_or_id``; NotFound otherwise."""
    rows = session.scalars(
        select(DatasourceRow).where(
            (DatasourceRow.id == name_or_id) | (DatasourceRow.name == name_or_id)
        )
    ).all()
    if not rows:
        raise errors.NotFound("datasource", name_or_id)
    return _record(min(rows, key=lambda row: row.id != name_or_id))


@transactional(readonly=True)
def list_datasources(session: Session) -> list[Datasource]:
    """Every datasource, by name."""
    rows = session.scalars(select(DatasourceRow).order_by(DatasourceRow.name))
    return [_record(row) for row in rows]


@transactional()
def update_datasource(
    session: Session,
    datasource_id: str,
    *,
    enabled: bool | None = None,
    config: Mapping[str, object] | None = None,
    description: str | None = None,
) -> Datasource:
    """Change the given fields of a datasource (None leaves a field alone). Raises NotFound."""
    row = session.get(DatasourceRow, datasource_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise errors.NotFound("datasource", datasource_id)
    if enabled is not None:
        row.enabled = enabled
    if config is not None:
        row.config = to_json(dict(config))
    if description is not None:
        row.description = description
    session.flush()
    return _record(row)


@transactional()
def delete_datasource(session: Session, datasource_id: str) -> Datasource:
    """Delete a datasource and its table data; returns it as it was. Raises NotFound."""
    row = session.get(DatasourceRow, datasource_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise errors.NotFound("datasource", datasource_id)
    session.execute(delete(TableDataRow).where(TableDataRow.ds_id == datasource_id))
    session.delete(row)
    session.flush()
    return _record(row)


# ---------------------------------------------------------------------------- table data


@transactional()
def put_table_data(
    session: Session, datasource_id: str, tablename: str, rows: Iterable[Sequence[object]]
) -> None:
    """Store ``rows`` as the whole content of a datasource's table. Raises NotFound."""
    check_length("tablename", tablename, models.NAME_LENGTH)
    values = {
        "ds_id": datasource_id,
        "tablename": tablename,
        "tabledata": to_json([list(row) for row in rows]),
    }
    try:
        connection = session.connection()
        connection.execute(_upsert(connection.dialect.name, values))
    except IntegrityError as exc:  # the foreign key: no such datasource
        raise errors.NotFound("datasource", datasource_id) from exc


def _upsert(dialect: str, values: dict[str, str]) -> Insert:
    if dialect == "postgresql":
        pg = postgresql.insert(TableDataRow).values(values)
        return pg.on_conflict_do_update(
            index_elements=["ds_id", "tablename"], set_={"tabledata": pg.excluded.tabledata}
        )
    if dialect == "sqlite":
        lite = sqlite.insert(TableDataRow).values(values)
        return lite.on_conflict_do_update(
            index_elements=["ds_id", "tablename"], set_={"tabledata": lite.excluded.tabledata}
        )
    my = mysql.insert(TableDataRow).values(values)
    return my.on_duplicate_key_update(tabledata=my.inserted.tabledata)


@transactional(readonly=True)
def get_table_data(session: Session, datasource_id: str, tablename: str) -> list[Row]:
    """The stored rows of one table; NotFound if none were stored."""
    text = session.scalar(
        select(TableDataRow.tabledata).where(
            TableDataRow.ds_id == datasource_id, TableDataRow.tablename == tablename
        )
    )
    if text is None:
        raise errors.NotFound("table data", f"{datasource_id}:{tablename}")
    return [tuple(row) for row in from_json(text)]


@transactional(readonly=True)
def get_all_table_data(session: Session, datasource_id: str) -> dict[str, list[Row]]:
    """Every stored table of a datasource: table name -> rows (empty if none)."""
    stored = session.execute(
        select(TableDataRow.tablename, TableDataRow.tabledata).where(
            TableDataRow.ds_id == datasource_id
        )
    )
    return {name: [tuple(row) for row in from_json(text)] for name, text in stored}


@transactional()
def delete_table_data(session: Session, datasource_id: str, tablename: str | None = None) -> int:
    """Delete one stored table (every table when ``tablename`` is None); returns how many."""
    statement = delete(TableDataRow).where(TableDataRow.ds_id == datasource_id)
    if tablename is not None:
        statement = statement.where(TableDataRow.tablename == tablename)
    return session.connection().execute(statement).rowcount
