"""The WSGI application: the route table, dispatch, authorisation and the middleware pipeline.

May import WebOb, oslo.middleware, keystonemiddleware, congress.api, congress.services and
congress.common.

``ROUTES`` is the only place routes are declared: method, path pattern, handler, and the access
rule it needs. A handler gets ``(req, services, **path_parameters)`` and returns a body (200), a
``(status, body)`` pair or a ready ``webob.Response``; any exception becomes an error body
(``congress.api.wire.to_api_error``).

Every answer's latency is observed in ``Services.metrics`` (or, without one, in the app's own
``Metrics``) under its declared route (``Route.path``, ``/``, ``/healthcheck``, ``/metrics``,
``/dashboard`` for the dashboard's files; ``other`` for any other path), but for streams
(``/watch``), whose lifetime is not latency.
``GET /metrics`` answers them in the Prometheus text format, open like ``/healthcheck``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import webob
from oslo_config import cfg

from congress.api import (
    auth,
    dashboard,
    datasources,
    executions,
    library,
    policies,
    policy_versions,
    quotas,
    sinks,
    system,
    tenancy,
    versions,
    watch,
    wire,
)
from congress.api.errors import CODES, ApiError
from congress.api.services import Services
from congress.services import errors as svc_errors
from congress.services import metrics as svc_metrics

Handler = Callable[..., Any]

REVISION_HEADER = "X-Congress-Revision"
"""On the answer of every policy write: the global policy revision it produced."""
MIN_REVISION_HEADER = "X-Congress-Min-Revision"
"""On a request: answer only after this node has applied that revision (read-your-writes)."""
ROUTE_KEY = "congress.route"
"""The WSGI environ key of the request's declared route (the metrics' ``route`` label)."""
OPEN_ROUTES = ("/", "/healthcheck", "/metrics")
"""Routes outside ``/v1`` that are not the versions answer of any other path."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    access: str  # get_v1, create_v1, update_v1, delete_v1, or "" (open: no authorisation)
    path: str = ""  # the pattern as declared: /v1/policies/<policy>
    read_actions: tuple[str, ...] = ()  # ?action= values that are reads (get_v1)
    read_flags: tuple[str, ...] = ()  # query flags (wire.flag) that make it a read: dry_run

    def access_for(self, req: webob.Request) -> str:
        """The access rule of this request (docs/security.md, Authorization)."""
        if self.read_actions and wire.query(req, "action") in self.read_actions:
            return "get_v1"
        if any(wire.flag(req, name) for name in self.read_flags):
            return "get_v1"
        return self.access


def _r(
    method: str,
    path: str,
    handler: Handler,
    access: str,
    read_actions: tuple[str, ...] = (),
    read_flags: tuple[str, ...] = (),
) -> Route:
    regex = "^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", path) + "/?$"
    return Route(method, re.compile(regex), handler, access, path, read_actions, read_flags)


