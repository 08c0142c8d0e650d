"""Projects at the API's edge (docs/tenancy.md): who is an operator, which routes a project
member may use, and the mapping of a member's names to Congress's and back.

May import WebOb, congress.api, congress.services and congress.datalog (names only).

An **operator** is a caller the rule ``context_is_admin`` admits (and everyone under
``noauth``): it sees every policy by its internal name (``ops@<project>`` for a project's) and
what it creates is global. Anyone else is a **member** of the project of its token: it names
its project's policies as it wrote them (``ops``), and this module

- maps each ``<policy>`` of a path (and the ``policy`` filter of ``/v1/executions``) into the
  project (``ops`` → ``ops@<project>``; an id must be one of the project's policies), so a
  member can only ever address its own; another project's policy is the same 404 as a missing
  one;
- checks a datasource is shared with the project before any of its reads, and refuses every
  datasource write (403);
- refuses the routes that are the operator's alone (notification sinks, datasource writes, an
  API ``execute``): 403 whatever the policy file says;
- and takes the project's suffix off every answer (``ops@<project>`` → ``ops``), error
  answers and change feeds included: project ids never reach a member, and another project's
  names never can, since nothing of another project is ever read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import webob

from congress.api import auth
from congress.datalog import names
from congress.services import views
from congress.services.errors import (
    DatasourceNotFound,
    LibraryPolicyNotFound,
    NotFound,
    PolicyNotFound,
)

SCOPE_KEY = "congress.scope"
"""The WSGI environ key of the request's ``Scope``."""

_ID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")

OPERATOR_ONLY = frozenset(
    {
        ("PATCH", "/v1/data-sources/<ds>"),
        ("GET", "/v1/notification-sinks"),
        ("POST", "/v1/notification-sinks"),
        ("GET", "/v1/notification-sinks/<sink>"),
        ("DELETE", "/v1/notification-sinks/<sink>"),
        ("GET", "/v1/notification-sinks/<sink>/dead-letters"),
        ("GET", "/v1/quotas"),
        ("PUT", "/v1/quotas/<project>"),
        ("DELETE", "/v1/quotas/<project>"),
    }
)
"""Routes a member may never use (403): the operator's configuration."""

OWNER_ONLY = frozenset(
    {
        ("DELETE", "/v1/data-sources/<ds>"),
        ("POST", "/v1/data-sources/<ds>"),
        ("PUT", "/v1/data-sources/<ds>/tables/<table>/rows"),
        ("POST", "/v1/data-sources/<ds>/webhook"),
        ("GET", "/v1/data-sources/<ds>/status"),
    }
)
"""Datasource routes a member may use on its project's own datasources only (on one the
operator shares with it: 403)."""

MEMBER_WRITES = ("/v1/policies", "/v1/librarypolicies", "/v1/data-sources")
"""The paths under which rule ``project_member`` lets a member write (its project's own)."""

RULE_OF = {"GET": "get_v1", "POST": "create_v1", "PUT": "update_v1", "PATCH": "update_v1"}
"""The access rule a refusal names, by method (DELETE: delete_v1)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """``project`` None: an operator. ``member`` with a project: acts for that project; a
    member without one (an unscoped token) sees nothing and may write nothing."""

    project: str | None
    member: bool = False

    @property
    def operator(self) -> bool:
        return not self.member

    def internal(self, name: str) -> str:
        """A name the caller wrote, as Congress knows it."""
        if self.operator:
            return name
        if self.project is None or names.SEPARATOR in name:
            raise PolicyNotFound(f"Policy {name} does not exist")
        return names.scoped(name, self.project)

    def owns(self, internal_name: str) -> bool:
        """Whether the caller may see the policy (or library policy) named so."""
        return self.operator or (
            self.project is not None and names.project_of(internal_name) == self.project
        )

    def owner(self) -> str:
        """The ``owner`` of what the caller creates."""
        return self.project if self.member and self.project else names.GLOBAL_OWNER

    def suffix(self) -> bytes:
        return f"{names.SEPARATOR}{self.project}".encode() if self.project else b""


OPERATOR = Scope(None)


def scope_of(req: webob.Request) -> Scope:
    """The request's scope (an operator's when none was set: open routes, tests)."""
    found = req.environ.get(SCOPE_KEY)
    return found if isinstance(found, Scope) else OPERATOR


def decide(ctx: auth.Context, authorizer: auth.Authorizer) -> Scope:
    """The scope of a caller: an operator if ``context_is_admin`` admits it."""
    if ctx.extra.get("auth_strategy") == "noauth" or authorizer.allows(ctx, "context_is_admin"):
        return OPERATOR
    project = ctx.project_id if ctx.project_id and names.valid_project(ctx.project_id) else None
    return Scope(project, member=True)


def authorize(
    ctx: auth.Context,
    authorizer: auth.Authorizer,
    method: str,
    path: str,
    access: str,
    action: str | None = None,
) -> Scope:
    """Check the route's access rule (``action``: the request's ``?action=``), with what a
    member may and may not do; the scope."""
    scope = decide(ctx, authorizer)
    if scope.operator:
        authorizer.check(ctx, access)
        return scope
    if (method, path) in OPERATOR_ONLY or (method == "POST" and action == "execute"):
        raise auth.Forbidden(access)  # the operator's, as an API execute is
    if access == "get_v1" or not path.startswith(MEMBER_WRITES):
        authorizer.check(ctx, access)
        return scope
    if scope.project is None:
        raise auth.Forbidden(access)
    if not (authorizer.allows(ctx, access) or authorizer.allows(ctx, "project_member")):
        raise auth.Forbidden(access)
    return scope


def visible_datasource(scope: Scope, datasource: dict[str, Any]) -> bool:
    """Whether the caller may read a datasource (its API answer, with ``shared_with``): the
    operator every one, a member those shared with its project."""
    if scope.operator:
        return True
    shared = datasource.get("shared_with")
    return scope.project is not None and views.visible_to(
        shared if isinstance(shared, list) else (), scope.project
    )


def member_datasource(datasource: dict[str, Any]) -> dict[str, Any]:
    """A datasource as a member sees it: no configuration, no list of projects."""
    out = dict(datasource)
    out["config"] = {}
    out.pop("shared_with", None)
    return out


def owned_datasource(datasource: dict[str, Any], project: str | None) -> bool:
    """Whether a datasource (its API answer) is the project's own."""
    return project is not None and datasource.get("owner_id") == project


