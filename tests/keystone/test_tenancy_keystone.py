"""Multi-tenancy (docs/tenancy.md) against the real Keystone: tokens of two projects' members
and of the operator, from Keystone by password, validated by Congress's token middleware.

``alice`` (project ``alpha``) and ``bob`` (project ``beta``) each build a policy ``ops`` (rules,
a refused rule, settings) and a library policy; the operator (``admin``) a global policy, a
datasource shared with ``alpha`` only and one shared with everyone, and a notification sink.
Then bob walks every route of ``congress.api.app.ROUTES`` (a route no call walks fails
``test_bob_walks_every_route``): nothing of alice's reaches him, alice's resources are the same
404 as missing ones, the operator's routes are 403, and his own ``ops`` works. The same with
identity headers instead of Keystone: tests/api/test_tenancy_api.py. Change feeds are read
from the node served as congress-server serves it (uvicorn in front of the pipeline; a feed
served by waitress holds a worker thread until the feed ends). Slow: the session's Keystone
(tests/keystone).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import client as http_client
from typing import Any

import pytest
from real_keystone import CongressNode, Keystone, http

from congress.api.app import ROUTES, Route
from congress.api.asgi import WSGIBridge

pytestmark = pytest.mark.xdist_group("keystone")

Run = Callable[..., tuple[int, str, str]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"
NO_PROJECT = "0" * 32  # a project id no project has
TABLES = json.dumps({"vms": ["id", "project"]})
SIMULATE = {"query": "error(x)", "sequence": 'error+("sim")', "action_policy": "action"}
HOOK = "http://127.0.0.1:9/hook"  # nothing listens; the sink is only addressed


@dataclass
class World:
    """What the three callers made: ids by name, and what must never reach bob."""

    url: str
    tokens: dict[str, str]
    alpha: str  # alice's project id
    beta: str  # bob's project id
    ids: dict[str, str] = field(default_factory=dict)
    alice_errors: list[str] = field(default_factory=list)  # the messages of alice's errors

    def call(self, user: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, answer = http(method, self.url + path, body, {"X-Auth-Token": self.tokens[user]})
        return status, answer

    def ok(self, user: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer = self.call(user, method, path, body)
        assert got == status, (user, method, path, answer)
        return answer

    def secrets(self) -> list[str]:
        """What of alice's no answer to bob may hold."""
        return [
            self.alpha,
            self.ids["a_ops"],
            self.ids["a_r1"],
            self.ids["a_r2"],
            "alice-row",
            "alice-secret",
            "alice_lib",
            self.ids["a_lib"],
            "alice_broken_rule",
            "alice_ds",
            self.ids["a_ds"],
            "alice-ds-row",
            *self.alice_errors,
        ]


def _project_id(keystone: Keystone, admin_token: str, name: str) -> str:
    status, _, body = http(
        "GET", f"{keystone.v3}/projects?name={name}", headers={"X-Auth-Token": admin_token}
    )
    assert status == 200 and len(body["projects"]) == 1, body
    return str(body["projects"][0]["id"])


def _build_own(w: World, user: str, prefix: str, row: str) -> None:
    """A member's ``ops``: rules, a refused rule, settings, a library policy."""
    ops = w.ok(user, "POST", "/v1/policies", {"name": "ops", "description": f"{user}-secret"}, 201)
    assert ops["name"] == "ops"
    w.ids[f"{prefix}_ops"] = ops["id"]
    r1 = w.ok(user, "POST", "/v1/policies/ops/rules", {"rule": f'error("{row}")'}, 201)
    r2 = w.ok(user, "POST", "/v1/policies/ops/rules", {"rule": "warning(x) :- error(x)"}, 201)
    w.ids[f"{prefix}_r1"], w.ids[f"{prefix}_r2"] = r1["id"], r2["id"]
    status, refused = w.call(
        user, "POST", "/v1/policies/ops/rules", {"rule": f"{user}_broken_rule(("}
    )
    assert status == 400, refused
    if user == "alice":
        w.alice_errors.append(refused["error"]["message"])
    settings = w.ok(user, "PATCH", "/v1/policies/ops", {"dry_run": True})
    assert settings["name"] == "ops", settings
    lib = {"name": f"{user}_lib", "rules": [{"rule": f'lib_row("{row}")'}]}
    w.ids[f"{prefix}_lib"] = w.ok(user, "POST", "/v1/librarypolicies", lib, 201)["id"]
    ds = {"name": f"{user}_ds", "driver": "push", "config": {"tables": TABLES}}
    made = w.ok(user, "POST", "/v1/data-sources", ds, 201)
    assert made["name"] == f"{user}_ds"
    w.ids[f"{prefix}_ds"] = made["id"]
    w.ok(user, "PUT", f"/v1/data-sources/{user}_ds/tables/vms/rows", [[f"{user}-ds-row", "x"]])


