"""The kubernetes driver against a fake Kubernetes API server over real HTTP (the official
Python client): tables, paging, namespaces, lazy tables, actions, auth, TLS and failures."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import fake_kubernetes as fk
import pytest
from fakecloud import FakeCloud

from congress.datalog.ast import Row
from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    InvalidConfig,
    InvalidLazyTables,
    LazyTableNotActive,
    MissingRequiredOptions,
    PollFailed,
    ServiceError,
)
from congress.datasources.kubernetes import KubernetesDriver, image_registry
from congress.datasources.loader import DriverLoader

STRATEGIC = "application/strategic-merge-patch+json"
# the root tables, in the order a poll reads them (and names them when they fail alike)
ROOTS = "namespaces, nodes, pods, deployments, services"


@pytest.fixture(scope="module")
def fake(cloud: FakeCloud) -> fk.FakeKubernetes:
    return fk.FakeKubernetes(cloud)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud, fake: fk.FakeKubernetes) -> Iterator[None]:
    cloud.heal()
    fake.reset()
    cloud.clear_requests()
    yield
    cloud.heal()


Make = Callable[..., KubernetesDriver]


@pytest.fixture
def make(cloud: FakeCloud) -> Iterator[Make]:
    """``make(timeout=5.0, **config)``: a driver built as the host builds it (by default on
    ``api_server`` and the fake's token); its client is closed after the test."""
    built: list[KubernetesDriver] = []

    def build(timeout: float = 5.0, **config: Any) -> KubernetesDriver:
        if "kubeconfig" not in config:
            config.setdefault("api_server", cloud.url)
            config.setdefault("token", fk.TOKEN)
        config = {k: v for k, v in config.items() if v is not None}
        client = KubernetesDriver.build_client(config, timeout=timeout)
        driver = KubernetesDriver("kubernetes", config, client=client)
        built.append(driver)
        return driver

    yield build
    for driver in built:
        driver.client.close()


def pod_uid(namespace: str, name: str) -> str:
    return fk.uid("pods", name, namespace)


def svc_uid(namespace: str, name: str) -> str:
    return fk.uid("services", name, namespace)


def dep_uid(namespace: str, name: str) -> str:
    return fk.uid("deployments", name, namespace)


WEB1 = pod_uid("shop", "web-7d4b9c6f5-x2x7k")
WEB2 = pod_uid("shop", "web-7d4b9c6f5-q8w4n")
DEBUG = pod_uid("sandbox", "debug")
API = pod_uid("sandbox", "api-5c9f7b6d4-8wq2z")
PROXY = pod_uid("kube-system", "kube-proxy-8fj2d")
COREDNS = pod_uid("kube-system", "coredns-7db6d8ff4d-5xk2m")
TOOL = pod_uid("default", "tool-dev")
T = fk.CREATED
N = "None"

# fmt: off
EXPECTED: dict[str, set[Row]] = {
    "namespaces": {
        (ns, fk.uid("namespaces", ns), "Active", T)
        for ns in ("default", "kube-system", "sandbox", "shop")
    },
    "namespace_labels": {
        *((ns, "kubernetes.io/metadata.name", ns) for ns in ("default", "kube-system", "sandbox")),
        ("shop", "kubernetes.io/metadata.name", "shop"),
        ("shop", "owner", "team-shop"),
    },
    "nodes": {
        (
            "node-1",
            fk.uid("nodes", "node-1"),
            "False",
            "v1.30.2",
            "Ubuntu 22.04.4 LTS",
            "containerd://1.7.13",
            "4",
            "16318412Ki",
            fk.NODE_CREATED,
        ),
        (
            "node-2",
            fk.uid("nodes", "node-2"),
            "True",
            "v1.30.2",
            "Ubuntu 22.04.4 LTS",
            "containerd://1.7.13",
            "8",
            "32775900Ki",
            fk.NODE_CREATED,
        ),
    },
    "node_conditions": {
        *(
            (node, kind, "False", reason, message)
            for node in ("node-1", "node-2")
            for kind, reason, message in (
                ("MemoryPressure", "KubeletHasSufficientMemory",
                 "kubelet has sufficient memory available"),
                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            )
        ),
        ("node-1", "Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        (
            "node-2",
            "Ready",
            "False",
            "KubeletNotReady",
            "container runtime network not ready: NetworkReady=false",
        ),
    },
    "node_labels": {
        *(
            (node, key, value)
            for node in ("node-1", "node-2")
            for key, value in (
                ("kubernetes.io/arch", "amd64"),
                ("kubernetes.io/hostname", node),
                ("kubernetes.io/os", "linux"),
            )
        ),
        ("node-1", "node-role.kubernetes.io/control-plane", ""),
    },
    "node_addresses": {
        ("node-1", "InternalIP", "10.0.0.11"),
        ("node-1", "Hostname", "node-1"),
        ("node-2", "InternalIP", "10.0.0.12"),
        ("node-2", "Hostname", "node-2"),
    },
    "pods": {
        (WEB1, "shop", "web-7d4b9c6f5-x2x7k", "node-1", "Running", "web", "False", "ReplicaSet",
         "web-7d4b9c6f5", T),
        (WEB2, "shop", "web-7d4b9c6f5-q8w4n", "node-1", "Running", "web", "False", "ReplicaSet",
         "web-7d4b9c6f5", T),
        (DEBUG, "sandbox", "debug", "node-1", "Running", "default", "True", N, N, T),
        (API, "sandbox", "api-5c9f7b6d4-8wq2z", "node-1", "Running", "default", "False",
         "ReplicaSet", "api-5c9f7b6d4", T),
        (PROXY, "kube-system", "kube-proxy-8fj2d", "node-2", "Running", "kube-proxy", "True",
         "DaemonSet", "kube-proxy", T),
        (COREDNS, "kube-system", "coredns-7db6d8ff4d-5xk2m", "node-1", "Running", "coredns",
         "False", "ReplicaSet", "coredns-7db6d8ff4d", T),
        (TOOL, "default", "tool-dev", N, "Pending", "default", "False", N, N, T),
    },
    "pod_labels": {
        (WEB1, "app", "web"),
        (WEB1, "pod-template-hash", "7d4b9c6f5"),
        (WEB2, "app", "web"),
        (WEB2, "pod-template-hash", "7d4b9c6f5"),
        (DEBUG, "run", "debug"),
        (API, "app", "api"),
        (API, "pod-template-hash", "5c9f7b6d4"),
        (PROXY, "k8s-app", "kube-proxy"),
        (PROXY, "controller-revision-hash", "6f7c8d9b5"),
        (COREDNS, "k8s-app", "kube-dns"),
        (COREDNS, "pod-template-hash", "7db6d8ff4d"),
    },
    "containers": {
        (WEB1, "web", fk.WEB, "registry.example.com", "100m", "128Mi", "500m", "256Mi", "False",
         "False"),
        (WEB1, "migrate", fk.MIGRATE, "registry.example.com", "200m", "64Mi", "200m", "64Mi",
         "False", "True"),
        (WEB2, "web", fk.WEB, "registry.example.com", "100m", "128Mi", "500m", "256Mi", "False",
         "False"),
        (WEB2, "log-shipper", "fluent/fluent-bit:3.0.4", "docker.io", "50m", "64Mi", N, N,
         "False", "False"),
        (WEB2, "migrate", fk.MIGRATE, "registry.example.com", "200m", "64Mi", "200m", "64Mi",
         "False", "True"),
        (DEBUG, "shell", "busybox:1.36", "docker.io", N, N, N, N, "True", "False"),
        (API, "api", "docker.io/library/nginx:1.27", "docker.io", N, N, "250m", "128Mi", "False",
         "False"),
        (PROXY, "kube-proxy", "registry.k8s.io/kube-proxy:v1.30.2", "registry.k8s.io", N, N, N,
         N, "True", "False"),
        (COREDNS, "coredns", "registry.k8s.io/coredns/coredns:v1.11.1", "registry.k8s.io",
         "100m", "70Mi", N, "170Mi", "False", "False"),
        (TOOL, "tool", "localhost:5000/tool:dev", "localhost:5000", N, N, "1", "1Gi", "False",
         "False"),
    },
    "deployments": {
        (dep_uid("shop", "web"), "shop", "web", 2, 2, 2, 2, T),
        (dep_uid("kube-system", "coredns"), "kube-system", "coredns", 2, 1, 1, 2, T),
        (dep_uid("sandbox", "api"), "sandbox", "api", 1, 0, 0, 1, T),
    },
    "deployment_labels": {
        (dep_uid("shop", "web"), "app", "web"),
        (dep_uid("kube-system", "coredns"), "k8s-app", "kube-dns"),
    },
    "services": {
        (svc_uid("default", "kubernetes"), "default", "kubernetes", "ClusterIP", "10.96.0.1", N,
         T),
        (svc_uid("kube-system", "kube-dns"), "kube-system", "kube-dns", "ClusterIP", "10.96.0.10",
         N, T),
        (svc_uid("shop", "web"), "shop", "web", "NodePort", "10.96.120.15", N, T),
        (svc_uid("shop", "web-headless"), "shop", "web-headless", "ClusterIP", "None", N, T),
        (svc_uid("sandbox", "db"), "sandbox", "db", "ExternalName", N, "db.example.com", T),
    },
    "service_ports": {
        (svc_uid("default", "kubernetes"), "https", "TCP", 443, 6443, N),
        (svc_uid("kube-system", "kube-dns"), "dns", "UDP", 53, 53, N),
        (svc_uid("kube-system", "kube-dns"), "dns-tcp", "TCP", 53, 53, N),
        (svc_uid("kube-system", "kube-dns"), "metrics", "TCP", 9153, 9153, N),
        (svc_uid("shop", "web"), "http", "TCP", 80, "http", 30080),
        (svc_uid("shop", "web-headless"), N, "TCP", 8080, 8080, N),
    },
    "service_selectors": {
        (svc_uid("kube-system", "kube-dns"), "k8s-app", "kube-dns"),
        (svc_uid("shop", "web"), "app", "web"),
        (svc_uid("shop", "web-headless"), "app", "web"),
    },
}
# fmt: on


EMPTY: dict[str, set[Row]] = {table: set() for table in EXPECTED}


# -- declaration ------------------------------------------------------------------------------
def test_schema_tables_and_columns_in_order() -> None:
    assert {t: [c.name for c in cols] for t, cols in KubernetesDriver.schema().items()} == {
        "namespaces": ["name", "uid", "phase", "created_at"],
        "namespace_labels": ["namespace", "key", "value"],
        "nodes": [
            "name",
            "uid",
            "unschedulable",
            "kubelet_version",
            "os_image",
            "container_runtime",
            "cpu_capacity",
            "memory_capacity",
            "created_at",
        ],
        "node_conditions": ["node", "type", "status", "reason", "message"],
        "node_labels": ["node", "key", "value"],
        "node_addresses": ["node", "type", "address"],
        "pods": [
            "uid",
            "namespace",
            "name",
            "node_name",
            "phase",
            "service_account",
            "host_network",
            "owner_kind",
            "owner_name",
            "created_at",
        ],
        "pod_labels": ["pod_uid", "key", "value"],
        "containers": [
            "pod_uid",
            "name",
            "image",
            "image_registry",
            "cpu_request",
            "memory_request",
            "cpu_limit",
            "memory_limit",
            "privileged",
            "init",
        ],
        "deployments": [
            "uid",
            "namespace",
            "name",
            "replicas",
            "ready_replicas",
            "available_replicas",
            "updated_replicas",
            "created_at",
        ],
        "deployment_labels": ["deployment_uid", "key", "value"],
        "services": [
            "uid",
            "namespace",
            "name",
            "type",
            "cluster_ip",
            "external_name",
            "created_at",
        ],
        "service_ports": ["service_uid", "name", "protocol", "port", "target_port", "node_port"],
        "service_selectors": ["service_uid", "key", "value"],
    }
    # every column is described but the key and value of label and selector tables (a VDict's)
    undescribed = {
        (table, c.name)
        for table, cols in KubernetesDriver.schema().items()
        for c in cols
        if not c.description
    }
    assert {table for table, _ in undescribed} == {
        "namespace_labels",
        "node_labels",
        "pod_labels",
        "deployment_labels",
        "service_selectors",
    }
    assert {name for _, name in undescribed} == {"key", "value"}


def test_info_and_entry_point() -> None:
    assert DriverLoader().load("kubernetes") is KubernetesDriver
    info = KubernetesDriver.info()
    assert info["id"] == "kubernetes"
    assert info["secret"] == ["token"]
    options = ["kubeconfig", "context", "api_server", "token", "ca_cert", "insecure"]
    options += ["namespace", "poll_time", "lazy_tables"]
    assert info["config"] == dict.fromkeys(options, "(optional)")


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("nginx", "docker.io"),
        ("nginx:1.27", "docker.io"),
        ("library/nginx@sha256:" + "a" * 64, "docker.io"),
        ("bitnami/redis:7.2", "docker.io"),
        ("docker.io/library/nginx:1.27", "docker.io"),
        ("index.docker.io/library/nginx", "docker.io"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io"),
        ("localhost/tool", "localhost"),
        ("localhost:5000/tool:dev", "localhost:5000"),
        ("10.0.0.5:5000/team/app", "10.0.0.5:5000"),
        ("Registry/app", "Registry"),
        ("ghcr.io/org/app/sub:tag", "ghcr.io"),
        ("", None),
        (None, None),
    ],
)
def test_image_registry_as_docker_resolves_it(image: Any, registry: str | None) -> None:
    assert image_registry(image) == registry


