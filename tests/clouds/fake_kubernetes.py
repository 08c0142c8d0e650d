"""A fake Kubernetes API server on a ``FakeCloud`` (its HTTP server, routes, request log and
faults; not its Keystone): namespaces, nodes, pods, deployments and services, chunked lists,
bearer-token authentication and the writes of the driver's actions.

Objects have the shapes of the Kubernetes API reference (v1.30): ``metadata`` with ``uid``,
``resourceVersion``, ``creationTimestamp``, ``labels``, ``ownerReferences`` and
``managedFields``; pods with ``spec.containers[].resources.requests/limits`` and
``securityContext``, init containers, ``status.phase`` and container statuses; nodes with
``status.conditions``, ``nodeInfo``, ``capacity`` and ``addresses``; deployments with
``spec.replicas``, ``spec.template`` and ``status``; services with ``spec.ports`` and
``spec.selector``. As the real server, fields that are false, zero or empty are left out
(``hostNetwork``, ``unschedulable``, ``readyReplicas``...).

Lists are ``{apiVersion, kind: <Kind>List, metadata: {resourceVersion, continue?,
remainingItemCount?}, items}`` sorted by namespace and name, with items without ``kind`` and
``apiVersion``; ``limit`` chunks them and ``continue`` (an opaque token) resumes. Every
request needs ``Authorization: Bearer <token>`` unless ``token`` is None; otherwise the answer
is ``401`` with a ``Status`` body.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

from fakecloud import FakeCloud, Recorded

TOKEN = "eyJhbGciOiJSUzI1NiJ9.congress-reader.c2lnbmF0dXJl"
CREATED = "2024-05-02T09:30:00Z"
NODE_CREATED = "2024-05-01T08:00:00Z"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)

# resource -> (list path, api group version, list kind, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "namespaces": ("/api/v1/namespaces", "v1", "Namespace", False),
    "nodes": ("/api/v1/nodes", "v1", "Node", False),
    "pods": ("/api/v1/pods", "v1", "Pod", True),
    "deployments": ("/apis/apps/v1/deployments", "apps/v1", "Deployment", True),
    "services": ("/api/v1/services", "v1", "Service", True),
}


def uid(resource: str, name: str, namespace: str = "") -> str:
    """The (stable) UID of an object of the sample cluster."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s://{resource}/{namespace}/{name}"))