@pytest.fixture(scope="module")
def world(congress: CongressNode, keystone: Keystone) -> World:
    tokens = {user: keystone.token(user) for user in ("admin", "alice", "bob")}
    w = World(
        congress.url,
        tokens,
        _project_id(keystone, tokens["admin"], "alpha"),
        _project_id(keystone, tokens["admin"], "beta"),
    )
    _build_own(w, "alice", "a", "alice-row")
    _build_own(w, "bob", "b", "bob-row")
    # bob's own things his walk may delete
    w.ok("bob", "POST", "/v1/policies", {"name": "doomed"}, 201)
    doomed_lib = {"name": "bob_doomed", "rules": [{"rule": "p(1)"}]}
    w.ids["b_doomed_lib"] = w.ok("bob", "POST", "/v1/librarypolicies", doomed_lib, 201)["id"]
    doomed_ds = {"name": "bob_doomed_ds", "driver": "push", "config": {"tables": TABLES}}
    w.ok("bob", "POST", "/v1/data-sources", doomed_ds, 201)
    # the operator's
    w.ok("admin", "POST", "/v1/policies", {"name": "global_ops"}, 201)
    w.ok("admin", "POST", "/v1/policies/global_ops/rules", {"rule": "g(1)"}, 201)
    for name, shared in (("inv", [w.alpha]), ("pub", ["*"])):
        ds = {"name": name, "driver": "push", "config": {"tables": TABLES}}
        w.ok("admin", "POST", "/v1/data-sources", ds, 201)
        w.ok("admin", "PATCH", f"/v1/data-sources/{name}", {"shared_with": shared})
    w.ok("admin", "PUT", "/v1/data-sources/inv/tables/vms/rows", [["alice-row", w.alpha]])
    w.ok("admin", "PUT", "/v1/data-sources/pub/tables/vms/rows", [["vm-pub", "anyone"]])
    sink = {"name": "hooks", "url": HOOK}
    w.ids["sink"] = w.ok("admin", "POST", "/v1/notification-sinks", sink, 201)["id"]
    return w


# -- reading a change feed ------------------------------------------------------------------


def read_feed(
    url: str,
    path: str,
    token: str,
    events: int,
    timeout: float = 10,
    then: Callable[[], None] | None = None,
) -> tuple[int, str]:
    """``GET path`` as Server-Sent Events: ``(status, text)``: the first ``events`` events
    (``then`` is called once the first has come), or a non-stream answer's body; fails if they
    do not come within ``timeout`` seconds."""
    parts = urllib.parse.urlsplit(url)
    conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"X-Auth-Token": token, "Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200 or "event-stream" not in resp.getheader("Content-Type", ""):
            return resp.status, resp.read().decode()
        lines: list[str] = []
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, f"{seen} events of {events}: {lines}"
            try:
                line = resp.readline().decode()  # de-chunked
            except TimeoutError:
                pytest.fail(f"the feed {path} sent {seen} events of {events}: {lines}")
            assert line, f"the feed {path} ended: {lines}"
            lines.append(line)
            if line.startswith("event: "):
                seen += 1
                if seen == 1 and then is not None:
                    then()
            elif line == "\n" and seen >= events:  # the end of the last event wanted
                break
        return resp.status, "".join(lines)
    finally:
        conn.close()


