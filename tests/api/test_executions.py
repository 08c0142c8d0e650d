"""Safe enforcement through the API of a whole node (docs/enforcement.md): dry-run, deferred
actions, the circuit breaker and ``GET /v1/executions`` with the driver's answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pytest
from api_client import Client
from oslo_config import cfg

from congress.cmd.server import Node, build_node
from congress.datasources.execution import Action, ExecutionMixin
from congress.datasources.push import PushDriver

TABLES = '{"servers": ["id", "status"]}'
RULE = 'execute[inv:pause(x)] :- inv:servers(x, "bad")'


class ActingPushDriver(ExecutionMixin, PushDriver):
    """A push driver whose ``pause`` answers what it did and whose ``fail`` raises."""

    DRIVER_NAME: ClassVar[str] = "actingpush"
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "pause": Action("pauses a server", (("id", "the server"),), "pause"),
        "fail": Action("raises", (("id", "the server"),), "fail"),
    }

    def pause(self, server: str) -> dict[str, Any]:
        return {"paused": server, "state": "PAUSED"}

    def fail(self, server: str) -> None:
        raise RuntimeError(f"cannot stop {server}")


@pytest.fixture
def node(conf: cfg.ConfigOpts) -> Iterator[Node]:
    conf.set_override("custom_driver_endpoints", [f"actingpush={__name__}:ActingPushDriver"])
    conf.set_override("check_interval", 0.1, group="enforcement")
    conf.set_override("breaker_max_actions", 3, group="enforcement")
    n = build_node(conf)
    yield n
    n.stop()
    for name in ("check_interval", "breaker_max_actions"):  # the group is shared: undo
        conf.clear_override(name, group="enforcement")


@pytest.fixture
def api(node: Node) -> Client:
    assert node.app is not None
    c = Client(node.app)
    body = {"name": "inv", "driver": "actingpush", "config": {"tables": TABLES}}
    assert c.post("/v1/data-sources", body)[0] == 201
    assert c.post("/v1/policies", {"name": "p", "rules": [{"rule": RULE}]})[0] == 201
    return c


def put_rows(api: Client, rows: list[list[str]]) -> None:
    status, body = api.put("/v1/data-sources/inv/tables/servers/rows", rows)
    assert status == 200, body


def executions(api: Client, query: str = "") -> list[dict[str, Any]]:
    status, body = api.get("/v1/executions" + (f"?{query}" if query else ""))
    assert status == 200, body
    found: list[dict[str, Any]] = body["results"]
    return found


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_execution_records_the_drivers_answer(api: Client, node: Node) -> None:
    put_rows(api, [["vm1", "bad"]])
    wait_for(lambda: [e["status"] for e in executions(api)] == ["executed"])
    [entry] = executions(api)
    assert entry["result"] == {"paused": "vm1", "state": "PAUSED"}
    assert (entry["policy"], entry["driver"], entry["action"]) == ("p", "inv", "pause")
    assert entry["args"] == {"positional": ["vm1"], "named": {}}
    assert entry["time"].endswith("+00:00") and entry["detail"] is None


def test_a_failure_records_the_drivers_error(api: Client) -> None:
    body = {"rule": 'execute[inv:fail(x)] :- inv:servers(x, "doomed")'}
    assert api.post("/v1/policies/p/rules", body)[0] == 201
    put_rows(api, [["vm1", "doomed"]])
    wait_for(lambda: [e["status"] for e in executions(api)] == ["failed"])
    assert "cannot stop vm1" in executions(api)[0]["detail"]


def test_dry_run_through_patch(api: Client) -> None:
    status, body = api.call("PATCH", "/v1/policies/p", {"dry_run": True})
    assert status == 200 and body["dry_run"] is True and body["action_grace_seconds"] is None
    assert api.get("/v1/policies/p")[1]["dry_run"] is True
    put_rows(api, [["vm1", "bad"]])
    [entry] = executions(api)
    assert (entry["status"], entry["detail"]) == ("would_execute", "the policy is in dry-run")


def test_patch_refuses_what_it_cannot_change(api: Client) -> None:
    status, body = api.call("PATCH", "/v1/policies/p", {"dry_run": True, "name": "q", "x": 1})
    assert status == 400
    assert body["error"]["message"] == (
        "Only 'dry_run' and 'action_grace_seconds' of a policy can be changed, not 'name', 'x'"
    )
    status, body = api.call("PATCH", "/v1/policies/p", {"owner_id": "x"})
    assert (status, body["error"]["error_code"]) == (400, 1012)
    status, body = api.call("PATCH", "/v1/policies/p", {"dry_run": "yes"})
    assert (status, body["error"]["message"]) == (400, "Field 'dry_run' must be true or false")
    status, body = api.call("PATCH", "/v1/policies/p", {})
    assert status == 400 and "at least one" in body["error"]["message"]
    assert api.call("PATCH", "/v1/policies/nosuch", {"dry_run": True})[0] == 404


def test_deferred_actions_run_or_are_cancelled(api: Client) -> None:
    status, body = api.call("PATCH", "/v1/policies/p", {"action_grace_seconds": 0.3})
    assert status == 200 and body["action_grace_seconds"] == 0.3
    put_rows(api, [["vm1", "bad"], ["vm2", "bad"]])
    assert {e["status"] for e in executions(api)} == {"deferred"}
    put_rows(api, [["vm1", "bad"], ["vm2", "ok"]])  # vm2's row no longer holds
    wait_for(lambda: {e["status"] for e in executions(api)} == {"executed", "cancelled"})
    by_vm = {e["args"]["positional"][0]: e for e in executions(api)}
    assert by_vm["vm1"]["status"] == "executed" and by_vm["vm1"]["result"]["paused"] == "vm1"
    assert by_vm["vm2"]["detail"] == "its execute row no longer holds"


def test_the_breaker_trips_shows_and_resets(api: Client, node: Node) -> None:
    for i in range(5):
        put_rows(api, [[f"vm{i}", "bad"]])
    assert node.host is not None and node.host.wait_for_executions(10)
    wait_for(lambda: len(executions(api, "status=executed")) == 3)
    blocked = executions(api, "status=blocked_by_breaker")
    assert [e["args"]["positional"] for e in blocked] == [["vm4"], ["vm3"]]
    status, breaker = api.get("/v1/policies/p/breaker")
    assert status == 200 and breaker["state"] == "open"
    assert breaker["reason"] == "more than 3 inv actions within 60 s"
    assert breaker["counts"]["at_trip"] == {"window": {"inv": 4}}
    assert api.post("/v1/policies/p/breaker?action=bogus", {})[0] == 400
    status, closed = api.post("/v1/policies/p/breaker?action=reset", {})
    assert status == 200 and closed["state"] == "closed" and closed["reason"] is None
    put_rows(api, [["vm9", "bad"]])
    wait_for(lambda: len(executions(api, "status=executed")) == 4)


def test_executions_filter_and_refuse_bad_parameters(api: Client) -> None:
    put_rows(api, [["vm1", "bad"]])
    wait_for(lambda: len(executions(api, "status=executed")) == 1)
    assert len(executions(api, "policy=p&driver=inv&action=pause&limit=1")) == 1
    assert executions(api, "policy=other") == []
    assert executions(api, "since=2100-01-01T00:00:00Z") == []
    assert len(executions(api, "until=2100-01-01")) == 1
    status, body = api.get("/v1/executions?since=yesterday")
    assert status == 400 and "'since'" in body["error"]["message"]
    assert api.get("/v1/executions?limit=0")[0] == 400
