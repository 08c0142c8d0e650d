"""A whole single-process Congress node reading a fake cloud through the real nova driver.

What the datasource host adds to the drivers, through the REST API: polls publish only changes,
``request-refresh``, lazy tables activated by a rule, failures kept to their datasource (status
shows the error and the last success, the rows stay, other datasources go on, a hanging cloud
never holds up the status), options checked with a 400 that names them, and actions reaching the
cloud from the API and from ``execute[...]``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Client
from fake_nova import COMPUTE_PREFIX, NovaFake, server_id
from fakecloud import FakeCloud
from oslo_config import cfg

from congress.cmd.server import Node, build_node
from congress.common import config

SERVERS = COMPUTE_PREFIX + "/servers/detail"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as c:
        yield c


@pytest.fixture
def nova(cloud: FakeCloud) -> NovaFake:
    fake = NovaFake(cloud, count=4, page_size=10)
    for server in fake.servers[1::2]:
        server["status"] = "ERROR"
    return fake


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        "datasource_request_timeout = 1\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    n = build_node(conf)
    yield n
    n.stop()


@pytest.fixture
def api(node: Node) -> Client:
    return Client(node.app)


def create_nova(api: Client, cloud: FakeCloud, name: str = "nova", **options: Any) -> None:
    config = cloud.credentials(poll_time="0", **options)
    status, body = api.post("/v1/data-sources", {"name": name, "driver": "nova", "config": config})
    assert status == 201, body
    wait_for(lambda: api.get(f"/v1/data-sources/{name}/status")[1]["initialized"] == "True", "poll")


def rows(api: Client, path: str) -> set[tuple[Any, ...]]:
    status, body = api.get(path)
    assert status == 200, body
    return {tuple(r["data"]) for r in body["results"]}


def test_a_policy_reads_the_clouds_servers(api: Client, cloud: FakeCloud, nova: NovaFake) -> None:
    create_nova(api, cloud)
    servers = rows(api, "/v1/data-sources/nova/tables/servers/rows")
    assert {r[0] for r in servers} == {server_id(i) for i in range(4)}
    rule = {"rule": 'bad(id) :- nova:servers(id=id, status="ERROR")'}
    assert api.post("/v1/policies/classification/rules", rule)[0] == 201
    expected = {(s["id"],) for s in nova.servers if s["status"] == "ERROR"}
    assert expected and rows(api, "/v1/policies/classification/tables/bad/rows") == expected
    _status, body = api.get("/v1/data-sources/nova/status")
    assert body["last_error"] == "None" and body["last_success"] != "None"
    assert body["consecutive_failures"] == "0"


def test_refresh_publishes_only_what_changed(
    api: Client, node: Node, cloud: FakeCloud, nova: NovaFake
) -> None:
    create_nova(api, cloud)
    seen: list[Any] = []
    lock = threading.Lock()

    def record(message: Any) -> None:
        with lock:
            seen.append(message)

    node.bus.subscribe("nova", "servers", record)  # deltas only: no snapshot asked for
    node.bus.subscribe("nova", "tags", record)
    requests = len(cloud.requests_to(SERVERS))
    assert api.post("/v1/data-sources/nova?action=request-refresh", {})[0] == 200
    wait_for(lambda: len(cloud.requests_to(SERVERS)) > requests, "a poll")
    time.sleep(0.3)
    assert seen == []  # nothing changed: nothing published
    nova.servers[0]["status"] = "SHUTOFF" if nova.servers[0]["status"] != "SHUTOFF" else "ACTIVE"
    assert api.post("/v1/data-sources/nova?action=request-refresh", {})[0] == 200
    delta = wait_for(lambda: list(seen), "the delta")[0]
    time.sleep(0.3)
    assert len(seen) == 1  # servers changed, tags did not
    assert delta.table == "servers"
    assert [r[0] for r in delta.inserts] == [nova.servers[0]["id"]]
    assert [r[0] for r in delta.deletes] == [nova.servers[0]["id"]]
    new_status = nova.servers[0]["status"]
    assert next(iter(delta.inserts))[3] == new_status


def test_lazy_tables_are_fetched_once_a_rule_reads_them(
    api: Client, cloud: FakeCloud, nova: NovaFake
) -> None:
    create_nova(api, cloud, lazy_tables="flavors")
    assert cloud.requests_to(COMPUTE_PREFIX + "/flavors") == []
    status, body = api.get("/v1/data-sources/nova/tables/flavors/rows")
    assert status == 400 and body["error"]["error_data"]["code"] == "lazy_table"
    rule = {"rule": "big(id) :- nova:flavors(id=id, ram=r), gt(r, 4000)"}
    status, body = api.post("/v1/policies/classification/rules", rule)
    assert status == 201, body
    expected = {(f["id"],) for f in nova.flavors if f["ram"] > 4000}
    assert expected
    wait_for(
        lambda: rows(api, "/v1/policies/classification/tables/big/rows") == expected, "flavors"
    )
    assert cloud.requests_to(COMPUTE_PREFIX + "/flavors")


def test_a_failing_cloud_keeps_its_rows_and_says_why(
    api: Client, cloud: FakeCloud, nova: NovaFake
) -> None:
    create_nova(api, cloud)
    before = rows(api, "/v1/data-sources/nova/tables/servers/rows")
    good = api.get("/v1/data-sources/nova/status")[1]["last_success"]
    # another datasource, which must not notice
    push = {"name": "inv", "driver": "push", "config": {"tables": '{"hosts": ["name"]}'}}
    assert api.post("/v1/data-sources", push)[0] == 201

    cloud.fail(500, prefix=SERVERS)
    assert api.post("/v1/data-sources/nova?action=request-refresh", {})[0] == 200
    status = wait_for(
        lambda: (s := api.get("/v1/data-sources/nova/status")[1])["last_error"] != "None" and s,
        "the error",
    )
    assert "polling servers failed" in status["last_error"]
    assert "HTTP 500" in status["last_error"]
    assert status["last_success"] == good
    assert status["consecutive_failures"] == "1"
    assert rows(api, "/v1/data-sources/nova/tables/servers/rows") == before
    assert api.put("/v1/data-sources/inv/tables/hosts/rows", [["h1"]])[0] == 200
    assert rows(api, "/v1/data-sources/inv/tables/hosts/rows") == {("h1",)}

    cloud.heal()
    assert api.post("/v1/data-sources/nova?action=request-refresh", {})[0] == 200
    recovered = wait_for(
        lambda: (s := api.get("/v1/data-sources/nova/status")[1])["last_error"] == "None" and s,
        "recovery",
    )
    assert recovered["consecutive_failures"] == "0" and recovered["last_success"] != good


def test_a_service_that_is_gone_is_one_short_clause(
    api: Client, cloud: FakeCloud, nova: NovaFake
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = cloud.credentials(poll_time="0", endpoint=gone + "/compute/v2.1")
    body = {"name": "nova", "driver": "nova", "config": config}
    status, body = api.post("/v1/data-sources", body)
    assert status == 201, body
    failed = wait_for(
        lambda: (s := api.get("/v1/data-sources/nova/status")[1])["last_error"] != "None" and s,
        "the error",
    )
    tables = "servers, flavors, hypervisors, services, availability_zones"
    assert failed["last_error"] == (
        f"polling {tables} failed: cannot connect: {gone}: [Errno 111] Connection refused"
    )
    assert failed["last_success"] == "None" and failed["initialized"] == "False"


def test_a_hanging_cloud_does_not_hold_up_the_status(
    api: Client, cloud: FakeCloud, nova: NovaFake
) -> None:
    create_nova(api, cloud)
    cloud.fail(delay=3.0, prefix=SERVERS)  # longer than the 1 s request timeout
    requests = len(cloud.requests_to(SERVERS))
    assert api.post("/v1/data-sources/nova?action=request-refresh", {})[0] == 200
    wait_for(lambda: len(cloud.requests_to(SERVERS)) > requests, "the hanging request")
    start = time.monotonic()
    status, _body = api.get("/v1/data-sources/nova/status")
    assert status == 200 and time.monotonic() - start < 0.5
    assert api.get("/v1/data-sources/nova/tables/servers/rows")[0] == 200
    failed = wait_for(
        lambda: (s := api.get("/v1/data-sources/nova/status")[1])["last_error"] != "None" and s,
        "the timeout",
    )
    assert "timed out" in failed["last_error"].lower()
    cloud.heal()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"poll_time": "often"}, "poll_time"),
        ({"lazy_tables": "servers,nosuch"}, "nosuch"),
        ({"api_version": "3.1"}, "api_version"),
        ({"auth_url": "not a url"}, "auth_url"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_options_are_400s_that_name_them(
    api: Client, cloud: FakeCloud, options: dict[str, str], named: str
) -> None:
    config = {**cloud.credentials(), **options}
    status, body = api.post("/v1/data-sources", {"name": "n", "driver": "nova", "config": config})
    assert status == 400, body
    assert named in body["error"]["message"]
    assert api.get("/v1/data-sources/n")[0] == 404


def test_a_missing_option_is_a_400_that_names_it(api: Client, cloud: FakeCloud) -> None:
    config = {k: v for k, v in cloud.credentials().items() if k != "password"}
    status, body = api.post("/v1/data-sources", {"name": "n", "driver": "nova", "config": config})
    assert status == 400 and "password" in body["error"]["message"]


def test_actions_reach_the_cloud_from_the_api_and_from_policy(
    api: Client, cloud: FakeCloud, nova: NovaFake
) -> None:
    create_nova(api, cloud)
    listed = {a["name"]: a for a in api.get("/v1/data-sources/nova/actions")[1]["results"]}
    assert [a["name"] for a in listed["servers.pause"]["args"]] == ["server"]
    sid = nova.servers[1]["id"]
    body = {"name": "servers.pause", "args": {"positional": [sid]}}
    status, answer = api.post("/v1/data-sources/nova?action=execute", body)
    assert status == 200, answer
    calls = cloud.requests_to(f"{COMPUTE_PREFIX}/servers/{sid}/action", "POST")
    assert [c.body for c in calls] == [{"pause": None}]
    status, answer = api.post(
        "/v1/data-sources/nova?action=execute", {"name": "servers.explode", "args": {}}
    )
    assert status == 400 and answer["error"]["error_data"]["code"] == "unknown_action"
    status, answer = api.post("/v1/data-sources/nova?action=execute", {"name": "servers.pause"})
    assert status == 400 and answer["error"]["error_data"]["code"] == "invalid_action_arguments"
    body = {"name": "servers.pause", "args": {"positional": ["no-such-server"]}}
    status, answer = api.post("/v1/data-sources/nova?action=execute", body)
    assert status == 502 and answer["error"]["error_data"]["code"] == "action_failed"
    assert "404" in answer["error"]["message"]

    errored = [s["id"] for s in nova.servers if s["status"] == "ERROR"]
    assert errored
    rule = {"rule": 'execute[nova:servers.stop(id)] :- nova:servers(id=id, status="ERROR")'}
    assert api.post("/v1/policies/classification/rules", rule)[0] == 201

    def stopped() -> list[str]:
        found = []
        for sid in errored:
            for c in cloud.requests_to(f"{COMPUTE_PREFIX}/servers/{sid}/action", "POST"):
                if c.body == {"os-stop": None}:
                    found.append(sid)
        return found

    assert sorted(wait_for(stopped, "the policy's actions")) == sorted(errored)


def test_the_driver_list_shows_every_cloud_driver(api: Client) -> None:
    ids = {d["id"] for d in api.get("/v1/system/drivers")[1]["results"]}
    expected = {"nova", "neutronv2", "glancev2", "keystonev3", "cinder", "heat", "swift"}
    assert ids >= expected | {"kubernetes", "json"}
    status, info = api.get("/v1/system/drivers/nova")
    assert status == 200 and info["secret"] == ["password"]
    assert json.dumps(info)  # plain JSON
