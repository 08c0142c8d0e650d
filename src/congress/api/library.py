"""``/v1/librarypolicies``: the policy library (list, create, show, replace, delete).

May import WebOb, congress.api and congress.services.
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import tenancy, wire
from congress.api.services import Services


def _library(s: Services) -> Any:
    if s.library is None:
        raise wire.BadRequest("The policy library is not available on this node")
    return s.library


def _include_rules(req: webob.Request) -> bool:
    value = wire.query(req, "include_rules")
    return value is None or str(value).lower() not in ("false", "0", "no")


def list_policies(req: webob.Request, s: Services) -> dict[str, Any]:
    scope = tenancy.scope_of(req)
    name = wire.query(req, "name")
    found: list[dict[str, Any]] = []
    for wanted in [name] if name is None or scope.operator else tenancy.candidates(scope, name):
        found.extend(_library(s).list(include_rules=_include_rules(req), name=wanted))
    return {"results": [p for p in found if tenancy.readable_library(scope, str(p["name"]))]}


def _named_in_scope(req: webob.Request, body: dict[str, Any]) -> dict[str, Any]:
    """A member's library policy is its project's: its name goes into the project."""
    scope = tenancy.scope_of(req)
    name = body.get("name")
    if scope.member and isinstance(name, str) and name:
        return {**body, "name": scope.internal(name)}
    return body


def create_policy(req: webob.Request, s: Services) -> webob.Response:
    created = _library(s).create(_named_in_scope(req, wire.json_body(req)))
    return wire.created(req, created["id"], created)


def show_policy(req: webob.Request, s: Services, lib: str) -> dict[str, Any]:
    result: dict[str, Any] = _library(s).get(lib, include_rules=_include_rules(req))
    return result


def replace_policy(req: webob.Request, s: Services, lib: str) -> dict[str, Any]:
    result: dict[str, Any] = _library(s).replace(lib, _named_in_scope(req, wire.json_body(req)))
    return result


def delete_policy(req: webob.Request, s: Services, lib: str) -> dict[str, Any]:
    _library(s).delete(lib)
    return {}
