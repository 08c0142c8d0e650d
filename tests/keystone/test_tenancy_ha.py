"""Multi-tenancy (docs/tenancy.md) in the multi-process HA deployment, with the real Keystone
and the real client.

A ``Cluster`` (tests/ha/cluster.py) on PostgreSQL: ``ds`` (--datasources), ``pe1`` and ``pe2``
(--api --policy-engine), every node with ``auth_strategy = keystone`` and the
``[keystone_authtoken]`` options of the session's Keystone (tests/keystone/conftest.py), HAProxy
in front. Real tokens of ``admin`` (the operator), ``alice`` (project alpha) and ``bob``
(project beta). Writes go through HAProxy (or a named node); reads go to each node directly,
with ``X-Congress-Min-Revision`` for read-your-writes. Slow: the session's Keystone and three
``congress-server`` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from real_keystone import Keystone

# tests/ha/cluster.py, imported where it lives (the HA tests import it the same way)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ha"))
from cluster import Answer, Cluster, http, running_haproxy, wait_until

pytestmark = [pytest.mark.xdist_group("keystone"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
OPENSTACK = ROOT / ".venv-client" / "bin" / "openstack"
# tests/keystone/conftest.py's Keystone (``_populate``, ``congress_conf_text``)
SERVICE_PASSWORD = "congress-secret"
REGION = "RegionOne"
MISSING_ID = "00000000-0000-4000-8000-000000000000"
TABLES = json.dumps({"vms": ["id", "project"]})
NODES = ("pe1", "pe2")


def keystone_options(ks: Keystone) -> dict[str, dict[str, str]]:
    """``congress_conf_text``'s options (tests/keystone/conftest.py) for ``Cluster(options=)``."""
    return {
        "DEFAULT": {"auth_strategy": "keystone"},
        "keystone_authtoken": {
            "www_authenticate_uri": ks.v3,
            "auth_url": ks.v3,
            "auth_type": "password",
            "username": "congress",
            "password": SERVICE_PASSWORD,
            "project_name": "service",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "region_name": REGION,
            "service_type": "policy",
        },
    }


@dataclass
class Deployment:
    cluster: Cluster
    proxy: str  # HAProxy's base URL
    tokens: dict[str, str]
    alpha: str  # alice's project id
    beta: str  # bob's project id
    ids: dict[str, str] = field(default_factory=dict)
    revision: int = 0  # the highest revision a write of the fixture answered

    def base(self, where: str) -> str:
        return self.proxy if where == "proxy" else self.cluster.nodes[where].url

    def call(
        self,
        user: str,
        method: str,
        path: str,
        body: Any = None,
        where: str = "proxy",
        min_revision: int | None = None,
    ) -> Answer:
        headers = {"X-Auth-Token": self.tokens[user]}
        if min_revision is not None:
            headers["X-Congress-Min-Revision"] = str(min_revision)
        return http(method, self.base(where) + path, body, headers)

    def ok(
        self,
        user: str,
        method: str,
        path: str,
        body: Any = None,
        status: int = 200,
        where: str = "proxy",
        min_revision: int | None = None,
    ) -> Answer:
        a = self.call(user, method, path, body, where, min_revision)
        assert a.status == status, (user, method, where, path, a.status, a.body)
        revision = a.headers.get("X-Congress-Revision")
        if revision is not None:
            self.revision = max(self.revision, int(revision))
        return a


def _project_id(ks: Keystone, admin_token: str, name: str) -> str:
    a = http("GET", f"{ks.v3}/projects?name={name}", headers={"X-Auth-Token": admin_token})
    assert a.status == 200 and len(a.body["projects"]) == 1, a.body
    return str(a.body["projects"][0]["id"])


