"""The /v1/policies routes answer as the original did (reference 3.2-3.4, client-api.md)."""

from __future__ import annotations

import webob
from api_client import Client


def test_versions(client: Client) -> None:
    status, body = client.get("/")
    assert status == 200
    assert body["versions"][0]["id"] == "v1"
    assert body["versions"][0]["updated"] == "2013-08-12T17:42:13Z"
    status, body = client.get("/v1")
    assert status == 200 and body["version"]["status"] == "CURRENT"
    status, body = client.get("/nowhere")
    assert status == 300 and body["choices"][0]["id"] == "v1"


def test_system_policies_are_listed(client: Client) -> None:
    status, body = client.get("/v1/policies")
    assert status == 200
    names = {p["name"]: p for p in body["results"]}
    assert set(names) == {"classification", "action"}
    assert set(names["action"]) == {"id", "name", "owner_id", "kind", "description", "abbreviation"}
    assert names["action"]["kind"] == "action" and names["action"]["owner_id"] == "user"


def test_policy_crud(client: Client) -> None:
    status, body = client.post(
        "/v1/policies", {"name": "alice", "kind": None, "description": None, "abbreviation": None}
    )
    assert status == 201
    assert body["name"] == "alice" and body["kind"] == "nonrecursive"
    assert body["abbreviation"] == "alice" and body["description"] == ""
    pid = body["id"]
    assert client.get(f"/v1/policies/{pid}")[1]["name"] == "alice"
    assert client.get("/v1/policies/alice")[1]["id"] == pid
    assert client.get("/v1/policies/alice/status")[1] == {"name": "alice", "id": pid}
    status, body = client.post("/v1/policies", {"name": "alice"})
    assert status == 409
    assert client.delete("/v1/policies/alice")[0] == 200
    status, body = client.get("/v1/policies/alice")
    assert status == 404 and body["error"]["error_code"] == 1020
    status, body = client.delete("/v1/policies/classification")
    assert status == 400 and "system-maintained" in body["error"]["message"]


