"""The ``kubernetes`` driver: namespaces, nodes, pods, deployments and services of a cluster.

Imports: standard library, congress.datasources, and the official Kubernetes Python client
(``kubernetes``, with its urllib3).

The client is a ``kubernetes.client.ApiClient`` built by ``build_client`` from either a
kubeconfig file (``kubeconfig``, optionally ``context``) or an API server URL (``api_server``
with an optional bearer ``token`` and, for https, ``ca_cert`` or ``insecure``). Building it reads
the kubeconfig file (and runs its exec credential plugin, if it has one) but does no network
I/O: the first poll talks to the cluster. Every request gives up after the host's request
timeout and is not retried (the next poll is the retry).

Reading: the generated ``CoreV1Api``/``AppsV1Api`` methods with ``_preload_content=False``, so
the driver translates the API's own JSON (the field names of the Kubernetes API reference, not
the client's model attributes), page by page (``limit`` is the driver's ``page_size``, 500 as
kubectl's, then ``metadata.continue``). With ``namespace`` the driver reads only that
namespace's pods, deployments and services, and only that namespace (``GET
/api/v1/namespaces/<ns>``); nodes are cluster-wide whatever the option (put ``nodes`` in
``lazy_tables`` when the credentials may not list nodes). The context's namespace in a
kubeconfig file limits nothing.

Values are the API's, with two rules: a boolean or a count that the API omits when it is false
or zero (``spec.hostNetwork``, ``spec.unschedulable``, ``securityContext.privileged``,
``status.readyReplicas``...) is given as ``False`` or ``0``; any other missing field is None.
Quantities stay as the API writes them (``"500m"``, ``"128Mi"``). ``image_registry`` is the
registry of a container image as Docker resolves references: the first path component when it
has a dot or a colon, is ``localhost`` or has capitals; otherwise (``nginx``, ``library/nginx``)
``docker.io`` (``index.docker.io`` is ``docker.io`` too).

Failures (refused credentials, timeouts, HTTP errors, answers that are not JSON or not a list)
are ``ServiceError`` with a short message naming the request (``GET /api/v1/pods: HTTP 403
Forbidden: pods is forbidden: ...``); ``poll`` keeps the table's last good rows.

Actions (``ACTIONS``): ``pods.delete(namespace, name)``, ``deployments.scale(namespace, name,
replicas)``, ``nodes.cordon(name)`` and ``nodes.uncordon(name)``; a driver limited to a
namespace refuses actions on pods and deployments of other namespaces. A successful action
asks for a refresh, so the next poll shows its effect.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from congress.datasources import options as opts
from congress.datasources import translators as tr
from congress.datasources.driver import ExecutionMixin, PollingDriver
from congress.datasources.errors import (
    InvalidActionArguments,
    InvalidConfig,
    MissingRequiredOptions,
    ServiceError,
)
from congress.datasources.execution import Action
from congress.datasources.options import Option

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_PAGE_SIZE = 500  # kubectl's chunk size
MAX_PAGES = 100_000  # a server that keeps sending continue tokens is broken, not infinite
DOCKER_HUB = "docker.io"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# A namespace name is a DNS-1123 label.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


# -- the options ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Settings:
    """The connection options of a datasource, checked."""

    kubeconfig: str | None = None
    context: str | None = None
    api_server: str | None = None
    token: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    namespace: str | None = None


def _text(config: Mapping[str, Any], option: str) -> str | None:
    """A string option; None when absent or blank."""
    value = config.get(option)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidConfig(f"Invalid value for option {option}: {value!r} is not a string")
    return value.strip() or None


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """The connection options of ``config``; ``InvalidConfig`` naming the option that is wrong
    (``MissingRequiredOptions`` when neither ``kubeconfig`` nor ``api_server`` is given)."""
    kubeconfig = _text(config, "kubeconfig")
    context = _text(config, "context")
    api_server = _text(config, "api_server")
    token = _text(config, "token")
    ca_cert = _text(config, "ca_cert")
    insecure = opts.strict_bool(config.get("insecure", False), "insecure")
    namespace = _text(config, "namespace")
    if kubeconfig and api_server:
        raise InvalidConfig(
            "Invalid value for option api_server: give either kubeconfig or api_server, not both"
        )
    if not kubeconfig and not api_server:
        raise MissingRequiredOptions(
            "Missing required config options: kubeconfig or api_server (one of them says how "
            "to reach the cluster)"
        )
    if kubeconfig:
        given = {"token": token, "ca_cert": ca_cert, "insecure": insecure}
        for option, value in given.items():
            if value:
                raise InvalidConfig(
                    f"Invalid value for option {option}: it goes with api_server; with "
                    "kubeconfig the file's cluster and user entries give the credentials"
                )
    else:
        if context:
            raise InvalidConfig(
                "Invalid value for option context: a context is chosen in a kubeconfig file; "
                "give kubeconfig or leave context out"
            )
        parts = urlsplit(str(api_server))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidConfig(
                f"Invalid value for option api_server: {api_server!r} is not an http(s) URL"
            )
        if parts.scheme == "http":
            for option, value in {"ca_cert": ca_cert, "insecure": insecure}.items():
                if value:
                    raise InvalidConfig(
                        f"Invalid value for option {option}: it needs an https api_server"
                    )
        if ca_cert and insecure:
            raise InvalidConfig(
                "Invalid value for option insecure: true skips the verification that ca_cert "
                "is for; give one or the other"
            )
    if namespace is not None and not _DNS_LABEL.fullmatch(namespace):
        raise InvalidConfig(
            f"Invalid value for option namespace: {namespace!r} is not a namespace name "
            "(a DNS label: lower-case letters, digits and '-', at most 63 characters)"
        )
    return Settings(kubeconfig, context, api_server, token, ca_cert, insecure, namespace)


class TimedApiClient(k8s.ApiClient):
    """An ``ApiClient`` that carries the timeout of every request the driver makes with it."""

    def __init__(self, configuration: k8s.Configuration, *, request_timeout: float) -> None:
        super().__init__(configuration)
        self.request_timeout = request_timeout


def _load_kubeconfig(settings: Settings, cfg: k8s.Configuration) -> None:
    from kubernetes.config import ConfigException, kube_config

    # The config loader is not annotated.
    list_contexts: Callable[..., Any] = kube_config.list_kube_config_contexts
    load: Callable[..., Any] = kube_config.load_kube_config
    path = os.path.expanduser(str(settings.kubeconfig))
    if not os.path.isfile(path):
        raise InvalidConfig(f"Invalid value for option kubeconfig: {path} is not a file")
    try:
        if settings.context is not None:
            contexts, _ = list_contexts(config_file=path)
            names = sorted(str(c.get("name")) for c in contexts or [])
            if settings.context not in names:
                raise InvalidConfig(
                    f"Invalid value for option context: {settings.context!r} is not a context "
                    f"of {path} (its contexts: {', '.join(names) or 'none'})"
                )
        load(
            config_file=path,
            context=settings.context,
            client_configuration=cfg,
            persist_config=False,  # never rewrite the operator's file
        )
    except InvalidConfig:
        raise
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidConfig(f"Invalid value for option kubeconfig: {path}: {exc}") from exc
    except Exception as exc:  # a YAML error, an exec plugin that fails...
        raise InvalidConfig(
            f"Invalid value for option kubeconfig: {path}: {type(exc).__name__}: {exc}"
        ) from exc


def _quiet_unverified_https(host: str) -> None:
    """The operator chose not to verify this server's certificate: urllib3's warning on every
    request to it says nothing new (logged once here instead). Only that host is silenced."""
    hostname = urlsplit(host).hostname or ""
    LOG.warning("kubernetes: TLS certificate verification is disabled for %s", host)
    warnings.filterwarnings(
        "ignore",
        message=f"Unverified HTTPS request is being made to host '{re.escape(hostname)}'",
        category=urllib3.exceptions.InsecureRequestWarning,
    )


# -- values -----------------------------------------------------------------------------------
def image_registry(image: Any) -> str | None:
    """The registry of an image reference, as Docker resolves it (``nginx:1.25`` and
    ``bitnami/redis`` are on ``docker.io``; ``localhost:5000/x``, ``registry.k8s.io/pause`` and
    ``Registry/x`` name theirs)."""
    if not isinstance(image, str) or not image.strip():
        return None
    first, slash, _ = image.strip().partition("/")
    if not slash:
        return DOCKER_HUB
    if "." in first or ":" in first or first == "localhost" or first.lower() != first:
        return DOCKER_HUB if first == "index.docker.io" else first
    return DOCKER_HUB


def _get(*path: str, default: Any = None) -> Callable[[Any], Any]:
    """An extract function: the value at ``path`` in nested objects, or ``default``."""

    def extract(obj: Any) -> Any:
        for key in path:
            if not isinstance(obj, Mapping):
                return default
            obj = obj.get(key)
        return default if obj is None else obj

    return extract


def _mapping(*path: str) -> Callable[[Any], Any]:
    """The object at ``path`` (labels, a selector), ``{}`` when absent."""
    get = _get(*path)

    def extract(obj: Any) -> Any:
        found = get(obj)
        return found if isinstance(found, Mapping) else {}

    return extract


def _list(*path: str) -> Callable[[Any], Any]:
    """The list at ``path`` (conditions, ports), ``[]`` when absent."""
    get = _get(*path)

    def extract(obj: Any) -> Any:
        found = get(obj)
        return found if isinstance(found, list) else []

    return extract


def _controller(field: str) -> Callable[[Any], Any]:
    """``kind`` or ``name`` of the owner reference that is the object's controller (a pod's
    ReplicaSet, DaemonSet, StatefulSet or Job); None for an object nobody controls."""

    def extract(metadata: Any) -> Any:
        refs = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, Mapping) and ref.get("controller") is True:
                return ref.get(field)
        return None

    return extract


def _containers(spec: Any) -> list[Any]:
    """A pod's containers then its init containers, each with ``init`` saying which."""
    if not isinstance(spec, Mapping):
        return []
    found: list[Any] = []
    for key, init in (("containers", False), ("initContainers", True)):
        items = spec.get(key)
        for item in items if isinstance(items, list) else []:
            found.append({**item, "init": init} if isinstance(item, Mapping) else item)
    return found


