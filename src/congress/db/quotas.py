"""Project quotas (docs/tenancy.md): the limits the operator set for one project, or for every
project (``*``), over ``[tenancy]``'s defaults.

Imports: standard library, SQLAlchemy, congress.db's models and _support.

``quotas`` are stored as JSON text ``{quota: limit}``, only the quotas set; a quota not set
takes the ``*`` row's value, then the option's (``congress.services.quotas`` merges them).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from congress.db import errors
from congress.db._support import check_length, from_json, now, to_json, transactional
from congress.db.models import NAME_LENGTH, ProjectQuotaRow

ALL_PROJECTS = "*"
"""The ``project_id`` of the row whose quotas apply to every project without its own."""


def _limits(text: str) -> dict[str, float]:
    value = from_json(text)
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}


@transactional(readonly=True)
def get_project_quotas(session: Session, project_id: str) -> dict[str, float]:
    """The quotas set for ``project_id`` (``*``: for every project); ``{}`` if none."""
    row = session.get(ProjectQuotaRow, project_id)
    return {} if row is None else _limits(row.quotas)


@transactional(readonly=True)
def list_project_quotas(session: Session) -> dict[str, dict[str, float]]:
    """``{project_id: quotas set}`` of every project with quotas of its own (and ``*``)."""
    rows = session.scalars(select(ProjectQuotaRow).order_by(ProjectQuotaRow.project_id))
    return {row.project_id: _limits(row.quotas) for row in rows}


@transactional()
def set_project_quotas(
    session: Session, project_id: str, quotas: Mapping[str, float]
) -> dict[str, float]:
    """Set (replace) the quotas of ``project_id``; an empty mapping removes its row."""
    if not project_id:
        raise errors.InvalidValue("project_id", "empty")
    check_length("project_id", project_id, NAME_LENGTH)
    row = session.get(ProjectQuotaRow, project_id)
    if not quotas:
        if row is not None:
            session.delete(row)
        return {}
    text = to_json(dict(sorted(quotas.items())))
    if row is None:
        session.add(ProjectQuotaRow(project_id=project_id, quotas=text, updated_at=now()))
    else:
        row.quotas = text
        row.updated_at = now()
    session.flush()
    return dict(quotas)


@transactional()
def delete_project_quotas(session: Session, project_id: str) -> bool:
    """Remove ``project_id``'s own quotas (it takes the defaults again); False if it had none."""
    result = session.execute(
        delete(ProjectQuotaRow).where(ProjectQuotaRow.project_id == project_id)
    )
    return bool(getattr(result, "rowcount", 0))
