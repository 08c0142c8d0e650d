"""Change feeds on the multi-process deployment (issue 7): every API + policy engine node
serves them; through HAProxy (deploy/haproxy.cfg) a client that reconnects with its
Last-Event-ID resumes on the same node, and after that node is killed gets a reset and a fresh
snapshot from the other one, then the changes that follow.

One datasources node and two API + policy engine nodes (pe1, pe2) on RabbitMQ and PostgreSQL;
the client is examples/watch_client.py, the one docs/watching.md shows.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from cluster import ROOT, Cluster, http, running_haproxy, wait_until

sys.path.insert(0, str(ROOT / "examples"))
from watch_client import Feed

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.slow]

ENGINES = ("pe1", "pe2")
RULE = 'error(x) :- inv:servers(x, "ERROR")'


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster("postgresql", tmp_path_factory.mktemp("ha-watch"))
    try:
        c.start("ds", "--datasources")
        for pe in ENGINES:
            c.start(pe, "--api", "--policy-engine")
        a = http(
            "POST",
            f"{c.nodes['pe1'].url}/v1/data-sources",
            {"name": "inv", "driver": "push", "config": {"tables": {"servers": ["id", "status"]}}},
        )
        assert a.status == 201, a.body
        a = http("POST", f"{c.nodes['pe1'].url}/v1/policies/classification/rules", {"rule": RULE})
        assert a.status == 201, a.body
        for pe in ENGINES:  # the rule reached both engines
            wait_until(
                lambda pe=pe: (
                    http(
                        "GET", f"{c.nodes[pe].url}/v1/policies/classification/tables/error/rows"
                    ).status
                    == 200
                )
            )
        yield c
    finally:
        c.close()


def push(c: Cluster, rows: list[list[str]]) -> None:
    a = http("PUT", f"{c.nodes['pe1'].url}/v1/data-sources/inv/tables/servers/rows", rows)
    assert a.status == 200, a.body


def connects(feed: Feed) -> bool:
    """Open the feed; False while the node (or HAProxy's choice of one) cannot answer it."""
    try:
        feed.connect()
        return True
    except (OSError, RuntimeError):
        return False


def test_every_engine_node_serves_the_feed(cluster: Cluster) -> None:
    c = cluster
    push(c, [])
    feeds = {pe: Feed(c.nodes[pe].url, "classification", "error", timeout=20) for pe in ENGINES}
    streams = {}
    for pe, feed in feeds.items():
        wait_until(lambda f=feed: connects(f))
        streams[pe] = feed.events()
        assert next(streams[pe])["event"] == "snapshot"
        assert feed.rows == set()
    push(c, [["a", "ERROR"], ["b", "OK"]])
    for pe in ENGINES:
        event = next(streams[pe])
        assert (event["event"], event["rows"]) == ("insert", [["a"]]), pe
    push(c, [["b", "ERROR"]])
    for pe, feed in feeds.items():
        kinds = [next(streams[pe])["event"], next(streams[pe])["event"]]
        assert kinds == ["delete", "insert"], pe
        assert feed.rows == {("b",)}, pe
        feed.close()


@pytest.fixture
def haproxy(cluster: Cluster, tmp_path: pathlib.Path) -> Iterator[str]:
    """HAProxy with deploy/haproxy.cfg, rewritten to this deployment's ports."""
    with running_haproxy(cluster, tmp_path) as base:
        yield base


def test_through_haproxy_resume_on_the_node_then_reset_after_failover(
    cluster: Cluster, haproxy: str
) -> None:
    c = cluster
    push(c, [["a", "ERROR"]])
    for pe in ENGINES:
        wait_until(
            lambda pe=pe: (
                http("GET", f"{c.nodes[pe].url}/v1/policies/classification/tables/error/rows").body[
                    "results"
                ]
                == [{"data": ["a"]}]
            )
        )
    feed = Feed(haproxy, "classification", "error", timeout=20)
    feed.connect()
    assert feed.response is not None
    cookie = feed.response.getheader("Set-Cookie", "").split(";")[0]
    node = cookie.partition("=")[2]
    assert cookie.startswith("SERVERID=") and node in ENGINES, cookie
    feed.headers["Cookie"] = cookie  # stay on that node, as a browser would
    events = feed.events()
    assert next(events)["event"] == "snapshot" and feed.rows == {("a",)}

    # the connection drops; changes happen meanwhile; the same node resumes after the last id
    feed.close()
    push(c, [["a", "ERROR"], ["b", "ERROR"]])
    push(c, [["b", "ERROR"]])
    feed.connect()
    events = feed.events()
    missed = [next(events), next(events)]
    assert [(e["event"], e["rows"]) for e in missed] == [("insert", [["b"]]), ("delete", [["a"]])]
    assert feed.rows == {("b",)}

    # that node dies: the reconnection reaches the other node, which cannot continue the ids
    c.kill(node)
    other = next(pe for pe in ENGINES if pe != node)
    wait_until(lambda: connects(feed), timeout=20)
    events = feed.events()
    reset, snapshot = next(events), next(events)
    assert reset["event"] == "reset" and "id" not in reset
    assert snapshot["event"] == "snapshot" and feed.rows == {("b",)}
    assert snapshot["id"].split("-")[0] != missed[-1]["id"].split("-")[0]  # another node's
    push(c, [["b", "ERROR"], ["c", "ERROR"]])
    event = next(events)
    assert (event["event"], event["rows"]) == ("insert", [["c"]])
    assert feed.rows == {("b",), ("c",)}
    feed.close()
    c.start(node, "--api", "--policy-engine")  # as the other tests found the deployment
    assert http("GET", f"{c.nodes[other].url}/healthcheck").status == 200


# -- history, notifications and metrics on the HA set-up ------------------------------------


class Hooks:
    """A webhook receiver in the test process: every POST's JSON body."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def changes(self) -> list[tuple[str, list[Any]]]:
        return [(c["op"], c["row"]) for b in self.bodies for c in b["changes"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_history_and_a_webhook_see_each_change_once_across_both_engines(
    cluster: Cluster,
) -> None:
    """Both engines apply every change; the history keeps one record of each (its unique
    key), and the webhook sink, delivered by one node (the lease), gets each change once."""
    c = cluster
    pe1, pe2 = (c.nodes[pe].url for pe in ENGINES)
    push(c, [])
    for url in (pe1, pe2):  # the earlier tests' rows are gone, and recorded so
        wait_until(
            lambda url=url: (
                http("GET", f"{url}/v1/policies/classification/tables/error/rows").body["results"]
                == []
            )
        )
    time.sleep(1.5)  # the history's writer lingers a little before writing
    hooks = Hooks()
    try:
        a = http(
            "POST",
            f"{pe1}/v1/notification-sinks",
            {"name": f"ha-{uuid.uuid4().hex[:8]}", "url": hooks.url, "tables": ["*:error"]},
        )
        assert a.status == 201, a.body
        since = a.body["created_at"]
        steps = [[["h1", "ERROR"]], [["h1", "ERROR"], ["h2", "ERROR"]], [["h2", "ERROR"]], []]
        for rows in steps:
            push(c, rows)
            for pe in ENGINES:  # both engines applied it before the next change
                wait_until(
                    lambda pe=pe, rows=rows: (
                        sorted(
                            r["data"]
                            for r in http(
                                "GET",
                                f"{c.nodes[pe].url}/v1/policies/classification/tables/error/rows",
                            ).body["results"]
                        )
                        == sorted([r[0]] for r in rows if r[1] == "ERROR")
                    )
                )
        expected = [
            ("insert", ["h1"]),
            ("insert", ["h2"]),
            ("delete", ["h1"]),
            ("delete", ["h2"]),
        ]

        def history(url: str) -> list[tuple[str, list[Any]]]:
            body = http(
                "GET",
                f"{url}/v1/policies/classification/tables/error/history?since={quote(since)}",
            ).body
            return [(e["op"], e["row"]) for e in body["results"]]

        wait_until(lambda: history(pe1) == expected, timeout=20)
        assert history(pe2) == expected  # one shared history, each change once
        wait_until(lambda: len(hooks.changes()) >= len(expected), timeout=30)
        time.sleep(2)  # a duplicate delivery would come within the lease's renewals
        assert hooks.changes() == expected
        assert {b["sink"] for b in hooks.bodies} == {a.body["name"]}
        http("DELETE", f"{pe1}/v1/notification-sinks/{a.body['id']}")
    finally:
        hooks.close()


def test_metrics_of_an_engine_node_include_the_datasources_node(cluster: Cluster) -> None:
    c = cluster
    push(c, [["m1", "ERROR"]])

    def scrape() -> str:
        with urllib.request.urlopen(f"{c.nodes['pe2'].url}/metrics", timeout=10) as resp:
            text: str = resp.read().decode()
        ready = 'table="error"' in text and "congress_bus_lag_seconds_count" in text
        return text if ready else ""

    text = wait_until(scrape, timeout=20)
    rows = [ln for ln in text.splitlines() if ln.startswith("congress_table_rows{")]
    assert any('policy="classification"' in ln and 'table="error"' in ln for ln in rows), rows
    lag = [ln for ln in text.splitlines() if ln.startswith("congress_bus_lag_seconds_count")]
    assert lag and all(float(ln.rsplit(" ", 1)[1]) >= 1 for ln in lag), lag
    # the datasources node answered the scrape (its part is fetched over the bus)
    errors = [ln for ln in text.splitlines() if ln.startswith("congress_scrape_errors_total")]
    assert errors and all(ln.endswith(" 0.0") for ln in errors), errors