def _meta(name: str, col: str, desc: str) -> tr.Field:
    return tr.Field("metadata", tr.Value(extract_fn=_get(name)), col=col, desc=desc)


def _labels(table: str, parent_key: str, parent_col: str, what: str) -> tr.Field:
    return tr.Field(
        "metadata",
        tr.VDict(
            table=table,
            key_col="key",
            val_col="value",
            parent_key=parent_key,
            parent_col_name=parent_col,
            parent_key_desc=f"the {what}",
            objects_extract_fn=_mapping("labels"),
        ),
    )


CREATED = _meta("creationTimestamp", "created_at", "creation time (RFC 3339, UTC)")

NAMESPACES = tr.HDict(
    table="namespaces",
    fields=[
        _meta("name", "name", "namespace name"),
        _meta("uid", "uid", "namespace UID"),
        tr.Field(
            "status", tr.Value(extract_fn=_get("phase")), col="phase", desc="Active or Terminating"
        ),
        CREATED,
        _labels("namespace_labels", "name", "namespace", "namespace's name"),
    ],
)

NODES = tr.HDict(
    table="nodes",
    fields=[
        _meta("name", "name", "node name"),
        _meta("uid", "uid", "node UID"),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("unschedulable", default=False)),
            col="unschedulable",
            desc="True when the node is cordoned",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("nodeInfo", "kubeletVersion")),
            col="kubelet_version",
            desc="kubelet version (v1.30.2)",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("nodeInfo", "osImage")),
            col="os_image",
            desc="operating system image",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("nodeInfo", "containerRuntimeVersion")),
            col="container_runtime",
            desc="container runtime and version (containerd://1.7.13)",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("capacity", "cpu")),
            col="cpu_capacity",
            desc="CPU capacity (a quantity: 4, 3500m)",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("capacity", "memory")),
            col="memory_capacity",
            desc="memory capacity (a quantity: 16318412Ki)",
        ),
        CREATED,
        tr.Field(
            "status",
            tr.HDict(
                table="node_conditions",
                parent_key="name",
                parent_col_name="node",
                parent_key_desc="the node's name",
                in_list=True,
                objects_extract_fn=_list("conditions"),
                fields=[
                    tr.Field("type", desc="Ready, MemoryPressure, DiskPressure, PIDPressure..."),
                    tr.Field("status", desc="True, False or Unknown"),
                    tr.Field("reason", desc="machine-readable reason"),
                    tr.Field("message", desc="human-readable message"),
                ],
            ),
        ),
        _labels("node_labels", "name", "node", "node's name"),
        tr.Field(
            "status",
            tr.HDict(
                table="node_addresses",
                parent_key="name",
                parent_col_name="node",
                parent_key_desc="the node's name",
                in_list=True,
                objects_extract_fn=_list("addresses"),
                fields=[
                    tr.Field("type", desc="InternalIP, ExternalIP, Hostname..."),
                    tr.Field("address", desc="the address"),
                ],
            ),
        ),
    ],
)

