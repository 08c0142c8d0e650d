"""A small fake cloud on 127.0.0.1 for the driver tests: real HTTP, real client libraries.

``FakeCloud`` is one threaded HTTP server. It plays Keystone v3 (version discovery, password
tokens with a service catalog) and any service a test module adds with ``add_service``: each
service has a catalog entry, a version document at its endpoint root, and routes
(``cloud.route("GET", "/compute/v2.1/servers/detail")``, path patterns with ``{name}``
placeholders). Route handlers return ``(status, body)`` or a body (200); a body is sent as JSON
unless it is ``bytes`` or ``Raw``.

It records every request (``cloud.requests``: method, path, query, JSON body, headers) so the
action tests can check what reached the cloud, and it injects faults (``cloud.fail(...)``:
a status, a delay, a malformed body, or refused tokens) so the failure tests can break it.
Nothing here is a Congress class: drivers reach it only through their client libraries.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_EXPIRES = "2099-01-01T00:00:00.000000Z"
PROJECT_ID = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
USER_ID = "f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5"
USERNAME = "congress"
PASSWORD = "secret-password"
PROJECT_NAME = "admin"
REGION = "RegionOne"


@dataclass
class Recorded:
    """One request the cloud received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Raw:
    """A response body sent as it is (say, malformed JSON)."""

    data: bytes
    content_type: str = "application/json"


@dataclass
class Fault:
    """What the cloud does wrong for matching requests (``prefix`` of the path, or all)."""

    status: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    prefix: str = ""


