"""The middleware pipeline around the application, built from ``auth_strategy``.

May import oslo.middleware, keystonemiddleware, congress.api and congress.common.

As the original's paste pipelines, outermost first: CORS, proxy headers (``X-Forwarded-*``),
request id, catch errors, the body size limit (``[limits] max_request_body_size``: 413 with the
error body, before anything reads the body), then, for ``keystone``, keystonemiddleware's
``auth_token``. The
version documents (``/``, ``/v1``), ``/healthcheck``, ``/metrics`` and unknown paths outside
``/v1`` need no token (spec README, Unauthenticated routes).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_middleware import catch_errors, cors, http_proxy_to_wsgi, request_id

from congress.api import wire
from congress.api.app import CongressApp
from congress.api.errors import CODES, ApiError
from congress.api.services import Services
from congress.common import opts

LOG = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

OPEN_PATHS = ("/", "/v1", "/healthcheck", "/metrics")


def _open(path: str) -> bool:
    path = path.rstrip("/") or "/"
    return path in OPEN_PATHS or not (path == "/v1" or path.startswith("/v1/"))


def _keystone_guard(authtoken: WSGIApp) -> WSGIApp:
    """Turn a failure of the token middleware itself (Keystone not configured or not
    reachable) into a 503 with the error body, instead of a bare 500."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            return authtoken(environ, start_response)
        except Exception as e:
            LOG.error("Keystone token validation failed: %s", e)
            err = ApiError(
                503,
                "Authentication is unavailable: Keystone is not configured or not reachable "
                "([keystone_authtoken])",
                CODES["unknown"].number,
                {"code": "unavailable"},
            )
            return wire.error_answer(err)(environ, start_response)

    return guarded


def _body_limit(app: WSGIApp, limit: int) -> WSGIApp:
    """413 for a body over ``limit`` bytes: by its Content-Length, or, without one (chunked),
    by reading at most ``limit + 1`` bytes of it first."""

    def too_large(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        err = ApiError(
            413,
            f"The request body is over the limit max_request_body_size={limit} bytes",
            CODES["unknown"].number,
            {"code": "limit_exceeded", "limit": "max_request_body_size", "value": limit},
        )
        return wire.error_answer(err)(environ, start_response)

    def limited(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.strip():
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > limit:
                return too_large(environ, start_response)
        elif environ.get("wsgi.input") is not None and environ.get("REQUEST_METHOD") in (
            "POST",
            "PUT",
            "PATCH",
        ):
            data = environ["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                return too_large(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        return app(environ, start_response)

    return limited


def build(services: Services, conf: cfg.ConfigOpts) -> WSGIApp:
    """The WSGI application to serve."""
    opts.set_config_defaults()
    app = CongressApp(services, conf)
    protected: WSGIApp = app
    if conf.auth_strategy == "keystone":
        from keystonemiddleware import auth_token  # type: ignore[import-untyped]

        protected = _keystone_guard(auth_token.AuthProtocol(app, {"oslo_config_config": conf}))

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = app if _open(environ.get("PATH_INFO", "/")) else protected
        return target(environ, start_response)

    wrapped: WSGIApp = _body_limit(route, conf.limits.max_request_body_size)
    wrapped = catch_errors.CatchErrors(wrapped)
    wrapped = request_id.RequestId(wrapped)
    wrapped = http_proxy_to_wsgi.HTTPProxyToWSGI(wrapped, conf)
    wrapped = cors.CORS(wrapped, conf)
    return wrapped
