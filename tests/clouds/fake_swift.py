"""A fake Swift (Object Storage API v1) account on a ``FakeCloud``: JSON listings with
``marker`` paging, metadata ``POST`` and ``DELETE`` of containers and objects.

The catalog endpoint is the account, ``/object-store/v1/AUTH_<project_id>``. Listings have the
fields the Object Storage API reference shows (``last_modified`` of containers, ``hash``,
``content_type`` of objects) and its response headers (``X-Account-Container-Count``...).
A page holds at most ``page_size`` entries (Swift's ``limit``); past the end the account
answers ``204 No Content`` and a container ``200 []``, the two forms the reference allows.
Object names may hold ``/``: their routes take the rest of the path.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from fakecloud import PROJECT_ID, FakeCloud, Recorded, Route

ACCOUNT = f"/object-store/v1/AUTH_{PROJECT_ID}"
TIMESTAMP = "1733050800.12345"


def obj(name: str, size: int, digest: str, content_type: str, modified: str) -> dict[str, Any]:
    return {
        "hash": digest,
        "last_modified": modified,
        "bytes": size,
        "name": name,
        "content_type": content_type,
    }


def initial_objects() -> dict[str, list[dict[str, Any]]]:
    return {
        "backups": [
            obj(
                "db/2024-12-01.sql.gz",
                1048576,
                "9e107d9d372bb6826bd81d3542a419d6",
                "application/gzip",
                "2024-12-01T03:00:02.123450",
            ),
            obj(
                "db/2024-12-02.sql.gz",
                1050000,
                "e4d909c290d0fb1ca068ffaddf22cbd0",
                "application/gzip",
                "2024-12-02T03:00:01.543210",
            ),
            obj(
                "etc/nginx.conf",
                2048,
                "d41d8cd98f00b204e9800998ecf8427e",
                "text/plain",
                "2024-11-20T10:15:00.000000",
            ),
        ],
        "empty": [],
        "photos": [
            obj(
                "2024/beach day.jpg",
                345678,
                "451e372e48e0f6b1114fa0724aa79fa1",
                "image/jpeg",
                "2024-07-14T16:41:49.390270",
            ),
        ],
    }


class FakeSwift:
    """Object Storage API v1 routes on ``cloud`` over containers of objects."""

    def __init__(self, cloud: FakeCloud, page_size: int = 2) -> None:
        self.cloud = cloud
        self.page_size = page_size
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.metadata: dict[str, dict[str, str]] = {}  # container or container/object -> headers
        self.reset()
        cloud.add_service("object-store", "swift", ACCOUNT)
        self._routes()

    def reset(self) -> None:
        self.objects = initial_objects()
        self.metadata = {}

    def containers(self) -> list[dict[str, Any]]:
        return [
            {
                "count": len(items),
                "bytes": sum(o["bytes"] for o in items),
                "name": name,
                "last_modified": "2024-12-02T03:00:01.543210",
            }
            for name, items in sorted(self.objects.items())
        ]

    def page(self, entries: list[dict[str, Any]], request: Recorded) -> list[dict[str, Any]]:
        limit = int(request.query.get("limit", [self.page_size])[0])
        marker = request.query.get("marker", [""])[0]
        return [e for e in entries if e["name"] > marker][:limit]

    def _routes(self) -> None:
        cloud = self.cloud

        def account_headers() -> dict[str, str]:
            return {
                "X-Account-Container-Count": str(len(self.objects)),
                "X-Account-Object-Count": str(sum(len(v) for v in self.objects.values())),
                "X-Account-Bytes-Used": str(sum(c["bytes"] for c in self.containers())),
                "X-Timestamp": TIMESTAMP,
                "X-Trans-Id": "tx1a2b3c4d5e6f7a8b9c0d1-0067a1b2c3",
                "Accept-Ranges": "bytes",
            }

        @cloud.route("GET", ACCOUNT)
        def account(request: Recorded) -> Any:
            if request.query.get("format") != ["json"]:
                return 406, b"only format=json in this fake"
            page = self.page(self.containers(), request)
            if not page:
                return 204, None, account_headers()
            return 200, page, account_headers()

        @cloud.route("GET", f"{ACCOUNT}/{{container}}")
        def container(request: Recorded, container: str) -> Any:
            name = unquote(container)
            if name not in self.objects:
                return 404, b"<html><h1>Not Found</h1></html>"
            items = self.objects[name]
            headers = {
                "X-Container-Object-Count": str(len(items)),
                "X-Container-Bytes-Used": str(sum(o["bytes"] for o in items)),
                "X-Timestamp": TIMESTAMP,
                "X-Storage-Policy": "Policy-0",
            }
            return 200, self.page(items, request), headers

        @cloud.route("POST", f"{ACCOUNT}/{{container}}")
        def post_container(request: Recorded, container: str) -> Any:
            name = unquote(container)
            if name not in self.objects:
                return 404, b"<html><h1>Not Found</h1></html>"
            self.metadata[name] = meta_of(request, "x-container-")
            return 204, None

        @cloud.route("DELETE", f"{ACCOUNT}/{{container}}")
        def delete_container(request: Recorded, container: str) -> Any:
            name = unquote(container)
            if name not in self.objects:
                return 404, b"<html><h1>Not Found</h1></html>"
            if self.objects[name]:
                return 409, b"<html><h1>Conflict</h1><p>There was a conflict.</p></html>"
            del self.objects[name]
            return 204, None

        def find(container: str, name: str) -> dict[str, Any] | None:
            items = self.objects.get(unquote(container), [])
            return next((o for o in items if o["name"] == unquote(name)), None)

        def post_object(request: Recorded, container: str, name: str) -> Any:
            if find(container, name) is None:
                return 404, b"<html><h1>Not Found</h1></html>"
            self.metadata[f"{unquote(container)}/{unquote(name)}"] = meta_of(request, "x-object-")
            return 202, b"<html><h1>Accepted</h1></html>"

        def delete_object(request: Recorded, container: str, name: str) -> Any:
            found = find(container, name)
            if found is None:
                return 404, b"<html><h1>Not Found</h1></html>"
            self.objects[unquote(container)].remove(found)
            return 204, None

        object_path = re.compile(f"^{re.escape(ACCOUNT)}/(?P<container>[^/]+)/(?P<name>.+)$")
        cloud.routes.insert(0, Route("POST", object_path, post_object))
        cloud.routes.insert(0, Route("DELETE", object_path, delete_object))


def meta_of(request: Recorded, prefix: str) -> dict[str, str]:
    """The request's headers that Swift stores with a POST (those starting with ``prefix``)."""
    return {k: v for k, v in request.headers.items() if k.startswith(prefix)}
