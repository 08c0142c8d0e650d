"""Issue 6 on the multi-process deployment: a data change that drives a policy over
``[limits] max_derived_rows`` puts that policy (only) in an error state, shown in
``/healthcheck``'s ``policy_errors`` (the check stays 200), the same on every engine, until data
or rules shrink; the other policies go on. The single-process version is
``tests/api/test_limits.py``.

One datasources node and two API + policy engine nodes (pe1, pe2) on RabbitMQ and PostgreSQL,
every node with ``max_derived_rows = 50``. The data reaches the engines over the bus, so every
check on a node polls until it holds (or times out). Each test leaves the deployment as it
found it (three nodes up, no policy of its own in an error state).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster, http, wait_until

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.slow]

MAX_ROWS = 50
ENGINES = ("pe1", "pe2")
WAIT = 15.0  # seconds for a change to reach both engines


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(
        "postgresql",
        tmp_path_factory.mktemp("ha-limits"),
        options={"limits": {"max_derived_rows": str(MAX_ROWS)}},
    )
    try:
        c.start("ds", "--datasources")
        for pe in ENGINES:
            c.start(pe, "--api", "--policy-engine")
        yield c
    finally:
        c.close()


def url(c: Cluster, node: str) -> str:
    return c.nodes[node].url


def rows(c: Cluster, node: str, policy: str, table: str) -> list[Any] | None:
    """The table's rows on that node (None: not answered 200, e.g. not known there yet)."""
    a = http("GET", f"{url(c, node)}/v1/policies/{policy}/tables/{table}/rows")
    if a.status != 200:
        return None
    return sorted(r["data"] for r in a.body["results"])


def policy_errors(c: Cluster, node: str) -> dict[str, str]:
    """``/healthcheck``'s ``policy_errors`` on that node; the check itself must answer 200."""
    a = http("GET", f"{url(c, node)}/healthcheck")
    assert a.status == 200, (node, a.status, a.body)  # a policy error never fails the check
    assert a.body["status"] == "OK", (node, a.body)
    errors: dict[str, str] = a.body["policy_errors"]
    return errors


def push_datasource(c: Cluster) -> str:
    """A push datasource with one table ``n(x)``, created through pe1 (a 503 says the node has
    not heard the datasources node yet: try again)."""
    name = f"inv{uuid.uuid4().hex[:8]}"
    body = {"name": name, "driver": "push", "config": {"tables": json.dumps({"n": ["x"]})}}

    def create() -> Any:
        a = http("POST", f"{url(c, 'pe1')}/v1/data-sources", body)
        return None if a.status == 503 else a

    a = wait_until(create, timeout=15, interval=0.5)
    assert a.status == 201, a.body
    return name


def put_rows(c: Cluster, node: str, ds: str, n: int) -> None:
    """Make the datasource's table exactly ``0 .. n-1`` (through ``node``'s API)."""
    a = http("PUT", f"{url(c, node)}/v1/data-sources/{ds}/tables/n/rows", [[i] for i in range(n)])
    assert a.status == 200, a.body


def new_policy(c: Cluster, prefix: str, *rules: str) -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    a = http("POST", f"{url(c, 'pe1')}/v1/policies", {"name": name})
    assert a.status == 201, a.body
    for rule in rules:
        r = http("POST", f"{url(c, 'pe2')}/v1/policies/{name}/rules", {"rule": rule})
        assert r.status == 201, r.body
    return name


def square(n: int) -> list[list[int]]:
    return sorted([x, y] for x in range(n) for y in range(n))


def line(n: int) -> list[list[int]]:
    return [[x] for x in range(n)]


def on_every_engine(c: Cluster, check: Any, what: str) -> None:
    """Wait until ``check(node)`` holds on pe1 and on pe2."""
    for node in ENGINES:
        try:
            wait_until(lambda node=node: check(node), timeout=WAIT, interval=0.1)
        except AssertionError as e:
            raise AssertionError(f"{node}: {what}: {e}") from None


def healthy(c: Cluster, node: str, *policies: str) -> bool:
    return not set(policy_errors(c, node)) & set(policies)


def in_error(c: Cluster, node: str, policy: str, *others: str) -> bool:
    """``policy`` (and none of ``others``) listed in the node's ``policy_errors``, the limit
    named in the reason."""
    errors = policy_errors(c, node)
    if policy not in errors or set(errors) & set(others):
        return False
    assert f"max_rows={MAX_ROWS}" in errors[policy], errors
    assert policy in errors[policy], errors
    status = http("GET", f"{url(c, node)}/v1/policies/{policy}/status").body
    assert status.get("error") == errors[policy], status  # the policy's status shows it too
    return True