def map_parameters(
    scope: Scope, method: str, path: str, params: dict[str, str], services: Any
) -> dict[str, str]:
    """A member's path parameters as Congress knows them: ``policy`` into the project, a
    datasource its project's own or one shared with it (read only), a library policy its own
    or the operator's (read only)."""
    if scope.operator:
        return params
    out = dict(params)
    if "policy" in params:
        given = params["policy"]
        if _ID.fullmatch(given):
            view = services.engine.get_policy(given)  # NotFound as for any missing policy
            if not scope.owns(view.name):  # the engine's answer for a missing one
                raise PolicyNotFound(f"Policy {given} does not exist")
            out["policy"] = view.id
        else:
            out["policy"] = scope.internal(given)
    if "ds" in params:
        out["ds"] = _datasource(scope, method, path, params["ds"], services)
    if "lib" in params and services.library is not None:
        out["lib"] = _library_id(scope, method, params["lib"], services.library)
    return out


def candidates(scope: Scope, given: str) -> list[str]:
    """What a member's datasource or library policy name may be, in order: an id as it is,
    else the project's own (``name@project``, when the token has a project), then the
    operator's of that name."""
    if _ID.fullmatch(given) or scope.project is None:
        return [given]
    return [names.scoped(given, scope.project), given]


def _datasource(scope: Scope, method: str, path: str, given: str, services: Any) -> str:
    """The datasource a member names: its project's own (``name@project``, or its id), or a
    global one shared with the project, which it may only read; otherwise the same 404 as a
    missing one."""
    missing = DatasourceNotFound(f"Datasource not found {given}")
    if services.datasources is None or names.SEPARATOR in given:
        raise missing
    for candidate in candidates(scope, given):
        try:
            found = services.datasources.get_datasource(candidate)
        except NotFound:
            continue
        if owned_datasource(found, scope.project):
            return str(found["id"])
        if names.project_of(str(found["name"])) is not None:
            continue  # another project's
        try:
            sharing = services.engine.datasource_sharing(str(found["id"]))
        except NotFound:
            continue
        if not visible_datasource(scope, sharing):
            continue
        if (method, path) in OWNER_ONLY:
            raise auth.Forbidden(RULE_OF.get(method, "delete_v1"))
        return str(found["id"])
    raise missing


def _library_id(scope: Scope, method: str, given: str, library: Any) -> str:
    missing = LibraryPolicyNotFound(f"Library policy {given} does not exist")
    if names.SEPARATOR in given:
        raise missing
    found: dict[str, Any] | None = None
    for candidate in candidates(scope, given):
        try:
            found = library.get(candidate, include_rules=False)
            break
        except NotFound:
            continue
    if found is None or not readable_library(scope, str(found["name"])):
        raise missing
    if method != "GET" and not scope.owns(str(found["name"])):
        raise auth.Forbidden(RULE_OF.get(method, "delete_v1"))
    return str(found["id"])


def readable_library(scope: Scope, internal_name: str) -> bool:
    """A library policy the caller may read: its project's and the operator's (global)."""
    return scope.operator or names.project_of(internal_name) in (None, scope.project)


def strip(scope: Scope, resp: webob.Response) -> webob.Response:
    """A member's answer with its project's suffix taken off every name."""
    suffix = scope.suffix()
    if not suffix:
        return resp
    if resp.app_iter is not None and not isinstance(resp.app_iter, list | tuple):
        return resp  # a stream: a change feed strips its own events (congress.api.watch)
    body = resp.body
    if suffix in body:
        resp.body = body.replace(suffix, b"")
    return resp