# -- bob's walk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A request of bob's. ``expect``: its status; ``like``: ``(value, stand-in)``: the
    request names alice's (or the operator's) ``value``, and must be answered exactly as the
    same request naming ``stand-in`` (nothing) is, but for the name echoed."""

    method: str
    path: str
    expect: int
    body: Any = None
    like: tuple[str, str] | None = None
    stream: bool = False


def bob_calls(w: World) -> list[Call]:
    a_ops, a_name = w.ids["a_ops"], f"ops@{w.alpha}"
    a_r1, a_r2, a_lib = w.ids["a_r1"], w.ids["a_r2"], w.ids["a_lib"]
    b_r1, b_r2 = w.ids["b_r1"], w.ids["b_r2"]
    not_mine = [(a_ops, MISSING_ID), (a_name, "nosuch"), ("global_ops", "nosuch")]

    def policy(suffix: str, method: str = "GET", own: int = 200, body: Any = None) -> list[Call]:
        """Bob's own ``ops``, then alice's (by id and by name) and the operator's: 404s."""
        calls = [Call(method, f"/v1/policies/ops{suffix}", own, body)]
        for value, stand_in in not_mine:
            calls.append(
                Call(method, f"/v1/policies/{value}{suffix}", 404, body, (value, stand_in))
            )
        return calls

    def rule(suffix: str, method: str = "GET", own_rule: str = b_r1) -> list[Call]:
        return [
            Call(method, f"/v1/policies/ops/rules/{own_rule}{suffix}", 200),
            # alice's rule ids in bob's own policy, and in alice's policy
            Call(method, f"/v1/policies/ops/rules/{a_r1}{suffix}", 404, None, (a_r1, MISSING_ID)),
            Call(method, f"/v1/policies/ops/rules/{a_r2}{suffix}", 404, None, (a_r2, MISSING_ID)),
            Call(
                method, f"/v1/policies/{a_ops}/rules/{a_r1}{suffix}", 404, None, (a_ops, MISSING_ID)
            ),
        ]

    a_ds = w.ids["a_ds"]

    def datasource(
        suffix: str,
        method: str = "GET",
        shared: int = 200,
        body: Any = None,
        own: int | None = 200,
        own_name: str = "bob_ds",
        operators: bool = False,
    ) -> list[Call]:
        """``pub`` is shared with every project (read only: ``shared``), ``inv`` only with
        alpha, ``alice_ds`` is alice's own (both 404 as nothing); ``bob_ds`` bob's own."""
        if operators:  # the operator's: refused whatever the datasource
            return [
                Call(method, f"/v1/data-sources/{ds}{suffix}", 403, body)
                for ds in ("pub", "inv", "alice_ds", "bob_ds", "nosuch")
            ]
        calls = [
            Call(method, f"/v1/data-sources/pub{suffix}", shared, body),
            Call(method, f"/v1/data-sources/inv{suffix}", 404, body, ("inv", "nosuch")),
            Call(method, f"/v1/data-sources/alice_ds{suffix}", 404, body, ("alice_ds", "nosuch")),
            Call(method, f"/v1/data-sources/{a_ds}{suffix}", 404, body, (a_ds, MISSING_ID)),
        ]
        if own is not None:
            calls.append(Call(method, f"/v1/data-sources/{own_name}{suffix}", own, body))
        return calls

    def library(method: str, own_id: str, own: int = 200, body: Any = None) -> list[Call]:
        return [
            Call(method, f"/v1/librarypolicies/{own_id}", own, body),
            Call(method, f"/v1/librarypolicies/{a_lib}", 404, body, (a_lib, MISSING_ID)),
            Call(method, "/v1/librarypolicies/alice_lib", 404, body, ("alice_lib", "nosuch")),
        ]

    lib_body = {"name": "bob_lib", "description": "d", "rules": [{"rule": 'lib_row("bob-row")'}]}
    sink = "/v1/notification-sinks"
    return [
        Call("GET", "/v1", 200),
        Call("GET", "/v1/policies", 200),
        Call("POST", "/v1/policies", 201, {"name": "fresh"}),
        Call("POST", f"/v1/policies?library_policy={w.ids['b_lib']}", 201),
        Call("POST", f"/v1/policies?library_policy={a_lib}", 404, None, (a_lib, MISSING_ID)),
        Call("POST", "/v1/policies?library_policy=alice_lib", 404, None, ("alice_lib", "nosuch")),
        *policy(""),
        Call("DELETE", "/v1/policies/doomed", 200),
        *[c for c in policy("", "DELETE") if c.like],
        *policy("", "PATCH", 200, {"dry_run": True}),
        *policy("/breaker"),
        *policy("/breaker?action=reset", "POST"),
        Call("GET", "/v1/executions", 200),
        Call("GET", f"/v1/executions?policy={a_ops}", 200, None, (a_ops, MISSING_ID)),
        # any name with a project suffix is refused (404) whether or not it exists; a plain
        # name that names nothing is an empty log (200)
        Call("GET", f"/v1/executions?policy={a_name}", 200, None, (a_name, f"ops@{NO_PROJECT}")),
        *policy("?action=simulate", "POST", 200, SIMULATE),
        *policy("?action=explain", "POST", 200, {"table": "error", "row": ["bob-row"]}),
        *[
            Call("POST", f"/v1/policies/{p}?action=execute", 403, {"name": "pub:vms.pause"})
            for p in ("ops", a_ops, a_name)
        ],
        *policy("/status"),
        *policy("/versions"),
        *policy("/versions/1"),
        *policy("/rules"),
        *policy("/rules", "POST", 201, {"rule": 'error("bob-2")'}),
        *policy("/rules?dry_run=true", "POST", 200, {"rule": 'error("bob-3")'}),
        *rule(""),
        *rule("/status"),
        *rule("", "DELETE", b_r2),
        *policy("/tables"),
        *policy("/tables/error"),
        *policy("/tables/error/rows"),
        *policy("/tables/error/rows?trace=true"),
        *policy("/tables/error/history"),
        *policy("/tables/error/history/counts"),
        *[
            Call(c.method, c.path, c.expect, None, c.like, stream=True)
            for c in policy("/tables/error/watch")
            if c.like  # bob's own feed: test_bobs_own_change_feed
        ],
        Call("GET", "/v1/data-sources", 200),
        Call(
            "POST",
            "/v1/data-sources",
            201,
            {"name": "bobs", "driver": "push", "config": {"tables": TABLES}},
        ),
        *datasource(""),
        *datasource("", "DELETE", 403, own_name="bob_doomed_ds"),
        *datasource("", "PATCH", 403, {"shared_with": [w.beta]}, operators=True),
        *datasource("?action=request-refresh", "POST", 403, {}),
        *datasource("?action=execute", "POST", 403, {"name": "ping"}, operators=True),
        *datasource("/schema"),
        *datasource("/status", "GET", 403),
        *datasource("/actions"),
        *datasource("/tables"),
        *datasource("/tables/vms"),
        *datasource("/tables/vms/spec"),
        *datasource("/tables/vms/rows"),
        *datasource("/tables/vms/rows", "PUT", 403, [["bob-vm", w.beta]]),
        *datasource("/webhook", "POST", 403, {"notification": "x", "payload": {}}, own=None),
        Call("GET", "/v1/system/drivers", 200),
        Call("GET", "/v1/system/drivers/push", 200),
        Call("GET", "/v1/librarypolicies", 200),
        Call(
            "POST", "/v1/librarypolicies", 201, {"name": "bob_fresh", "rules": [{"rule": "p(2)"}]}
        ),
        *library("GET", w.ids["b_lib"]),
        *library("PUT", w.ids["b_lib"], 200, lib_body),
        *library("DELETE", w.ids["b_doomed_lib"]),
        Call("GET", sink, 403),
        Call("POST", sink, 403, {"name": "bobs-sink", "url": HOOK}),
        Call("GET", f"{sink}/{w.ids['sink']}", 403),
        Call("DELETE", f"{sink}/{w.ids['sink']}", 403),
        Call("GET", f"{sink}/{w.ids['sink']}/dead-letters", 403),
        Call("GET", "/v1/quotas", 403),
        Call("GET", f"/v1/quotas/{w.beta}", 200),
        Call("GET", f"/v1/quotas/{w.alpha}", 403, None, (w.alpha, NO_PROJECT)),
        Call("PUT", f"/v1/quotas/{w.beta}", 403, {"rules": 10}),
        Call("PUT", f"/v1/quotas/{w.alpha}", 403, {"rules": 10}),
        Call("DELETE", f"/v1/quotas/{w.alpha}", 403),
        Call("DELETE", f"/v1/quotas/{w.beta}", 403),
    ]


