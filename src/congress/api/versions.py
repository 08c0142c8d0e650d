"""The versions documents at ``/`` and ``/v1``.

May import WebOb.
"""

from __future__ import annotations

from typing import Any

import webob

UPDATED = "2013-08-12T17:42:13Z"


def _v1(req: webob.Request) -> dict[str, Any]:
    base = req.host_url.rstrip("/")
    return {
        "id": "v1",
        "status": "CURRENT",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v1/"}],
    }


def root(req: webob.Request) -> dict[str, Any]:
    """``GET /``: every version (the original answered other unknown paths with it, as 300)."""
    doc = {"versions": [_v1(req)]}
    if req.path_info.rstrip("/"):
        return {"choices": doc["versions"], **doc}
    return doc


def v1(req: webob.Request, services: Any) -> dict[str, Any]:
    """``GET /v1``."""
    return {"version": _v1(req)}