P = "/v1/policies/<policy>"
D = "/v1/data-sources/<ds>"
S = "/v1/notification-sinks/<sink>"
ROUTES: tuple[Route, ...] = (
    _r("GET", "/v1", versions.v1, ""),
    _r("GET", "/v1/policies", policies.list_policies, "get_v1"),
    _r("POST", "/v1/policies", policies.create_policy, "create_v1"),
    _r("GET", P, policies.show_policy, "get_v1"),
    _r("DELETE", P, policies.delete_policy, "delete_v1"),
    _r("PATCH", P, executions.update_policy, "update_v1"),
    _r("GET", P + "/breaker", executions.show_breaker, "get_v1"),
    _r("POST", P + "/breaker", executions.breaker_action, "update_v1"),
    _r("GET", "/v1/executions", executions.list_executions, "get_v1"),
    _r("POST", P, policies.policy_action, "create_v1", read_actions=("simulate", "explain")),
    _r("GET", P + "/status", policies.policy_status, "get_v1"),
    _r("GET", P + "/versions", policy_versions.list_versions, "get_v1"),
    _r("GET", P + "/versions/<version>", policy_versions.show_version, "get_v1"),
    _r("GET", P + "/rules", policies.list_rules, "get_v1"),
    _r("POST", P + "/rules", policies.create_rule, "create_v1", read_flags=("dry_run",)),
    _r("GET", P + "/rules/<rule>", policies.show_rule, "get_v1"),
    _r("DELETE", P + "/rules/<rule>", policies.delete_rule, "delete_v1"),
    _r("GET", P + "/rules/<rule>/status", policies.rule_status, "get_v1"),
    _r("GET", P + "/tables", policies.list_tables, "get_v1"),
    _r("GET", P + "/tables/<table>", policies.show_table, "get_v1"),
    _r("GET", P + "/tables/<table>/rows", policies.list_rows, "get_v1"),
    _r("GET", P + "/tables/<table>/history", policies.table_history, "get_v1"),
    _r("GET", P + "/tables/<table>/history/counts", policies.table_counts, "get_v1"),
    _r("GET", P + "/tables/<table>/watch", watch.watch_table, "get_v1"),
    _r("GET", "/v1/data-sources", datasources.list_datasources, "get_v1"),
    _r("POST", "/v1/data-sources", datasources.create_datasource, "create_v1"),
    _r("GET", D, datasources.show_datasource, "get_v1"),
    _r("DELETE", D, datasources.delete_datasource, "delete_v1"),
    _r("PATCH", D, datasources.update_datasource, "update_v1"),
    _r("POST", D, datasources.datasource_action, "create_v1"),
    _r("GET", D + "/schema", datasources.schema, "get_v1"),
    _r("GET", D + "/status", datasources.status, "get_v1"),
    _r("GET", D + "/actions", datasources.actions, "get_v1"),
    _r("GET", D + "/tables", datasources.list_tables, "get_v1"),
    _r("GET", D + "/tables/<table>", datasources.show_table, "get_v1"),
    _r("GET", D + "/tables/<table>/spec", datasources.table_spec, "get_v1"),
    _r("GET", D + "/tables/<table>/rows", datasources.list_rows, "get_v1"),
    _r("PUT", D + "/tables/<table>/rows", datasources.replace_rows, "update_v1"),
    _r("POST", D + "/webhook", datasources.webhook, "create_v1"),
    _r("GET", "/v1/system/drivers", system.list_drivers, "get_v1"),
    _r("GET", "/v1/system/drivers/<driver>", system.show_driver, "get_v1"),
    _r("GET", "/v1/librarypolicies", library.list_policies, "get_v1"),
    _r("POST", "/v1/librarypolicies", library.create_policy, "create_v1"),
    _r("GET", "/v1/librarypolicies/<lib>", library.show_policy, "get_v1"),
    _r("PUT", "/v1/librarypolicies/<lib>", library.replace_policy, "update_v1"),
    _r("DELETE", "/v1/librarypolicies/<lib>", library.delete_policy, "delete_v1"),
    _r("GET", "/v1/notification-sinks", sinks.list_sinks, "get_v1"),
    _r("POST", "/v1/notification-sinks", sinks.create_sink, "create_v1"),
    _r("GET", S, sinks.show_sink, "get_v1"),
    _r("DELETE", S, sinks.delete_sink, "delete_v1"),
    _r("GET", S + "/dead-letters", sinks.dead_letters, "get_v1"),
    _r("GET", "/v1/quotas", quotas.list_quotas, "get_v1"),
    _r("GET", "/v1/quotas/<project>", quotas.show_quotas, "get_v1"),
    _r("PUT", "/v1/quotas/<project>", quotas.update_quotas, "update_v1"),
    _r("DELETE", "/v1/quotas/<project>", quotas.delete_quotas, "delete_v1"),
)


