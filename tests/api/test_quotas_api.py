"""``/v1/quotas``: the operator reads and sets the projects' quotas, and a write over a quota is
a 400 ``quota_exceeded`` naming the quota and the limit (policies, rules; rows per table
on a rule insert); a data change over ``rows_per_table`` puts the project's policy in its error
state. The operator creates project policies by their internal names (``name@project``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Client
from oslo_config import cfg

from congress.api.app import CongressApp
from congress.cmd.server import Node, build_node
from congress.common import config

TABLES = '{"servers": ["id", "tenant_id"]}'


def make_conf(tmp_path: Path, strategy: str = "noauth") -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = {strategy}\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    return conf


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = build_node(make_conf(tmp_path))
    yield n
    n.stop()


@pytest.fixture
def api(node: Node) -> Client:
    return Client(node.app)


def quota_exceeded(answer: tuple[int, Any], message: str) -> bool:
    status, body = answer
    assert status == 400, body
    error = body["error"]
    assert error["error_code"] == 1000, body  # the original had no quotas
    assert error["error_data"]["code"] == "quota_exceeded", body
    assert message in error["message"], body
    return True


def test_set_show_list_and_delete_quotas(api: Client) -> None:
    assert api.get("/v1/quotas") == (200, {"results": []})
    status, shown = api.get("/v1/quotas/p1")
    assert status == 200
    assert shown == {
        "project_id": "p1",
        "quotas": {
            "policies": 20,
            "rules": 1000,
            "rows_per_table": 100000,
            "evaluation_seconds": 10,
            "actions_per_hour": 100,
        },
        "own": [],
        "usage": {"policies": 0, "rules": 0},
    }
    status, body = api.put("/v1/quotas/p1", {"policies": 5, "evaluation_seconds": 2.5})
    assert status == 200, body
    assert body["own"] == ["evaluation_seconds", "policies"]
    assert body["quotas"]["policies"] == 5 and body["quotas"]["evaluation_seconds"] == 2.5
    assert api.put("/v1/quotas/*", {"rules": 300})[0] == 200
    assert api.get("/v1/quotas")[1] == {
        "results": [
            {"project_id": "*", "quotas": {"rules": 300}},
            {"project_id": "p1", "quotas": {"evaluation_seconds": 2.5, "policies": 5}},
        ]
    }
    assert api.get("/v1/quotas/p2")[1]["quotas"]["rules"] == 300  # '*' holds for p2
    # a PUT sets the quotas given; null takes one back to the default
    body = api.put("/v1/quotas/p1", {"policies": None, "rules": 7})[1]
    assert body["own"] == ["evaluation_seconds", "rules"] and body["quotas"]["policies"] == 20
    assert api.delete("/v1/quotas/p1") == (200, {})
    assert api.get("/v1/quotas/p1")[1]["own"] == []
    status, body = api.delete("/v1/quotas/p1")
    assert status == 404 and body["error"]["error_data"]["code"] == "resource_not_found"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"widgets": 1}, "'widgets'"),
        ({"rules": -1}, "'rules'"),
        ({"policies": 2.5}, "'policies'"),
        ({"evaluation_seconds": "fast"}, "'evaluation_seconds'"),
    ],
)
def test_bad_quotas_are_400_naming_the_field(api: Client, body: Any, named: str) -> None:
    status, answer = api.put("/v1/quotas/p1", body)
    assert status == 400, answer
    assert named in answer["error"]["message"]
    assert answer["error"]["error_data"]["code"] == "bad_request"
    assert api.get("/v1/quotas") == (200, {"results": []})


def test_bad_project_ids_are_400(api: Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        status, _ = api.call(method, "/v1/quotas/a%20b", {"rules": 1} if method == "PUT" else None)
        assert status == 400, method


def test_policies_over_the_quota_are_refused(api: Client) -> None:
    api.put("/v1/quotas/p1", {"policies": 2})
    assert api.post("/v1/policies", {"name": "a@p1"})[0] == 201
    status, body = api.post("/v1/policies", {"name": "b@p1"})
    assert status == 201 and body["owner_id"] == "p1"
    assert quota_exceeded(
        api.post("/v1/policies", {"name": "c@p1"}),
        "Quota exceeded: project may own at most 2 policies",
    )
    assert api.get("/v1/policies/c@p1")[0] == 404
    assert api.post("/v1/policies", {"name": "c@p2"})[0] == 201  # another project
    assert api.post("/v1/policies", {"name": "glob"})[0] == 201  # the operator's
    assert api.get("/v1/quotas/p1")[1]["usage"] == {"policies": 2, "rules": 0}
    assert api.delete("/v1/policies/a@p1")[0] == 200
    assert api.post("/v1/policies", {"name": "c@p1"})[0] == 201


def test_rules_over_the_quota_are_refused(api: Client) -> None:
    api.put("/v1/quotas/p1", {"rules": 2})
    assert api.post("/v1/policies", {"name": "a@p1", "rules": [{"rule": "p(1)"}]})[0] == 201
    assert api.post("/v1/policies/a@p1/rules", {"rule": "p(2)"})[0] == 201
    assert quota_exceeded(
        api.post("/v1/policies/a@p1/rules", {"rule": "p(3)"}),
        "Quota exceeded: project may own at most 2 rules",
    )
    assert len(api.get("/v1/policies/a@p1/rules")[1]["results"]) == 2
    rules = [{"rule": "q(1)"}]
    assert quota_exceeded(
        api.post("/v1/policies", {"name": "b@p1", "rules": rules}),
        "at most 2 rules",
    )
    assert api.get("/v1/policies/b@p1")[0] == 404
    assert api.get("/v1/quotas/p1")[1]["usage"] == {"policies": 1, "rules": 2}


def test_a_rule_over_rows_per_table_is_refused(api: Client) -> None:
    api.put("/v1/quotas/p1", {"rows_per_table": 2})
    facts = [{"rule": f"p({i})"} for i in range(3)]
    assert api.post("/v1/policies", {"name": "a@p1", "rules": facts})[0] == 201
    answer = api.post("/v1/policies/a@p1/rules", {"rule": "q(x) :- p(x)"})
    assert quota_exceeded(answer, "at most 2 rows (rows_per_table)")
    assert answer[1]["error"]["error_data"]["quota"] == "rows_per_table"
    assert answer[1]["error"]["error_data"]["limit"] == 2
    assert len(api.get("/v1/policies/a@p1/rules")[1]["results"]) == 3
    # the operator's policies are not limited
    assert api.post("/v1/policies", {"name": "glob", "rules": facts})[0] == 201
    assert api.post("/v1/policies/glob/rules", {"rule": "q(x) :- p(x)"})[0] == 201


def test_data_over_rows_per_table_puts_the_policy_in_its_error_state(api: Client) -> None:
    """The project's policy reads its view of a datasource shared with it."""
    ds = {"name": "inv", "driver": "push", "config": {"tables": TABLES}}
    assert api.post("/v1/data-sources", ds)[0] == 201
    sharing = {"shared_with": ["p1"], "project_columns": {"servers": "tenant_id"}}
    status, body = api.call("PATCH", "/v1/data-sources/inv", sharing)
    assert status == 200, body
    api.put("/v1/quotas/p1", {"rows_per_table": 2})
    rule = {"rule": "up(x) :- inv:servers(x, y)"}
    assert api.post("/v1/policies", {"name": "a@p1", "rules": [rule]})[0] == 201
    rows = "/v1/data-sources/inv/tables/servers/rows"
    two = [["vm1", "p1"], ["vm2", "p1"], ["vmx", "p2"]]
    assert api.put(rows, two)[0] == 200
    assert api.get("/v1/policies/a@p1/status")[1].get("error") is None
    assert len(api.get("/v1/policies/a@p1/tables/up/rows")[1]["results"]) == 2
    assert api.put(rows, [*two, ["vm3", "p1"]])[0] == 200
    status_body = api.get("/v1/policies/a@p1/status")[1]
    assert "rows_per_table=2" in status_body["error"]
    assert api.get("/v1/policies/a@p1/tables/up/rows")[1]["results"] == []
    # back once the data fits
    assert api.put(rows, two)[0] == 200
    assert api.get("/v1/policies/a@p1/status")[1].get("error") is None


def test_a_member_reads_only_its_own_project_s_quotas(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, "keystone")
    n = build_node(conf)
    try:
        app = Client(CongressApp(n.services, conf))
        reader = {"X-User-Id": "r", "X-Project-Id": "prj", "X-Roles": "reader"}
        admin = {"X-User-Id": "a", "X-Project-Id": "adm", "X-Roles": "admin"}
        assert app.put("/v1/quotas/other", {"rules": 3}, headers=admin)[0] == 200
        assert app.get("/v1/quotas/prj", headers=reader)[0] == 200
        status, body = app.get("/v1/quotas/other", headers=reader)
        assert status == 403 and "rules" not in str(body)
        assert app.get("/v1/quotas", headers=reader)[0] == 403
        assert app.put("/v1/quotas/prj", {"rules": 3}, headers=reader)[0] == 403
        assert app.delete("/v1/quotas/other", headers=reader)[0] == 403
    finally:
        n.stop()
