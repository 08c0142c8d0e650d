"""Change feeds on the multi-process deployment (issue 7): every API + policy engine node
serves them; through HAProxy (deploy/haproxy.cfg) a client that reconnects with its
Last-Event-ID resumes on the same node, and after that node is killed gets a reset and a fresh
snapshot from the other one, then the changes that follow.

One datasources node and two API + policy engine nodes (pe1, pe2) on RabbitMQ and PostgreSQL;
the client is examples/watch_client.py, the one docs/watching.md shows.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cluster import ROOT, Cluster, haproxy_config, http, wait_until

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
    if not pathlib.Path("/usr/sbin/haproxy").exists():
        subprocess.run([str(ROOT / "scripts/services"), "haproxy"], check=True)
    config, port = haproxy_config(cluster, tmp_path)
    subprocess.run(["haproxy", "-D", "-f", str(config)], check=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", base + "/healthcheck").status == 200)
        yield base
    finally:
        pid = (tmp_path / "haproxy.pid").read_text().split()[0]
        subprocess.run(["kill", pid], check=False)


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
