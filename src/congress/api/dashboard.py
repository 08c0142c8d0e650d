"""``/dashboard``: the web dashboard's files (docs/dashboard.md, ADR 0011).

May import WebOb and congress.api.

The files are the package data of ``congress/dashboard``, read once: the set of names that can
be served is fixed at start, so no part of a request's path ever reaches the file system. The
files need no token; the page's calls to ``/v1`` carry one and are authorized as usual.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from dataclasses import dataclass

import webob

from congress.api import wire
from congress.api.errors import CODES, ApiError

PREFIX = "/dashboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The Content-Security-Policy of every file: this origin only, no inline code."""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@functools.cache
def assets() -> dict[str, Asset]:
    """The dashboard's files by name (``index.html``, ``app.js``, ...)."""
    root = importlib.resources.files("congress") / "dashboard"
    out: dict[str, Asset] = {}
    for item in root.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
        if not item.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = item.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        out[item.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return out


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def serve(req: webob.Request, path: str) -> webob.Response:
    """Answer a request for ``path`` (under ``/dashboard``)."""
    if req.method not in ("GET", "HEAD"):
        return wire.error_answer(
            ApiError(501, "Method not supported", CODES["unknown"].number, None)
        )
    if path == PREFIX:
        resp = webob.Response(status=301)
        resp.headers["Location"] = PREFIX + "/"
        return resp
    name = path[len(PREFIX) + 1 :] or "index.html"
    asset = assets().get(name)
    if asset is None:
        return wire.error_answer(
            ApiError(404, "The resource could not be found.", CODES["unknown"].number, None)
        )
    resp = webob.Response(status=200)
    resp.headers["Content-Type"] = asset.content_type
    resp.headers["ETag"] = asset.etag
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Content-Security-Policy"] = POLICY
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if asset.etag in (req.headers.get("If-None-Match") or ""):
        resp.status = 304
        return resp
    resp.body = asset.body
    if req.method == "HEAD":
        resp.body = b""
        resp.headers["Content-Length"] = str(len(asset.body))
    return resp