def route_of(method: str, path: str) -> Route | None:
    """The route that serves ``method path``, found as the dispatcher finds it."""
    bare = path.split("?")[0]
    return next((r for r in ROUTES if r.method == method and r.pattern.match(bare)), None)


def _answer(w: World, call: Call, path: str) -> tuple[int, str]:
    if call.stream:
        return read_feed(w.url, path, w.tokens["bob"], events=1)
    status, body = w.call("bob", call.method, path, call.body)
    return status, json.dumps(body)


def _sent(call: Call) -> list[str]:
    """What bob's request itself names (his path and query), which an answer may echo."""
    parts = urllib.parse.urlsplit(call.path)
    values = [urllib.parse.unquote(p) for p in parts.path.split("/") if p]
    values += [v for _, v in urllib.parse.parse_qsl(parts.query)]
    return values


def test_bob_walks_every_route(world: World) -> None:
    w = world
    walked: set[Route] = set()
    failures: list[str] = []
    for call in bob_calls(w):
        route = route_of(call.method, call.path)
        assert route is not None, f"no route serves {call.method} {call.path}"
        walked.add(route)
        status, text = _answer(w, call, call.path)
        what = f"{call.method} {call.path}"
        if status != call.expect:
            failures.append(f"{what}: {status}, not {call.expect}: {text[:300]}")
        if call.expect == 403 and status == 403:
            assert '"code": "forbidden"' in text, (what, text)
        unechoed = text
        echoed = [v for v in _sent(call) if any(s in v for s in w.secrets())]
        for value in sorted(echoed, key=len, reverse=True):
            unechoed = unechoed.replace(value, "<sent>")
        leaks = [s for s in w.secrets() if s and s in unechoed]
        if leaks:
            failures.append(f"{what} leaked {leaks}: {text[:300]}")
        if call.like is not None:
            value, stand_in = call.like
            m_status, m_text = _answer(w, call, call.path.replace(value, stand_in))
            if (status, text.replace(value, "<name>")) != (
                m_status,
                m_text.replace(stand_in, "<name>"),
            ):
                failures.append(f"{what} is not answered as a missing one: {text} / {m_text}")
    assert not failures, "\n".join(failures)
    # a route added later fails here until bob's walk calls it
    assert sorted(f"{r.method} {r.path}" for r in ROUTES if r not in walked) == []
    # nothing of alice's changed: her rules, her library policy
    rules = w.ok("alice", "GET", "/v1/policies/ops/rules")["results"]
    assert {r["id"] for r in rules} == {w.ids["a_r1"], w.ids["a_r2"]}
    assert w.ok("alice", "GET", "/v1/policies/ops/tables/error/rows")["results"] == [
        {"data": ["alice-row"]}
    ]
    assert w.ok("alice", "GET", f"/v1/librarypolicies/{w.ids['a_lib']}")["name"] == "alice_lib"


