"""The Kubernetes library policies (``src/congress/library/kubernetes_*.yaml``) in the engine,
over the rows the kubernetes driver reads from the fake API server, as the host feeds them: a
snapshot, then the difference of each poll."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import fake_kubernetes as fk
import pytest
import yaml
from fakecloud import FakeCloud

import congress
from congress.datalog.ast import Row, Rule
from congress.datalog.parser import parse
from congress.datalog.runtime import Runtime
from congress.datasources.kubernetes import KubernetesDriver
from congress.services.library import validate

LIBRARY_DIR = pathlib.Path(congress.__file__).resolve().parent / "library"

# name -> (file, abbreviation, number of rules)
POLICIES = {
    "KubernetesApprovedRegistries": ("kubernetes_approved_registries.yaml", "k8reg", 4),
    "KubernetesResourceLimits": ("kubernetes_resource_limits.yaml", "k8lim", 4),
    "KubernetesPrivilegedContainers": ("kubernetes_privileged_containers.yaml", "k8prv", 4),
    "KubernetesNamespaceOwner": ("kubernetes_namespace_owner.yaml", "k8own", 6),
}


def _documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(LIBRARY_DIR.glob("kubernetes_*.yaml")):
        (doc,) = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        docs[doc["name"]] = {**doc, "_file": path.name}
    return docs


DOCS = _documents()


@pytest.fixture(scope="module")
def fake(cloud: FakeCloud) -> fk.FakeKubernetes:
    return fk.FakeKubernetes(cloud)


@pytest.fixture
def driver(cloud: FakeCloud, fake: fk.FakeKubernetes) -> Iterator[KubernetesDriver]:
    fake.reset()
    cloud.heal()
    config = {"api_server": cloud.url, "token": fk.TOKEN}
    built = KubernetesDriver("kubernetes", config, client=KubernetesDriver.build_client(config))
    yield built
    built.client.close()


class Host:
    """The policy engine fed by the driver: the datasource policy ``kubernetes`` with the
    driver's schema, a snapshot after the first poll and each poll's difference after that."""

    def __init__(self, driver: KubernetesDriver) -> None:
        self.driver = driver
        self.rt = Runtime()
        schema = {t: [c.name for c in cols] for t, cols in driver.datasource_schema().items()}
        self.rt.create_policy("kubernetes", "datasource", schema=schema)
        self.tables: dict[str, set[Row]] = {t: set() for t in schema}

    def poll(self) -> None:
        new = self.driver.poll()
        assert self.driver.last_error is None, self.driver.last_error
        changes = {
            ("kubernetes", t): (rows - self.tables[t], self.tables[t] - rows)
            for t, rows in new.items()
        }
        self.rt.apply(changes)
        self.tables = new

    def load(self, name: str) -> None:
        doc = DOCS[name]
        self.rt.create_policy(name, doc["kind"], abbreviation=doc["abbreviation"])
        for entry in doc["rules"]:
            self.rt.insert(name, entry["rule"])

    def rows(self, name: str, table: str) -> set[Row]:
        return self.rt.rows(name, table)


@pytest.fixture
def host(driver: KubernetesDriver) -> Host:
    return Host(driver)


# -- the files --------------------------------------------------------------------------------
def test_the_kubernetes_library_files() -> None:
    assert {name: doc["_file"] for name, doc in DOCS.items()} == {
        name: file for name, (file, _, _) in POLICIES.items()
    }


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_each_policy_is_a_valid_library_policy(name: str) -> None:
    doc = DOCS[name]
    spec = validate({k: v for k, v in doc.items() if k != "_file"})
    _, abbreviation, count = POLICIES[name]
    assert (spec.name, spec.kind, spec.abbreviation) == (name, "nonrecursive", abbreviation)
    assert len(spec.rules) == count
    assert len(spec.description) > 100
    for rule in spec.rules:
        assert rule.comment.strip() and "\n" not in rule.comment.strip()
        (parsed,) = parse(rule.rule)
        assert isinstance(parsed, Rule)
        for literal in parsed.body:
            # the only datasource is kubernetes (and builtins)
            assert literal.policy in (None, "kubernetes", "builtin"), rule.rule
        for head in parsed.head:
            assert head.policy is None and head.modal is None
            if head.table in ("error", "warning"):
                assert isinstance(head.args[-1].value, str), rule.rule  # type: ignore[union-attr]


def test_abbreviations_differ_from_the_rest_of_the_library() -> None:
    others = set()
    for path in LIBRARY_DIR.glob("*.yaml"):
        if not path.name.startswith("kubernetes_"):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                others.add(doc.get("abbreviation"))
    ours = [abbreviation for _, abbreviation, _ in POLICIES.values()]
    assert len(set(ours)) == len(ours) and not set(ours) & others


def test_all_policies_load_together_and_an_empty_cluster_violates_nothing(host: Host) -> None:
    for name in POLICIES:
        host.load(name)
        assert len(host.rt.rules(name)) == POLICIES[name][2]
        assert host.rows(name, "error") == set() and host.rows(name, "warning") == set()


# -- the policies -----------------------------------------------------------------------------
def test_approved_registries(host: Host, fake: fk.FakeKubernetes) -> None:
    name = "KubernetesApprovedRegistries"
    host.load(name)
    host.poll()
    reason = "image registry is not approved"
    assert host.rows(name, "error") == {
        ("shop", "web-7d4b9c6f5-q8w4n", "log-shipper", "fluent/fluent-bit:3.0.4", "docker.io",
         reason),
        ("sandbox", "debug", "shell", "busybox:1.36", "docker.io", reason),
        ("sandbox", "api-5c9f7b6d4-8wq2z", "api", "docker.io/library/nginx:1.27", "docker.io",
         reason),
        ("default", "tool-dev", "tool", "localhost:5000/tool:dev", "localhost:5000", reason),
    }  # fmt: skip

    # the sidecar moves to the approved registry; an init container pulls from quay.io
    def mirror(pod: Any) -> None:
        pod["spec"]["containers"][1]["image"] = "registry.example.com/mirror/fluent-bit:3.0.4"
        pod["spec"]["initContainers"][0]["image"] = "quay.io/shop/migrate:1.4.2"

    fake.change("pods", "web-7d4b9c6f5-q8w4n", "shop", mirror)
    host.poll()
    errors = host.rows(name, "error")
    assert {(r[1], r[2], r[4]) for r in errors} == {
        ("web-7d4b9c6f5-q8w4n", "migrate", "quay.io"),
        ("debug", "shell", "docker.io"),
        ("api-5c9f7b6d4-8wq2z", "api", "docker.io"),
        ("tool-dev", "tool", "localhost:5000"),
    }
    # approving docker.io leaves the others
    host.rt.insert(name, 'approved_registry("docker.io")')
    assert {r[4] for r in host.rows(name, "error")} == {"quay.io", "localhost:5000"}


def test_resource_limits(host: Host, fake: fk.FakeKubernetes) -> None:
    name = "KubernetesResourceLimits"
    host.load(name)
    host.poll()
    no_cpu, no_memory = "container has no CPU limit", "container has no memory limit"
    # kube-system (kube-proxy without limits, coredns without a CPU limit) is exempt
    assert host.rows(name, "warning") == {
        ("shop", "web-7d4b9c6f5-q8w4n", "log-shipper", no_cpu),
        ("shop", "web-7d4b9c6f5-q8w4n", "log-shipper", no_memory),
        ("sandbox", "debug", "shell", no_cpu),
        ("sandbox", "debug", "shell", no_memory),
    }

    def limit_memory(pod: Any) -> None:
        pod["spec"]["containers"][0]["resources"]["limits"] = {"memory": "64Mi"}

    def unlimited_init(pod: Any) -> None:
        del pod["spec"]["initContainers"][0]["resources"]["limits"]["cpu"]

    fake.change("pods", "debug", "sandbox", limit_memory)
    fake.change("pods", "web-7d4b9c6f5-x2x7k", "shop", unlimited_init)
    host.poll()
    assert host.rows(name, "warning") == {
        ("shop", "web-7d4b9c6f5-q8w4n", "log-shipper", no_cpu),
        ("shop", "web-7d4b9c6f5-q8w4n", "log-shipper", no_memory),
        ("sandbox", "debug", "shell", no_cpu),
        ("shop", "web-7d4b9c6f5-x2x7k", "migrate", no_cpu),
    }
    host.rt.delete(name, 'exempt_namespace("kube-system")')
    assert {r[:3] for r in host.rows(name, "warning") if r[0] == "kube-system"} == {
        ("kube-system", "kube-proxy-8fj2d", "kube-proxy"),
        ("kube-system", "coredns-7db6d8ff4d-5xk2m", "coredns"),
    }


def test_privileged_containers(host: Host, fake: fk.FakeKubernetes) -> None:
    name = "KubernetesPrivilegedContainers"
    host.load(name)
    host.poll()
    # kube-proxy (privileged, hostNetwork) is in the exempt kube-system
    assert host.rows(name, "error") == {("sandbox", "debug", "shell", "container runs privileged")}
    assert host.rows(name, "warning") == {
        ("sandbox", "debug", "pod uses the node's network (hostNetwork)")
    }

    def escalate(pod: Any) -> None:
        pod["spec"]["containers"][0]["securityContext"]["privileged"] = True

    fake.change("pods", "tool-dev", "default", escalate)
    fake.objects["pods"].pop(("sandbox", "debug"))
    host.poll()
    assert host.rows(name, "error") == {
        ("default", "tool-dev", "tool", "container runs privileged")
    }
    assert host.rows(name, "warning") == set()


def test_namespace_owner(host: Host, fake: fk.FakeKubernetes) -> None:
    name = "KubernetesNamespaceOwner"
    host.load(name)
    host.poll()
    reason = "pod of a deployment in a namespace without a required label"
    # sandbox has no owner label and runs the api deployment; its bare debug pod is no
    # deployment's; default has no deployment; shop has an owner; kube-system is exempt
    assert host.rows(name, "warning") == {
        ("sandbox", "api-5c9f7b6d4-8wq2z", "api", "owner", reason)
    }
    assert host.rows(name, "pod_of_deployment") == {
        (fk.uid("pods", pod, ns), ns, pod, deployment)
        for ns, pod, deployment in (
            ("shop", "web-7d4b9c6f5-x2x7k", "web"),
            ("shop", "web-7d4b9c6f5-q8w4n", "web"),
            ("sandbox", "api-5c9f7b6d4-8wq2z", "api"),
            ("kube-system", "coredns-7db6d8ff4d-5xk2m", "coredns"),
        )
    }

    # a second pod of api; a pod of a ReplicaSet that no deployment owns ("api-legacy")
    second = fk.pod(
        "sandbox",
        "api-5c9f7b6d4-t6v9m",
        [fk.container("api", "nginx:1.27")],
        labels={"app": "api", "pod-template-hash": "5c9f7b6d4"},
        owner=("ReplicaSet", "api-5c9f7b6d4", "apps/v1"),
    )
    legacy = fk.pod(
        "sandbox",
        "api-legacy-2pq7r",
        [fk.container("api", "nginx:1.25")],
        labels={"app": "api", "pod-template-hash": "2pq7r"},
        owner=("ReplicaSet", "api-legacy", "apps/v1"),
    )
    fake.put("pods", second)
    fake.put("pods", legacy)
    host.poll()
    assert {r[1] for r in host.rows(name, "warning")} == {
        "api-5c9f7b6d4-8wq2z",
        "api-5c9f7b6d4-t6v9m",
    }

    # the namespace gets its owner
    fake.change(
        "namespaces", "sandbox", "", lambda ns: ns["metadata"]["labels"].update(owner="team-api")
    )
    host.poll()
    assert host.rows(name, "warning") == set()
    # a second required label flags both namespaces with deployments but no such label
    host.rt.insert(name, 'required_namespace_label("cost-center")')
    assert {(r[0], r[2], r[3]) for r in host.rows(name, "warning")} == {
        ("sandbox", "api", "cost-center"),
        ("shop", "web", "cost-center"),
    }
