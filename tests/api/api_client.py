"""``Client``: calls a WSGI application the way an HTTP client would (for the API tests).

Its own module (not conftest) so that tests import it by a name no other test folder uses.
"""

from __future__ import annotations

import json
from typing import Any

import webob


class Client:
    def __init__(self, app: Any) -> None:
        self.app = app

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        req = webob.Request.blank(path, method=method)
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        for k, v in (headers or {}).items():
            req.headers[k] = v
        req.environ["congress.async_streams"] = True  # a change feed answers at once
        resp = req.get_response(self.app)
        stream = req.environ.get("congress.stream")
        if stream is not None:  # a change feed: its first events, and the feed closed
            first = stream.pending.decode()
            stream.close()
            return resp.status_int, first
        if not resp.body:
            data = None
        elif resp.content_type == "text/plain":  # /metrics
            data = resp.text
        else:
            data = json.loads(resp.body)
        return resp.status_int, data

    def raw(
        self, method: str, path: str, *, headers: dict[str, str] | None = None
    ) -> webob.Response:
        """The whole answer (status, headers, bytes) of a request without a body."""
        req = webob.Request.blank(path, method=method)
        for k, v in (headers or {}).items():
            req.headers[k] = v
        return req.get_response(self.app)

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("DELETE", path, **kw)
