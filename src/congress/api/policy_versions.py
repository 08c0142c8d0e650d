"""Policy versions on the wire (docs/policy-lifecycle.md): ``GET /v1/policies/<p>/versions``,
``GET /v1/policies/<p>/versions/<n>`` and ``POST /v1/policies/<p>?action=rollback``; and who
asks for a change (``actor``), which every policy write passes to the policy engine.

May import WebOb, congress.api and congress.services.
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import auth, wire
from congress.api.services import Services
from congress.services.errors import VersionNotFound
from congress.services.policy_versions import NOBODY, Actor

VERSIONS_LIMIT = 100
MAX_VERSIONS_LIMIT = 10000
CONTEXT_KEY = "congress.context"
"""The WSGI environ key of the request context (``congress.api.app`` sets it)."""


def actor(req: webob.Request) -> Actor:
    """Who asks: the request context's user and project; nobody (None) without
    authentication (``auth_strategy = noauth``)."""
    ctx = req.environ.get(CONTEXT_KEY)
    if not isinstance(ctx, auth.Context) or ctx.extra.get("auth_strategy") == "noauth":
        return NOBODY
    return Actor(ctx.user_id, ctx.project_id)


def list_versions(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``GET /v1/policies/<p>/versions?limit=N``: newest first."""
    limit = wire.count_query(req, "limit", VERSIONS_LIMIT, MAX_VERSIONS_LIMIT)
    return {"results": s.engine.list_versions(policy, limit=limit)}


def show_version(req: webob.Request, s: Services, policy: str, version: str) -> dict[str, Any]:
    """``GET /v1/policies/<p>/versions/<n>``: one version with ``before`` and ``after``."""
    number = _number(version)
    if number is None:
        raise VersionNotFound(
            f"Policy {policy} has no version {version!r}: versions are numbered from 1"
        )
    return s.engine.get_version(policy, number)


def _number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    value = int(text)
    return value if value >= 1 else None


def rollback(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``POST /v1/policies/<p>?action=rollback`` with ``{"version": n}``: the new version."""
    body = wire.json_body(req)
    version = body.get("version")
    if "version" not in body:
        raise wire.BadRequest("Field 'version' is required: the version to roll back to")
    if isinstance(version, bool) or not isinstance(version, int):
        raise wire.BadRequest(f"Field 'version' must be an integer, not {repr(version)[:64]}")
    unknown = sorted(set(body) - {"version"})
    if unknown:
        raise wire.BadRequest(
            f"Only 'version' can be given to a rollback, not {', '.join(map(repr, unknown))}"
        )
    result: dict[str, Any] = s.engine.rollback_policy(policy, version, actor=actor(req))
    return result
