"""``/v1/data-sources``: datasources, their schema, status, actions, tables, rows and pushes.

May import WebOb, congress.api and congress.services.

Secrets never leave the server: every configuration answered shows them as ``<hidden>``
(the datasource host does the masking).
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import wire
from congress.api.policies import PAGING, action_args, page_of
from congress.api.services import Services
from congress.services.errors import NotFound


def _host(s: Services) -> Any:
    if s.datasources is None:
        raise wire.BadRequest("No datasource host on this node")
    return s.datasources


def list_datasources(req: webob.Request, s: Services) -> dict[str, Any]:
    return {"results": _host(s).list_datasources()}


def create_datasource(req: webob.Request, s: Services) -> webob.Response:
    body = wire.json_body(req)
    if body.get("id") is not None:
        raise wire.BadRequest("An id may not be provided when creating a datasource")
    name = wire.text_field(body, "name", required=True, limit=255)
    driver = wire.text_field(body, "driver", required=True)
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise wire.BadRequest("Field 'config' must be an object")
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise wire.BadRequest("Field 'enabled' must be true or false")
    created = _host(s).create_datasource(
        name,
        driver,
        config,
        description=wire.text_field(body, "description"),
        enabled=True if enabled is None else enabled,
    )
    return wire.created(req, created["id"], created)


def show_datasource(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    result: dict[str, Any] = _host(s).get_datasource(ds)
    return result


def delete_datasource(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    _host(s).delete_datasource(ds)
    return {}


def datasource_action(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    action = wire.query(req, "action")
    host = _host(s)
    if action == "request-refresh":
        host.request_refresh(ds)
        return {}
    if action == "execute":
        body = wire.json_body(req)
        name = wire.text_field(body, "name", required=True) or ""
        positional, named = action_args(body.get("args"))
        host.execute(ds, name, positional, named)
        return {}
    raise wire.BadRequest(f"Unknown action {action!r} on a datasource")


def schema(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    result: dict[str, Any] = _host(s).schema(ds)
    return result


def table_spec(req: webob.Request, s: Services, ds: str, table: str) -> dict[str, Any]:
    result: dict[str, Any] = _host(s).table_spec(ds, table)
    return result


def status(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    result: dict[str, Any] = _host(s).status(ds)
    return result


def actions(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    result: dict[str, Any] = _host(s).actions(ds)
    return result


def list_tables(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    return {"results": [{"id": t} for t in _host(s).tables(ds)]}


def show_table(req: webob.Request, s: Services, ds: str, table: str) -> dict[str, Any]:
    if table not in _host(s).tables(ds):
        raise NotFound(f"Table {table} does not exist in datasource {ds}")
    return {"id": table}


def list_rows(req: webob.Request, s: Services, ds: str, table: str) -> dict[str, Any]:
    """The rows (sorted); with ``limit``, ``offset`` or ``filter``, one page of them and
    ``total`` (as the policy tables' rows route pages)."""
    rows = _host(s).rows(ds, table)
    if any(wire.query(req, name) is not None for name in PAGING):
        return page_of(req, rows)
    return {"results": [{"data": list(r)} for r in rows]}


def replace_rows(req: webob.Request, s: Services, ds: str, table: str) -> webob.Response:
    _host(s).replace_rows(ds, table, wire.json_value(req))
    return wire.empty()


def webhook(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    _host(s).webhook(ds, wire.json_value(req))
    return {}
