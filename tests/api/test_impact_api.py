"""The impact of a policy change: ``POST /v1/policies/<p>?action=simulate`` with
``add_rules``/``delete_rules``/``tables``, and ``POST .../rules?dry_run=true``
(docs/explanations.md). Nothing changes: not the engine, not the database."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import Client

from congress.db import api as db
from congress.services.policy_engine import PolicyEngineService

P = "/v1/policies/alice"
SIM = P + "?action=simulate"


@pytest.fixture
def ids(client: Client, engine_service: PolicyEngineService) -> dict[str, str]:
    engine_service.ensure_datasource("nova", {"servers": ["id", "status"]})
    rows = [("vm1", "ACTIVE"), ("vm2", "ERROR"), ("vm3", "SHUTOFF")]
    engine_service.receive("nova", "servers", rows, [])
    assert client.post("/v1/policies", {"name": "alice"})[0] == 201
    out = {}
    for key, rule in {
        "ok": 'ok("ACTIVE")',
        "error": "error(x) :- nova:servers(x, s), not ok(s)",
        "big": "big(x) :- nova:servers(x, s)",
    }.items():
        status, body = client.post(P + "/rules", {"rule": rule})
        assert status == 201, body
        out[key] = body["id"]
    return out


def state(client: Client, engine_service: PolicyEngineService) -> Any:
    """Everything a change could touch: the rules (API and database) and the rows."""
    rules = client.get(P + "/rules")[1]
    tables = [t["id"] for t in client.get(P + "/tables")[1]["results"]]
    rows = {t: client.get(f"{P}/tables/{t}/rows")[1] for t in tables}
    stored = sorted(r.rule for r in db.list_rules(engine_service._db, "alice"))
    return rules, rows, stored, engine_service.revision


def test_adding_a_rule_shows_the_error_rows_that_would_go(
    client: Client, ids: dict[str, str], engine_service: PolicyEngineService
) -> None:
    before = state(client, engine_service)
    status, body = client.post(SIM, {"add_rules": ['ok("SHUTOFF")']})
    assert status == 200
    assert body == {"result": {"error": {"added": [], "removed": [["vm3"]]}}}
    assert state(client, engine_service) == before


def test_deleting_a_rule_by_id_and_named_tables(
    client: Client, ids: dict[str, str], engine_service: PolicyEngineService
) -> None:
    before = state(client, engine_service)
    body = {"delete_rules": [ids["ok"]], "add_rules": ["warning(x) :- big(x)"]}
    status, answer = client.post(SIM, body)
    assert status == 200
    assert answer == {
        "result": {
            "error": {"added": [["vm1"]], "removed": []},
            "warning": {"added": [["vm1"], ["vm2"], ["vm3"]], "removed": []},
        }
    }
    status, answer = client.post(SIM, {**body, "tables": ["big", "error", "big"]})
    assert status == 200
    assert answer == {
        "result": {
            "big": {"added": [], "removed": []},
            "error": {"added": [["vm1"]], "removed": []},
        }
    }
    assert state(client, engine_service) == before


def test_no_error_or_warning_table_compares_nothing(client: Client, ids: dict[str, str]) -> None:
    assert client.post("/v1/policies", {"name": "bare"})[0] == 201
    status, body = client.post("/v1/policies/bare?action=simulate", {"add_rules": ["p(1)"]})
    assert (status, body) == (200, {"result": {}})
    status, body = client.post(
        "/v1/policies/bare?action=simulate", {"add_rules": ["p(1)"], "tables": ["p"]}
    )
    assert (status, body) == (200, {"result": {"p": {"added": [[1]], "removed": []}}})


def test_query_and_sequence_apply_after_the_rule_changes(
    client: Client, ids: dict[str, str], engine_service: PolicyEngineService
) -> None:
    before = state(client, engine_service)
    body = {
        "add_rules": ['ok("SHUTOFF")'],
        "query": "error(x)",
        "sequence": 'nova:servers+("vm4", "ERROR")',
    }
    status, answer = client.post(SIM + "&trace=true", body)
    assert status == 200
    assert answer["result"] == {"error": {"added": [["vm4"]], "removed": [["vm3"]]}}
    assert answer["answers"] == ['error("vm2")', 'error("vm4")']
    assert answer["trace"].splitlines() == [
        'Rule inserted: ok("SHUTOFF")',
        'Update nova:servers+("vm4", "ERROR"): 1 row(s) of nova:servers',
        "Table alice:error: +1 -1 row(s)",
        "Query error(x): 2 answer(s)",
    ]
    status, answer = client.post(SIM + "&delta=true", body)
    assert status == 200 and answer["answers"] == ['error+("vm4")', 'error-("vm3")']
    assert state(client, engine_service) == before


def test_refusals(client: Client, ids: dict[str, str], engine_service: PolicyEngineService) -> None:
    before = state(client, engine_service)
    status, body = client.post(SIM, {"add_rules": ["ok(x) :- "]})
    assert status == 400 and body["error"]["error_code"] == 1002
    data = body["error"]["error_data"]
    assert data["code"] == "policy_parse_error" and (data["line"], data["column"]) == (1, 10)
    status, body = client.post(SIM, {"add_rules": ["warning(x) :- big(x, y)"]})
    assert status == 400 and body["error"]["error_data"]["code"] == "arity_mismatch"
    status, body = client.post(SIM, {"add_rules": ["ok(x) :- error(x)"]})
    assert status == 400
    assert body["error"]["error_data"]["code"] == "recursive_rules"
    assert body["error"]["error_data"]["line"] == 1
    status, body = client.post(SIM, {"add_rules": ["a(1) b(2)"]})
    assert status == 400 and body["error"]["error_code"] == 1003
    status, body = client.post(SIM, {"delete_rules": ["nosuch"]})
    assert status == 404
    assert body["error"]["message"] == "Rule nosuch does not exist in policy alice"
    status, body = client.post(SIM, {"tables": ["nosuch"]})
    assert status == 404
    assert body["error"]["message"] == "Table nosuch does not exist in policy alice"
    for bad in ({"add_rules": "p(1)"}, {"tables": [1]}, {"delete_rules": {"a": 1}}):
        status, body = client.post(SIM, bad)
        assert status == 400 and "must be a list of strings" in body["error"]["message"]
    status, body = client.post("/v1/policies/nosuch?action=simulate", {"add_rules": []})
    assert status == 404
    assert client.post(SIM, {"query": "x(", "add_rules": []})[0] == 400
    assert client.post(SIM, {"sequence": "zz(1)", "add_rules": []})[0] == 400
    assert client.post(SIM, {"query": "q(x)"})[1]["error"]["error_code"] == 1004
    assert state(client, engine_service) == before


def test_deleting_a_rule_that_makes_an_added_one_acceptable(
    client: Client, ids: dict[str, str]
) -> None:
    """The graph is checked after the deletions: big(x) :- error(x) closes no cycle once the
    rule error(x) :- ... big ... is gone."""
    status, body = client.post(P + "/rules", {"rule": 'error(x) :- big(x), equal(x, "vm1")'})
    assert status == 201
    rule_id = body["id"]
    status, body = client.post(SIM, {"add_rules": ["big(x) :- error(x)"]})
    assert status == 400 and body["error"]["error_data"]["code"] == "recursive_rules"
    status, body = client.post(
        SIM, {"add_rules": ["big(x) :- error(x)"], "delete_rules": [rule_id], "tables": ["big"]}
    )
    assert (status, body) == (200, {"result": {"big": {"added": [], "removed": []}}})


# -- dry_run ----------------------------------------------------------------------------------


def test_dry_run_shows_the_rule_and_its_impact_and_creates_nothing(
    client: Client, ids: dict[str, str], engine_service: PolicyEngineService
) -> None:
    before = state(client, engine_service)
    rule = {"rule": 'ok("SHUTOFF")', "name": "shutoff", "comment": "fine"}
    status, body = client.post(P + "/rules?dry_run=true", rule)
    assert status == 200
    assert body == {
        "id": None,
        "name": "shutoff",
        "comment": "fine",
        "rule": 'ok("SHUTOFF")',
        "impact": {"error": {"added": [], "removed": [["vm3"]]}},
    }
    status, body = client.post(P + "/rules?dry_run=true", {"rule": "warning(x) :- big(x), ok(x)"})
    assert status == 200
    assert body["rule"] == "warning(x) :-\n  big(x),\n  ok(x)"
    assert body["impact"] == {
        "error": {"added": [], "removed": []},
        "warning": {"added": [], "removed": []},
    }
    assert state(client, engine_service) == before


def test_dry_run_answers_no_revision(
    engine_service: PolicyEngineService, ids: dict[str, str], client: Client
) -> None:
    import webob

    req = webob.Request.blank(P + "/rules?dry_run=true", method="POST")
    req.body, req.content_type = b'{"rule": "p(7)"}', "application/json"
    resp = req.get_response(client.app)
    assert resp.status_int == 200 and "X-Congress-Revision" not in resp.headers
    req = webob.Request.blank(P + "/rules", method="POST")
    req.body, req.content_type = b'{"rule": "p(7)"}', "application/json"
    resp = req.get_response(client.app)
    assert resp.status_int == 201 and "X-Congress-Revision" in resp.headers


def test_dry_run_refuses_what_create_refuses(client: Client, ids: dict[str, str]) -> None:
    status, body = client.post(P + "/rules?dry_run=true", {"rule": 'ok("ACTIVE")'})
    assert status == 409 and body["error"]["error_code"] == 1008
    status, body = client.post(P + "/rules?dry_run=true", {"rule": "p(x) :- q("})
    assert status == 400 and body["error"]["error_data"]["line"] == 1
    status, body = client.post(P + "/rules?dry_run=true", {"rule": "ok(x) :- error(x)"})
    assert status == 400 and body["error"]["error_data"]["code"] == "recursive_rules"
    assert client.post("/v1/policies/nosuch/rules?dry_run=true", {"rule": "p(1)"})[0] == 404
    status, body = client.post(P + "/rules?dry_run=false", {"rule": "p(8)"})
    assert status == 201 and body["id"]