Handler = Callable[..., Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass
class Service:
    type: str
    name: str
    prefix: str  # e.g. "/compute/v2.1"
    version: dict[str, Any] | None = None
    interface_urls: dict[str, str] = field(default_factory=dict)


class FakeCloud:
    """Keystone v3 plus the services that tests add, on one port."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.routes: list[Route] = []
        self.services: dict[str, Service] = {}
        self.faults: list[Fault] = []
        self.refuse_auth = False
        self.tokens_issued = 0
        self.lock = threading.Lock()
        cloud = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms stall)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                try:
                    cloud._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nobody to answer

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._add_identity()

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> FakeCloud:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    def credentials(self, **extra: Any) -> dict[str, Any]:
        """The common OpenStack options of a datasource that reads this cloud."""
        return {
            "auth_url": self.auth_url,
            "username": USERNAME,
            "password": PASSWORD,
            "project_name": PROJECT_NAME,
            **extra,
        }

    # -- routes and services -----------------------------------------------------------------
    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``method`` and ``path`` (``{name}`` matches one segment and is
        passed to the handler as a keyword; the handler also gets ``request``)."""

        def register(fn: Handler) -> Handler:
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path.rstrip("/")))
            self.routes.insert(0, Route(method.upper(), re.compile(f"^{regex}/?$"), fn))
            return fn

        return register

    def add_service(
        self,
        service_type: str,
        name: str,
        prefix: str,
        version: dict[str, Any] | None = None,
    ) -> Service:
        """Add a service to the catalog at ``self.url + prefix``; with ``version`` (a version
        document's ``version`` object) the endpoint root answers version discovery."""
        service = Service(service_type, name, prefix, version)
        self.services[service_type] = service
        if version is not None:
            doc = {"version": {**version, "links": [{"rel": "self", "href": self.url + prefix}]}}
            self.route("GET", prefix)(lambda request: doc)
        return service

    def fail(
        self,
        status: int | None = None,
        *,
        delay: float = 0.0,
        body: bytes | None = None,
        prefix: str = "",
    ) -> Fault:
        """Answer matching requests (paths starting with ``prefix``; identity excluded unless
        the prefix names it) with ``status`` (and ``body``), or a good answer after ``delay``
        seconds, or ``body`` in place of the good answer's JSON."""
        fault = Fault(status, delay, body, prefix)
        with self.lock:
            self.faults.append(fault)
        return fault

    def heal(self) -> None:
        """Remove every fault and accept tokens again."""
        with self.lock:
            self.faults.clear()
        self.refuse_auth = False

    def requests_to(self, prefix: str, method: str | None = None) -> list[Recorded]:
        """The recorded requests whose path starts with ``prefix`` (and of ``method``)."""
        with self.lock:
            found = list(self.requests)
        return [
            r for r in found if r.path.startswith(prefix) and (method is None or r.method == method)
        ]

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- keystone ----------------------------------------------------------------------------
    def _add_identity(self) -> None:
        v3 = {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

        @self.route("GET", "/identity")
        def versions(request: Recorded) -> Any:
            link = [{"rel": "self", "href": f"{self.url}/identity/v3/"}]
            return 300, {"versions": {"values": [{**v3, "links": link}]}}

        @self.route("GET", "/identity/v3")
        def version(request: Recorded) -> Any:
            return {"version": {**v3, "links": [{"rel": "self", "href": self.auth_url + "/"}]}}

        @self.route("POST", "/identity/v3/auth/tokens")
        def tokens(request: Recorded) -> Any:
            return self._issue_token(request)

    def _issue_token(self, request: Recorded) -> Any:
        if self.refuse_auth:
            return 401, {"error": {"code": 401, "title": "Unauthorized", "message": "refused"}}
        try:
            password = request.body["auth"]["identity"]["password"]["user"]
        except (KeyError, TypeError):
            return 400, {"error": {"code": 400, "message": "password auth expected"}}
        if password.get("name") != USERNAME or password.get("password") != PASSWORD:
            return 401, {"error": {"code": 401, "title": "Unauthorized", "message": "bad user"}}
        self.tokens_issued += 1
        catalog = [
            {
                "type": "identity",
                "name": "keystone",
                "id": "identity",
                "endpoints": self._endpoints("identity", "/identity/v3"),
            }
        ]
        for service in self.services.values():
            catalog.append(
                {
                    "type": service.type,
                    "name": service.name,
                    "id": service.type,
                    "endpoints": self._endpoints(service.type, service.prefix),
                }
            )
        token = {
            "methods": ["password"],
            "expires_at": TOKEN_EXPIRES,
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {
                "id": USER_ID,
                "name": USERNAME,
                "domain": {"id": "default", "name": "Default"},
            },
            "project": {
                "id": PROJECT_ID,
                "name": PROJECT_NAME,
                "domain": {"id": "default", "name": "Default"},
            },
            "roles": [{"id": "r-admin", "name": "admin"}],
            "catalog": catalog,
        }
        return 201, {"token": token}, {"X-Subject-Token": uuid.uuid4().hex}

    def _endpoints(self, service_type: str, prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "id": f"{service_type}-{interface}",
                "interface": interface,
                "region": REGION,
                "region_id": REGION,
                "url": self.url + prefix,
            }
            for interface in ("public", "internal", "admin")
        ]

    # -- the server --------------------------------------------------------------------------
    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        path = parts.path.rstrip("/") or "/"
        length = int(http.headers.get("Content-Length") or 0)
        data = http.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(data) if data else None
        except ValueError:
            body = data
        request = Recorded(
            http.command,
            path,
            parse_qs(parts.query, keep_blank_values=True),
            body,
            {k.lower(): v for k, v in http.headers.items()},
        )
        with self.lock:
            self.requests.append(request)
            faults = [f for f in self.faults if self._faulty(f, path)]
        extra_headers: dict[str, str] = {}
        fault = faults[-1] if faults else None
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            status: int = fault.status
            payload: Any = Raw(fault.body or b'{"error": "injected fault"}')
        else:
            status, payload, extra_headers = self._dispatch(request)
            if fault is not None and fault.body is not None:
                payload = Raw(fault.body)
        self._send(http, status, payload, extra_headers)

    @staticmethod
    def _faulty(fault: Fault, path: str) -> bool:
        if fault.prefix:
            return path.startswith(fault.prefix)
        return not path.startswith("/identity")

    def _dispatch(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        method = "GET" if request.method == "HEAD" else request.method
        for route in self.routes:
            if route.method != method:
                continue
            match = route.pattern.match(request.path)
            if match is None:
                continue
            try:
                result = route.handler(request=request, **match.groupdict())
            except Exception as exc:  # a broken fake answers 500 and says why
                return 500, {"error": f"fake cloud handler failed: {exc!r}"}, {}
            if isinstance(result, tuple):
                if len(result) == 3:
                    return result[0], result[1], dict(result[2])
                return result[0], result[1], {}
            return 200, result, {}
        return 404, {"itemNotFound": {"code": 404, "message": f"no route {request.path}"}}, {}

    @staticmethod
    def _send(
        http: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]
    ) -> None:
        if isinstance(payload, Raw):
            data, content_type = payload.data, payload.content_type
        elif isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        elif payload is None:
            data, content_type = b"", "application/json"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        http.send_response(status)
        http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            http.send_header(key, value)
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(data)