def test_policy_create_errors(client: Client) -> None:
    assert client.post("/v1/policies", {"description": "x"})[1]["error"]["error_code"] == 1010
    assert client.post("/v1/policies", {"name": "p", "id": "x"})[1]["error"]["error_code"] == 1015
    status, body = client.post("/v1/policies", {"name": "p", "abbreviation": "toolong"})
    assert status == 400 and body["error"]["error_code"] == 1022
    status, body = client.post("/v1/policies", {"name": "p", "kind": "z3"})
    assert status == 400 and body["error"]["error_data"]["code"] == "kind_not_supported"
    status, body = client.post("/v1/policies", {"name": "bad name"})
    assert status == 400 and body["error"]["error_data"]["code"] == "invalid_policy_name"
    status, body = client.post("/v1/policies", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = client.call("POST", "/v1/policies", raw=b"[]")
    assert status == 400


def test_policy_with_rules(client: Client) -> None:
    status, body = client.post(
        "/v1/policies",
        {"name": "bob", "rules": [{"rule": "p(1)"}, {"rule": "q(x) :- p(x)", "name": "n"}]},
    )
    assert status == 201
    assert sorted(r["rule"] for r in body["rules"]) == ["p(1)", "q(x) :- p(x)"]
    assert client.get("/v1/policies/bob/tables/q/rows")[1] == {"results": [{"data": [1]}]}


def test_rules(client: Client) -> None:
    client.post("/v1/policies", {"name": "alice"})
    status, body = client.post(
        "/v1/policies/alice/rules",
        {"rule": "error(x) :- q(x), not r(x)", "name": "r1", "comment": "why"},
    )
    assert status == 201
    assert body["rule"] == "error(x) :-\n  q(x),\n  not r(x)"
    assert body["name"] == "r1" and body["comment"] == "why"
    rid = body["id"]
    assert client.get(f"/v1/policies/alice/rules/{rid}")[1]["rule"] == "error(x) :- q(x), not r(x)"
    status, body = client.get("/v1/policies/alice/rules")
    assert [set(r) for r in body["results"]] == [{"id", "name", "comment", "rule"}]
    status, body = client.get(f"/v1/policies/alice/rules/{rid}/status")
    assert body["original_str"] == "error(x) :- q(x), not r(x)"
    for fact in ("q(1)", "q(2)", "r(2)"):
        assert client.post("/v1/policies/alice/rules", {"rule": fact})[0] == 201
    status, body = client.post("/v1/policies/alice/rules", {"rule": "q(1)"})
    assert status == 409 and body["error"]["error_code"] == 1008
    assert client.get("/v1/policies/alice/tables/error/rows")[1] == {"results": [{"data": [1]}]}
    assert client.delete(f"/v1/policies/alice/rules/{rid}")[0] == 200
    # no rule mentions `error` any more: a table the policy never mentions is a 404
    assert client.get("/v1/policies/alice/tables/error/rows")[0] == 404
    assert client.get("/v1/policies/alice/tables/q/rows")[1] == {
        "results": [{"data": [1]}, {"data": [2]}]
    }


def test_rule_errors_name_line_and_column(client: Client) -> None:
    client.post("/v1/policies", {"name": "alice"})
    status, body = client.post("/v1/policies/alice/rules", {"rule": "p(x) :- q(x,"})
    assert status == 400
    err = body["error"]
    assert err["error_code"] == 1002
    assert err["message"].startswith("Syntax error for rule::Parse failure at line 1, column 13")
    assert err["error_data"]["code"] == "policy_parse_error"
    assert (err["error_data"]["line"], err["error_data"]["column"]) == (1, 13)
    status, body = client.post("/v1/policies/alice/rules", {"rule": "p(x) :- q(y)"})
    assert status == 400 and body["error"]["error_data"]["code"] == "unsafe_rule"
    status, body = client.post("/v1/policies/alice/rules", {"rule": "p(1) q(2)"})
    assert status == 400 and body["error"]["error_code"] == 1003
    status, body = client.post("/v1/policies/nosuch/rules", {"rule": "p(1)"})
    assert status == 404
    status, body = client.post("/v1/policies/alice/rules", {"rule": 5})
    assert status == 400


def test_tables_and_rows(client: Client) -> None:
    client.post("/v1/policies", {"name": "alice", "kind": "materialized"})
    for text in (
        'edge(1, "a")',
        'edge("a", 2.5)',
        "path(x, y) :- edge(x, y)",
        "path(x, z) :- edge(x, y), path(y, z)",
    ):
        assert client.post("/v1/policies/alice/rules", {"rule": text})[0] == 201
    status, body = client.get("/v1/policies/alice/tables")
    assert sorted(t["id"] for t in body["results"]) == ["edge", "path"]
    assert client.get("/v1/policies/alice/tables/path")[1] == {"id": "path"}
    assert client.get("/v1/policies/alice/tables/zz")[0] == 404
    status, body = client.get("/v1/policies/alice/tables/path/rows")
    assert sorted(map(str, (r["data"] for r in body["results"]))) == sorted(
        map(str, [[1, "a"], ["a", 2.5], [1, 2.5]])
    )
    status, body = client.get("/v1/policies/alice/tables/path/rows?trace=True")
    assert status == 200 and "alice:path(1, 2.5)" in body["trace"]
    assert client.get("/v1/policies/alice/tables/zz/rows")[0] == 404


def test_simulate(client: Client) -> None:
    client.post("/v1/policies", {"name": "alice"})
    for text in ("error(x) :- p(x), not q(x)", "p(1)", "p(2)", "q(2)"):
        client.post("/v1/policies/alice/rules", {"rule": text})
    body = {"query": "error(x)", "sequence": "q+(1) p+(3)", "action_policy": "action"}
    status, out = client.post("/v1/policies/alice?action=simulate", body)
    assert status == 200 and out == {"result": ["error(3)"]}
    status, out = client.post("/v1/policies/alice?action=simulate&delta=True&trace=True", body)
    assert out["result"] == ["error+(3)", "error-(1)"] and "Update q+(1)" in out["trace"]
    assert client.get("/v1/policies/alice/tables/error/rows")[1] == {"results": [{"data": [1]}]}
    status, out = client.post("/v1/policies/alice?action=simulate", {"query": "error(x)"})
    assert status == 400 and out["error"]["error_code"] == 1004
    bad = {"query": "error(x)", "sequence": "r(1)", "action_policy": "action"}
    status, out = client.post("/v1/policies/alice?action=simulate", bad)
    assert status == 400 and out["error"]["error_code"] == 1006


def test_unsupported_method_and_unknown_route(client: Client) -> None:
    status, body = client.put("/v1/policies/classification", {})
    assert status == 501 and body["error"]["message"] == "Method not supported"
    status, body = client.get("/v1/nothing-here")
    assert status == 404 and body["error"]["message"] == "The resource could not be found."
    assert client.get("/healthcheck")[1]["status"] == "OK"


def test_creations_carry_a_location(client: Client) -> None:
    # the Client keeps only bodies: read the header from the response itself
    req = webob.Request.blank("/v1/policies", method="POST", body=b'{"name": "loc"}')
    req.content_type = "application/json"
    r = req.get_response(client.app)
    assert r.status_int == 201
    assert r.headers["Location"] == f"http://localhost/v1/policies/{r.json['id']}"


def test_simulate_syntax_errors(client: Client) -> None:
    base = {"sequence": "p+(1)", "action_policy": "action"}
    status, out = client.post(
        "/v1/policies/classification?action=simulate", {**base, "query": "p(x"}
    )
    assert status == 400 and out["error"]["error_code"] == 1002
    status, out = client.post(
        "/v1/policies/classification?action=simulate", {**base, "query": "p(x)", "sequence": "p+(1"}
    )
    assert status == 400 and out["error"]["error_code"] == 1006
    assert out["error"]["error_data"]["code"] == "policy_parse_error"


def test_rows_answers_follow_every_change(client: Client) -> None:
    client.post("/v1/policies", {"name": "cache"})
    client.post("/v1/policies/cache/rules", {"rule": "p(1)"})
    first = client.get("/v1/policies/cache/tables/p/rows")[1]
    assert (
        client.get("/v1/policies/cache/tables/p/rows")[1] == first == {"results": [{"data": [1]}]}
    )
    client.post("/v1/policies/cache/rules", {"rule": "p(2)"})
    assert client.get("/v1/policies/cache/tables/p/rows")[1] == {
        "results": [{"data": [1]}, {"data": [2]}]
    }
