"""Projects through the API (docs/tenancy.md), with identity headers as keystonemiddleware
leaves them: two projects and an operator share one node. Each project names its policies as
it wrote them, sees only its own, and no answer to one project holds the other's names, ids,
rows or errors. (The same against a real Keystone: tests/keystone/test_tenancy_keystone.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Client
from test_authorization import keystone_conf

from congress.api.app import CongressApp
from congress.cmd.server import build_node

A = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a"
B = "0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b0b"
ADMIN = {"X-User-Id": "op", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
ALICE = {"X-User-Id": "alice", "X-Project-Id": A, "X-Roles": "member,reader"}
BOB = {"X-User-Id": "bob", "X-Project-Id": B, "X-Roles": "member,reader"}
TABLES = json.dumps({"vms": ["id", "project"]})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Client]:
    conf = keystone_conf(tmp_path)
    node = build_node(conf)
    yield Client(CongressApp(node.services, conf))
    node.stop()


def ok(answer: tuple[int, Any], status: int = 200) -> Any:
    assert answer[0] == status, answer
    return answer[1]


def text(answer: tuple[int, Any]) -> str:
    return json.dumps(answer[1])


def test_each_project_has_its_own_namespace(api: Client) -> None:
    a = ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    b = ok(api.post("/v1/policies", {"name": "ops"}, headers=BOB), 201)
    assert (a["name"], a["owner_id"]) == ("ops", A)
    assert (b["name"], b["owner_id"]) == ("ops", B)
    assert a["id"] != b["id"]
    mine = ok(api.get("/v1/policies", headers=ALICE))["results"]
    assert [(p["name"], p["owner_id"]) for p in mine] == [("ops", A)]
    every = {
        (p["name"], p["owner_id"]) for p in ok(api.get("/v1/policies", headers=ADMIN))["results"]
    }
    assert {(f"ops@{A}", A), (f"ops@{B}", B), ("classification", "user")} <= every
    assert ok(api.get("/v1/policies/ops", headers=BOB))["id"] == b["id"]
    # the operator's policies are not a project's
    assert api.get("/v1/policies/classification", headers=ALICE)[0] == 404


def test_another_projects_policy_is_a_404_like_a_missing_one(api: Client) -> None:
    a = ok(api.post("/v1/policies", {"name": "secret"}, headers=ALICE), 201)
    by_id = api.get(f"/v1/policies/{a['id']}", headers=BOB)
    missing = api.get("/v1/policies/00000000-0000-4000-8000-000000000000", headers=BOB)
    assert by_id[0] == missing[0] == 404
    assert by_id[1]["error"]["error_data"] == missing[1]["error"]["error_data"]
    for path in ("", "/rules", "/tables", "/status", "/versions", "/breaker"):
        status, body = api.get(f"/v1/policies/{a['id']}{path}", headers=BOB)
        assert status == 404, (path, body)
        assert A not in json.dumps(body) and "secret" not in json.dumps(body)
    assert api.delete(f"/v1/policies/{a['id']}", headers=BOB)[0] == 404
    assert api.post(f"/v1/policies/{a['id']}/rules", {"rule": "p(1)"}, headers=BOB)[0] == 404
    assert ok(api.get("/v1/policies/secret", headers=ALICE))["id"] == a["id"]


def test_answers_never_carry_the_project_suffix(api: Client) -> None:
    ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    ok(api.post("/v1/policies", {"name": "base"}, headers=ALICE), 201)
    ok(api.post("/v1/policies/base/rules", {"rule": "vm(1)"}, headers=ALICE), 201)
    rule = ok(
        api.post("/v1/policies/ops/rules", {"rule": "error(x) :- base:vm(x)"}, headers=ALICE), 201
    )
    assert rule["rule"] == "error(x) :-\n  base:vm(x)"
    rows = ok(api.get("/v1/policies/ops/tables/error/rows?trace=true", headers=ALICE))
    assert rows["results"] == [{"data": [1]}]
    assert f"@{A}" not in json.dumps(rows)
    status, body = api.get("/v1/policies/nosuch", headers=ALICE)
    assert status == 404 and body["error"]["message"] == "Policy nosuch does not exist"
    # the operator sees the same rule reading the project's own policy
    admin_rows = ok(api.get(f"/v1/policies/ops@{A}/tables/error/rows", headers=ADMIN))
    assert admin_rows["results"] == [{"data": [1]}]


def test_a_rule_naming_another_project_is_refused(api: Client) -> None:
    ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    ok(api.post("/v1/policies", {"name": "ops"}, headers=BOB), 201)
    status, body = api.post(
        "/v1/policies/ops/rules", {"rule": f"stolen(x) :- ops@{B}:error(x)"}, headers=ALICE
    )
    assert status == 403, body
    assert body["error"]["error_data"]["code"] == "cross_project_reference"
    assert body["error"]["error_data"]["line"] == 1
    assert body["error"]["error_data"]["column"] == 14
    # a query too
    status, body = api.post(
        "/v1/policies/ops?action=simulate",
        {"query": f"ops@{B}:error(x)", "sequence": "p+(1)", "action_policy": "action"},
        headers=ALICE,
    )
    assert status in (400, 403), body
    # the operator may read a project's policies in its own rules
    ok(api.post("/v1/policies", {"name": "audit"}, headers=ADMIN), 201)
    ok(
        api.post(
            "/v1/policies/audit/rules", {"rule": f"all(x) :- ops@{B}:error(x)"}, headers=ADMIN
        ),
        201,
    )


def test_a_member_may_not_use_the_operators_routes(api: Client) -> None:
    for method, path in (
        ("GET", "/v1/notification-sinks"),
        ("PATCH", "/v1/data-sources/inv"),
        ("GET", "/v1/quotas"),
    ):
        assert api.call(method, path, {}, headers=ALICE)[0] == 403, path
    ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    status, body = api.post(
        "/v1/policies/ops?action=execute", {"name": "nova:servers.pause"}, headers=ALICE
    )
    assert status == 403, body


def test_datasources_are_invisible_until_shared(api: Client) -> None:
    ok(
        api.post(
            "/v1/data-sources",
            {"name": "inv", "driver": "push", "config": {"tables": TABLES}},
            headers=ADMIN,
        ),
        201,
    )
    ok(api.put("/v1/data-sources/inv/tables/vms/rows", [["v1", A], ["v2", B]], headers=ADMIN))
    assert ok(api.get("/v1/data-sources", headers=ALICE))["results"] == []
    for path in ("", "/schema", "/tables", "/tables/vms/rows", "/actions"):
        assert api.get(f"/v1/data-sources/inv{path}", headers=ALICE)[0] == 404, path


def test_library_policies_are_the_projects_and_the_operators(api: Client) -> None:
    lib = {"name": "base", "rules": [{"rule": "p(1)"}]}
    ok(api.post("/v1/librarypolicies", lib, headers=ADMIN), 201)
    mine = ok(api.post("/v1/librarypolicies", {**lib, "name": "mine"}, headers=ALICE), 201)
    assert (mine["name"], mine["owner_id"]) == ("mine", A)
    listed = ok(api.get("/v1/librarypolicies", headers=ADMIN))["results"]
    assert {(p["name"], p["owner_id"]) for p in listed} >= {("base", "user"), (f"mine@{A}", A)}
    names_a = {p["name"] for p in ok(api.get("/v1/librarypolicies", headers=ALICE))["results"]}
    names_b = {p["name"] for p in ok(api.get("/v1/librarypolicies", headers=BOB))["results"]}
    assert names_a >= {"base", "mine"} and "mine" not in names_b and "base" in names_b
    assert api.get(f"/v1/librarypolicies/{mine['id']}", headers=BOB)[0] == 404
    assert api.delete("/v1/librarypolicies/base", headers=ALICE)[0] == 403
    # activating the operator's library policy makes a policy of the project
    made = ok(api.post("/v1/policies?library_policy=base", None, headers=BOB), 201)
    assert (made["name"], made["owner_id"]) == ("base", B)
    assert api.get("/v1/policies/base", headers=ALICE)[0] == 404


def test_the_execution_log_shows_a_project_its_own(api: Client) -> None:
    ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    assert ok(api.get("/v1/executions", headers=ALICE))["results"] == []
    assert ok(api.get("/v1/executions?policy=ops", headers=ALICE))["results"] == []


def test_nothing_of_one_project_reaches_the_other(api: Client) -> None:
    """Alice builds a policy with rules, rows and errors; every route Bob may use answers
    nothing of it."""
    ok(
        api.post(
            "/v1/policies", {"name": "alpha_private", "description": "alice-secret"}, headers=ALICE
        ),
        201,
    )
    ok(
        api.post("/v1/policies/alpha_private/rules", {"rule": 'error("alice-row")'}, headers=ALICE),
        201,
    )
    api.post("/v1/policies/alpha_private/rules", {"rule": "bad(("}, headers=ALICE)
    answers = [
        api.get("/v1/policies", headers=BOB),
        api.get("/v1/executions", headers=BOB),
        api.get("/v1/librarypolicies", headers=BOB),
        api.get("/v1/data-sources", headers=BOB),
        api.get("/v1/policies/alpha_private", headers=BOB),
        api.get("/v1/policies/alpha_private/tables/error/rows", headers=BOB),
    ]
    for answer in answers:
        assert "alpha_private" not in text(answer) or answer[0] == 404
        for leak in (A, "alice-secret", "alice-row"):
            assert leak not in text(answer), answer


def test_a_project_has_datasources_of_its_own(api: Client) -> None:
    push = {"name": "inv", "driver": "push", "config": {"tables": TABLES}}
    made = ok(api.post("/v1/data-sources", push, headers=ALICE), 201)
    assert (made["name"], made["owner_id"]) == ("inv", A)
    every = ok(api.get("/v1/data-sources", headers=ADMIN))["results"]
    assert [(d["name"], d["owner_id"]) for d in every] == [(f"inv@{A}", A)]
    ok(api.put("/v1/data-sources/inv/tables/vms/rows", [["v1", A], ["v2", "x"]], headers=ALICE))
    rows = ok(api.get("/v1/data-sources/inv/tables/vms/rows", headers=ALICE))["results"]
    assert rows == [{"data": ["v1", A]}, {"data": ["v2", "x"]}]  # its own: every row
    assert ok(api.get("/v1/data-sources/inv/status", headers=ALICE))
    # its policies read it by the name it gave
    ok(api.post("/v1/policies", {"name": "ops"}, headers=ALICE), 201)
    ok(
        api.post("/v1/policies/ops/rules", {"rule": "error(x) :- inv:vms(x, y)"}, headers=ALICE),
        201,
    )
    errors = ok(api.get("/v1/policies/ops/tables/error/rows", headers=ALICE))["results"]
    assert errors == [{"data": ["v1"]}, {"data": ["v2"]}]
    # bob: nothing of it, and a name of his own
    assert ok(api.get("/v1/data-sources", headers=BOB))["results"] == []
    for method, path in (
        ("GET", "/v1/data-sources/inv"),
        ("GET", f"/v1/data-sources/{made['id']}"),
        ("GET", f"/v1/data-sources/{made['id']}/tables/vms/rows"),
        ("GET", f"/v1/data-sources/{made['id']}/status"),
        ("DELETE", f"/v1/data-sources/{made['id']}"),
        ("PUT", f"/v1/data-sources/{made['id']}/tables/vms/rows"),
    ):
        status, body = api.call(method, path, [], headers=BOB)
        assert status == 404 and A not in json.dumps(body), (method, path, body)
    ok(api.post("/v1/data-sources", push, headers=BOB), 201)
    ok(api.delete("/v1/data-sources/inv", headers=ALICE))
    assert api.get("/v1/data-sources/inv", headers=ALICE)[0] == 404
    assert ok(api.get("/v1/data-sources/inv", headers=BOB))["owner_id"] == B


def test_a_project_datasource_needs_an_allowed_driver_and_a_name_of_its_own(api: Client) -> None:
    status, body = api.post(
        "/v1/data-sources", {"name": "n", "driver": "nova", "config": {}}, headers=ALICE
    )
    assert status == 400 and "not available to projects" in body["error"]["message"], body
    push = {"name": "shared", "driver": "push", "config": {"tables": TABLES}}
    ok(api.post("/v1/data-sources", push, headers=ADMIN), 201)
    assert api.post("/v1/data-sources", push, headers=ALICE)[0] == 409


def test_a_shared_datasource_is_read_only_to_a_project(api: Client) -> None:
    push = {"name": "fleet", "driver": "push", "config": {"tables": TABLES}}
    ok(api.post("/v1/data-sources", push, headers=ADMIN), 201)
    ok(api.put("/v1/data-sources/fleet/tables/vms/rows", [["v1", A], ["v2", B]], headers=ADMIN))
    patch = {"shared_with": [A], "project_columns": {"vms": "project"}}
    ok(api.call("PATCH", "/v1/data-sources/fleet", patch, headers=ADMIN))
    shown = ok(api.get("/v1/data-sources/fleet", headers=ALICE))
    assert shown["config"] == {} and "shared_with" not in shown
    rows = ok(api.get("/v1/data-sources/fleet/tables/vms/rows", headers=ALICE))["results"]
    assert rows == [{"data": ["v1", A]}]  # its own rows only
    for method, path, rule in (
        ("PUT", "/v1/data-sources/fleet/tables/vms/rows", "update_v1"),
        ("DELETE", "/v1/data-sources/fleet", "delete_v1"),
        ("GET", "/v1/data-sources/fleet/status", "get_v1"),
        ("POST", "/v1/data-sources/fleet?action=request-refresh", "create_v1"),
    ):
        status, body = api.call(method, path, [] if method == "PUT" else {}, headers=ALICE)
        assert status == 403 and rule in body["error"]["message"], (method, path, body)
    assert api.get("/v1/data-sources/fleet", headers=BOB)[0] == 404


def test_the_open_routes_name_no_projects_policies(api: Client) -> None:
    """/healthcheck and /metrics need no token: a project's policy names, errors and counts
    are not in them (the operator's are)."""
    ok(api.call("PUT", f"/v1/quotas/{A}", {"rows_per_table": 1}, headers=ADMIN))
    push = {"name": "inv", "driver": "push", "config": {"tables": TABLES}}
    ok(api.post("/v1/data-sources", push, headers=ALICE), 201)
    ok(api.post("/v1/policies", {"name": "big_ops"}, headers=ALICE), 201)
    ok(
        api.post("/v1/policies/big_ops/rules", {"rule": "big(x) :- inv:vms(x, y)"}, headers=ALICE),
        201,
    )
    ok(api.put("/v1/data-sources/inv/tables/vms/rows", [["v1", A], ["v2", A]], headers=ALICE))
    status = ok(api.get("/v1/policies/big_ops/status", headers=ALICE))
    assert "rows_per_table" in status["error"] and A not in json.dumps(status)
    for path in ("/healthcheck", "/healthcheck?details=true"):
        health = ok(api.get(path))
        assert health["policy_errors"] == {}, health
        assert A not in json.dumps(health) and "big_ops" not in json.dumps(health)
    assert ok(api.get("/healthcheck?details=true"))["project_policy_errors"] == 1
    status_code, metrics = api.raw("GET", "/metrics").status_int, api.raw("GET", "/metrics").text
    assert status_code == 200 and "congress_table_rows" in metrics
    assert A not in metrics and "big_ops" not in metrics


def test_a_token_without_a_project_reads_only_the_operators_library(api: Client) -> None:
    """An unscoped token is no project's member: no policies or datasources of its own, the
    operator's library to read (every project's may), nothing to write."""
    nobody = {"X-User-Id": "carol", "X-Roles": "member,reader"}
    ok(
        api.post(
            "/v1/librarypolicies", {"name": "base", "rules": [{"rule": "p(1)"}]}, headers=ADMIN
        ),
        201,
    )
    assert ok(api.get("/v1/policies", headers=nobody))["results"] == []
    listed = ok(api.get("/v1/librarypolicies?name=base", headers=nobody))["results"]
    assert [p["name"] for p in listed] == ["base"]
    assert ok(api.get("/v1/librarypolicies/base", headers=nobody))["name"] == "base"
    status, body = api.get("/v1/data-sources/nosuch", headers=nobody)
    assert (status, body["error"]["error_data"]["code"]) == (404, "datasource_not_found"), body
    assert api.post("/v1/policies", {"name": "x"}, headers=nobody)[0] == 403
