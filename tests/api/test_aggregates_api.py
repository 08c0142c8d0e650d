"""Aggregates through the REST API: rules stored and listed as written, rows kept up to date,
bad aggregates answered with the line and column (docs/language.md, Aggregates)."""

from __future__ import annotations

from api_client import Client
from oslo_config import cfg

from congress.common import config
from congress.db.engine import make_engine
from congress.services.policy_engine import PolicyEngineService

RULE = "load(h, n) :- hosts(h), n = count{vm | servers(vm, h)}"


def setup(client: Client) -> None:
    assert client.post("/v1/policies", {"name": "p"})[0] == 201
    for fact in ('hosts("h1")', 'hosts("h2")', 'servers("vm1", "h1")', 'servers("vm2", "h1")'):
        assert client.post("/v1/policies/p/rules", {"rule": fact})[0] == 201


def rows(client: Client, table: str) -> list[list[object]]:
    status, body = client.get(f"/v1/policies/p/tables/{table}/rows")
    assert status == 200
    return sorted(r["data"] for r in body["results"])


def test_a_rule_with_an_aggregate_is_stored_as_written_and_evaluated(client: Client) -> None:
    setup(client)
    status, body = client.post("/v1/policies/p/rules", {"rule": RULE, "name": "load"})
    assert status == 201
    assert body["rule"] == "load(h, n) :-\n  hosts(h),\n  n = count{vm | servers(vm, h)}"
    assert rows(client, "load") == [["h1", 2], ["h2", 0]]
    listed = client.get("/v1/policies/p/rules")[1]["results"]
    assert RULE in [r["rule"] for r in listed]
    tables = [t["id"] for t in client.get("/v1/policies/p/tables")[1]["results"]]
    assert "load" in tables and not [t for t in tables if t.startswith("{")]
    client.post("/v1/policies/p/rules", {"rule": 'servers("vm3", "h2")'})
    assert rows(client, "load") == [["h1", 2], ["h2", 1]]


def test_an_aggregate_is_evaluated_again_by_a_new_engine_on_the_same_database(
    client: Client, conf: cfg.ConfigOpts
) -> None:
    setup(client)
    client.post("/v1/policies/p/rules", {"rule": RULE})
    fresh = PolicyEngineService(make_engine(config.database_url(conf)))
    fresh.start()  # loads every policy and rule from the database, as after a restart
    assert sorted(fresh.rows("p", "load")) == [("h1", 2), ("h2", 0)]


def test_a_bad_aggregate_is_a_400_naming_line_and_column(client: Client) -> None:
    setup(client)
    status, body = client.post(
        "/v1/policies/p/rules",
        {"rule": "load(h, n) :-\n  hosts(h),\n  n = count{x | servers(vm, h)}"},
    )
    assert status == 400
    data = body["error"]["error_data"]
    assert (data["code"], data["line"], data["column"]) == ("aggregate_error", 3, 13)
    assert "aggregated term x" in body["error"]["message"]
    status, body = client.post("/v1/policies/p/rules", {"rule": "p(x) :- hosts(x), x = 1"})
    assert status == 400
    assert body["error"]["error_data"]["column"] == 21
    assert "equal(x, y)" in body["error"]["message"]
