"""The multi-process deployment on real services: two API + policy engine nodes and one
datasources node on RabbitMQ, sharing a PostgreSQL or a MariaDB database (every test runs on
both), HAProxy in front.

All tests here share one xdist worker with every other RabbitMQ test (one of them restarts the
broker) and one deployment per database (``cluster``); each test leaves the deployment as it
found it (three nodes up).
"""

from __future__ import annotations

import glob
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster, http, running_haproxy, wait_until
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
PUSH_TABLES = '{"data": ["id", "status"]}'


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    backend: str = request.param
    general_log = _mariadb_general_log(True) if backend == "mariadb" else None
    c = Cluster(backend, tmp_path_factory.mktemp(f"ha-{backend}"))
    try:
        c.start("ds", "--datasources")
        c.start("pe1", "--api", "--policy-engine")
        c.start("pe2", "--api", "--policy-engine")
        yield c
    finally:
        c.close()
        if general_log is not None:
            _mariadb_general_log(False, general_log)


def _mariadb_general_log(on: bool, saved: tuple[str, str] | None = None) -> tuple[str, str]:
    admin = create_engine("mysql+pymysql://root@127.0.0.1:3306/mysql", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        before = c.execute(text("SELECT @@general_log, @@log_output")).one()
        if on:
            c.execute(text("TRUNCATE TABLE mysql.general_log"))
            c.execute(text("SET GLOBAL log_output = 'TABLE'"))
            c.execute(text("SET GLOBAL general_log = 1"))
        else:
            assert saved is not None
            c.execute(text(f"SET GLOBAL general_log = {int(saved[0])}"))
            c.execute(text(f"SET GLOBAL log_output = '{saved[1]}'"))
    admin.dispose()
    return (str(before[0]), str(before[1]))


def url(c: Cluster, node: str) -> str:
    return c.nodes[node].url


def rows(c: Cluster, node: str, policy: str, table: str) -> list[Any] | None:
    """The table's rows on that node (None: not answered 200, e.g. not known there yet)."""
    a = http("GET", f"{url(c, node)}/v1/policies/{policy}/tables/{table}/rows")
    if a.status != 200:
        return None
    return sorted(r["data"] for r in a.body["results"])


def new_policy(c: Cluster, node: str = "pe1", **body: Any) -> tuple[str, int]:
    name = f"p{uuid.uuid4().hex[:8]}"
    a = http("POST", f"{url(c, node)}/v1/policies", {"name": name, **body})
    assert a.status == 201, a.body
    return name, int(a.headers["X-Congress-Revision"])


def create_datasource(c: Cluster, node: str, body: dict[str, Any]) -> None:
    """POST a datasource; a 503 (with Retry-After) says to try again: the node has not heard
    the datasources node yet (it starts, or the broker just came back); nothing was created."""

    def create() -> Any:
        a = http("POST", f"{url(c, node)}/v1/data-sources", body)
        return None if a.status == 503 else a

    a = wait_until(create, timeout=15, interval=0.5)
    assert a.status == 201, a.body


def push_datasource(c: Cluster, node: str = "pe1") -> str:
    name = f"ds{uuid.uuid4().hex[:8]}"
    config = {"tables": PUSH_TABLES, "persist_data": "true"}
    create_datasource(c, node, {"name": name, "driver": "push", "config": config})
    return name


def push(c: Cluster, node: str, ds: str, data: list[list[Any]]) -> int:
    return http("PUT", f"{url(c, node)}/v1/data-sources/{ds}/tables/data/rows", data).status


# -- replication ------------------------------------------------------------------------------


def test_policy_and_data_converge_on_both_engines(cluster: Cluster) -> None:
    c = cluster
    policy, revision = new_policy(c, "pe1")
    # read-your-writes on the other node, without stickiness
    a = http(
        "GET",
        f"{url(c, 'pe2')}/v1/policies/{policy}",
        headers={"X-Congress-Min-Revision": str(revision)},
    )
    assert a.status == 200 and a.body["name"] == policy
    ds = push_datasource(c, "pe1")
    r = http(
        "POST",
        f"{url(c, 'pe2')}/v1/policies/{policy}/rules",
        {"rule": f'error(x) :- {ds}:data(x, "bad")'},
    )
    assert r.status == 201, r.body
    assert int(r.headers["X-Congress-Revision"]) > revision
    # the datasource runs on the datasources node, created through an API node
    wait_until(lambda: push(c, "pe2", ds, [[1, "bad"], [2, "good"], [3, "bad"]]) == 200)
    for node in ("pe1", "pe2"):
        wait_until(lambda node=node: rows(c, node, policy, "error") == [[1], [3]], timeout=5)
    assert push(c, "pe1", ds, [[2, "bad"]]) == 200
    for node in ("pe1", "pe2"):
        wait_until(lambda node=node: rows(c, node, policy, "error") == [[2]], timeout=5)
    # a write without any header reaches the other engine within about a second
    other, _ = new_policy(c, "pe2")
    wait_until(lambda: http("GET", f"{url(c, 'pe1')}/v1/policies/{other}").status == 200, timeout=3)


def test_a_revision_not_reached_answers_503_with_retry_after(cluster: Cluster) -> None:
    a = http(
        "GET", f"{url(cluster, 'pe1')}/v1/policies", headers={"X-Congress-Min-Revision": "999999"}
    )
    assert a.status == 503
    assert a.headers["Retry-After"].isdigit()
    assert a.body["error"]["error_data"]["code"] == "revision_not_reached"
    bad = http(
        "GET", f"{url(cluster, 'pe1')}/v1/policies", headers={"X-Congress-Min-Revision": "x"}
    )
    assert bad.status == 400


def _at_once(*calls: tuple[str, str, Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int, method: str, target: str, body: Any) -> None:
        barrier.wait()
        answers[i] = http(method, target, body)

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_the_same_policy_name_on_two_nodes_at_once_gives_one_201_and_one_409(
    cluster: Cluster,
) -> None:
    c = cluster
    for _ in range(5):
        name = f"same{uuid.uuid4().hex[:8]}"
        answers = _at_once(
            ("POST", f"{url(c, 'pe1')}/v1/policies", {"name": name}),
            ("POST", f"{url(c, 'pe2')}/v1/policies", {"name": name}),
        )
        assert sorted(a.status for a in answers) == [201, 409], [a.body for a in answers]


def test_two_rules_that_together_recurse_cannot_both_be_accepted(cluster: Cluster) -> None:
    c = cluster
    for _ in range(3):
        policy, _ = new_policy(c, "pe1")
        answers = _at_once(
            ("POST", f"{url(c, 'pe1')}/v1/policies/{policy}/rules", {"rule": "p(x) :- q(x)"}),
            ("POST", f"{url(c, 'pe2')}/v1/policies/{policy}/rules", {"rule": "q(x) :- p(x)"}),
        )
        statuses = sorted(a.status for a in answers)
        assert statuses == [201, 400], [a.body for a in answers]
        for node in ("pe1", "pe2"):
            wait_until(
                lambda node=node, policy=policy: (
                    len(http("GET", f"{url(c, node)}/v1/policies/{policy}/rules").body["results"])
                    == 1
                ),
                timeout=5,
            )


# -- nodes on the bus --------------------------------------------------------------------------


def test_a_node_id_held_by_a_live_process_is_refused(cluster: Cluster) -> None:
    proc = cluster.spawn("pe1", "--policy-engine")
    assert proc.wait(timeout=60) != 0
    log = (cluster.directory / "pe1.log").read_text(errors="replace")
    assert "node id 'pe1' is held by a live process" in log
    assert http("GET", f"{url(cluster, 'pe1')}/healthcheck").status == 200  # the holder lives on


def test_two_deployments_on_one_broker_never_see_each_other(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    """Same broker, same node id, same datasource and policy names: nothing crosses."""
    ds = f"ds{uuid.uuid4().hex[:8]}"
    config = {"tables": PUSH_TABLES}
    other = Cluster(cluster.backend, tmp_path)  # another bus_id, another database
    try:
        node = other.start("pe1", "--api", "--policy-engine", "--datasources")  # a node id in use
        for c, n in ((cluster, "pe1"), (other, "pe1")):
            create_datasource(c, n, {"name": ds, "driver": "push", "config": config})
            assert http("POST", f"{url(c, n)}/v1/policies", {"name": "watch"}).status in (201, 409)
            rule = {"rule": f"seen(x) :- {ds}:data(x, y)"}
            assert http("POST", f"{url(c, n)}/v1/policies/watch/rules", rule).status == 201
        wait_until(lambda: push(other, "pe1", ds, [[1, "x"]]) == 200)
        wait_until(lambda: push(cluster, "pe2", ds, [[2, "y"]]) == 200)
        wait_until(lambda: rows(other, "pe1", "watch", "seen") == [[1]], timeout=5)
        for pe in ("pe1", "pe2"):
            wait_until(lambda pe=pe: rows(cluster, pe, "watch", "seen") == [[2]], timeout=5)
        time.sleep(2.0)  # two heartbeats more: still nothing crossed
        assert rows(other, "pe1", "watch", "seen") == [[1]]
        for pe in ("pe1", "pe2"):
            assert rows(cluster, pe, "watch", "seen") == [[2]]
        status = http("GET", f"{node.url}/v1/data-sources/{ds}/status").body
        assert status["subscribers"] == "['__engine']"
    finally:
        other.close()
        http("DELETE", f"{url(cluster, 'pe1')}/v1/data-sources/{ds}")
        http("DELETE", f"{url(cluster, 'pe1')}/v1/policies/watch")


def test_an_api_only_node_calls_the_engines_and_the_datasources_node(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    c = cluster
    api = c.start("api1", "--api").url
    try:
        names = {p["name"] for p in http("GET", f"{api}/v1/policies").body["results"]}
        assert {"classification", "action"} <= names
        created = http("POST", f"{api}/v1/policies", {"name": f"only{uuid.uuid4().hex[:6]}"})
        assert created.status == 201, created.body
        policy, revision = created.body["name"], int(created.headers["X-Congress-Revision"])
        seen_on_pe1 = http(
            "GET",
            f"{url(c, 'pe1')}/v1/policies/{policy}",
            headers={"X-Congress-Min-Revision": str(revision)},
        )
        assert seen_on_pe1.status == 200
        bad = http("POST", f"{api}/v1/policies/{policy}/rules", {"rule": "p(x) :- q("})
        assert bad.status == 400 and bad.body["error"]["error_data"]["line"] == 1
        ds = push_datasource(c, "api1")
        rule = {"rule": f"seen(x) :- {ds}:data(x, y)"}
        made = http("POST", f"{api}/v1/policies/{policy}/rules", rule)
        assert made.status == 201 and "X-Congress-Revision" in made.headers
        wait_until(lambda: push(c, "api1", ds, [[5, "e"]]) == 200)
        wait_until(lambda: rows(c, "api1", policy, "seen") == [[5]], timeout=5)
        simulated = http(
            "POST",
            f"{api}/v1/policies/{policy}?action=simulate",
            {"query": "seen(x)", "sequence": f'{ds}:data+(6, "f")', "action_policy": "action"},
        )
        assert simulated.status == 200, simulated.body
        assert sorted(simulated.body["result"]) == ["seen(5)", "seen(6)"]
        # explanations and the impact of a change are answered by an engine through the bus
        why = {"table": "seen", "row": [5]}
        explained = http("POST", f"{api}/v1/policies/{policy}?action=explain", why)
        assert explained.status == 200, explained.body
        proof = explained.body["explanation"]
        assert explained.body["holds"] is True and proof["rule_id"] == made.body["id"]
        assert proof["children"][0]["policy"] == ds and proof["children"][0]["row"] == [5, "e"]
        change: dict[str, Any] = {"add_rules": ["warning(x) :- seen(x)"]}
        impact = http("POST", f"{api}/v1/policies/{policy}?action=simulate", change)
        assert impact.status == 200, impact.body
        assert impact.body == {"result": {"warning": {"added": [[5]], "removed": []}}}
        change |= {"delete_rules": [made.body["id"]], "tables": ["seen"]}
        impact = http("POST", f"{api}/v1/policies/{policy}?action=simulate", change)
        assert impact.body == {"result": {"seen": {"added": [], "removed": [[5]]}}}
        assert http("GET", f"{api}/v1/librarypolicies").status == 200
        assert http("GET", f"{api}/v1/system/drivers").status == 200
        # an action through the API runs on the datasources node at once (no leader filter)
        record = tmp_path / "api-actions.txt"
        record.touch()
        rec = f"rec{uuid.uuid4().hex[:6]}"
        config = {"tables": PUSH_TABLES, "file": str(record)}
        create_datasource(c, "api1", {"name": rec, "driver": "recorder", "config": config})
        action = {"name": f"{rec}:record", "args": {"positional": ["by-api"]}}
        answer = http("POST", f"{api}/v1/policies/{policy}?action=execute", action)
        assert answer.status == 200, answer.body
        assert record.read_text().split()[0] == "by-api"
        # deleting through the API-only node stops it on the datasources node and the engines
        assert http("DELETE", f"{api}/v1/data-sources/{ds}").status == 200
        assert http("GET", f"{url(c, 'pe2')}/v1/data-sources/{ds}").status == 404
        for node in ("pe1", "pe2"):
            wait_until(lambda node=node: rows(c, node, policy, "seen") == [], timeout=5)
        assert http("GET", f"{api}/healthcheck").status == 200
    finally:
        c.kill("api1", signal.SIGTERM)
        del c.nodes["api1"]


# -- the datasources node ----------------------------------------------------------------------


def test_datasources_node_killed_then_a_standby_restores_persisted_data(cluster: Cluster) -> None:
    c = cluster
    policy, _ = new_policy(c, "pe1")
    ds = push_datasource(c, "pe1")
    r = http(
        "POST",
        f"{url(c, 'pe1')}/v1/policies/{policy}/rules",
        {"rule": f"seen(x, y) :- {ds}:data(x, y)"},
    )
    assert r.status == 201
    wait_until(lambda: push(c, "pe1", ds, [[1, "a"], [2, "b"]]) == 200)
    for node in ("pe1", "pe2"):
        wait_until(
            lambda node=node: rows(c, node, policy, "seen") == [[1, "a"], [2, "b"]], timeout=5
        )

    c.kill("ds")
    killed = time.monotonic()
    answer = http(
        "PUT", f"{url(c, 'pe2')}/v1/data-sources/{ds}/tables/data/rows", [[9, "z"]], timeout=60
    )
    assert answer.status == 503, answer.body
    assert answer.headers["Retry-After"].isdigit()
    listed = http("GET", f"{url(c, 'pe1')}/v1/data-sources", timeout=60)
    assert listed.status == 503 and "Retry-After" in listed.headers
    # the engines keep what they had
    assert rows(c, "pe1", policy, "seen") == rows(c, "pe2", policy, "seen") == [[1, "a"], [2, "b"]]

    c.start("ds", "--datasources")  # the standby takes the same node id once the old expired
    wait_until(
        lambda: http("GET", f"{url(c, 'pe2')}/v1/data-sources/{ds}/tables/data/rows").status == 200,
        timeout=30,
    )
    back = time.monotonic() - killed
    assert back < 30, back
    got = http("GET", f"{url(c, 'pe2')}/v1/data-sources/{ds}/tables/data/rows").body
    assert sorted(r["data"] for r in got["results"]) == [[1, "a"], [2, "b"]]  # 9 was never applied
    assert push(c, "pe2", ds, [[3, "c"]]) == 200
    for node in ("pe1", "pe2"):
        wait_until(lambda node=node: rows(c, node, policy, "seen") == [[3, "c"]], timeout=5)


# -- HAProxy -----------------------------------------------------------------------------------


@pytest.fixture
def haproxy(cluster: Cluster, tmp_path: pathlib.Path) -> Iterator[str]:
    """HAProxy with deploy/haproxy.cfg, rewritten to this deployment's ports."""
    with running_haproxy(cluster, tmp_path) as base:
        yield base


def test_killing_an_engine_behind_haproxy_loses_no_acknowledged_write(
    cluster: Cluster, haproxy: str
) -> None:
    c = cluster
    policy, _ = new_policy(c, "pe1")
    acknowledged: list[str] = []
    failed_reads: list[Any] = []
    failed_writes: list[Any] = []
    stop = threading.Event()

    def client() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            w = http("POST", f"{haproxy}/v1/policies/{policy}/rules", {"rule": f"r({i})"})
            if w.status == 201:
                acknowledged.append(w.body["id"])
            else:
                failed_writes.append((w.status, w.body))
            r = http("GET", f"{haproxy}/v1/policies/{policy}/rules")
            if r.status != 200:
                failed_reads.append((r.status, r.body))

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(1.5)
    c.kill("pe1")
    time.sleep(3.0)
    stop.set()
    thread.join(60)
    try:
        assert not failed_reads, failed_reads
        assert len(failed_writes) <= 1, failed_writes  # only one could be in flight on pe1
        assert len(acknowledged) > 10
        on_pe2 = {
            r["id"]
            for r in http("GET", f"{url(c, 'pe2')}/v1/policies/{policy}/rules").body["results"]
        }
        assert set(acknowledged) <= on_pe2
    finally:
        c.start("pe1", "--api", "--policy-engine")
    on_pe1 = {
        r["id"] for r in http("GET", f"{url(c, 'pe1')}/v1/policies/{policy}/rules").body["results"]
    }
    assert set(acknowledged) <= on_pe1


# -- RabbitMQ restart --------------------------------------------------------------------------


def _rabbit(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=120)


def _rabbit_up() -> None:
    subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if (
            subprocess.run(["rabbitmqctl", "-q", "await_startup"], capture_output=True).returncode
            == 0
        ):
            return
        time.sleep(0.2)
    raise AssertionError("RabbitMQ did not come back")


def test_a_rabbitmq_restart_is_survived_with_identical_data(cluster: Cluster) -> None:
    c = cluster
    policy, _ = new_policy(c, "pe1")
    ds = push_datasource(c, "pe1")
    rule = http(
        "POST",
        f"{url(c, 'pe1')}/v1/policies/{policy}/rules",
        {"rule": f"seen(x) :- {ds}:data(x, y)"},
    )
    assert rule.status == 201
    wait_until(lambda: push(c, "pe1", ds, [[1, "a"]]) == 200)
    for node in ("pe1", "pe2"):
        wait_until(lambda node=node: rows(c, node, policy, "seen") == [[1]], timeout=5)
    try:
        _rabbit("rabbitmqctl", "stop")
        # written while the bus is down: persisted, but its announcement is lost
        during = http(
            "POST", f"{url(c, 'pe2')}/v1/policies/{policy}/rules", {"rule": "extra(1)"}, timeout=60
        )
        assert during.status == 201, during.body
    finally:
        _rabbit_up()
    up = time.monotonic()
    # data changed right after the broker is back must reach both engines
    wait_until(lambda: push(c, "pe2", ds, [[1, "a"], [2, "b"]]) == 200, timeout=10)
    for node in ("pe1", "pe2"):
        wait_until(
            lambda node=node: rows(c, node, policy, "seen") == [[1], [2]],
            timeout=max(0.1, 10 - (time.monotonic() - up)),
        )
        wait_until(
            lambda node=node: rows(c, node, policy, "extra") == [[1]],
            timeout=max(0.1, 10 - (time.monotonic() - up)),
        )
    assert time.monotonic() - up <= 10


# -- actions -----------------------------------------------------------------------------------


def test_actions_run_once_through_a_failover_and_a_leader_change(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    c = cluster
    record = tmp_path / "actions.txt"
    record.touch()
    ds = f"rec{uuid.uuid4().hex[:8]}"
    config = {"tables": PUSH_TABLES, "persist_data": "true", "file": str(record)}
    create_datasource(c, "pe1", {"name": ds, "driver": "recorder", "config": config})
    policy, _ = new_policy(c, "pe1")
    rule = {"rule": f'execute[{ds}:record(x)] :- {ds}:data(x, "go")'}
    assert http("POST", f"{url(c, 'pe1')}/v1/policies/{policy}/rules", rule).status == 201

    def recorded() -> list[str]:
        return sorted(line.split()[0] for line in record.read_text().splitlines())

    def settle(expected: list[str], timeout: float = 15.0) -> None:
        wait_until(lambda: recorded() == expected, timeout=timeout)
        time.sleep(2.5)  # every engine sent it, resends included: still once
        assert recorded() == expected

    data = [[1, "go"], [2, "no"]]
    wait_until(lambda: push(c, "pe1", ds, data) == 200)
    settle(["1"])

    # the datasources node dies; the standby restores the pushed rows: nothing fires again
    c.kill("ds")
    c.start("ds", "--datasources")
    wait_until(lambda: push(c, "pe1", ds, data) == 200, timeout=30)
    settle(["1"])

    # only pe1 hears the next change (pe2 is frozen): pe1 leads the restarted datasource
    os.kill(c.nodes["pe2"].proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
    try:
        data.append([3, "go"])
        assert push(c, "pe1", ds, data) == 200
        wait_until(lambda: recorded() == ["1", "3"])
    finally:
        os.kill(c.nodes["pe2"].proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
    settle(["1", "3"])  # pe2's copy of 3 is dropped (not the leader) and kept

    # the leader dies: once it has expired, pe2 leads; its copy of 3 is a duplicate, 4 runs
    c.kill("pe1")
    data.append([4, "go"])
    wait_until(lambda: push(c, "pe2", ds, data) == 200)
    settle(["1", "3", "4"], timeout=20)

    # a restarted engine fires nothing for the rows it finds
    c.start("pe1", "--api", "--policy-engine")
    settle(["1", "3", "4"])
    engine = create_engine(c.url)
    with engine.connect() as conn:
        log = conn.execute(
            text("SELECT status FROM action_executions WHERE datasource = :ds"), {"ds": ds}
        ).all()
    engine.dispose()
    assert sorted(r[0] for r in log) == ["executed", "executed", "executed"]


# -- no table locks ----------------------------------------------------------------------------


def test_no_table_lock_statement_is_ever_issued(cluster: Cluster) -> None:
    """Read the database server's own statement log (runs last in this module)."""
    if cluster.backend == "mariadb":
        admin = create_engine("mysql+pymysql://root@127.0.0.1:3306/mysql")
        # the log is the server's: only the connections to this deployment's database (a
        # restore of a dump in another test, tests/api/test_backup.py, locks its own tables)
        query = text(
            "SELECT argument FROM mysql.general_log WHERE thread_id IN ("
            " SELECT thread_id FROM mysql.general_log"
            " WHERE command_type IN ('Connect', 'Init DB') AND argument LIKE :db)"
        )
        with admin.connect() as conn:
            logged = [str(r[0]) for r in conn.execute(query, {"db": f"%{cluster.database}%"})]
        admin.dispose()
    else:
        logged = []
        for path in glob.glob("/var/log/postgresql/postgresql-*-main.log"):
            logged += [
                line
                for line in pathlib.Path(path).read_text(errors="replace").splitlines()
                if f"@{cluster.database} " in line
            ]
    writes = [s for s in logged if "INSERT INTO policy_rules" in s or "INSERT INTO policies" in s]
    assert writes, "the statement log recorded none of this deployment's writes"
    locks = [s for s in logged if "LOCK TABLE" in s.upper()]
    assert not locks, locks
    print(
        f"{cluster.backend}: {len(logged)} statements logged, {len(writes)} policy writes, "
        "no LOCK TABLE",
        file=sys.stderr,
    )