CONTAINERS = tr.HDict(
    table="containers",
    parent_key="uid",
    parent_col_name="pod_uid",
    parent_key_desc="the pod's UID",
    in_list=True,
    objects_extract_fn=_containers,
    fields=[
        tr.Field("name", desc="container name (unique in the pod)"),
        tr.Field("image", desc="image reference as the pod spec gives it"),
        tr.Field(
            "image",
            tr.Value(extract_fn=image_registry),
            col="image_registry",
            desc="registry of the image (docker.io when the reference names none)",
        ),
        tr.Field(
            "resources",
            tr.Value(extract_fn=_get("requests", "cpu")),
            col="cpu_request",
            desc="CPU request (a quantity: 250m), None when absent",
        ),
        tr.Field(
            "resources",
            tr.Value(extract_fn=_get("requests", "memory")),
            col="memory_request",
            desc="memory request (a quantity: 128Mi), None when absent",
        ),
        tr.Field(
            "resources",
            tr.Value(extract_fn=_get("limits", "cpu")),
            col="cpu_limit",
            desc="CPU limit, None when absent",
        ),
        tr.Field(
            "resources",
            tr.Value(extract_fn=_get("limits", "memory")),
            col="memory_limit",
            desc="memory limit, None when absent",
        ),
        tr.Field(
            "securityContext",
            tr.Value(extract_fn=_get("privileged", default=False)),
            col="privileged",
            desc="True when the container runs privileged",
        ),
        tr.Field("init", desc="True for an init container"),
    ],
)