def test_bob_sees_his_own_and_nothing_of_alices(world: World) -> None:
    w = world
    mine = w.ok("bob", "GET", "/v1/policies")["results"]
    assert "ops" in {p["name"] for p in mine}
    assert {p["owner_id"] for p in mine} == {w.beta}
    assert w.ok("bob", "GET", "/v1/policies/ops")["id"] == w.ids["b_ops"]
    rows = w.ok("bob", "GET", "/v1/policies/ops/tables/error/rows")["results"]
    assert {"data": ["bob-row"]} in rows and {"data": ["alice-row"]} not in rows
    listed = [d["name"] for d in w.ok("bob", "GET", "/v1/data-sources")["results"]]
    assert "pub" in listed and "bob_ds" in listed  # shared with him, and his own
    assert not {"inv", "alice_ds"} & set(listed)
    libs = {p["name"] for p in w.ok("bob", "GET", "/v1/librarypolicies")["results"]}
    assert "bob_lib" in libs and "alice_lib" not in libs


def test_alice_reads_what_bob_may_not(world: World) -> None:
    """What bob's walk found missing is there for alice: the 404s hide, not lack."""
    w = world
    assert w.ok("alice", "GET", f"/v1/policies/{w.ids['a_ops']}")["name"] == "ops"
    rows = w.ok("alice", "GET", "/v1/data-sources/inv/tables/vms/rows")["results"]
    assert {"data": ["alice-row", w.alpha]} in rows, rows
    names = [d["name"] for d in w.ok("alice", "GET", "/v1/data-sources")["results"]]
    assert {"inv", "pub", "alice_ds"} <= set(names) and "bob_ds" not in names
    rule = w.ok("alice", "GET", f"/v1/policies/ops/rules/{w.ids['a_r1']}")
    assert rule["rule"] == 'error("alice-row")'
    # the operator's global policy is no project's
    assert w.call("alice", "GET", "/v1/policies/global_ops")[0] == 404
    assert w.ok("admin", "GET", "/v1/policies/global_ops")["owner_id"] == "user"