def status(code: int, reason: str, message: str, **details: Any) -> tuple[int, dict[str, Any]]:
    """A ``Status`` failure answer."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return code, body


def _managed(manager: str, api_version: str = "v1") -> list[dict[str, Any]]:
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": CREATED,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
        }
    ]


def _meta(
    resource: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    created: str = CREATED,
    **extra: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["uid"] = uid(resource, name, namespace or "")
    meta["resourceVersion"] = "1"
    meta["creationTimestamp"] = created
    if labels:
        meta["labels"] = dict(labels)
    if owner is not None:
        kind, owner_name, api_version = owner
        meta["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": owner_name,
                "uid": uid(kind.lower() + "s", owner_name, namespace or ""),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    meta.update(extra)
    meta["managedFields"] = _managed("kube-controller-manager")
    return meta


# -- objects --------------------------------------------------------------------------------
def namespace(name: str, labels: dict[str, str] | None = None, phase: str = "Active") -> Any:
    return {
        "metadata": _meta(
            "namespaces",
            name,
            labels={"kubernetes.io/metadata.name": name, **(labels or {})},
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": phase},
    }


def node(
    name: str,
    ip: str,
    *,
    cpu: str,
    memory: str,
    ready: bool = True,
    unschedulable: bool = False,
    labels: dict[str, str] | None = None,
) -> Any:
    ready_condition = (
        {"status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
        if ready
        else {
            "status": "False",
            "reason": "KubeletNotReady",
            "message": "container runtime network not ready: NetworkReady=false",
        }
    )
    pressure = [
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ]
    conditions = [
        {
            "type": kind,
            "status": "False",
            "lastHeartbeatTime": "2024-06-01T12:00:00Z",
            "lastTransitionTime": NODE_CREATED,
            "reason": reason,
            "message": message,
        }
        for kind, reason, message in pressure
    ]
    conditions.append(
        {
            "type": "Ready",
            "lastHeartbeatTime": "2024-06-01T12:00:00Z",
            "lastTransitionTime": NODE_CREATED,
            **ready_condition,
        }
    )
    spec: dict[str, Any] = {
        "podCIDR": "10.244.0.0/24",
        "podCIDRs": ["10.244.0.0/24"],
        "providerID": f"kind://docker/kind/{name}",
    }
    if unschedulable:
        spec["unschedulable"] = True
        spec["taints"] = [
            {
                "key": "node.kubernetes.io/unschedulable",
                "effect": "NoSchedule",
                "timeAdded": "2024-06-01T10:00:00Z",
            }
        ]
    return {
        "metadata": _meta(
            "nodes",
            name,
            labels={
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                **(labels or {}),
            },
            created=NODE_CREATED,
            annotations={"node.alpha.kubernetes.io/ttl": "0"},
        ),
        "spec": spec,
        "status": {
            "capacity": {
                "cpu": cpu,
                "ephemeral-storage": "102626232Ki",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "allocatable": {
                "cpu": cpu,
                "ephemeral-storage": "102626232Ki",
                "hugepages-2Mi": "0",
                "memory": memory,
                "pods": "110",
            },
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "9f1c2b7e0b6f4a2d8e3c5a7b9d1f3e5c",
                "systemUUID": "b7e0c6a2-1d3f-4e5a-9b8c-7d6e5f4a3b2c",
                "bootID": "3c2b1a09-8f7e-4d6c-b5a4-9382716f5e4d",
                "kernelVersion": "6.5.0-35-generic",
                "osImage": "Ubuntu 22.04.4 LTS",
                "containerRuntimeVersion": "containerd://1.7.13",
                "kubeletVersion": "v1.30.2",
                "kubeProxyVersion": "v1.30.2",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": [
                {"names": ["registry.k8s.io/pause:3.9"], "sizeBytes": 321520},
            ],
        },
    }


def container(
    name: str,
    image: str,
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    security: dict[str, Any] | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = dict(requests)
    if limits:
        resources["limits"] = dict(limits)
    found: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": resources,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if port is not None:
        found["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    if security is not None:
        found["securityContext"] = dict(security)
    return found


def pod(
    namespace_name: str,
    name: str,
    containers: list[dict[str, Any]],
    *,
    node_name: str | None = "node-1",
    phase: str = "Running",
    service_account: str = "default",
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    init: list[dict[str, Any]] | None = None,
    host_network: bool = False,
) -> Any:
    spec: dict[str, Any] = {
        "volumes": [
            {
                "name": "kube-api-access-x7d2q",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                    ]
                },
            }
        ],
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": service_account,
        "serviceAccount": service_account,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if init:
        spec["initContainers"] = init
    if node_name is not None:
        spec["nodeName"] = node_name
    if host_network:
        spec["hostNetwork"] = True
    statuses = [
        {
            "name": c["name"],
            "state": {"running": {"startedAt": CREATED}},
            "lastState": {},
            "ready": phase == "Running",
            "restartCount": 0,
            "image": c["image"],
            "imageID": f"{c['image']}@sha256:{'0' * 64}",
            "containerID": f"containerd://{'a' * 64}",
            "started": phase == "Running",
        }
        for c in containers
    ]
    pod_status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {
                "type": "PodScheduled",
                "status": str(node_name is not None),
                "lastTransitionTime": CREATED,
            }
        ],
        "qosClass": "Burstable",
    }
    if phase != "Pending":
        pod_status.update(
            hostIP="10.0.0.11",
            podIP="10.244.0.17",
            podIPs=[{"ip": "10.244.0.17"}],
            startTime=CREATED,
            containerStatuses=statuses,
        )
    return {
        "metadata": _meta("pods", name, namespace_name, labels=labels, owner=owner),
        "spec": spec,
        "status": pod_status,
    }


def deployment(
    namespace_name: str,
    name: str,
    *,
    replicas: int,
    ready: int,
    labels: dict[str, str] | None = None,
    image: str = "nginx:1.27",
) -> Any:
    match = {"app": name}
    status_: dict[str, Any] = {"observedGeneration": 1, "replicas": replicas}
    if replicas:
        status_["updatedReplicas"] = replicas
    if ready:
        status_["readyReplicas"] = ready
        status_["availableReplicas"] = ready
    if replicas - ready > 0:
        status_["unavailableReplicas"] = replicas - ready
    status_["conditions"] = [
        {
            "type": "Available",
            "status": "True" if ready == replicas else "False",
            "lastUpdateTime": CREATED,
            "lastTransitionTime": CREATED,
            "reason": "MinimumReplicasAvailable"
            if ready == replicas
            else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if ready == replicas
            else "Deployment does not have minimum availability.",
        }
    ]
    return {
        "metadata": _meta(
            "deployments",
            name,
            namespace_name,
            labels=labels,
            generation=1,
            annotations={"deployment.kubernetes.io/revision": "1"},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": match},
                "spec": {"containers": [container(name, image)]},
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": status_,
    }


def service(
    namespace_name: str,
    name: str,
    *,
    kind: str = "ClusterIP",
    cluster_ip: str | None = None,
    ports: list[dict[str, Any]] | None = None,
    selector: dict[str, str] | None = None,
    external_name: str | None = None,
    labels: dict[str, str] | None = None,
) -> Any:
    spec: dict[str, Any] = {"type": kind, "sessionAffinity": "None"}
    if ports:
        spec["ports"] = ports
    if selector:
        spec["selector"] = dict(selector)
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = [cluster_ip]
        spec["ipFamilies"] = ["IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
        spec["internalTrafficPolicy"] = "Cluster"
    if external_name is not None:
        spec["externalName"] = external_name
    if kind == "NodePort":
        spec["externalTrafficPolicy"] = "Cluster"
    return {
        "metadata": _meta("services", name, namespace_name, labels=labels),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


WEB_RS = ("ReplicaSet", "web-7d4b9c6f5", "apps/v1")
WEB = "registry.example.com/shop/web:1.4.2"
MIGRATE = "registry.example.com/shop/migrate:1.4.2"


def sample_cluster() -> dict[str, list[Any]]:
    """The sample cluster: four namespaces, two nodes (node-2 cordoned and not ready), seven
    pods, three deployments, five services."""
    web_resources = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    restricted = {"allowPrivilegeEscalation": False, "runAsNonRoot": True}
    migrate = container(
        "migrate",
        MIGRATE,
        requests={"cpu": "200m", "memory": "64Mi"},
        limits={"cpu": "200m", "memory": "64Mi"},
    )
    web_labels = {"app": "web", "pod-template-hash": "7d4b9c6f5"}
    return {
        "namespaces": [
            namespace("default"),
            namespace("kube-system"),
            namespace("sandbox"),
            namespace("shop", {"owner": "team-shop"}),
        ],
        "nodes": [
            node(
                "node-1",
                "10.0.0.11",
                cpu="4",
                memory="16318412Ki",
                labels={"node-role.kubernetes.io/control-plane": ""},
            ),
            node(
                "node-2", "10.0.0.12", cpu="8", memory="32775900Ki", ready=False, unschedulable=True
            ),
        ],
        "pods": [
            pod(
                "shop",
                "web-7d4b9c6f5-x2x7k",
                [container("web", WEB, **web_resources, security=restricted, port=8080)],
                init=[migrate],
                service_account="web",
                labels=web_labels,
                owner=WEB_RS,
            ),
            pod(
                "shop",
                "web-7d4b9c6f5-q8w4n",
                [
                    container("web", WEB, **web_resources, security=restricted, port=8080),
                    container(
                        "log-shipper",
                        "fluent/fluent-bit:3.0.4",
                        requests={"cpu": "50m", "memory": "64Mi"},
                    ),
                ],
                init=[migrate],
                service_account="web",
                labels=web_labels,
                owner=WEB_RS,
            ),
            pod(
                "sandbox",
                "debug",
                [container("shell", "busybox:1.36", security={"privileged": True})],
                labels={"run": "debug"},
                host_network=True,
            ),
            pod(
                "sandbox",
                "api-5c9f7b6d4-8wq2z",
                [
                    container(
                        "api",
                        "docker.io/library/nginx:1.27",
                        limits={"cpu": "250m", "memory": "128Mi"},
                    )
                ],
                labels={"app": "api", "pod-template-hash": "5c9f7b6d4"},
                owner=("ReplicaSet", "api-5c9f7b6d4", "apps/v1"),
            ),
            pod(
                "kube-system",
                "kube-proxy-8fj2d",
                [
                    container(
                        "kube-proxy",
                        "registry.k8s.io/kube-proxy:v1.30.2",
                        security={"privileged": True},
                    )
                ],
                node_name="node-2",
                service_account="kube-proxy",
                labels={"k8s-app": "kube-proxy", "controller-revision-hash": "6f7c8d9b5"},
                owner=("DaemonSet", "kube-proxy", "apps/v1"),
                host_network=True,
            ),
            pod(
                "kube-system",
                "coredns-7db6d8ff4d-5xk2m",
                [
                    container(
                        "coredns",
                        "registry.k8s.io/coredns/coredns:v1.11.1",
                        requests={"cpu": "100m", "memory": "70Mi"},
                        limits={"memory": "170Mi"},
                        security={
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                            "readOnlyRootFilesystem": True,
                        },
                    )
                ],
                service_account="coredns",
                labels={"k8s-app": "kube-dns", "pod-template-hash": "7db6d8ff4d"},
                owner=("ReplicaSet", "coredns-7db6d8ff4d", "apps/v1"),
            ),
            pod(
                "default",
                "tool-dev",
                [
                    container(
                        "tool",
                        "localhost:5000/tool:dev",
                        limits={"cpu": "1", "memory": "1Gi"},
                        security={"privileged": False},
                    )
                ],
                node_name=None,
                phase="Pending",
            ),
        ],
        "deployments": [
            deployment("shop", "web", replicas=2, ready=2, labels={"app": "web"}, image=WEB),
            deployment(
                "kube-system",
                "coredns",
                replicas=2,
                ready=1,
                labels={"k8s-app": "kube-dns"},
                image="registry.k8s.io/coredns/coredns:v1.11.1",
            ),
            deployment("sandbox", "api", replicas=1, ready=0),
        ],
        "services": [
            service(
                "default",
                "kubernetes",
                cluster_ip="10.96.0.1",
                ports=[{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}],
                labels={"component": "apiserver", "provider": "kubernetes"},
            ),
            service(
                "kube-system",
                "kube-dns",
                cluster_ip="10.96.0.10",
                ports=[
                    {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53},
                    {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53},
                    {"name": "metrics", "protocol": "TCP", "port": 9153, "targetPort": 9153},
                ],
                selector={"k8s-app": "kube-dns"},
                labels={"k8s-app": "kube-dns"},
            ),
            service(
                "shop",
                "web",
                kind="NodePort",
                cluster_ip="10.96.120.15",
                ports=[
                    {
                        "name": "http",
                        "protocol": "TCP",
                        "port": 80,
                        "targetPort": "http",
                        "nodePort": 30080,
                    }
                ],
                selector={"app": "web"},
            ),
            service(
                "shop",
                "web-headless",
                cluster_ip="None",
                ports=[{"protocol": "TCP", "port": 8080, "targetPort": 8080}],
                selector={"app": "web"},
            ),
            service("sandbox", "db", kind="ExternalName", external_name="db.example.com"),
        ],
    }


# -- the server -----------------------------------------------------------------------------
class FakeKubernetes:
    """The API server: ``objects[resource][(namespace, name)]`` (namespace "" for cluster
    objects), a cluster-wide resource version, and the routes on ``cloud``."""

    def __init__(self, cloud: FakeCloud, token: str | None = TOKEN) -> None:
        self.cloud = cloud
        self.token = token
        self.version = 1000
        self.objects: dict[str, dict[tuple[str, str], Any]] = {}
        self.reset()
        self._add_routes()

    @property
    def url(self) -> str:
        return self.cloud.url

    def reset(self, token: str | None = TOKEN) -> None:
        """Back to the sample cluster, accepting ``token``."""
        self.token = token
        self.objects = {resource: {} for resource in RESOURCES}
        for resource, items in sample_cluster().items():
            for item in items:
                self.put(resource, copy.deepcopy(item))  # the sample shares some parts

    def put(self, resource: str, obj: Any) -> Any:
        """Store (create or replace) an object, with a new resource version."""
        self.version += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.version)
        self.objects[resource][(meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def get(self, resource: str, name: str, namespace_name: str = "") -> Any:
        return self.objects[resource][(namespace_name, name)]

    def change(
        self, resource: str, name: str, namespace_name: str, edit: Callable[[Any], None]
    ) -> Any:
        """Edit a stored object in place (a new resource version)."""
        obj = self.get(resource, name, namespace_name)
        edit(obj)
        return self.put(resource, obj)

    # -- HTTP ----------------------------------------------------------------------------------
    def _authorized(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        def checked(request: Recorded, **params: str) -> Any:
            expected = None if self.token is None else f"Bearer {self.token}"
            if expected is not None and request.headers.get("authorization") != expected:
                return status(401, "Unauthorized", "Unauthorized")
            return handler(request, **params)

        return checked

    def _add_routes(self) -> None:
        route = self.cloud.route
        auth = self._authorized
        for resource, (path, _, _, namespaced) in RESOURCES.items():
            route("GET", path)(auth(self._lister(resource)))
            if namespaced:
                group = path.rsplit("/", 1)[0]
                route("GET", f"{group}/namespaces/{{ns}}/{resource}")(auth(self._lister(resource)))
        route("GET", "/api/v1/namespaces/{name}")(auth(self._read_namespace))
        route("DELETE", "/api/v1/namespaces/{ns}/pods/{name}")(auth(self._delete_pod))
        route("PATCH", "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale")(
            auth(self._patch_scale)
        )
        route("PATCH", "/api/v1/nodes/{name}")(auth(self._patch_node))

    def _lister(self, resource: str) -> Callable[..., Any]:
        def answer(request: Recorded, ns: str | None = None) -> Any:
            return self.list(resource, request, ns)

        return answer

    def list(self, resource: str, request: Recorded, ns: str | None = None) -> Any:
        _, api_version, kind, _ = RESOURCES[resource]
        keys = sorted(k for k in self.objects[resource] if ns is None or k[0] == ns)
        start = 0
        token = request.query.get("continue", [""])[0]
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                start = int(state["start"])
            except (ValueError, KeyError, TypeError):
                return status(400, "BadRequest", "continue key is not valid: illegal base64 data")
        limit_text = request.query.get("limit", ["0"])[0]
        limit = int(limit_text) if limit_text.isdigit() else 0
        end = len(keys) if limit <= 0 else min(len(keys), start + limit)
        meta: dict[str, Any] = {"resourceVersion": str(self.version)}
        if end < len(keys):
            state = {"v": "meta.k8s.io/v1", "rv": self.version, "start": end}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            meta["remainingItemCount"] = len(keys) - end
        items = [copy.deepcopy(self.objects[resource][k]) for k in keys[start:end]]
        return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": items}

    @staticmethod
    def _single(resource: str, obj: Any) -> Any:
        _, api_version, kind, _ = RESOURCES[resource]
        return {"kind": kind, "apiVersion": api_version, **copy.deepcopy(obj)}

    def _read_namespace(self, request: Recorded, name: str) -> Any:
        found = self.objects["namespaces"].get(("", name))
        if found is None:
            return status(
                404, "NotFound", f'namespaces "{name}" not found', name=name, kind="namespaces"
            )
        return self._single("namespaces", found)

    def _delete_pod(self, request: Recorded, ns: str, name: str) -> Any:
        found = self.objects["pods"].pop((ns, name), None)
        if found is None:
            return status(404, "NotFound", f'pods "{name}" not found', name=name, kind="pods")
        self.version += 1
        found["metadata"]["deletionTimestamp"] = "2024-06-01T12:30:00Z"
        found["metadata"]["deletionGracePeriodSeconds"] = 30
        return self._single("pods", found)

    def _patch_scale(self, request: Recorded, ns: str, name: str) -> Any:
        if request.headers.get("content-type") not in PATCH_TYPES:
            return status(
                415, "UnsupportedMediaType", "the body of the request was in an unknown format"
            )
        found = self.objects["deployments"].get((ns, name))
        if found is None:
            return status(404, "NotFound", f'deployments.apps "{name}" not found', name=name)
        replicas = (request.body or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            return status(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value',
            )
        old = found["status"].get("replicas", 0)

        def scale(obj: Any) -> None:
            obj["spec"]["replicas"] = replicas
            obj["metadata"]["generation"] += 1

        self.change("deployments", name, ns, scale)
        meta = found["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": replicas},
            "status": {"replicas": old, "selector": f"app={name}"},
        }

    def _patch_node(self, request: Recorded, name: str) -> Any:
        if request.headers.get("content-type") not in PATCH_TYPES:
            return status(
                415, "UnsupportedMediaType", "the body of the request was in an unknown format"
            )
        if ("", name) not in self.objects["nodes"]:
            return status(404, "NotFound", f'nodes "{name}" not found', name=name, kind="nodes")
        spec = (request.body or {}).get("spec", {})

        def patch(obj: Any) -> None:
            if "unschedulable" in spec:
                if spec["unschedulable"]:
                    obj["spec"]["unschedulable"] = True
                else:  # false and null remove the field (omitempty)
                    obj["spec"].pop("unschedulable", None)

        return self._single("nodes", self.change("nodes", name, "", patch))