PODS = tr.HDict(
    table="pods",
    fields=[
        _meta("uid", "uid", "pod UID"),
        _meta("namespace", "namespace", "namespace of the pod"),
        _meta("name", "name", "pod name"),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("nodeName")),
            col="node_name",
            desc="node the pod is bound to, None while unscheduled",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("phase")),
            col="phase",
            desc="Pending, Running, Succeeded, Failed or Unknown",
        ),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("serviceAccountName")),
            col="service_account",
            desc="service account the pod runs as",
        ),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("hostNetwork", default=False)),
            col="host_network",
            desc="True when the pod uses the node's network namespace",
        ),
        tr.Field(
            "metadata",
            tr.Value(extract_fn=_controller("kind")),
            col="owner_kind",
            desc="kind of the controller owning the pod (ReplicaSet, DaemonSet...), or None",
        ),
        tr.Field(
            "metadata",
            tr.Value(extract_fn=_controller("name")),
            col="owner_name",
            desc="name of the controller owning the pod (in the pod's namespace), or None",
        ),
        CREATED,
        _labels("pod_labels", "uid", "pod_uid", "pod's UID"),
        tr.Field("spec", CONTAINERS),
    ],
)

DEPLOYMENTS = tr.HDict(
    table="deployments",
    fields=[
        _meta("uid", "uid", "deployment UID"),
        _meta("namespace", "namespace", "namespace of the deployment"),
        _meta("name", "name", "deployment name"),
        tr.Field(
            "spec", tr.Value(extract_fn=_get("replicas")), col="replicas", desc="desired pods"
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("readyReplicas", default=0)),
            col="ready_replicas",
            desc="pods ready",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("availableReplicas", default=0)),
            col="available_replicas",
            desc="pods available (ready for minReadySeconds)",
        ),
        tr.Field(
            "status",
            tr.Value(extract_fn=_get("updatedReplicas", default=0)),
            col="updated_replicas",
            desc="pods of the current pod template",
        ),
        CREATED,
        _labels("deployment_labels", "uid", "deployment_uid", "deployment's UID"),
    ],
)

