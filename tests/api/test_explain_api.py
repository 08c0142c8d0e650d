"""``POST /v1/policies/<p>?action=explain`` and ``GET .../rows?explain=true``: why a row holds
(a proof tree with rule ids) and why a row does not hold (docs/explanations.md)."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import Client

from congress.services.policy_engine import PolicyEngineService

P = "/v1/policies/alice"
RULES = {
    "p1": "p(1)",
    "p2": "p(2)",
    "r2": "r(2)",
    "q": "q(x) :- p(x), not r(x)",
    "err": 'err(x) :- nova:servers(x, "ERROR")',
    "top": "top(x) :- q(x), err(y)",
}


@pytest.fixture
def ids(client: Client, engine_service: PolicyEngineService) -> dict[str, str]:
    engine_service.ensure_datasource("nova", {"servers": ["id", "status"]})
    engine_service.receive("nova", "servers", [("vm1", "ACTIVE"), ("vm2", "ERROR")], [])
    assert client.post("/v1/policies", {"name": "alice"})[0] == 201
    out = {}
    for key, rule in RULES.items():
        status, body = client.post(P + "/rules", {"rule": rule})
        assert status == 201, body
        out[key] = body["id"]
    return out


def explain(client: Client, table: str, row: list[Any], policy: str = "alice") -> tuple[int, Any]:
    return client.post(f"/v1/policies/{policy}?action=explain", {"table": table, "row": row})


def test_a_row_that_holds_is_explained_with_rule_ids(client: Client, ids: dict[str, str]) -> None:
    status, body = explain(client, "q", [1])
    assert status == 200
    assert body == {
        "holds": True,
        "explanation": {
            "literal": "q(1)",
            "policy": "alice",
            "kind": "rule",
            "table": "q",
            "row": [1],
            "rule": "q(x) :- p(x), not r(x)",
            "rule_id": ids["q"],
            "bindings": {"x": 1},
            "children": [
                {
                    "literal": "p(1)",
                    "policy": "alice",
                    "kind": "fact",
                    "table": "p",
                    "row": [1],
                    "rule_id": ids["p1"],
                },
                {
                    "literal": "not r(1)",
                    "policy": "alice",
                    "kind": "negation",
                    "table": "r",
                    "row": [1],
                    "absent": True,
                },
            ],
        },
    }


def test_rows_matched_across_policies_and_datasources(client: Client, ids: dict[str, str]) -> None:
    status, body = explain(client, "top", [1])
    assert status == 200 and body["holds"] is True
    top = body["explanation"]
    assert top["rule_id"] == ids["top"] and top["bindings"] == {"x": 1, "y": "vm2"}
    q, err = top["children"]
    assert (q["literal"], q["rule_id"]) == ("q(1)", ids["q"])
    assert (err["literal"], err["rule_id"]) == ('err("vm2")', ids["err"])
    assert err["children"] == [
        {
            "literal": 'servers("vm2", "ERROR")',
            "policy": "nova",
            "kind": "data",
            "table": "servers",
            "row": ["vm2", "ERROR"],
        }
    ]


def test_a_row_that_does_not_hold_gets_a_why_not(client: Client, ids: dict[str, str]) -> None:
    status, body = explain(client, "q", [2])
    assert status == 200
    assert body == {
        "holds": False,
        "why_not": {
            "literal": "q(2)",
            "policy": "alice",
            "table": "q",
            "rules": [
                {
                    "rule": "q(x) :- p(x), not r(x)",
                    "rule_id": ids["q"],
                    "policy": "alice",
                    "bindings": {"x": 2},
                    "satisfied": [{"position": 0, "literal": "p(2)", "policy": "alice"}],
                    "failed": {
                        "position": 1,
                        "literal": "not r(2)",
                        "policy": "alice",
                        "kind": "negation",
                        "reason": "present",
                        "present": [2],
                    },
                    "complete": True,
                }
            ],
        },
    }


def test_why_not_goes_one_level_into_a_derived_literal(client: Client, ids: dict[str, str]) -> None:
    status, body = explain(client, "top", [3])
    assert status == 200 and body["holds"] is False
    (attempt,) = body["why_not"]["rules"]
    assert attempt["rule_id"] == ids["top"] and attempt["bindings"] == {"x": 3}
    failed = attempt["failed"]
    assert (failed["literal"], failed["reason"], failed["kind"]) == ("q(3)", "no_match", "positive")
    (inner,) = failed["why_not"]["rules"]
    assert inner["rule_id"] == ids["q"]
    assert inner["failed"]["literal"] == "p(3)" and inner["failed"]["reason"] == "no_match"
    assert "why_not" not in inner["failed"]  # p has no rules: nothing deeper to explain


def test_a_base_table_row_that_does_not_hold_has_no_rules(
    client: Client, ids: dict[str, str]
) -> None:
    assert explain(client, "p", [9]) == (
        200,
        {
            "holds": False,
            "why_not": {"literal": "p(9)", "policy": "alice", "table": "p", "rules": []},
        },
    )


def test_refusals(client: Client, ids: dict[str, str]) -> None:
    status, body = explain(client, "nosuch", [1])
    assert (
        status == 404 and "Table nosuch does not exist in policy alice" in body["error"]["message"]
    )
    assert explain(client, "q", [1], policy="nosuch")[0] == 404
    status, body = explain(client, "q", [1, 2])
    assert status == 400
    assert body["error"]["message"] == "Table q of policy alice has 1 columns; the row has 2"
    for bad in ({"table": "q"}, {"table": "q", "row": 1}, {"table": "q", "row": [True]}):
        status, body = client.post(P + "?action=explain", bad)
        assert status == 400, bad
        assert body["error"]["message"] == "Field 'row' must be a list of strings and numbers"
    for bad_row in ([[1]], [{"a": 1}], [None]):
        assert client.post(P + "?action=explain", {"table": "q", "row": bad_row})[0] == 400
    status, body = client.post(P + "?action=explain", {"row": [1]})
    assert status == 400 and body["error"]["message"] == "Field 'table' is required"


def test_rows_with_explain(client: Client, ids: dict[str, str]) -> None:
    status, body = client.get(P + "/tables/q/rows?explain=true")
    assert status == 200
    assert [r["data"] for r in body["results"]] == [[1]]
    assert body["results"][0]["explanation"]["rule_id"] == ids["q"]
    assert "trace" not in body
    status, body = client.get(P + "/tables/top/rows?explain=true&trace=true")
    assert status == 200
    assert body["results"][0]["explanation"]["literal"] == "top(1)"
    assert body["trace"].splitlines()[0] == "alice:top(1)"
    assert client.get(P + "/tables/nosuch/rows?explain=true")[0] == 404
    status, body = client.get(P + "/tables/q/rows?explain=true&as_of=2100-01-01T00:00:00Z")
    assert status == 400
    assert body["error"]["message"] == "Parameter 'explain' cannot be combined with 'as_of'"


def test_trace_keeps_its_text(client: Client, ids: dict[str, str]) -> None:
    status, body = client.get(P + "/tables/q/rows?trace=true")
    assert status == 200
    assert body == {
        "results": [{"data": [1]}],
        "trace": "alice:q(1)\n  alice:p(1)   [fact]\n  alice:not r(1)   [negation]",
    }
