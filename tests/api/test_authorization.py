"""Every route of ``ROUTES`` is authorised, and each is called with each role.

``auth_strategy = keystone`` as keystonemiddleware leaves a request (identity headers, no real
Keystone): an administrator (an operator) may do everything, a ``reader`` may only read
(simulate and explanations are reads), a ``member`` may write its own project's policies and
library policies (rule ``project_member``) but not read, and a caller without identity gets a
401. Both are members of project ``prj`` (docs/tenancy.md): the operator's resources the cases
name are invisible to them (a 404, as a missing one), but for the operator's library policies,
which they may read and not change, and the operator's routes are refused (403) whatever
their roles. A caller who may not use a route gets the same 403 whether
the resource exists or not. The cases come from ``CASES``; a route of the table that no case
calls fails ``test_every_route_has_cases`` and its own ``test_route``. docs/security.md's
route table is checked against the same cases, and a policy file overriding the rules (oslo.policy
``[oslo_policy] policy_file``) takes effect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import webob
from api_client import Client
from oslo_config import cfg

from congress.api import tenancy
from congress.api.app import ROUTES, CongressApp, Route
from congress.cmd.server import build_node
from congress.common import config

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"X-User-Id": "adm", "X-Project-Id": "prj", "X-Roles": "admin"}
READER = {"X-User-Id": "rdr", "X-Project-Id": "prj", "X-Roles": "reader"}
MEMBER = {"X-User-Id": "mbr", "X-Project-Id": "prj", "X-Roles": "member"}
ALLOWED_TO = {  # the rules each role passes by default ("" is an open route)
    "admin": {"", "get_v1", "create_v1", "update_v1", "delete_v1"},
    "reader": {"", "get_v1"},
    "member": {""},
}
ROLES = {"admin": ADMIN, "reader": READER, "member": MEMBER}
MISSING = "nosuch"

P = "/v1/policies/auth"
D = "/v1/data-sources/inv"
TABLES = json.dumps({"servers": ["id", "status"]})
SIMULATE = {"query": "q(x)", "sequence": "p+(2)", "action_policy": "action"}
IMPACT = {"add_rules": ["p(3)"], "tables": ["q"]}
ALARM = {
    "notification": "vitrage.alarm.activate",
    "payload": {"vitrage_id": "a1", "name": "down", "resource": {"id": "h1"}},
}
LIBRARY = {"name": "Lib", "rules": [{"rule": "p(1)"}, {"rule": "q(x) :- p(x)"}]}
HOOK = "http://127.0.0.1:9/hook"  # nothing listens: deliveries fail, which is no matter here


@dataclass(frozen=True)
class Case:
    """A request to an existing resource (``{r1}`` and friends name ids known only at run
    time), the access rule it must need ("" for an open route) and what an allowed caller gets
    (the same with an id that does not exist: ``missing``)."""

    method: str
    path: str
    rule: str
    status: int = 200
    body: Any = None
    missing: int = 404


CASES = (
    Case("GET", "/v1", ""),
    Case("GET", "/v1/policies", "get_v1"),
    Case("POST", "/v1/policies", "create_v1", 201, {"name": "fresh"}),
    Case("POST", "/v1/policies?library_policy={lib}", "create_v1", 201),
    Case("GET", P, "get_v1"),
    Case("DELETE", "/v1/policies/doomed", "delete_v1"),
    Case("PATCH", P, "update_v1", 200, {"dry_run": True}),
    Case("GET", P + "/breaker", "get_v1"),
    Case("POST", P + "/breaker?action=reset", "update_v1"),
    Case("GET", "/v1/executions", "get_v1"),
    Case("POST", P + "?action=simulate", "get_v1", 200, SIMULATE),
    Case("POST", P + "?action=simulate&delta=true&trace=true", "get_v1", 200, SIMULATE),
    Case("POST", P + "?action=simulate", "get_v1", 200, IMPACT),  # the impact of a change
    Case("POST", P + "?action=explain", "get_v1", 200, {"table": "q", "row": [1]}),
    Case("POST", P + "?action=execute", "create_v1", 400, {"name": "inv:servers.pause"}),
    Case("POST", P + "?action=undocumented", "create_v1", 400, {}, missing=400),
    Case("POST", P + "?action=rollback", "create_v1", 200, {"version": 1}),  # a policy write
    Case("GET", P + "/status", "get_v1"),
    Case("GET", P + "/versions", "get_v1"),
    Case("GET", P + "/versions/1", "get_v1"),
    Case("GET", P + "/rules", "get_v1"),
    Case("POST", P + "/rules", "create_v1", 201, {"rule": "s(2)"}),
    Case("POST", P + "/rules?dry_run=true", "get_v1", 200, {"rule": "s(3)"}),  # creates nothing
    Case("GET", P + "/rules/{r1}", "get_v1"),
    Case("DELETE", P + "/rules/{r2}", "delete_v1"),
    Case("GET", P + "/rules/{r1}/status", "get_v1"),
    Case("GET", P + "/tables", "get_v1"),
    Case("GET", P + "/tables/q", "get_v1"),
    Case("GET", P + "/tables/q/rows", "get_v1"),
    Case("GET", P + "/tables/q/rows?trace=true", "get_v1"),  # an explanation
    Case("GET", P + "/tables/q/rows?explain=true", "get_v1"),  # explanations as JSON
    Case("GET", P + "/tables/error/history", "get_v1"),  # a watched table's history
    Case("GET", P + "/tables/error/history/counts", "get_v1"),  # its counts over time
    Case("GET", P + "/tables/q/watch", "get_v1"),  # a change feed
    Case("GET", "/v1/data-sources", "get_v1"),
    Case(
        "POST",
        "/v1/data-sources",
        "create_v1",
        201,
        {"name": "fresh_ds", "driver": "push", "config": {"tables": TABLES}},
    ),
    Case("GET", D, "get_v1"),
    Case("PATCH", D, "update_v1", 200, {"shared_with": ["p1"]}),
    Case("DELETE", "/v1/data-sources/doomed_ds", "delete_v1"),
    Case("POST", D + "?action=request-refresh", "create_v1", 200, {}),
    Case("POST", D + "?action=execute", "create_v1", 400, {"name": "servers.pause"}),
    Case("GET", D + "/schema", "get_v1"),
    Case("GET", D + "/status", "get_v1"),
    Case("GET", D + "/actions", "get_v1"),
    Case("GET", D + "/tables", "get_v1"),
    Case("GET", D + "/tables/servers", "get_v1"),
    Case("GET", D + "/tables/servers/spec", "get_v1"),
    Case("GET", D + "/tables/servers/rows", "get_v1"),
    Case("PUT", D + "/tables/servers/rows", "update_v1", 200, [["vm2", "ACTIVE"]]),
    Case("POST", "/v1/data-sources/vit/webhook", "create_v1", 200, ALARM),
    Case("GET", "/v1/system/drivers", "get_v1"),
    Case("GET", "/v1/system/drivers/push", "get_v1"),
    Case("GET", "/v1/librarypolicies", "get_v1"),
    Case("POST", "/v1/librarypolicies", "create_v1", 201, {**LIBRARY, "name": "Fresh"}),
    Case("GET", "/v1/librarypolicies/{lib}", "get_v1"),
    Case("PUT", "/v1/librarypolicies/{lib}", "update_v1", 200, {**LIBRARY, "description": "d"}),
    Case("DELETE", "/v1/librarypolicies/{doomed_lib}", "delete_v1"),
    Case("GET", "/v1/notification-sinks", "get_v1"),
    Case("POST", "/v1/notification-sinks", "create_v1", 201, {"name": "fresh-sink", "url": HOOK}),
    Case("GET", "/v1/notification-sinks/{sink}", "get_v1"),
    Case("DELETE", "/v1/notification-sinks/doomed-sink", "delete_v1"),
    Case("GET", "/v1/notification-sinks/{sink}/dead-letters", "get_v1"),
    Case("GET", "/v1/quotas", "get_v1"),
    Case("GET", "/v1/quotas/prj", "get_v1", missing=200),  # the defaults of any project
    Case("PUT", "/v1/quotas/prj", "update_v1", 200, {"rules": 10}, missing=200),
    Case("DELETE", "/v1/quotas/doomed-prj", "delete_v1"),
)


def route_of(method: str, path: str) -> Route | None:
    """The route that serves ``method path``, found as the dispatcher finds it."""
    bare = path.split("?")[0]
    return next((r for r in ROUTES if r.method == method and r.pattern.match(bare)), None)


def cases_of(route: Route) -> list[Case]:
    return [c for c in CASES if route_of(c.method, c.path) is route]


def missing_variants(route: Route, path: str) -> list[str]:
    """``path`` with each of its path parameters in turn naming nothing."""
    bare, sep, query = path.partition("?")
    m = route.pattern.match(bare)
    assert m is not None
    return [
        bare[: m.start(name)] + MISSING + bare[m.end(name) :] + sep + query
        for name in route.pattern.groupindex
    ]


def forbidden(rule: str) -> dict[str, Any]:
    message = f"Policy doesn't allow {rule} to be performed."
    return {"error": {"message": message, "error_code": 1000, "error_data": {"code": "forbidden"}}}


UNAUTHENTICATED = {
    "error": {
        "message": "Authentication required",
        "error_code": 1000,
        "error_data": {"code": "unauthorized"},
    }
}


def keystone_conf(tmp_path: Path, extra: str = "") -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    f = tmp_path / "keystone.conf"
    f.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n" + extra
    )
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    return c


@dataclass
class World:
    """A whole node with ``auth_strategy = keystone``: ``app`` trusts the identity headers (as
    behind keystonemiddleware), ``pipeline`` is what is served (a token is needed)."""

    app: Client
    pipeline: Client
    ids: dict[str, str]

    def call(self, case: Case, path: str, headers: dict[str, str] | None) -> tuple[int, Any]:
        return self.app.call(case.method, path.format(**self.ids), case.body, headers=headers)


def populate(api: Client) -> dict[str, str]:
    """The resources every case names, created by an administrator."""

    def ok(status_body: tuple[int, Any]) -> Any:
        status, body = status_body
        assert status in (200, 201), body
        return body

    def post(path: str, body: Any) -> Any:
        return ok(api.post(path, body, headers=ADMIN))

    post("/v1/policies", {"name": "auth"})
    post("/v1/policies", {"name": "doomed"})
    ids = {"r1": post(P + "/rules", {"rule": "p(1)"})["id"]}
    ids["r2"] = post(P + "/rules", {"rule": "q(x) :- p(x)"})["id"]
    for name in ("inv", "doomed_ds"):
        post("/v1/data-sources", {"name": name, "driver": "push", "config": {"tables": TABLES}})
    post("/v1/data-sources", {"name": "vit", "driver": "vitrage", "config": {}})
    ok(api.put(D + "/tables/servers/rows", [["vm1", "ERROR"]], headers=ADMIN))
    ids["lib"] = post("/v1/librarypolicies", LIBRARY)["id"]
    ids["doomed_lib"] = post("/v1/librarypolicies", {**LIBRARY, "name": "Doomed"})["id"]
    sink = {"name": "hooks", "url": HOOK, "secret": "s"}
    ids["sink"] = post("/v1/notification-sinks", sink)["id"]
    post("/v1/notification-sinks", {"name": "doomed-sink", "url": HOOK})
    ok(api.put("/v1/quotas/doomed-prj", {"policies": 5}, headers=ADMIN))
    return ids


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    conf = keystone_conf(tmp_path)
    node = build_node(conf)
    app = Client(CongressApp(node.services, conf))
    yield World(app, Client(node.app), populate(app))
    node.stop()


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def test_every_route_has_cases() -> None:
    """A new route needs a decision here (its cases), and no case calls a route that is gone."""
    assert [route_id(r) for r in ROUTES if not cases_of(r)] == []
    assert [c for c in CASES if route_of(c.method, c.path) is None] == []


def test_only_the_version_document_is_open() -> None:
    assert [route_id(r) for r in ROUTES if not r.access] == ["GET /v1"]


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_route(route: Route, world: World) -> None:
    """Each case of the route with each role; the administrator last (a write of a caller
    who was refused would make the administrator's create a 409 or delete a 404)."""
    cases = cases_of(route)
    assert cases, f"no authorization case for {route_id(route)}"
    for case in cases:
        for role in ("member", "reader", "admin"):
            allowed = may(role, route, case)
            for path in missing_variants(route, case.path):
                status, body = world.call(case, path, ROLES[role])
                if allowed and role != "admin" and "project" in route.pattern.groupindex:
                    # another project's quotas: a member reads its own project's only
                    assert (status, body) == (403, forbidden(case.rule)), (role, path)
                elif allowed:
                    assert status == case.missing, (role, path, body)
                else:  # refused before any lookup: nothing tells whether it exists
                    assert (status, body) == (403, forbidden(case.rule)), (role, path)
        assert_no_identity(world, case)
        for role in ("member", "reader", "admin"):
            status, body = world.call(case, case.path, ROLES[role])
            want = expected(role, route, case)
            if isinstance(want, str):
                assert (status, body) == (403, forbidden(want)), (role, case.path)
            else:
                assert status == want, (role, case.path, body)


def expected(
    role: str, route: Route, case: Case, allowed_to: dict[str, set[str]] = ALLOWED_TO
) -> int | str:
    """The status ``role`` gets for the case, or the rule a 403 names."""
    if not may(role, route, case, allowed_to):
        return case.rule
    if role != "admin" and {"policy", "ds"} & set(route.pattern.groupindex):
        return case.missing  # the operator's: invisible to a project
    if role != "admin" and "lib" in route.pattern.groupindex and case.rule != "get_v1":
        return "delete_v1" if case.method == "DELETE" else "update_v1"  # read-only to it
    return case.status


def may(role: str, route: Route, case: Case, allowed_to: dict[str, set[str]] = ALLOWED_TO) -> bool:
    """Whether ``role`` passes the route's access: its rules, and for a member (anyone but an
    operator) the tenancy rules of congress.api.tenancy."""
    if role == "admin":
        return case.rule in allowed_to[role]
    if (route.method, route.path) in tenancy.OPERATOR_ONLY or "action=execute" in case.path:
        return False
    if case.rule != "get_v1" and route.path.startswith(tenancy.MEMBER_WRITES):
        return case.rule in allowed_to[role] or role == "member"  # project_member: role:member
    return case.rule in allowed_to[role]


def assert_no_identity(world: World, case: Case) -> None:
    """No identity is a 401 (through the served pipeline too: there keystonemiddleware refuses
    a request without a token, even one that carries identity headers of its own)."""
    status, body = world.call(case, case.path, None)
    if not case.rule:
        assert status == case.status
        return
    assert (status, body) == (401, UNAUTHENTICATED), case.path
    path = case.path.format(**world.ids)
    for headers in (None, ADMIN):
        assert world.pipeline.call(case.method, path, case.body, headers=headers)[0] == 401


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/healthcheck", "/metrics", "/dashboard/"])
def test_open_paths_need_no_token(path: str, world: World) -> None:
    """Spec README, Unauthenticated routes: the version documents, the health check, and the
    paths outside /v1 (metrics are open by default, the dashboard's files are static)."""
    for headers in (None, MEMBER, READER, ADMIN):
        status = world.pipeline.raw("GET", path, headers=headers).status_int
        assert status not in (401, 403), (path, headers)
    assert world.pipeline.raw("GET", path).status_int == 200


def test_an_unknown_v1_path_needs_a_token_too(world: World) -> None:
    assert world.pipeline.get("/v1/nosuch")[0] == 401
    assert world.pipeline.get("/v1/policies/auth/nosuch")[0] == 401


def test_roles_are_matched_without_regard_to_case_and_among_others(world: World) -> None:
    """Keystone hands over every effective role (implied ones too): ``admin,member,reader``."""
    several = {**ADMIN, "X-Roles": "Member, Reader"}  # a project member ('Reader' reads)
    assert world.app.get("/v1/policies", headers=several)[0] == 200
    assert world.app.get("/v1/policies", headers={**ADMIN, "X-Roles": "observer"})[0] == 403
    assert world.app.delete(P, headers=several)[0] == 404  # the operator's: not its project's
    everything = {**ADMIN, "X-Roles": "reader,member,admin"}
    assert world.app.delete(P, headers=everything)[0] == 200


def test_a_policy_file_overrides_the_default_rules(tmp_path: Path) -> None:
    """``[oslo_policy] policy_file``: here members may read and nobody may delete."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        '"get_v1": "role:member or role:reader or rule:context_is_admin"\n"delete_v1": "!"\n'
    )
    conf = keystone_conf(tmp_path, f"[oslo_policy]\npolicy_file = {policy_file}\n")
    node = build_node(conf)
    try:
        api = Client(CongressApp(node.services, conf))
        ids = populate(api)
        allowed_to = {**ALLOWED_TO, "member": {"", "get_v1"}}
        for case in CASES:
            route = route_of(case.method, case.path)
            assert route is not None
            status, body = api.call(case.method, case.path.format(**ids), case.body, headers=MEMBER)
            want = expected("member", route, case, allowed_to)
            if isinstance(want, str):
                assert (status, body) == (403, forbidden(want)), case.path
            else:
                assert status == want, (case.path, body)
        assert api.delete(P, headers=ADMIN) == (403, forbidden("delete_v1"))
        assert api.post("/v1/policies", {"name": "x"}, headers=ADMIN)[0] == 201
    finally:
        node.stop()


def test_noauth_is_an_administrator(tmp_path: Path) -> None:
    conf = keystone_conf(tmp_path, "[DEFAULT]\nauth_strategy = noauth\n")
    node = build_node(conf)
    try:
        api = Client(node.app)
        assert api.post("/v1/policies", {"name": "x"})[0] == 201
        assert api.delete("/v1/policies/x")[0] == 200
    finally:
        node.stop()


# -- docs/security.md ------------------------------------------------------------------------
def documented_rules() -> dict[tuple[str, str], set[str]]:
    """The route table of docs/security.md's Authorization section: (method, path) -> rules."""
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("## Authorization", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].strip("`") in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            rules = set(re.findall(r"`(\w+_v1|open)`", cells[2]))
            table[(cells[0].strip("`"), cells[1].strip("`"))] = rules
    return table


def test_the_documented_route_table_is_the_route_table() -> None:
    expected = {(r.method, r.path): {c.rule or "open" for c in cases_of(r)} for r in ROUTES}
    assert documented_rules() == expected


def test_an_action_that_is_a_read_is_read_from_the_query_as_the_handler_reads_it() -> None:
    """The access of ``POST /v1/policies/<p>?action=`` comes from the same parameter the
    handler dispatches on (no body can make a write look like a read)."""
    route = route_of("POST", P)
    assert route is not None
    for query, rule in (("?action=simulate", "get_v1"), ("?action=execute", "create_v1")):
        req = webob.Request.blank(P + query, method="POST")
        assert route.access_for(req) == rule
    req = webob.Request.blank(P + "?action=execute", method="POST")
    req.body, req.content_type = b'{"action": "simulate"}', "application/json"
    assert route.access_for(req) == "create_v1"


def test_a_dry_run_is_a_read_decided_by_the_query_as_the_handler_reads_it() -> None:
    """``POST .../rules?dry_run=true`` creates nothing: a read (``wire.flag``, as the handler
    reads it); without the flag, or with a false one, or with it in the body, a write."""
    route = route_of("POST", P + "/rules")
    assert route is not None
    for query, rule in (
        ("?dry_run=true", "get_v1"),
        ("?dry_run=True", "get_v1"),
        ("?dry_run=1", "get_v1"),
        ("?dry_run=false", "create_v1"),
        ("", "create_v1"),
    ):
        req = webob.Request.blank(P + "/rules" + query, method="POST")
        assert route.access_for(req) == rule, query
    req = webob.Request.blank(P + "/rules", method="POST")
    req.body, req.content_type = b'{"rule": "p(1)", "dry_run": true}', "application/json"
    assert route.access_for(req) == "create_v1"
    req = webob.Request.blank(P + "?action=explain", method="POST")
    assert route_of("POST", P).access_for(req) == "get_v1"  # type: ignore[union-attr]