def _only_this_node_in_the_catalog(keystone: Keystone, congress: CongressNode) -> None:
    """Take out of Keystone's catalog the ``policy`` services of nodes gone with their modules
    (a module that ran the client without ``out_of_the_catalog`` leaves its own behind): the
    client must find this module's node."""
    admin = {"X-Auth-Token": keystone.token("admin")}
    status, _, found = http("GET", keystone.v3 + "/endpoints", headers=admin)
    assert status == 200, found
    ours = {e["service_id"] for e in found["endpoints"] if e["url"] == congress.url}
    status, _, services = http("GET", keystone.v3 + "/services?type=policy", headers=admin)
    assert status == 200, services
    for service in services["services"]:
        if service["id"] not in ours:
            assert (
                http("DELETE", f"{keystone.v3}/services/{service['id']}", headers=admin)[0] == 204
            )


def test_the_client_lists_a_projects_own_policies(
    openstack: Run,
    world: World,
    keystone: Keystone,
    congress: CongressNode,
    out_of_the_catalog: None,
) -> None:
    w = world
    _only_this_node_in_the_catalog(keystone, congress)
    rc, out, err = openstack("alice", "congress", "policy", "list", "-f", "json")
    assert rc == 0, f"{out}\n{err}"
    listed = json.loads(out)
    assert [(p["name"], p["owner_id"]) for p in listed] == [("ops", w.alpha)], listed
    rc, out, err = openstack("admin", "congress", "policy", "list", "-f", "json")
    assert rc == 0, f"{out}\n{err}"
    every = {p["name"] for p in json.loads(out)}
    assert {f"ops@{w.alpha}", f"ops@{w.beta}", "global_ops"} <= every


def test_a_rule_naming_another_project_is_refused(world: World) -> None:
    w = world
    status, body = w.call(
        "alice", "POST", "/v1/policies/ops/rules", {"rule": f"stolen(x) :- ops@{w.beta}:error(x)"}
    )
    assert status == 403, body
    assert body["error"]["error_data"]["code"] == "cross_project_reference", body
    assert "bob-row" not in json.dumps(body)
    rules = w.ok("alice", "GET", "/v1/policies/ops/rules")["results"]
    assert all("stolen" not in r["rule"] for r in rules)


@pytest.fixture(scope="module")
def asgi_url(congress: CongressNode) -> Iterator[str]:
    """The same node served as congress-server serves it (ADR 0008): uvicorn in front of the
    WSGI pipeline (keystonemiddleware included), change feeds sent from the event loop."""
    import uvicorn

    bridge = WSGIBridge(congress.node.app, threads=4, max_body=1 << 20)
    config = uvicorn.Config(
        bridge, lifespan="off", interface="asgi3", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="tenancy-uvicorn"
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        bridge.stop_streams()
        server.should_exit = True
        thread.join(timeout=10)
        bridge.close()
        sock.close()


def test_alices_change_feed_never_carries_her_project(world: World, asgi_url: str) -> None:
    _alices_feed(world, asgi_url)


def test_bobs_own_change_feed_as_served(world: World, asgi_url: str) -> None:
    status, text = read_feed(
        asgi_url, "/v1/policies/ops/tables/error/watch", world.tokens["bob"], events=1
    )
    assert status == 200, text
    assert "event: snapshot" in text and "bob-row" in text, text
    for secret in world.secrets():
        assert secret not in text, secret
    # alice's feed, by her policy's id, is bob's 404 here too
    status, text = read_feed(
        asgi_url, f"/v1/policies/{world.ids['a_ops']}/tables/error/watch", world.tokens["bob"], 1
    )
    assert status == 404 and "policy_not_found" in text, text


def _alices_feed(w: World, url: str) -> None:
    made: list[str] = []

    def change() -> None:
        made.append(
            w.ok("alice", "POST", "/v1/policies/ops/rules", {"rule": 'error("alice-2")'}, 201)["id"]
        )

    status, text = read_feed(
        url, "/v1/policies/ops/tables/error/watch", w.tokens["alice"], events=2, then=change
    )
    try:
        assert status == 200, text
        assert "event: snapshot" in text and "alice-row" in text, text
        assert "event: insert" in text and "alice-2" in text, text
        assert w.alpha not in text, text
        assert "ops@" not in text, text
    finally:
        for rule_id in made:
            w.ok("alice", "DELETE", f"/v1/policies/ops/rules/{rule_id}")