# -- options ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "option"),
    [
        ({"kubeconfig": "/etc/kube/config", "api_server": "https://k8s:6443"}, "api_server"),
        ({"api_server": "https://k8s:6443", "context": "prod"}, "context"),
        ({"kubeconfig": "/etc/kube/config", "token": "t"}, "token"),
        ({"kubeconfig": "/etc/kube/config", "ca_cert": "/etc/ca.pem"}, "ca_cert"),
        ({"kubeconfig": "/etc/kube/config", "insecure": "true"}, "insecure"),
        ({"api_server": "k8s.example.com:6443"}, "api_server"),
        ({"api_server": "ftp://k8s.example.com"}, "api_server"),
        ({"api_server": "https://k8s:6443", "insecure": "maybe"}, "insecure"),
        ({"api_server": "https://k8s:6443", "insecure": "yes", "ca_cert": "/ca.pem"}, "insecure"),
        ({"api_server": "http://k8s:8080", "ca_cert": "/ca.pem"}, "ca_cert"),
        ({"api_server": "http://k8s:8080", "insecure": True}, "insecure"),
        ({"api_server": "https://k8s:6443", "namespace": "Shop_1"}, "namespace"),
        ({"api_server": "https://k8s:6443", "namespace": "x" * 64}, "namespace"),
        ({"api_server": "https://k8s:6443", "token": 42}, "token"),
        ({"api_server": "https://k8s:6443", "poll_time": "soon"}, "poll_time"),
    ],
)
def test_invalid_options_name_the_option(config: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidConfig, match=f"option {option}"):
        KubernetesDriver.validate_config(config)
    with pytest.raises(InvalidConfig, match=f"option {option}"):
        KubernetesDriver("k8s", config)