def test_data_over_the_limit_puts_one_policy_in_error_on_every_engine_until_it_shrinks(
    cluster: Cluster,
) -> None:
    c = cluster
    ds = push_datasource(c)
    big = new_policy(c, "big", f"pair(x, y) :- {ds}:n(x), {ds}:n(y)")
    small = new_policy(c, "small", f"one(x) :- {ds}:n(x)")
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == [], "big's rule")
    on_every_engine(c, lambda node: rows(c, node, small, "one") == [], "small's rule")

    # under the limit: 5 x 5 = 25 rows
    wait_until(lambda: http("GET", f"{url(c, 'pe1')}/v1/data-sources/{ds}").status == 200)
    put_rows(c, "pe1", ds, 5)
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == square(5), "25 pairs")
    on_every_engine(c, lambda node: rows(c, node, small, "one") == line(5), "5 ones")
    for node in ENGINES:
        assert healthy(c, node, big, small)

    # over the limit: 10 x 10 = 100 rows; big (only) enters an error state on both engines
    put_rows(c, "pe2", ds, 10)
    on_every_engine(c, lambda node: in_error(c, node, big, small), "big in error")
    on_every_engine(c, lambda node: rows(c, node, small, "one") == line(10), "small goes on")
    for node in ENGINES:
        assert rows(c, node, big, "pair") == [], node  # its derived table is empty
        listed = http("GET", f"{url(c, node)}/v1/policies/{big}/rules")
        assert listed.status == 200 and len(listed.body["results"]) == 1, listed.body  # kept
        assert http("GET", f"{url(c, node)}/v1/policies/{big}").status == 200
    # both engines give the same reason
    reasons = {node: policy_errors(c, node)[big] for node in ENGINES}
    assert reasons["pe1"] == reasons["pe2"], reasons

    # still over (8 x 8 = 64): still in error, small follows
    put_rows(c, "pe1", ds, 8)
    on_every_engine(c, lambda node: rows(c, node, small, "one") == line(8), "8 ones")
    for node in ENGINES:
        assert in_error(c, node, big, small), node
        assert rows(c, node, big, "pair") == [], node

    # back under (3 x 3 = 9): big leaves the error state with the right rows on both engines
    put_rows(c, "pe1", ds, 3)
    on_every_engine(c, lambda node: healthy(c, node, big, small), "big out of error")
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == square(3), "9 pairs")
    on_every_engine(c, lambda node: rows(c, node, small, "one") == line(3), "3 ones")


def over_the_limit(c: Cluster) -> tuple[str, str, str]:
    """A datasource of 12 rows, policy big (a 12 x 12 join and a copy of the table) in an error
    state on both engines, policy small (a copy) not: (datasource, big, small)."""
    ds = push_datasource(c)
    big = new_policy(c, "big", f"pair(x, y) :- {ds}:n(x), {ds}:n(y)", f"seen(x) :- {ds}:n(x)")
    small = new_policy(c, "small", f"one(x) :- {ds}:n(x)")
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == [], "big's rules")
    wait_until(lambda: http("GET", f"{url(c, 'pe1')}/v1/data-sources/{ds}").status == 200)
    put_rows(c, "pe1", ds, 4)
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == square(4), "16 pairs")
    put_rows(c, "pe1", ds, 12)
    on_every_engine(c, lambda node: in_error(c, node, big, small), "big in error")
    for node in ENGINES:
        assert rows(c, node, big, "pair") == [] and rows(c, node, big, "seen") == [], node
        assert rows(c, node, small, "one") == line(12), node
    return ds, big, small


def test_an_engine_restarted_during_the_error_state_reaches_it_too(cluster: Cluster) -> None:
    c = cluster
    ds, big, small = over_the_limit(c)
    c.kill("pe2")
    c.start("pe2", "--api", "--policy-engine")
    on_every_engine(c, lambda node: in_error(c, node, big, small), "big in error after restart")
    on_every_engine(c, lambda node: rows(c, node, small, "one") == line(12), "small after restart")
    for node in ENGINES:
        assert rows(c, node, big, "pair") == [] and rows(c, node, big, "seen") == [], node
    # and it leaves it with the other engine when the data shrinks
    put_rows(c, "pe2", ds, 5)
    on_every_engine(c, lambda node: healthy(c, node, big, small), "big out of error")
    on_every_engine(c, lambda node: rows(c, node, big, "pair") == square(5), "25 pairs")
    on_every_engine(c, lambda node: rows(c, node, big, "seen") == line(5), "5 seen")


def test_deleting_the_rule_that_ran_over_ends_the_error_state_on_every_engine(
    cluster: Cluster,
) -> None:
    c = cluster
    _, big, small = over_the_limit(c)
    listed = http("GET", f"{url(c, 'pe1')}/v1/policies/{big}/rules").body["results"]
    (join,) = [r for r in listed if r["rule"].startswith("pair")]
    deleted = http("DELETE", f"{url(c, 'pe2')}/v1/policies/{big}/rules/{join['id']}")
    assert deleted.status == 200, deleted.body
    # read-your-writes on the other engine
    seen_at = {"X-Congress-Min-Revision": deleted.headers["X-Congress-Revision"]}
    left = http("GET", f"{url(c, 'pe1')}/v1/policies/{big}/rules", headers=seen_at)
    assert left.status == 200, left.body
    assert [r["id"] for r in left.body["results"] if r["id"] == join["id"]] == [], left.body
    # without the join, big leaves the error state on both engines within a few seconds
    for node in ENGINES:
        wait_until(lambda node=node: healthy(c, node, big, small), timeout=5, interval=0.1)
        wait_until(lambda node=node: rows(c, node, big, "seen") == line(12), timeout=5)
        assert rows(c, node, big, "pair") in ([], None), node  # no rule derives it any more


def test_a_policy_deleted_on_one_engine_is_gone_on_the_other_for_read_your_writes(
    cluster: Cluster,
) -> None:
    c = cluster
    name = new_policy(c, "gone", "q(1)")
    assert http("GET", f"{url(c, 'pe1')}/v1/policies/{name}").status == 200
    deleted = http("DELETE", f"{url(c, 'pe2')}/v1/policies/{name}")
    assert deleted.status == 200, deleted.body
    seen_at = {"X-Congress-Min-Revision": deleted.headers["X-Congress-Revision"]}
    after = http("GET", f"{url(c, 'pe1')}/v1/policies/{name}", headers=seen_at)
    assert after.status == 404, after.body
