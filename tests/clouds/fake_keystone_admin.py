"""Keystone's own Identity API v3 resources on a ``FakeCloud``: users, roles, projects,
domains and role assignments, on the identity prefix ``/identity/v3`` that ``FakeCloud``
already serves tokens from.

Objects have the fields the Identity API v3 reference shows (``links``, ``options``,
``password_expires_at``, ``is_domain``, ``parent_id``, ``tags``...). Lists carry
``links: {self, previous, next}``; the users list is paged ``page_size`` users at a time (the
``next`` link carries ``marker`` and ``limit``) so the driver's paging is exercised.
"""

from __future__ import annotations

import copy
from typing import Any

from fakecloud import PROJECT_ID, PROJECT_NAME, USER_ID, USERNAME, FakeCloud, Recorded

PREFIX = "/identity/v3"

DEMO_PROJECT = "3d5b6c2f1e8a4b7c9d0e1f2a3b4c5d6e"
HEAT_DOMAIN = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
DEMO_USER = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
HEAT_ADMIN = "6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"
GROUP = "7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b"
ADMIN_ROLE = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
MEMBER_ROLE = "b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7"
READER_ROLE = "c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"


class FakeKeystoneAdmin:
    """The Identity API v3 admin routes on ``cloud`` over mutable collections."""

    def __init__(self, cloud: FakeCloud, page_size: int = 2) -> None:
        self.cloud = cloud
        self.page_size = page_size
        self.users: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.projects: list[dict[str, Any]] = []
        self.domains: list[dict[str, Any]] = []
        self.assignments: set[str] = set()
        self.reset()
        self._routes()

    def link(self, path: str) -> str:
        return f"{self.cloud.url}{PREFIX}{path}"

    def reset(self) -> None:
        self.users = [
            self.user(USER_ID, USERNAME, default_project_id=PROJECT_ID, email="c@example.org"),
            self.user(DEMO_USER, "demo", default_project_id=DEMO_PROJECT),
            self.user(HEAT_ADMIN, "heat_domain_admin", domain_id=HEAT_DOMAIN, enabled=False),
        ]
        self.roles = [
            self.role(ADMIN_ROLE, "admin"),
            self.role(MEMBER_ROLE, "member"),
            self.role(READER_ROLE, "reader"),
        ]
        self.projects = [
            self.project(PROJECT_ID, PROJECT_NAME, "Bootstrap project for initializing the cloud."),
            self.project(DEMO_PROJECT, "demo", "", enabled=False),
        ]
        self.domains = [
            self.domain("default", "Default", "The default domain"),
            self.domain(HEAT_DOMAIN, "heat", "Owns users and projects created by heat"),
        ]
        self.assignments = set()

    def user(
        self,
        user_id: str,
        name: str,
        *,
        domain_id: str = "default",
        enabled: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "name": name,
            "domain_id": domain_id,
            "enabled": enabled,
            "password_expires_at": None,
            "options": {},
            "links": {"self": self.link(f"/users/{user_id}")},
            **extra,
        }

    def role(self, role_id: str, name: str) -> dict[str, Any]:
        return {
            "id": role_id,
            "name": name,
            "domain_id": None,
            "description": None,
            "options": {"immutable": True},
            "links": {"self": self.link(f"/roles/{role_id}")},
        }

    def project(
        self, project_id: str, name: str, description: str, *, enabled: bool = True
    ) -> dict[str, Any]:
        return {
            "id": project_id,
            "name": name,
            "domain_id": "default",
            "description": description,
            "enabled": enabled,
            "parent_id": "default",
            "is_domain": False,
            "tags": [],
            "options": {},
            "links": {"self": self.link(f"/projects/{project_id}")},
        }

    def domain(self, domain_id: str, name: str, description: str) -> dict[str, Any]:
        return {
            "id": domain_id,
            "name": name,
            "description": description,
            "enabled": True,
            "tags": [],
            "options": {},
            "links": {"self": self.link(f"/domains/{domain_id}")},
        }

    def find(self, collection: str, ident: str) -> dict[str, Any] | None:
        items: list[dict[str, Any]] = getattr(self, collection)
        return next((i for i in items if i["id"] == ident), None)

    def _routes(self) -> None:
        route = self.cloud.route

        def listing(collection: str, request: Recorded, paged: bool) -> Any:
            items: list[dict[str, Any]] = getattr(self, collection)
            start = 0
            limit = len(items)
            if paged:
                limit = int(request.query.get("limit", [self.page_size])[0])
                marker = request.query.get("marker", [None])[0]
                if marker is not None:
                    start = [i["id"] for i in items].index(marker) + 1
            page = items[start : start + limit]
            following = None
            if start + limit < len(items):
                following = self.link(f"/{collection}?marker={page[-1]['id']}&limit={limit}")
            links = {"self": self.link(f"/{collection}"), "previous": None, "next": following}
            return {collection: copy.deepcopy(page), "links": links}

        def lister(collection: str, paged: bool) -> None:
            route("GET", f"{PREFIX}/{collection}")(
                lambda request: listing(collection, request, paged)
            )

        for name in ("users", "roles", "projects", "domains"):
            lister(name, paged=name == "users")

        def updater(collection: str, key: str) -> None:
            @route("PATCH", f"{PREFIX}/{collection}/{{ident}}")
            def update(request: Recorded, ident: str) -> Any:
                found = self.find(collection, ident)
                if found is None:
                    return not_found(key, ident)
                found.update(request.body[key])
                return {key: copy.deepcopy(found)}

            @route("DELETE", f"{PREFIX}/{collection}/{{ident}}")
            def delete(request: Recorded, ident: str) -> Any:
                found = self.find(collection, ident)
                if found is None:
                    return not_found(key, ident)
                getattr(self, collection).remove(found)
                return 204, None

        updater("users", "user")
        updater("projects", "project")

        for target in ("projects/{target}", "domains/{target}", "system"):
            for actor in ("users", "groups"):
                assignment = f"{PREFIX}/{target}/{actor}/{{actor}}/roles/{{role}}"

                @route("PUT", assignment)
                def grant(request: Recorded, actor: str, role: str, **target: str) -> Any:
                    self.assignments.add(request.path)
                    return 204, None

                @route("DELETE", assignment)
                def revoke(request: Recorded, actor: str, role: str, **target: str) -> Any:
                    if request.path not in self.assignments:
                        return not_found("role assignment", role)
                    self.assignments.discard(request.path)
                    return 204, None


def not_found(kind: str, ident: str) -> tuple[int, dict[str, Any]]:
    message = f"Could not find {kind}: {ident}."
    return 404, {"error": {"code": 404, "message": message, "title": "Not Found"}}
