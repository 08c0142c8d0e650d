"""Safe enforcement on the wire (docs/enforcement.md): ``PATCH /v1/policies/<p>`` (dry-run and
the action grace period), ``/v1/policies/<p>/breaker`` and ``GET /v1/executions``.

May import WebOb, congress.api and congress.services.
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import policy_versions, tenancy, wire
from congress.api.errors import api_error
from congress.api.policies import settings_body, time_parameter
from congress.api.services import Services

SETTINGS = ("dry_run", "action_grace_seconds")
"""The fields of a policy that ``PATCH`` changes."""
EXECUTIONS_LIMIT = 100
MAX_EXECUTIONS_LIMIT = 10000


def update_policy(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``PATCH /v1/policies/<p>`` with ``{"dry_run": bool, "action_grace_seconds": n|null}``."""
    body = wire.json_body(req)
    if "owner_id" in body:
        raise api_error("no_policy_update_owner")
    if "kind" in body:
        raise api_error("no_policy_update_kind")
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        raise wire.BadRequest(
            f"Only {' and '.join(map(repr, SETTINGS))} of a policy can be changed, not "
            f"{', '.join(map(repr, unknown))}"
        )
    if not body:
        raise wire.BadRequest(f"Give at least one of {', '.join(map(repr, SETTINGS))}")
    if "dry_run" in body and not isinstance(body["dry_run"], bool):
        raise wire.BadRequest("Field 'dry_run' must be true or false")
    grace = body.get("action_grace_seconds")
    if grace is not None and (
        isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0
    ):
        raise wire.BadRequest(
            "Field 'action_grace_seconds' must be a number of seconds >= 0, or null for the "
            "configured default"
        )
    return settings_body(s.engine.update_policy(policy, body, actor=policy_versions.actor(req)))


def show_breaker(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``GET /v1/policies/<p>/breaker``."""
    return s.engine.breaker(policy)


def breaker_action(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``POST /v1/policies/<p>/breaker?action=reset``."""
    action = wire.query(req, "action")
    if action != "reset":
        raise wire.BadRequest(
            f"Parameter 'action' must be 'reset', not {action!r}"
            if action is not None
            else "Parameter 'action' is required: action=reset"
        )
    return s.engine.reset_breaker(policy)


def list_executions(req: webob.Request, s: Services) -> dict[str, Any]:
    """``GET /v1/executions?policy=&driver=&action=&status=&since=&until=&limit=``."""
    since = time_parameter(req, "since")
    until = time_parameter(req, "until")
    limit = wire.count_query(req, "limit", EXECUTIONS_LIMIT, MAX_EXECUTIONS_LIMIT)
    filters = {name: wire.query(req, name) for name in ("policy", "driver", "action", "status")}
    scope = tenancy.scope_of(req)
    if scope.member:  # the project's policies' entries only
        if scope.project is None:
            return {"results": []}
        filters["project"] = scope.project
        if filters["policy"] is not None:
            if "@" in filters["policy"]:  # no policy of the project: like any missing name
                return {"results": []}
            filters["policy"] = scope.internal(filters["policy"])
    found = s.engine.list_executions(
        limit=limit,
        since=None if since is None else since.isoformat(),
        until=None if until is None else until.isoformat(),
        **{k: v for k, v in filters.items() if v is not None},
    )
    return {"results": found}