SERVICES = tr.HDict(
    table="services",
    fields=[
        _meta("uid", "uid", "service UID"),
        _meta("namespace", "namespace", "namespace of the service"),
        _meta("name", "name", "service name"),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("type")),
            col="type",
            desc="ClusterIP, NodePort, LoadBalancer or ExternalName",
        ),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("clusterIP")),
            col="cluster_ip",
            desc='cluster IP ("None" for a headless service, None when there is none)',
        ),
        tr.Field(
            "spec",
            tr.Value(extract_fn=_get("externalName")),
            col="external_name",
            desc="DNS name of an ExternalName service, None otherwise",
        ),
        CREATED,
        tr.Field(
            "spec",
            tr.HDict(
                table="service_ports",
                parent_key="uid",
                parent_col_name="service_uid",
                parent_key_desc="the service's UID",
                in_list=True,
                objects_extract_fn=_list("ports"),
                fields=[
                    tr.Field("name", desc="port name, None for a single unnamed port"),
                    tr.Field("protocol", desc="TCP, UDP or SCTP"),
                    tr.Field("port", desc="port of the service"),
                    tr.Field(
                        "targetPort",
                        col="target_port",
                        desc="port number or named port of the pods",
                    ),
                    tr.Field("nodePort", col="node_port", desc="node port, None if none"),
                ],
            ),
        ),
        tr.Field(
            "spec",
            tr.VDict(
                table="service_selectors",
                key_col="key",
                val_col="value",
                parent_key="uid",
                parent_col_name="service_uid",
                parent_key_desc="the service's UID",
                objects_extract_fn=_mapping("selector"),
            ),
        ),
    ],
)


@dataclass(frozen=True, slots=True)
class _Listing:
    """How a root table is read: the API group object, the all-namespaces and namespaced list
    methods and their paths (for messages)."""

    api: str  # "core" or "apps"
    everywhere: str
    everywhere_path: str
    namespaced: str | None
    namespaced_path: str


_LISTINGS: Mapping[str, _Listing] = {
    "namespaces": _Listing("core", "list_namespace", "/api/v1/namespaces", None, ""),
    "nodes": _Listing("core", "list_node", "/api/v1/nodes", None, ""),
    "pods": _Listing(
        "core",
        "list_pod_for_all_namespaces",
        "/api/v1/pods",
        "list_namespaced_pod",
        "/api/v1/namespaces/{ns}/pods",
    ),
    "deployments": _Listing(
        "apps",
        "list_deployment_for_all_namespaces",
        "/apis/apps/v1/deployments",
        "list_namespaced_deployment",
        "/apis/apps/v1/namespaces/{ns}/deployments",
    ),
    "services": _Listing(
        "core",
        "list_service_for_all_namespaces",
        "/api/v1/services",
        "list_namespaced_service",
        "/api/v1/namespaces/{ns}/services",
    ),
}


