"""``/v1/data-sources``: datasources, their schema, status, actions, tables, rows and pushes.

May import WebOb, congress.api and congress.services.

Secrets never leave the server: every configuration answered shows them as ``<hidden>``
(the datasource host does the masking).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import webob

from congress.api import tenancy, wire
from congress.api.policies import PAGING, action_args, page_of
from congress.api.services import Services
from congress.services import views
from congress.services.errors import NotFound


def _host(s: Services) -> Any:
    if s.datasources is None:
        raise wire.BadRequest("No datasource host on this node")
    return s.datasources


def list_datasources(req: webob.Request, s: Services) -> dict[str, Any]:
    scope = tenancy.scope_of(req)
    found = _with_sharing(s, _host(s).list_datasources())
    if scope.operator:
        return {"results": found}
    return {"results": [v for d in found if (v := _as_member_sees(scope, d)) is not None]}


def _as_member_sees(scope: tenancy.Scope, datasource: dict[str, Any]) -> dict[str, Any] | None:
    """A datasource as a member sees it: its project's own as it is, one shared with it
    without its configuration, any other not at all (None)."""
    if tenancy.owned_datasource(datasource, scope.project):
        out = dict(datasource)
        out.pop("shared_with", None)
        return out
    if tenancy.visible_datasource(scope, datasource):
        return tenancy.member_datasource(datasource)
    return None


def _with_sharing(s: Services, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Datasources with their ``shared_with`` and (effective) ``project_columns``."""
    sharing = s.engine.list_datasource_sharing()
    return [{**d, **sharing.get(str(d["id"]), {})} for d in found]


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
    scope = tenancy.scope_of(req)
    if scope.member and name and driver:  # a datasource of the project's own
        if driver not in s.project_drivers:
            raise wire.BadRequest(
                f"Driver {driver} is not available to projects: "
                f"{', '.join(s.project_drivers) or 'none is'} ([tenancy] project_drivers)"
            )
        if "@" in name:
            raise wire.BadRequest(f"Invalid datasource name {name!r}: a name is an identifier")
        name = scope.internal(name)
    created = _host(s).create_datasource(
        name,
        driver,
        config,
        description=wire.text_field(body, "description"),
        enabled=True if enabled is None else enabled,
    )
    created = _with_sharing(s, [created])[0]
    return wire.created(req, created["id"], created)


def show_datasource(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    """The datasource, with ``shared_with`` (the projects that may read it, or ``["*"]``) and
    ``project_columns`` (each table's column naming a row's project: the driver's, with the
    operator's overrides)."""
    result: dict[str, Any] = dict(_host(s).get_datasource(ds))
    result.update(s.engine.datasource_sharing(result["id"]))
    scope = tenancy.scope_of(req)
    if scope.operator:
        return result
    shown = _as_member_sees(scope, result)
    assert shown is not None  # the API's edge let it through: its own or shared with it
    return shown


def update_datasource(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    """``PATCH`` (the operator's): share the datasource with projects (``shared_with``:
    project ids, or ``["*"]``) and/or set its project columns (``project_columns``:
    ``{table: column}``, null for a table without one; it replaces the previous overrides of
    the driver's). Answers the datasource as ``GET`` does."""
    body = wire.json_body(req)
    unknown = sorted(set(body) - {"shared_with", "project_columns"})
    if unknown:
        raise wire.BadRequest(
            "Only 'shared_with' and 'project_columns' of a datasource can be changed, "
            f"not {', '.join(map(repr, unknown))}"
        )
    changes: dict[str, Any] = {}
    shared = body.get("shared_with")
    if shared is not None:
        if not isinstance(shared, list) or not all(isinstance(p, str) for p in shared):
            raise wire.BadRequest("Field 'shared_with' must be a list of project ids, or [\"*\"]")
        changes["shared_with"] = shared
    columns = body.get("project_columns")
    if columns is not None:
        if not isinstance(columns, dict) or not all(
            c is None or isinstance(c, str) for c in columns.values()
        ):
            raise wire.BadRequest(
                "Field 'project_columns' must be an object {table: column name or null}"
            )
        changes["project_columns"] = columns
    record: dict[str, Any] = dict(_host(s).get_datasource(ds))  # 404: no such datasource
    if changes:
        s.engine.update_datasource_sharing(record["id"], changes)
    record.update(s.engine.datasource_sharing(record["id"]))
    return record


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
    scope = tenancy.scope_of(req)
    if scope.member and not tenancy.owned_datasource(_host(s).get_datasource(ds), scope.project):
        rows = _project_rows(s, ds, table, rows, scope.project)  # a shared one: its rows
    if any(wire.query(req, name) is not None for name in PAGING):
        return page_of(req, rows)
    return {"results": [{"data": list(r)} for r in rows]}


def replace_rows(req: webob.Request, s: Services, ds: str, table: str) -> webob.Response:
    _host(s).replace_rows(ds, table, wire.json_value(req))
    return wire.empty()


def webhook(req: webob.Request, s: Services, ds: str) -> dict[str, Any]:
    _host(s).webhook(ds, wire.json_value(req))
    return {}


def _project_rows(
    s: Services, ds: str, table: str, rows: Sequence[Any], project: str | None
) -> list[Any]:
    """The rows of a shared table a project sees: those whose project column (the
    datasource's ``project_columns``) names ``project``; all of them without one."""
    column = (s.engine.datasource_sharing(ds).get("project_columns") or {}).get(table)
    if column is None:
        return list(rows)
    columns = [c["name"] for c in _host(s).table_spec(ds, table).get("columns", [])]
    if column not in columns or project is None:
        return []
    return views.filtered(rows, columns.index(column), project)