@pytest.fixture(scope="module")
def deployment(
    keystone: Keystone, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("tenancy-ha")
    c = Cluster("postgresql", work, options=keystone_options(keystone))
    try:
        # ds beside pe1 (each node costs seconds of imports); pe2 only once pe1 runs: two
        # engines starting at once on a new database race to create the system policies and
        # the loser exits (PolicyExists: classification; reported, not this test's subject)
        c.start("ds", "--datasources", wait=False)
        c.start("pe1", "--api", "--policy-engine", wait=False)
        for node in ("ds", "pe1"):
            c.wait_ready(c.nodes[node], timeout=90)
        c.wait_ready(c.start("pe2", "--api", "--policy-engine", wait=False), timeout=90)
        with running_haproxy(c, work) as proxy:
            tokens = {u: keystone.token(u) for u in ("admin", "alice", "bob")}
            d = Deployment(
                c,
                proxy,
                tokens,
                _project_id(keystone, tokens["admin"], "alpha"),
                _project_id(keystone, tokens["admin"], "beta"),
            )
            for user, row in (("alice", "alice-row"), ("bob", "bob-row")):
                ops = d.ok(user, "POST", "/v1/policies", {"name": "ops"}, 201)
                assert ops.body["name"] == "ops", ops.body
                d.ids[f"{user}_ops"] = ops.body["id"]
                d.ok(user, "POST", "/v1/policies/ops/rules", {"rule": f'error("{row}")'}, 201)
                d.ok(
                    user, "POST", "/v1/policies/ops/rules", {"rule": "warning(x) :- error(x)"}, 201
                )
            yield d
    finally:
        c.close()


def _masked(a: Answer, value: str, stand_in: str) -> tuple[int, str]:
    return a.status, json.dumps(a.body).replace(value, stand_in)


def test_each_project_reads_its_own_ops_on_every_node(deployment: Deployment) -> None:
    d = deployment
    rev = d.revision
    for node in NODES:
        for user, project, row in (("alice", d.alpha, "alice-row"), ("bob", d.beta, "bob-row")):
            own = d.ok(user, "GET", "/v1/policies/ops", where=node, min_revision=rev).body
            assert own["id"] == d.ids[f"{user}_ops"] and own["owner_id"] == project, (node, own)
            listed = d.ok(user, "GET", "/v1/policies", where=node, min_revision=rev).body
            assert [(p["name"], p["owner_id"]) for p in listed["results"]] == [("ops", project)]
            rows = d.ok(user, "GET", "/v1/policies/ops/tables/warning/rows", where=node).body
            assert [r["data"] for r in rows["results"]] == [[row]], (node, user, rows)
        # bob: alice's ops by id is the same 404 as a policy that does not exist
        alices = d.call(
            "bob", "GET", f"/v1/policies/{d.ids['alice_ops']}", where=node, min_revision=rev
        )
        missing = d.call("bob", "GET", f"/v1/policies/{MISSING_ID}", where=node, min_revision=rev)
        assert alices.status == 404, (node, alices.body)
        assert _masked(alices, d.ids["alice_ops"], MISSING_ID) == (
            missing.status,
            json.dumps(missing.body),
        ), node
        assert d.alpha not in json.dumps(alices.body)
        # the operator sees both projects' ops by their internal names
        every = d.ok("admin", "GET", "/v1/policies", where=node, min_revision=rev).body
        owners = {p["name"]: p["owner_id"] for p in every["results"]}
        assert owners[f"ops@{d.alpha}"] == d.alpha and owners[f"ops@{d.beta}"] == d.beta, owners
        assert "ops" not in owners, owners


def test_a_shared_datasource_gives_each_project_its_rows_on_every_node(
    deployment: Deployment,
) -> None:
    d = deployment
    ds = f"inv{uuid.uuid4().hex[:6]}"
    body = {"name": ds, "driver": "push", "config": {"tables": TABLES}}

    def create() -> Answer | None:  # 503: the node has not heard the datasources node yet
        a = d.call("admin", "POST", "/v1/data-sources", body, where="pe1")
        return None if a.status == 503 else a

    created = wait_until(create, timeout=30, interval=0.5)
    assert created.status == 201, created.body
    shared = d.ok(
        "admin",
        "PATCH",
        f"/v1/data-sources/{ds}",
        {"shared_with": [d.alpha], "project_columns": {"vms": "project"}},
        where="pe1",
    ).body
    assert shared["shared_with"] == [d.alpha] and shared["project_columns"] == {"vms": "project"}
    rows = [["vm-a1", d.alpha], ["vm-b1", d.beta], ["vm-a2", d.alpha]]
    wait_until(
        lambda: (
            d.call("admin", "PUT", f"/v1/data-sources/{ds}/tables/vms/rows", rows).status == 200
        ),
        timeout=15,
        interval=0.3,
    )
    rule = d.ok(
        "alice", "POST", "/v1/policies/ops/rules", {"rule": f"mine(x) :- {ds}:vms(x, p)"}, 201
    )
    rev = int(rule.headers["X-Congress-Revision"])

    def mine(node: str) -> list[Any] | None:
        a = d.call(
            "alice", "GET", "/v1/policies/ops/tables/mine/rows", where=node, min_revision=rev
        )
        return sorted(r["data"] for r in a.body["results"]) if a.status == 200 else None

    for node in NODES:
        wait_until(lambda node=node: mine(node) == [["vm-a1"], ["vm-a2"]], timeout=15)
    # a later push reaches alice's view on both engines, filtered
    more = [["vm-a3", d.alpha], ["vm-b2", d.beta]]
    d.ok("admin", "PUT", f"/v1/data-sources/{ds}/tables/vms/rows", more)
    for node in NODES:
        wait_until(lambda node=node: mine(node) == [["vm-a3"]], timeout=15)
    # bob's project is not in shared_with: his rule is refused, on either node
    for node in NODES:
        refused = d.call(
            "bob",
            "POST",
            "/v1/policies/ops/rules",
            {"rule": f"theirs(x) :- {ds}:vms(x, p)"},
            where=node,
        )
        assert refused.status == 403, (node, refused.body)
        assert refused.body["error"]["error_data"]["code"] == "cross_project_reference"
        assert "vm-" not in json.dumps(refused.body) and d.alpha not in json.dumps(refused.body)
    rules = d.ok("bob", "GET", "/v1/policies/ops/rules", where="pe2", min_revision=d.revision)
    assert all("theirs" not in r["rule"] for r in rules.body["results"])
    d.ok("alice", "DELETE", f"/v1/policies/ops/rules/{rule.body['id']}")


def test_the_policies_quota_holds_across_both_nodes(deployment: Deployment) -> None:
    d = deployment
    limit = 3
    d.ok("admin", "PUT", f"/v1/quotas/{d.alpha}", {"policies": limit}, where="pe2")
    own = d.ok("admin", "GET", f"/v1/quotas/{d.alpha}", where="pe1").body
    assert own["quotas"]["policies"] == limit and own["usage"]["policies"] == 1, own
    attempts = 8
    answers: list[tuple[str, Answer]] = []
    lock = threading.Lock()
    start = threading.Barrier(attempts)

    def create(i: int) -> None:
        node = NODES[i % 2]
        start.wait()
        a = d.call("alice", "POST", "/v1/policies", {"name": f"q{i}"}, where=node)
        with lock:
            answers.append((node, a))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert len(answers) == attempts
        made = [a for _, a in answers if a.status == 201]
        refused = [a for _, a in answers if a.status != 201]
        assert len(made) == limit - 1, [(n, a.status, a.body) for n, a in answers]
        for a in refused:
            assert a.status == 400, a.body
            assert a.body["error"]["error_data"]["code"] == "quota_exceeded", a.body
            assert str(limit) in a.body["error"]["message"], a.body
        rev = max(int(a.headers["X-Congress-Revision"]) for a in made)
        for node in NODES:
            listed = d.ok("alice", "GET", "/v1/policies", where=node, min_revision=rev).body
            assert len(listed["results"]) == limit, (node, listed)
            every = d.ok("admin", "GET", "/v1/policies", where=node, min_revision=rev).body
            alphas = [p for p in every["results"] if p["owner_id"] == d.alpha]
            assert len(alphas) == limit, (node, alphas)
        used = d.ok("admin", "GET", f"/v1/quotas/{d.alpha}", where="pe1").body["usage"]
        assert used["policies"] == limit
    finally:
        for a in [a for _, a in answers if a.status == 201]:
            d.ok("alice", "DELETE", f"/v1/policies/{a.body['name']}")
        d.ok("admin", "DELETE", f"/v1/quotas/{d.alpha}")


@pytest.fixture
def in_the_catalog(deployment: Deployment, keystone: Keystone) -> Iterator[None]:
    """HAProxy's URL as the only ``policy`` service of Keystone's catalog for the test (nodes
    of modules gone may have left theirs), taken out after."""
    admin = {"X-Auth-Token": keystone.token("admin")}

    def api(method: str, path: str, body: Any = None) -> Any:
        a = http(method, keystone.v3 + path, body, admin)
        assert a.status < 300, (method, path, a.status, a.body)
        return a.body

    for service in api("GET", "/services?type=policy")["services"]:
        api("DELETE", f"/services/{service['id']}")
    service = api("POST", "/services", {"service": {"type": "policy", "name": "congress-ha"}})
    service_id = service["service"]["id"]
    try:
        for interface in ("public", "internal", "admin"):
            endpoint = {
                "service_id": service_id,
                "interface": interface,
                "url": deployment.proxy,
                "region_id": REGION,
            }
            api("POST", "/endpoints", {"endpoint": endpoint})
        yield
    finally:
        api("DELETE", f"/services/{service_id}")


def test_the_client_lists_a_projects_own_policies_through_haproxy(
    deployment: Deployment, keystone: Keystone, client_venv: Path, in_the_catalog: None
) -> None:
    d = deployment

    def openstack(user: str, *args: str) -> Any:
        argv = [str(OPENSTACK), *keystone.os_options(user), "--os-identity-api-version", "3"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PYTHONWARNINGS"] = "ignore"
        for _ in range(3):  # a 503 says to try again (the client does not): a node that a
            # loaded CI machine made miss its readiness check, or Keystone slow to validate
            done = subprocess.run(
                [*argv, *args, "-f", "json"], capture_output=True, text=True, timeout=120, env=env
            )
            if "(HTTP 503)" not in done.stderr:
                break
            time.sleep(2)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    listed = openstack("alice", "congress", "policy", "list")
    assert [(p["name"], p["owner_id"]) for p in listed] == [("ops", d.alpha)], listed
    listed = openstack("bob", "congress", "policy", "list")
    assert [(p["name"], p["owner_id"]) for p in listed] == [("ops", d.beta)], listed
    every = {p["name"] for p in openstack("admin", "congress", "policy", "list")}
    assert {f"ops@{d.alpha}", f"ops@{d.beta}"} <= every, every
