"""``[limits]``: a request over a limit is a 400 ``limit_exceeded`` naming it and changes
nothing; a data change that drives a policy over an evaluation limit puts that policy (only) in
an error state, shown by ``/healthcheck``, until the data shrinks."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import webob
from api_client import Client
from oslo_config import cfg

from congress.cmd.server import Node, build_node
from congress.common import config


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        "[limits]\nmax_rule_length = 60\nmax_name_length = 32\nmax_derived_rows = 50\n"
        "max_request_body_size = 2048\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    n = build_node(conf)
    yield n
    n.stop()


@pytest.fixture
def api(node: Node) -> Client:
    return Client(node.app)


def refused(answer: tuple[int, object], limit: str, value: int) -> bool:
    status, body = answer
    assert isinstance(body, dict)
    error = body["error"]
    assert status == 400, body
    assert error["error_data"]["code"] == "limit_exceeded", body
    assert f"{limit}={value}" in error["message"], body
    return True


def test_texts_over_their_limits_are_refused_and_change_nothing(api: Client) -> None:
    assert refused(api.post("/v1/policies", {"name": "a" * 33}), "max_name_length", 32)
    assert api.get("/v1/policies/" + "a" * 33)[0] == 404
    assert api.post("/v1/policies", {"name": "p"})[0] == 201
    long_rule = {"rule": "q(x) :- " + ", ".join(f"r{i}(x)" for i in range(12))}
    assert refused(api.post("/v1/policies/p/rules", long_rule), "max_rule_length", 60)
    named = {"rule": "q(x) :- r(x)", "name": "n" * 33}
    assert refused(api.post("/v1/policies/p/rules", named), "max_name_length", 32)
    assert api.get("/v1/policies/p/rules")[1]["results"] == []
    with_rules = {"name": "p2", "rules": [{"rule": "q(1)"}, long_rule]}
    assert refused(api.post("/v1/policies", with_rules), "max_rule_length", 60)
    assert api.get("/v1/policies/p2")[0] == 404
    push = {"name": "d" * 33, "driver": "push", "config": {"tables": '{"t": ["a"]}'}}
    assert refused(api.post("/v1/data-sources", push), "max_name_length", 32)
    assert api.get("/v1/data-sources/" + "d" * 33)[0] == 404


def test_a_rule_that_derives_too_much_is_refused(api: Client) -> None:
    assert api.post("/v1/policies", {"name": "p"})[0] == 201
    for i in range(10):
        assert api.post("/v1/policies/p/rules", {"rule": f"n({i})"})[0] == 201
    status, body = api.post("/v1/policies/p/rules", {"rule": "pair(x, y) :- n(x), n(y)"})
    assert status == 400 and body["error"]["error_data"]["code"] == "limit_exceeded"
    assert body["error"]["error_data"]["limit"] == "max_derived_rows"
    assert body["error"]["error_data"]["value"] == 50
    assert "max_rows=50" in body["error"]["message"]
    assert "[limits] max_derived_rows = 50" in body["error"]["message"]
    assert len(api.get("/v1/policies/p/rules")[1]["results"]) == 10  # the rule is not there


def test_data_that_drives_a_policy_over_its_limit_disables_only_that_policy(api: Client) -> None:
    tables = json.dumps({"n": ["x"]})
    body = {"name": "inv", "driver": "push", "config": {"tables": tables}}
    assert api.post("/v1/data-sources", body)[0] == 201
    assert api.post("/v1/policies", {"name": "big"})[0] == 201
    assert api.post("/v1/policies", {"name": "small"})[0] == 201
    assert (
        api.post("/v1/policies/big/rules", {"rule": "pair(x, y) :- inv:n(x), inv:n(y)"})[0] == 201
    )
    assert api.post("/v1/policies/small/rules", {"rule": "one(x) :- inv:n(x)"})[0] == 201
    assert api.put("/v1/data-sources/inv/tables/n/rows", [[i] for i in range(5)])[0] == 200
    assert len(api.get("/v1/policies/big/tables/pair/rows")[1]["results"]) == 25
    assert api.get("/healthcheck")[1]["policy_errors"] == {}

    assert api.put("/v1/data-sources/inv/tables/n/rows", [[i] for i in range(10)])[0] == 200
    health = api.get("/healthcheck")
    assert health[0] == 200  # a policy error does not fail the check
    assert set(health[1]["policy_errors"]) == {"big"}
    assert "max_rows=50" in health[1]["policy_errors"]["big"]
    status = api.get("/v1/policies/big/status")[1]  # shown in the policy's status too
    assert status["error"] == health[1]["policy_errors"]["big"]
    assert "error" not in api.get("/v1/policies/small/status")[1]
    assert api.get("/v1/policies/big/tables/pair/rows")[1]["results"] == []
    assert len(api.get("/v1/policies/small/tables/one/rows")[1]["results"]) == 10

    assert api.put("/v1/data-sources/inv/tables/n/rows", [[i] for i in range(3)])[0] == 200
    assert api.get("/healthcheck")[1]["policy_errors"] == {}
    assert "error" not in api.get("/v1/policies/big/status")[1]
    assert len(api.get("/v1/policies/big/tables/pair/rows")[1]["results"]) == 9


def test_a_body_over_the_limit_is_a_413_and_changes_nothing(api: Client) -> None:
    tables = json.dumps({"t": ["a"]})
    assert (
        api.post(
            "/v1/data-sources", {"name": "inv", "driver": "push", "config": {"tables": tables}}
        )[0]
        == 201
    )
    assert api.put("/v1/data-sources/inv/tables/t/rows", [["x"]])[0] == 200
    status, body = api.put("/v1/data-sources/inv/tables/t/rows", [["y" * 100]] * 30)
    assert status == 413
    assert body["error"]["error_data"] == {
        "code": "limit_exceeded",
        "limit": "max_request_body_size",
        "value": 2048,
    }
    assert "max_request_body_size=2048" in body["error"]["message"]
    assert api.get("/v1/data-sources/inv/tables/t/rows")[1] == {"results": [{"data": ["x"]}]}


def test_a_chunked_body_over_the_limit_is_a_413_too(node: Node) -> None:
    def call(data: bytes) -> str:
        environ = webob.Request.blank("/v1/policies", method="POST").environ
        environ.pop("CONTENT_LENGTH", None)
        environ["CONTENT_TYPE"] = "application/json"
        environ["wsgi.input"] = io.BytesIO(data)
        statuses: list[str] = []
        b"".join(node.app(environ, lambda status, headers, *a: statuses.append(status)))
        return statuses[0]

    assert call(json.dumps({"name": "ok", "description": "d" * 100}).encode()).startswith("201")
    assert call(json.dumps({"name": "big", "description": "d" * 3000}).encode()).startswith("413")