def test_kubeconfig_or_api_server_is_required() -> None:
    with pytest.raises(MissingRequiredOptions, match="kubeconfig or api_server"):
        KubernetesDriver.validate_config({"namespace": "shop"})
    with pytest.raises(InvalidLazyTables, match="containers"):
        KubernetesDriver.validate_config({"api_server": "http://k", "lazy_tables": "containers"})
    # valid combinations
    for config in (
        {"kubeconfig": "~/.kube/config", "context": "prod", "namespace": "shop"},
        {"api_server": "http://127.0.0.1:8001"},  # kubectl proxy: no token
        {"api_server": "https://k8s:6443", "token": "t", "insecure": "false", "ca_cert": "/c"},
        {"api_server": "https://k8s:6443/", "insecure": "True", "lazy_tables": "nodes,pods"},
    ):
        KubernetesDriver.validate_config(config)


def test_build_client_checks_files_but_does_no_network_io(
    cloud: FakeCloud, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(InvalidConfig, match=r"option kubeconfig: .* is not a file"):
        KubernetesDriver.build_client({"kubeconfig": str(tmp_path / "missing")})
    (tmp_path / "broken").write_text("clusters: [unclosed\n")
    with pytest.raises(InvalidConfig, match="option kubeconfig"):
        KubernetesDriver.build_client({"kubeconfig": str(tmp_path / "broken")})
    with pytest.raises(InvalidConfig, match=r"option ca_cert: .* is not a file"):
        KubernetesDriver.build_client(
            {"api_server": "https://127.0.0.1:1", "ca_cert": str(tmp_path / "none.pem")}
        )
    kubeconfig = write_kubeconfig(tmp_path, cloud.url)
    with pytest.raises(InvalidConfig, match="option context: 'prod' is not a context"):
        KubernetesDriver.build_client({"kubeconfig": str(kubeconfig), "context": "prod"})
    for config in (
        {"api_server": cloud.url, "token": fk.TOKEN},
        {"kubeconfig": str(kubeconfig), "context": "fake-reader"},
        {"api_server": "https://unreachable.invalid:6443", "token": "t"},
    ):
        client = KubernetesDriver.build_client(config, timeout=2.5)
        assert client.request_timeout == 2.5
        client.close()
    assert cloud.requests == []


# -- reading ----------------------------------------------------------------------------------
def test_every_table_has_exactly_the_clusters_rows(make: Make, cloud: FakeCloud) -> None:
    driver = make()
    tables = driver.poll()
    assert driver.last_error is None and driver.initialized
    assert tables == EXPECTED
    paths = sorted(r.path for r in cloud.requests_to("/", "GET"))
    assert paths == [
        "/api/v1/namespaces",
        "/api/v1/nodes",
        "/api/v1/pods",
        "/api/v1/services",
        "/apis/apps/v1/deployments",
    ]
    for request in cloud.requests:
        assert request.headers["authorization"] == f"Bearer {fk.TOKEN}"
        assert request.query == {"limit": ["500"]}


def test_lists_are_read_page_by_page(make: Make, cloud: FakeCloud) -> None:
    driver = make()
    driver.page_size = 2
    assert driver.poll() == EXPECTED
    pods = cloud.requests_to("/api/v1/pods", "GET")
    assert len(pods) == 4  # seven pods, two at a time
    assert all(r.query["limit"] == ["2"] for r in pods)
    assert "continue" not in pods[0].query
    assert all(r.query["continue"] for r in pods[1:])
    assert len({r.query["continue"][0] for r in pods[1:]}) == 3


def test_a_server_that_repeats_its_continue_token_is_an_error(make: Make, cloud: FakeCloud) -> None:
    token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOjB9"

    @cloud.route("GET", "/api/v1/services")
    def looping(request: Any) -> Any:
        meta = {"resourceVersion": "1", "continue": token}
        return {"kind": "ServiceList", "apiVersion": "v1", "metadata": meta, "items": []}

    try:
        driver = make()
        driver.poll()
        assert "GET /api/v1/services: the server repeats its continue token" in str(
            driver.last_error
        )
        assert len(cloud.requests_to("/api/v1/services")) == 2
    finally:
        cloud.routes.remove(next(r for r in cloud.routes if r.handler is looping))


def test_a_namespace_limits_pods_deployments_services_and_namespaces(
    make: Make, cloud: FakeCloud
) -> None:
    driver = make(namespace="shop")
    tables = driver.poll()
    assert driver.last_error is None
    paths = sorted(r.path for r in cloud.requests)
    assert paths == [
        "/api/v1/namespaces/shop",
        "/api/v1/namespaces/shop/pods",
        "/api/v1/namespaces/shop/services",
        "/api/v1/nodes",
        "/apis/apps/v1/namespaces/shop/deployments",
    ]
    shop_pods = {WEB1, WEB2}
    shop_services = {svc_uid("shop", "web"), svc_uid("shop", "web-headless")}
    expected = {
        "namespaces": {r for r in EXPECTED["namespaces"] if r[0] == "shop"},
        "namespace_labels": {r for r in EXPECTED["namespace_labels"] if r[0] == "shop"},
        "pods": {r for r in EXPECTED["pods"] if r[0] in shop_pods},
        "pod_labels": {r for r in EXPECTED["pod_labels"] if r[0] in shop_pods},
        "containers": {r for r in EXPECTED["containers"] if r[0] in shop_pods},
        "deployments": {r for r in EXPECTED["deployments"] if r[1] == "shop"},
        "deployment_labels": {(dep_uid("shop", "web"), "app", "web")},
        "services": {r for r in EXPECTED["services"] if r[0] in shop_services},
        "service_ports": {r for r in EXPECTED["service_ports"] if r[0] in shop_services},
        "service_selectors": {r for r in EXPECTED["service_selectors"] if r[0] in shop_services},
    }
    assert tables == {**EXPECTED, **expected}  # nodes are cluster-wide


def test_a_namespace_that_does_not_exist_is_a_clear_error(make: Make) -> None:
    driver = make(namespace="gone")
    tables = driver.poll()
    assert 'GET /api/v1/namespaces/gone: HTTP 404 Not Found: namespaces "gone" not found' in str(
        driver.last_error
    )
    assert tables["pods"] == set() and tables["nodes"] == EXPECTED["nodes"]


def test_a_second_poll_changes_nothing_and_a_change_touches_only_its_rows(
    make: Make, fake: fk.FakeKubernetes
) -> None:
    driver = make()
    first = driver.poll()
    assert driver.poll() == first
    assert driver.number_of_updates == 2

    def relabel(pod: Any) -> None:
        pod["metadata"]["labels"]["tier"] = "frontend"
        pod["status"]["phase"] = "Failed"

    fake.change("pods", "web-7d4b9c6f5-x2x7k", "shop", relabel)
    third = driver.poll()
    changed = {t for t in first if first[t] != third[t]}
    assert changed == {"pods", "pod_labels"}
    assert first["pods"] - third["pods"] == {r for r in first["pods"] if r[0] == WEB1}
    assert {r[4] for r in third["pods"] - first["pods"]} == {"Failed"}
    assert third["pod_labels"] - first["pod_labels"] == {(WEB1, "tier", "frontend")}
    assert first["pod_labels"] <= third["pod_labels"]


def test_lazy_tables_are_read_only_once_activated(make: Make, cloud: FakeCloud) -> None:
    driver = make(lazy_tables="pods,services")
    tables = driver.poll()
    assert "pods" not in tables and "containers" not in tables and "service_ports" not in tables
    assert tables["nodes"] == EXPECTED["nodes"]
    assert cloud.requests_to("/api/v1/pods") == [] and cloud.requests_to("/api/v1/services") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("containers")
    assert driver.activate("containers") is True
    assert driver.activate("pods") is False
    driver.poll()
    assert len(cloud.requests_to("/api/v1/pods", "GET")) == 1
    assert driver.rows("containers") == EXPECTED["containers"]
    assert cloud.requests_to("/api/v1/services") == []


# -- auth -------------------------------------------------------------------------------------
def write_kubeconfig(folder: pathlib.Path, server: str, ca: str | None = None) -> pathlib.Path:
    """A kubeconfig with the fake's cluster, a reader (the right token), a stranger (a wrong
    one), and the stranger's context as the current one."""
    cluster = f"    server: {server}\n"
    if ca is not None:
        cluster += f"    certificate-authority: {ca}\n"
    path = folder / "kubeconfig"
    path.write_text(
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: fake\n"
        "  cluster:\n" + cluster + "users:\n"
        "- name: reader\n"
        "  user:\n"
        f"    token: {fk.TOKEN}\n"
        "- name: stranger\n"
        "  user:\n"
        "    token: not-the-token\n"
        "contexts:\n"
        "- name: fake-reader\n"
        "  context:\n"
        "    cluster: fake\n"
        "    user: reader\n"
        "    namespace: shop\n"
        "- name: fake-stranger\n"
        "  context:\n"
        "    cluster: fake\n"
        "    user: stranger\n"
        "current-context: fake-stranger\n",
        encoding="utf-8",
    )
    return path


def test_kubeconfig_with_a_bearer_token(
    make: Make, cloud: FakeCloud, tmp_path: pathlib.Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path, cloud.url)
    before = kubeconfig.read_text()
    driver = make(kubeconfig=str(kubeconfig), context="fake-reader")
    assert driver.poll() == EXPECTED  # the context's namespace does not limit the driver
    assert {r.headers["authorization"] for r in cloud.requests} == {f"Bearer {fk.TOKEN}"}
    assert kubeconfig.read_text() == before

    # the current context's user has a token that the server refuses
    cloud.clear_requests()
    stranger = make(kubeconfig=str(kubeconfig))
    assert stranger.poll() == EMPTY
    assert not stranger.initialized
    # every table is refused alike: one clause, without the request of each table
    assert (
        str(stranger.last_error) == f"polling {ROOTS} failed: HTTP 401 Unauthorized: Unauthorized"
    )
    assert {r.headers["authorization"] for r in cloud.requests} == {"Bearer not-the-token"}


def test_api_server_requests_need_the_token(
    make: Make, cloud: FakeCloud, fake: fk.FakeKubernetes
) -> None:
    for token in ("wrong", None):
        driver = make(token=token)
        driver.poll()
        assert isinstance(driver.last_error, PollFailed)
        assert str(driver.last_error) == (
            f"polling {ROOTS} failed: HTTP 401 Unauthorized: Unauthorized"
        )
    assert "authorization" not in cloud.requests[-1].headers
    # an API server that needs no token (kubectl proxy)
    fake.token = None
    driver = make(token=None)
    assert driver.poll() == EXPECTED


# -- TLS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, pathlib.Path]]:
    """A fake API server on https with a certificate for 127.0.0.1 signed by a test CA:
    ``(url, ca.pem)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kubernetes-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem, key_pem = folder / "server.pem", folder / "server-key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_pem, key_pem)
    secure = FakeCloud()
    secure.httpd.socket = context.wrap_socket(secure.httpd.socket, server_side=True)
    fk.FakeKubernetes(secure)
    with secure:
        yield secure.url.replace("http://", "https://"), ca_pem


def test_https_with_the_ca_certificate(
    make: Make, tls: tuple[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    url, ca = tls
    driver = make(api_server=url, ca_cert=str(ca))
    assert driver.poll() == EXPECTED
    kubeconfig = write_kubeconfig(tmp_path, url, ca=str(ca))
    driver = make(kubeconfig=str(kubeconfig), context="fake-reader")
    assert driver.poll() == EXPECTED


def test_https_without_the_ca_fails_verification(make: Make, tls: tuple[str, pathlib.Path]) -> None:
    url, _ = tls
    driver = make(api_server=url)
    driver.poll()
    assert str(driver.last_error).startswith(f"polling {ROOTS} failed: TLS error:")
    assert "CERTIFICATE_VERIFY_FAILED" in str(driver.last_error)


def test_https_insecure_skips_verification_without_warnings(
    make: Make, tls: tuple[str, pathlib.Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = tls
    # pytest turns warnings into errors: urllib3's InsecureRequestWarning would fail the poll
    driver = make(api_server=url, insecure="true")
    assert driver.poll() == EXPECTED
    assert driver.last_error is None
    assert f"TLS certificate verification is disabled for {url}" in caplog.text


# -- actions ----------------------------------------------------------------------------------
def test_the_actions_route_lists_exactly_the_four_actions(make: Make) -> None:
    assert make().actions() == {
        "results": [
            {
                "name": "deployments.scale",
                "args": [
                    {"name": "namespace", "description": "namespace of the deployment"},
                    {"name": "name", "description": "name of the deployment"},
                    {
                        "name": "replicas",
                        "description": "desired number of pods (a non-negative integer)",
                    },
                ],
                "description": "Set the number of replicas of a deployment.",
            },
            {
                "name": "nodes.cordon",
                "args": [{"name": "name", "description": "name of the node"}],
                "description": "Mark a node unschedulable: no new pods are placed on it.",
            },
            {
                "name": "nodes.uncordon",
                "args": [{"name": "name", "description": "name of the node"}],
                "description": "Mark a node schedulable again.",
            },
            {
                "name": "pods.delete",
                "args": [
                    {"name": "namespace", "description": "namespace of the pod"},
                    {"name": "name", "description": "name of the pod"},
                ],
                "description": "Delete a pod (its controller, if any, creates a new one).",
            },
        ]
    }


def test_pods_delete(make: Make, cloud: FakeCloud) -> None:
    driver = make()
    driver.poll()
    answer = driver.execute("pods.delete", ["sandbox", "debug"])
    (request,) = cloud.requests_to("/api/v1/namespaces/sandbox/pods/debug", "DELETE")
    assert request.body is None
    assert request.headers["authorization"] == f"Bearer {fk.TOKEN}"
    assert answer["kind"] == "Pod" and answer["metadata"]["deletionTimestamp"]
    assert driver.refresh_requested
    driver.poll()
    assert DEBUG not in {r[0] for r in driver.rows("pods")}
    assert DEBUG not in {r[0] for r in driver.rows("containers")}


def test_deployments_scale_takes_replicas_as_text_or_int(
    make: Make, cloud: FakeCloud, fake: fk.FakeKubernetes
) -> None:
    driver = make()
    path = "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    answer = driver.execute("deployments.scale", ["shop", "web", "3"])
    assert answer["kind"] == "Scale" and answer["spec"] == {"replicas": 3}
    driver.execute("deployments.scale", [], {"namespace": "shop", "name": "web", "replicas": 0})
    first, second = cloud.requests_to(path, "PATCH")
    assert first.body == {"spec": {"replicas": 3}}
    assert second.body == {"spec": {"replicas": 0}}
    assert first.headers["content-type"] == STRATEGIC
    assert fake.get("deployments", "web", "shop")["spec"]["replicas"] == 0
    driver.poll()
    assert (dep_uid("shop", "web"), "shop", "web", 0, 2, 2, 2, T) in driver.rows("deployments")


@pytest.mark.parametrize("replicas", ["three", "2.5", "-1", "", True, 1.0, None])
def test_deployments_scale_refuses_a_replica_count_that_is_not_an_integer(
    make: Make, cloud: FakeCloud, replicas: Any
) -> None:
    driver = make()
    with pytest.raises(
        InvalidActionArguments, match="the arguments do not fit: replicas"
    ) as caught:
        driver.execute("deployments.scale", ["shop", "web", replicas])
    assert caught.value.http_status == 400
    assert isinstance(caught.value.__cause__, InvalidActionArguments)
    assert str(caught.value.__cause__) == (
        f"replicas must be a non-negative integer, not {replicas!r}"
    )
    assert cloud.requests == []


def test_nodes_cordon_and_uncordon(make: Make, cloud: FakeCloud) -> None:
    driver = make()
    driver.execute("nodes.cordon", ["node-1"])
    driver.execute("nodes.uncordon", ["node-2"])
    cordon, uncordon = cloud.requests_to("/api/v1/nodes/", "PATCH")
    assert (cordon.path, cordon.body) == ("/api/v1/nodes/node-1", {"spec": {"unschedulable": True}})
    assert (uncordon.path, uncordon.body) == (
        "/api/v1/nodes/node-2",
        {"spec": {"unschedulable": False}},
    )
    assert {cordon.headers["content-type"], uncordon.headers["content-type"]} == {STRATEGIC}
    driver.poll()
    assert {(r[0], r[2]) for r in driver.rows("nodes")} == {
        ("node-1", "True"),
        ("node-2", "False"),
    }


def test_a_failing_action_says_what_the_server_answered(make: Make, cloud: FakeCloud) -> None:
    driver = make()
    with pytest.raises(ActionFailed) as caught:
        driver.execute("pods.delete", ["shop", "nope"])
    cause = caught.value.__cause__
    assert isinstance(cause, ServiceError)
    assert str(cause) == (
        'DELETE /api/v1/namespaces/shop/pods/nope: HTTP 404 Not Found: pods "nope" not found'
    )
    assert not driver.refresh_requested


def test_a_namespaced_driver_acts_only_in_its_namespace(make: Make, cloud: FakeCloud) -> None:
    driver = make(namespace="shop")
    with pytest.raises(InvalidActionArguments, match="the arguments do not fit") as caught:
        driver.execute("pods.delete", ["sandbox", "debug"])
    assert "namespace 'sandbox' is outside this datasource's namespace 'shop'" in str(
        caught.value.__cause__
    )
    with pytest.raises(InvalidActionArguments, match="outside this datasource's namespace"):
        driver.execute("deployments.scale", ["kube-system", "coredns", 3])
    assert cloud.requests == []
    driver.execute("pods.delete", ["shop", "web-7d4b9c6f5-x2x7k"])
    assert len(cloud.requests_to("/api/v1/namespaces/shop/pods/", "DELETE")) == 1


# -- failures ---------------------------------------------------------------------------------
def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FORBIDDEN = (
    b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is '
    b'forbidden: User \\"system:serviceaccount:congress:reader\\" cannot list resource '
    b'\\"pods\\" in API group \\"\\" at the cluster scope","reason":"Forbidden","details":'
    b'{"kind":"pods"},"code":403}'
)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("500", 'GET /api/v1/pods: HTTP 500 Internal Server Error: {"error": "injected fault"}'),
        (
            "403",
            'GET /api/v1/pods: HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:'
            'congress:reader" cannot list resource "pods" in API group "" at the cluster scope',
        ),
        ("malformed", "GET /api/v1/pods: the answer is not JSON"),
        ("not a list", "GET /api/v1/pods: the answer is not a list (no items)"),
        ("timeout", "GET /api/v1/pods: timed out after 0.5 s (ReadTimeoutError)"),
    ],
)
def test_a_failing_server_keeps_the_last_good_rows(
    make: Make, cloud: FakeCloud, fake: fk.FakeKubernetes, fault: str, message: str
) -> None:
    driver = make(timeout=0.5)
    good = driver.poll()
    assert good == EXPECTED
    fake.objects["pods"].pop(("sandbox", "debug"))  # what a good read would now show
    fake.objects["nodes"].pop(("", "node-2"))
    if fault == "500":
        cloud.fail(500, prefix="/api/v1/pods")
    elif fault == "403":
        cloud.fail(403, body=FORBIDDEN, prefix="/api/v1/pods")
    elif fault == "malformed":
        cloud.fail(body=b'{"kind": "PodList", "items": [', prefix="/api/v1/pods")
    elif fault == "not a list":
        cloud.fail(body=b'{"kind": "Status", "status": "Success"}', prefix="/api/v1/pods")
    else:
        cloud.fail(delay=1.5, prefix="/api/v1/pods")
    tables = driver.poll()
    assert isinstance(driver.last_error, PollFailed)
    assert str(driver.last_error).startswith(f"polling pods failed: {message}")
    assert driver.consecutive_failures == 1
    # the pods keep their last good rows; the other tables were read
    for table in ("pods", "pod_labels", "containers"):
        assert tables[table] == EXPECTED[table]
    assert {r[0] for r in tables["nodes"]} == {"node-1"}
    cloud.heal()
    tables = driver.poll()
    assert driver.last_error is None and driver.consecutive_failures == 0
    assert DEBUG not in {r[0] for r in tables["pods"]}


def test_an_expired_token_fails_every_table_until_it_is_accepted(
    make: Make, fake: fk.FakeKubernetes
) -> None:
    driver = make()
    driver.poll()
    fake.token = "rotated"
    assert driver.poll() == EXPECTED
    error = str(driver.last_error)
    # every root table fails for the one reason: they share one clause
    assert error == f"polling {ROOTS} failed: HTTP 401 Unauthorized: Unauthorized"
    assert fk.TOKEN not in error
    fake.token = fk.TOKEN
    driver.poll()
    assert driver.last_error is None


def test_a_server_that_cannot_be_reached(make: Make) -> None:
    driver = make(api_server=f"http://127.0.0.1:{refused_port()}")
    assert driver.poll() == EMPTY
    assert str(driver.last_error).startswith(f"polling {ROOTS} failed: cannot connect: ")
    assert "Connection refused" in str(driver.last_error)
    assert driver.next_poll_delay() == 10.0


def test_a_driver_without_client_reports_it() -> None:
    driver = KubernetesDriver("k8s", {"api_server": "http://127.0.0.1:1"})
    driver.poll()
    assert "datasource k8s has no client" in str(driver.last_error)