class CongressApp:
    """Dispatches ``/v1`` requests through ``ROUTES``; other paths get the versions answer."""

    def __init__(self, services: Services, conf: cfg.ConfigOpts) -> None:
        self.services = services
        self.strategy: str = conf.auth_strategy
        self.authorizer = auth.Authorizer(conf)
        self.sign_in = dashboard.SignIn(conf)  # POST /dashboard/token, GET /dashboard/session
        self._own_metrics = svc_metrics.Metrics()  # when the services have none

    @property
    def metrics(self) -> svc_metrics.Metrics:
        """The metrics the API observes and ``/metrics`` answers."""
        found: svc_metrics.Metrics | None = self.services.metrics
        return self._own_metrics if found is None else found

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        req = webob.Request(environ)
        self.services.take_written_revision()  # forget an earlier request's write
        try:
            resp = self.dispatch(req)
        except Exception as e:  # every error becomes the original's error body
            resp = wire.error_answer(self._error(e))
            if isinstance(e, svc_errors.Unavailable):
                resp.headers["Retry-After"] = str(e.retry_after)
            elif resp.status_int == 503:
                resp.headers["Retry-After"] = str(svc_errors.Unavailable.retry_after)
        resp = tenancy.strip(tenancy.scope_of(req), resp)
        revision = self.services.take_written_revision()
        if revision is not None:
            resp.headers[REVISION_HEADER] = str(revision)
        route = environ.get(ROUTE_KEY, svc_metrics.OTHER)
        if not route.endswith("/watch"):  # a stream: its lifetime is not latency
            seconds = time.perf_counter() - started
            self.metrics.observe_request(req.method, route, resp.status_int, seconds)
        return resp(environ, start_response)

    def _wait_for_revision(self, req: webob.Request) -> None:
        """``X-Congress-Min-Revision: N``: answer only once this node has applied N."""
        wanted = req.headers.get(MIN_REVISION_HEADER)
        if wanted is None:
            return
        try:
            revision = int(wanted)
        except ValueError:
            raise wire.BadRequest(
                f"Header {MIN_REVISION_HEADER} must be an integer, not {wanted!r}"
            ) from None
        wait = self.services.min_revision_wait
        if not self.services.engine.wait_for_revision(revision, wait):
            raise svc_errors.RevisionNotReached(
                f"This node has not applied policy revision {revision} within {wait:g} s; try again"
            )

    def _error(self, e: Exception) -> ApiError:
        unknown = CODES["unknown"].number
        if isinstance(e, auth.NotAuthenticated):
            return ApiError(401, "Authentication required", unknown, {"code": "unauthorized"})
        if isinstance(e, auth.Forbidden):
            return ApiError(403, str(e), unknown, {"code": "forbidden"})
        return wire.to_api_error(e)

    def dispatch(self, req: webob.Request) -> webob.Response:
        path = wire.url_path(req).rstrip("/") or "/"
        if path in OPEN_ROUTES:
            req.environ[ROUTE_KEY] = path
        if path == "/":
            return wire.answer(versions.root(req), 200)
        if path == "/healthcheck":
            return self._health_answer(req)
        if path == "/metrics":
            return self._metrics_answer(req)
        if dashboard.is_dashboard(wire.url_path(req)):
            req.environ[ROUTE_KEY] = dashboard.PREFIX
            return dashboard.serve(req, wire.url_path(req), self.sign_in)
        if not (path == "/v1" or path.startswith("/v1/")):
            return wire.answer(versions.root(req), 300)
        allowed = []
        for route in ROUTES:
            m = route.pattern.match(path)
            if m is None:
                continue
            req.environ[ROUTE_KEY] = route.path
            if route.method != req.method:
                allowed.append(route.method)
                continue
            access = route.access_for(req)
            params = m.groupdict()
            if access:
                ctx = auth.context_from(req, self.strategy)
                scope = tenancy.authorize(
                    ctx,
                    self.authorizer,
                    req.method,
                    route.path,
                    access,
                    wire.query(req, "action"),
                )
                req.environ["congress.context"] = ctx
                req.environ[tenancy.SCOPE_KEY] = scope
                params = tenancy.map_parameters(
                    scope, req.method, route.path, params, self.services
                )
            self._wait_for_revision(req)
            return self._respond(route.handler(req, self.services, **params))
        if allowed:  # the original answered 501 for a method a resource does not have
            return wire.error_answer(
                ApiError(501, "Method not supported", CODES["unknown"].number, None)
            )
        return wire.error_answer(
            ApiError(404, "The resource could not be found.", CODES["unknown"].number, None)
        )

    def _health_answer(self, req: webob.Request) -> webob.Response:
        """``GET /healthcheck``: 200 ``{status: OK, policy_errors}`` while the process
        answers; with ``?details=true`` (or ``detailed``) the deep readiness check, 503 when
        this node cannot serve (``congress.services.health``; a HEAD then answers 204 or 503
        without a body, as oslo.middleware's healthcheck)."""
        if not (wire.flag(req, "details") or wire.flag(req, "detailed")):
            return wire.answer(self.services.health(), 200)
        body = self.services.health(details=True)
        ready = body.get("status") == "OK"
        if req.method == "HEAD":
            return webob.Response(status=204 if ready else 503)
        resp = wire.answer(body, 200 if ready else 503)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _metrics_answer(self, req: webob.Request) -> webob.Response:
        """``GET /metrics``: this node's figures and its datasource host's (docs/metrics.md)."""
        if req.method not in ("GET", "HEAD"):
            return wire.error_answer(
                ApiError(501, "Method not supported", CODES["unknown"].number, None)
            )
        resp = webob.Response(body=self.metrics.exposition(), status=200)
        resp.headers["Content-Type"] = svc_metrics.CONTENT_TYPE
        return resp

    @staticmethod
    def _respond(result: Any) -> webob.Response:
        if isinstance(result, webob.Response):
            return result
        if isinstance(result, tuple):
            status, body = result
            return wire.answer(body, status)
        return wire.answer(result, 200)
