"""Datasources and their persisted push data (``dstabledata``).

Imports: standard library, SQLAlchemy, congress.db's errors, models, records and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). ``config`` is stored as JSON text exactly as given: encrypting secret
fields is the caller's business. Table data are rows (sequences of JSON values) stored per
(datasource id, table name); ``put_table_data`` replaces a table's rows in one statement (an
upsert), and deleting a datasource deletes its table data.

Sharing (docs/tenancy.md): ``shared_with`` (the projects that may read a datasource's tables,
``["*"]`` for every project) and ``project_columns`` (the operator's ``{table: column}``, over
the driver's declaration; a column of None says the table has none) are read with
``get_datasource_sharing``/``list_datasource_sharing`` and changed with
``set_datasource_sharing``, which bumps the policy revision (so every policy engine re-reads
them, as for a policy's settings) and checks the tables and columns against a schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from congress.db import errors, models, revisions
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
        owner=row.owner,
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
    owner: str = "user",
) -> Datasource:
    """Create a datasource (``owner``: ``user``, the operator's, or a project id). Raises
    DuplicateName, DuplicateId or InvalidValue."""
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
        owner=owner,
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


# ---------------------------------------------------------------------------- sharing

_PROJECT = re.compile(r"[A-Za-z0-9_\-]+")  # congress.datalog.names.PROJECT_PATTERN
ALL_PROJECTS_SHARED = "*"
"""``shared_with`` ``["*"]``: every project may read the datasource's tables."""


@dataclass(frozen=True, slots=True)
class DatasourceSharing:
    """Who may read a datasource's tables, and the operator's project columns."""

    datasource_id: str
    name: str
    driver: str
    shared_with: tuple[str, ...] = ()
    project_columns: dict[str, str | None] = field(default_factory=dict)
    revision: int | None = None
    """The policy revision the change that answered it wrote (None for a read)."""


def _sharing(row: DatasourceRow, revision: int | None = None) -> DatasourceSharing:
    shared = from_json(row.shared_with) if row.shared_with else []
    columns = from_json(row.project_columns) if row.project_columns else {}
    return DatasourceSharing(
        datasource_id=row.id,
        name=row.name,
        driver=row.driver,
        shared_with=tuple(str(p) for p in shared) if isinstance(shared, list) else (),
        project_columns=(
            {str(t): None if c is None else str(c) for t, c in columns.items()}
            if isinstance(columns, dict)
            else {}
        ),
        revision=revision,
    )


def check_shared_with(value: object) -> list[str]:
    """``value`` as a ``shared_with`` list (project ids, distinct, in order, or ``["*"]``);
    InvalidValue otherwise."""
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise errors.InvalidValue("shared_with", 'must be a list of project ids, or ["*"]')
    projects = list(dict.fromkeys(value))
    if ALL_PROJECTS_SHARED in projects and len(projects) > 1:
        raise errors.InvalidValue("shared_with", '"*" (every project) stands alone')
    for project in projects:
        if project != ALL_PROJECTS_SHARED and _PROJECT.fullmatch(project) is None:
            raise errors.InvalidValue("shared_with", f"{project!r} is not a project id")
        check_length("shared_with", project, models.NAME_LENGTH)
    return projects


def check_project_columns(
    value: object, schema: Mapping[str, Sequence[str]] | None
) -> dict[str, str | None]:
    """``value`` as ``project_columns`` (``{table: column or None}``); with ``schema``, each
    table must be one of it and each column one of its table's. InvalidValue otherwise."""
    if not isinstance(value, Mapping):
        raise errors.InvalidValue("project_columns", "must be an object {table: column}")
    out: dict[str, str | None] = {}
    for table, column in value.items():
        if not isinstance(table, str) or not (column is None or isinstance(column, str)):
            raise errors.InvalidValue(
                "project_columns", "must map table names to a column name (or null: none)"
            )
        if schema is not None:
            columns = schema.get(table)
            if columns is None:
                raise errors.InvalidValue("project_columns", f"the datasource has no table {table}")
            if column is not None and column not in columns:
                raise errors.InvalidValue(
                    "project_columns", f"table {table} has no column {column}"
                )
        out[table] = column
    return out


@transactional(readonly=True)
def get_datasource_sharing(session: Session, datasource_id: str) -> DatasourceSharing:
    """The sharing of the datasource with id ``datasource_id``; NotFound otherwise."""
    row = session.get(DatasourceRow, datasource_id)
    if row is None:
        raise errors.NotFound("datasource", datasource_id)
    return _sharing(row)


@transactional(readonly=True)
def list_datasource_sharing(session: Session) -> list[DatasourceSharing]:
    """The sharing of every datasource, by name."""
    rows = session.scalars(select(DatasourceRow).order_by(DatasourceRow.name))
    return [_sharing(row) for row in rows]


@transactional()
def set_datasource_sharing(
    session: Session,
    datasource_id: str,
    *,
    shared_with: Sequence[str] | None = None,
    project_columns: Mapping[str, str | None] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    expected_revision: int | None = None,
) -> DatasourceSharing:
    """Replace a datasource's ``shared_with`` and/or its ``project_columns`` overrides (None
    leaves one alone), checked (``project_columns`` against ``schema`` when given), at a new
    policy revision. Raises NotFound, InvalidValue and StaleRevision."""
    shared = None if shared_with is None else check_shared_with(shared_with)
    columns = None if project_columns is None else check_project_columns(project_columns, schema)
    revision = revisions.bump(session, expected_revision)
    row = session.get(DatasourceRow, datasource_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise errors.NotFound("datasource", datasource_id)
    if shared is not None:
        row.shared_with = to_json(shared)
    if columns is not None:
        row.project_columns = to_json(columns)
    session.flush()
    return _sharing(row, revision)


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
