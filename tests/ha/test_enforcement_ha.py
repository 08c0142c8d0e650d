"""Safe enforcement on the multi-process deployment (docs/enforcement.md): dry-run set through
one node holds on the other engine; the execution log and a tripped breaker are the same from
both nodes, and a reset through one closes it on both.

One datasources node and two API + policy engine nodes (pe1, pe2) on RabbitMQ and PostgreSQL,
with ``[enforcement] breaker_max_actions = 1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster, http, wait_until

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.slow]

ENGINES = ("pe1", "pe2")
WAIT = 15.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(
        "postgresql",
        tmp_path_factory.mktemp("ha-enforcement"),
        options={"enforcement": {"breaker_max_actions": "1"}},
    )
    try:
        c.start("ds", "--datasources")
        for pe in ENGINES:
            c.start(pe, "--api", "--policy-engine")
        yield c
    finally:
        c.close()


def call(c: Cluster, node: str, method: str, path: str, body: Any = None) -> Any:
    a = http(method, f"{c.nodes[node].url}{path}", body)
    assert a.status in (200, 201), (node, method, path, a.status, a.body)
    return a.body


def executions(c: Cluster, node: str) -> list[tuple[str, str]]:
    found = call(c, node, "GET", "/v1/executions?policy=guarded")["results"]
    return sorted((e["args"]["positional"][0], e["status"]) for e in found)


def test_dry_run_breaker_and_executions_agree_on_both_engines(cluster: Cluster) -> None:
    body = {"name": "inv", "driver": "push", "config": {"tables": json.dumps({"s": ["id"]})}}
    made = wait_until(
        lambda: (
            (a := http("POST", f"{cluster.nodes['pe1'].url}/v1/data-sources", body)).status != 503
            and a
        ),
        timeout=WAIT,
        interval=0.5,
    )
    assert made.status == 201, made.body
    rule = {"rule": "execute[inv:pause(x)] :- inv:s(x)"}
    call(cluster, "pe1", "POST", "/v1/policies", {"name": "guarded", "rules": [rule]})
    call(cluster, "pe1", "PATCH", "/v1/policies/guarded", {"dry_run": True})
    wait_until(lambda: call(cluster, "pe2", "GET", "/v1/policies/guarded")["dry_run"] is True, WAIT)
    call(cluster, "pe2", "PUT", "/v1/data-sources/inv/tables/s/rows", [["vm1"]])
    for node in ENGINES:  # both engines derived it; it was recorded once, and not run
        wait_until(lambda node=node: executions(cluster, node) == [("vm1", "would_execute")], WAIT)

    call(cluster, "pe2", "PATCH", "/v1/policies/guarded", {"dry_run": False})
    wait_until(
        lambda: call(cluster, "pe1", "GET", "/v1/policies/guarded")["dry_run"] is False, WAIT
    )
    call(cluster, "pe1", "PUT", "/v1/data-sources/inv/tables/s/rows", [["vm1"], ["vm2"]])
    call(cluster, "pe1", "PUT", "/v1/data-sources/inv/tables/s/rows", [["vm1"], ["vm2"], ["vm3"]])
    for node in ENGINES:  # the second action in the interval trips the breaker
        wait_until(
            lambda node=node: (
                call(cluster, node, "GET", "/v1/policies/guarded/breaker")["state"] == "open"
            ),
            WAIT,
        )
        wait_until(lambda node=node: ("vm3", "blocked_by_breaker") in executions(cluster, node))
    shown = [call(cluster, n, "GET", "/v1/policies/guarded/breaker") for n in ENGINES]
    assert shown[0]["reason"] == shown[1]["reason"] == "more than 1 inv actions within 60 s"
    assert shown[0]["tripped_at"] == shown[1]["tripped_at"]
    assert executions(cluster, "pe1") == executions(cluster, "pe2")

    call(cluster, "pe2", "POST", "/v1/policies/guarded/breaker?action=reset")
    wait_until(
        lambda: call(cluster, "pe1", "GET", "/v1/policies/guarded/breaker")["state"] == "closed",
        WAIT,
    )