# -- errors -----------------------------------------------------------------------------------
def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """A short text for a failed request (no traceback, no headers, no secrets)."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        if not status:  # the client's TLS failures ("SSLError\n<text>") and unusable requests
            kind, _, text = str(exc.reason or "").strip().partition("\n")
            if kind == "SSLError":
                return f"TLS error: {_first_line(text)}"
            return f"request failed: {_first_line(' '.join((kind, text)))}"
        text = f"HTTP {status} {exc.reason or ''}".rstrip()
        detail = _status_message(exc.body)
        return f"{text}: {detail}" if detail else text
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return describe_error(exc.reason, timeout)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # before TimeoutError, its base
        return f"cannot connect: {_first_line(str(exc))}"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        after = f" after {timeout:g} s" if timeout else ""
        return f"timed out{after} ({type(exc).__name__})"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS error: {_first_line(str(exc))}"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return f"connection broken: {_first_line(str(exc))}"
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _status_message(body: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, else the start of the body."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping) and isinstance(parsed.get("message"), str):
        return _first_line(parsed["message"])
    return _first_line(body)


def _first_line(text: Any, limit: int = 300) -> str:
    """The first line of ``text``, at most ``limit`` characters."""
    lines = str(text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _replicas(value: Any) -> int:
    """A replica count from a policy (an int or its decimal text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\+?\d+\s*", value):
        number = int(value)
    else:
        raise InvalidActionArguments(f"replicas must be a non-negative integer, not {value!r}")
    if number < 0:
        raise InvalidActionArguments(f"replicas must be a non-negative integer, not {value!r}")
    return number


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidActionArguments(f"{what} must be a non-empty string, not {value!r}")
    return value


# -- the driver -------------------------------------------------------------------------------
class KubernetesDriver(ExecutionMixin, PollingDriver):
    """Datasource driver for a Kubernetes cluster (official Python client, raw JSON)."""

    DRIVER_NAME: ClassVar[str] = "kubernetes"
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that reads namespaces, nodes, pods (with their containers), "
        "deployments and services of a Kubernetes cluster, and deletes pods, scales "
        "deployments and cordons nodes."
    )
    CONFIG: ClassVar[Mapping[str, Option]] = {
        "kubeconfig": Option(
            description="path of a kubeconfig file on the datasource node (or give api_server)"
        ),
        "context": Option(
            description="with kubeconfig: the context to use (default: its current-context)"
        ),
        "api_server": Option(
            description="URL of the API server, e.g. https://k8s.example.com:6443 "
            "(or give kubeconfig)"
        ),
        "token": Option(secret=True, description="with api_server: a bearer token"),
        "ca_cert": Option(
            description="with an https api_server: path of the CA bundle that signed the "
            "server's certificate (default: the system's)"
        ),
        "insecure": Option(
            description="with an https api_server: true skips certificate verification "
            "(default false)"
        ),
        "namespace": Option(
            description="read only this namespace's pods, deployments and services "
            "(default: all namespaces)"
        ),
        "poll_time": opts.POLL_TIME,
        "lazy_tables": opts.LAZY_TABLES,
    }
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (
        NAMESPACES,
        NODES,
        PODS,
        DEPLOYMENTS,
        SERVICES,
    )
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "pods.delete": Action(
            "Delete a pod (its controller, if any, creates a new one).",
            (("namespace", "namespace of the pod"), ("name", "name of the pod")),
            handler="delete_pod",
        ),
        "deployments.scale": Action(
            "Set the number of replicas of a deployment.",
            (
                ("namespace", "namespace of the deployment"),
                ("name", "name of the deployment"),
                ("replicas", "desired number of pods (a non-negative integer)"),
            ),
            handler="scale_deployment",
        ),
        "nodes.cordon": Action(
            "Mark a node unschedulable: no new pods are placed on it.",
            (("name", "name of the node"),),
            handler="cordon_node",
        ),
        "nodes.uncordon": Action(
            "Mark a node schedulable again.",
            (("name", "name of the node"),),
            handler="uncordon_node",
        ),
    }

    def configure(self) -> None:
        super().configure()
        self.settings = parse_settings(self.config)
        self.namespace = self.settings.namespace
        self.page_size = DEFAULT_PAGE_SIZE

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        parse_settings(config)

    @classmethod
    def build_client(
        cls, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> TimedApiClient:
        """An ``ApiClient`` for ``config`` whose requests give up after ``timeout`` seconds.
        Reads the kubeconfig file, if any; no network I/O."""
        settings = parse_settings(config)
        cfg = k8s.Configuration()
        cfg.retries = False  # one attempt per request: the next poll is the retry
        if settings.kubeconfig:
            _load_kubeconfig(settings, cfg)
        else:
            cfg.host = str(settings.api_server).rstrip("/")
            if settings.token:
                cfg.api_key = {"BearerToken": settings.token}
                cfg.api_key_prefix = {"BearerToken": "Bearer"}
            if settings.ca_cert:
                path = os.path.expanduser(settings.ca_cert)
                if not os.path.isfile(path):
                    raise InvalidConfig(f"Invalid value for option ca_cert: {path} is not a file")
                cfg.ssl_ca_cert = path
            cfg.verify_ssl = not settings.insecure
        if not cfg.verify_ssl and str(cfg.host).startswith("https:"):
            _quiet_unverified_https(str(cfg.host))
        return TimedApiClient(cfg, request_timeout=timeout)

    # -- requests ----------------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        return float(getattr(self.client, "request_timeout", DEFAULT_TIMEOUT))

    def _api(self, group: str) -> Any:
        if self.client is None:
            raise ServiceError(f"datasource {self.name} has no client")
        if group == "apps":
            return k8s.AppsV1Api(self.client)
        return k8s.CoreV1Api(self.client)

    def call(
        self, method: str, path: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Call a generated API method for its raw answer; the parsed JSON (None for an empty
        body). ``ServiceError`` naming ``method path`` on any failure."""
        timeout = self.timeout
        try:
            response = fn(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
            try:
                data = response.data
            finally:
                response.release_conn()
        except Exception as exc:
            raise ServiceError(f"{method} {path}: {describe_error(exc, timeout)}") from exc
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ServiceError(f"{method} {path}: the answer is not JSON ({exc})") from exc

    def list_all(self, path: str, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """Every item of a list, page by page (``limit``, ``metadata.continue``)."""
        items: list[Any] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page: dict[str, Any] = {"limit": self.page_size}
            if token:
                page["_continue"] = token
            body = self.call("GET", path, fn, *args, **page)
            if not isinstance(body, Mapping) or "items" not in body:
                raise ServiceError(f"GET {path}: the answer is not a list (no items)")
            found = body["items"]
            if found is not None and not isinstance(found, list):
                raise ServiceError(f"GET {path}: the answer's items are not a list")
            items.extend(found or [])  # an empty list may come as null
            meta = body.get("metadata")
            following = meta.get("continue") if isinstance(meta, Mapping) else None
            if not following:
                return items
            if not isinstance(following, str):
                raise ServiceError(f"GET {path}: the continue token is not a string")
            if following == token:
                raise ServiceError(f"GET {path}: the server repeats its continue token")
            token = following
        raise ServiceError(f"GET {path}: more than {MAX_PAGES} pages")

    def fetch(self, root: str) -> Any:
        listing = _LISTINGS.get(root)
        if listing is None:
            raise NotImplementedError(f"{type(self).__name__} does not say how to fetch {root}")
        api = self._api(listing.api)
        ns = self.namespace
        if ns is not None and root == "namespaces":
            path = f"/api/v1/namespaces/{ns}"
            return [self.call("GET", path, api.read_namespace, ns)]
        if ns is not None and listing.namespaced is not None:
            path = listing.namespaced_path.format(ns=ns)
            return self.list_all(path, getattr(api, listing.namespaced), ns)
        return self.list_all(listing.everywhere_path, getattr(api, listing.everywhere))

    # -- actions -----------------------------------------------------------------------------
    def _check_namespace(self, value: Any) -> str:
        namespace = _name(value, "namespace")
        if self.namespace is not None and namespace != self.namespace:
            raise InvalidActionArguments(
                f"namespace {namespace!r} is outside this datasource's namespace {self.namespace!r}"
            )
        return namespace

    def _acted(self, answer: Any) -> Any:
        self.request_refresh()
        return answer

    def delete_pod(self, namespace: Any, name: Any) -> Any:
        """``pods.delete``: ``DELETE /api/v1/namespaces/<namespace>/pods/<name>``."""
        namespace, name = self._check_namespace(namespace), _name(name, "name")
        api = self._api("core")
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        return self._acted(self.call("DELETE", path, api.delete_namespaced_pod, name, namespace))

    def scale_deployment(self, namespace: Any, name: Any, replicas: Any) -> Any:
        """``deployments.scale``: ``PATCH .../deployments/<name>/scale`` with
        ``{"spec": {"replicas": n}}``."""
        namespace, name = self._check_namespace(namespace), _name(name, "name")
        count = _replicas(replicas)
        api = self._api("apps")
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
        answer = self.call(
            "PATCH",
            path,
            api.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": count}},
            _content_type=STRATEGIC_MERGE_PATCH,
        )
        return self._acted(answer)

    def _set_unschedulable(self, name: Any, value: bool) -> Any:
        name = _name(name, "name")
        api = self._api("core")
        answer = self.call(
            "PATCH",
            f"/api/v1/nodes/{name}",
            api.patch_node,
            name,
            {"spec": {"unschedulable": value}},
            _content_type=STRATEGIC_MERGE_PATCH,
        )
        return self._acted(answer)

    def cordon_node(self, name: Any) -> Any:
        """``nodes.cordon``: ``PATCH /api/v1/nodes/<name>`` ``{"spec": {"unschedulable":
        true}}``."""
        return self._set_unschedulable(name, True)

    def uncordon_node(self, name: Any) -> Any:
        """``nodes.uncordon``: ``PATCH /api/v1/nodes/<name>`` ``{"spec": {"unschedulable":
        false}}``."""
        return self._set_unschedulable(name, False)
