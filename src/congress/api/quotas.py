"""``/v1/quotas``: the projects' quotas (docs/tenancy.md), the operator's to read and set.

May import WebOb, congress.api and congress.services.

``GET /v1/quotas`` lists every project with quotas of its own (and ``*``, the quotas of every
project without its own); ``GET /v1/quotas/<project>`` answers the quotas that hold for a
project, which of them are its own, and what it uses (``quotas_body``); ``PUT`` sets some of a
project's own quotas (``null`` removes one), ``DELETE`` all of them. The routes but the ``GET``
of one project are the operator's alone (``congress.api.tenancy.OPERATOR_ONLY``); a member may
read only its own project's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import webob

from congress.api import auth, tenancy, wire
from congress.api.services import Services
from congress.services.quotas import QUOTAS


def quotas_body(
    quotas: Mapping[str, float],
    usage: Mapping[str, int],
    *,
    own: Iterable[str] = (),
    project: str | None = None,
) -> dict[str, Any]:
    """A project's quotas on the wire: ``{project_id?, quotas: {name: limit}, own: [names set
    for the project itself], usage: {policies, rules}}`` (a limit of 0 is no limit)."""
    body: dict[str, Any] = {} if project is None else {"project_id": project}
    body["quotas"] = {name: _number(quotas[name]) for name in QUOTAS if name in quotas}
    body["own"] = sorted(own)
    body["usage"] = dict(usage)
    return body


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def list_quotas(req: webob.Request, s: Services) -> dict[str, Any]:
    found = s.engine.list_quotas()
    return {
        "results": [
            {"project_id": project, "quotas": {k: _number(v) for k, v in quotas.items()}}
            for project, quotas in sorted(found.items())
        ]
    }


def show_quotas(req: webob.Request, s: Services, project: str) -> dict[str, Any]:
    scope = tenancy.scope_of(req)
    if scope.member and project != scope.project:  # a member reads its own project's only
        raise auth.Forbidden("get_v1")
    found = s.engine.get_quotas(project)
    return quotas_body(found["quotas"], found["usage"], own=found["own"], project=project)


def update_quotas(req: webob.Request, s: Services, project: str) -> dict[str, Any]:
    body = wire.json_body(req)
    found = s.engine.set_quotas(project, body)
    return quotas_body(found["quotas"], found["usage"], own=found["own"], project=project)


def delete_quotas(req: webob.Request, s: Services, project: str) -> dict[str, Any]:
    s.engine.delete_quotas(project)
    return {}
