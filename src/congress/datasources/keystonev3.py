"""The ``keystonev3`` driver: OpenStack Identity (Keystone, Identity API v3).

Imports: standard library and congress.datasources (openstacksdk through the base).

``users``, ``roles``, ``projects`` and ``domains`` are ``GET /v3/users``, ``/v3/roles``,
``/v3/projects`` and ``/v3/domains`` (following ``links.next``), read through the ``identity``
proxy of openstacksdk with the driver's own Keystone session; fields as the Identity API v3
reference documents them (a user without ``default_project_id`` gives None).

The original listed only the keystoneclient ``Client``'s own HTTP methods as actions (and ran
any dotted path). This driver lists explicit actions instead, with keystoneclient v3's manager
names and arguments, in its order: ``users.update``, ``users.delete``, ``projects.update``,
``projects.delete``, ``roles.grant`` and ``roles.revoke``. keystoneclient had no
``users.enable``/``users.disable``: disable a user with ``users.update(user, enabled=False)``.
Objects are named by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import InvalidActionArguments, ServiceError
from congress.datasources.execution import Action, bool_arg
from congress.datasources.openstack import OpenStackDriver

USERS = tr.HDict(
    table="users",
    fields=[
        tr.Field("id", desc="The ID for the user."),
        tr.Field("name", desc="username, unique within domain"),
        tr.Field("enabled", desc="user is enabled or not"),
        tr.Field("default_project_id", desc="ID of the default project for the user"),
        tr.Field("domain_id", desc="The ID of the domain for the user."),
    ],
)
ROLES = tr.HDict(
    table="roles",
    fields=[tr.Field("id", desc="role ID"), tr.Field("name", desc="role name")],
)
PROJECTS = tr.HDict(
    table="projects",
    fields=[
        tr.Field("enabled", desc="project is enabled or not"),
        tr.Field("description", desc="project description"),
        tr.Field("name", desc="project name"),
        tr.Field("domain_id", desc="The ID of the domain for the project"),
        tr.Field("id", desc="ID for the project"),
    ],
)
DOMAINS = tr.HDict(
    table="domains",
    fields=[
        tr.Field("enabled", desc="domain is enabled or disabled"),
        tr.Field("description", desc="domain description"),
        tr.Field("name", desc="domain name"),
        tr.Field("id", desc="domain ID"),
    ],
)

# root table -> (path, collection key)
COLLECTIONS: Mapping[str, tuple[str, str]] = {
    "users": ("/users", "users"),
    "roles": ("/roles", "roles"),
    "projects": ("/projects", "projects"),
    "domains": ("/domains", "domains"),
}

# keystoneclient v3's arguments, in its order, and the request body field each one sets
USER_ARGS: tuple[tuple[str, str, str], ...] = (
    ("name", "name", "new user name"),
    ("domain", "domain_id", "ID of the user's domain"),
    ("project", "default_project_id", "ID of the default project (deprecated alias)"),
    ("password", "password", "new password"),
    ("email", "email", "e-mail address"),
    ("description", "description", "description"),
    ("enabled", "enabled", "True or False"),
    ("default_project", "default_project_id", "ID of the default project"),
)
PROJECT_ARGS: tuple[tuple[str, str, str], ...] = (
    ("name", "name", "new project name"),
    ("domain", "domain_id", "ID of the project's domain"),
    ("description", "description", "description"),
    ("enabled", "enabled", "True or False"),
)

_ASSIGNMENT_ARGS = (
    ("role", "ID of the role"),
    ("user", "ID of the user (give user or group)"),
    ("group", "ID of the group (give user or group)"),
    ("system", "'all' (or True) for a role on the system (give system, domain or project)"),
    ("domain", "ID of the domain (give system, domain or project)"),
    ("project", "ID of the project (give system, domain or project)"),
)


class KeystoneV3Driver(OpenStackDriver):
    """Datasource driver that interfaces with keystone."""

    DRIVER_NAME: ClassVar[str] = "keystonev3"
    DESCRIPTION: ClassVar[str] = "Datasource driver that interfaces with keystone."
    SERVICE_TYPE: ClassVar[str] = "identity"
    PROXY: ClassVar[str] = "identity"
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (USERS, ROLES, PROJECTS, DOMAINS)
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "users.update": Action(
            "Update a user: the arguments given (not null) are set; other named arguments "
            "set the user attribute of that name.",
            (("user", "ID of the user"), *((a, d) for a, _, d in USER_ARGS)),
            "update_user",
        ),
        "users.delete": Action("Delete a user.", (("user", "ID of the user"),), "delete_user"),
        "projects.update": Action(
            "Update a project: the arguments given (not null) are set; other named arguments "
            "set the project attribute of that name (tags, options, ...).",
            (("project", "ID of the project"), *((a, d) for a, _, d in PROJECT_ARGS)),
            "update_project",
        ),
        "projects.delete": Action(
            "Delete a project.", (("project", "ID of the project"),), "delete_project"
        ),
        "roles.grant": Action(
            "Grant a role to a user or group on a project, a domain or the system.",
            _ASSIGNMENT_ARGS,
            "grant_role",
        ),
        "roles.revoke": Action(
            "Revoke a role from a user or group on a project, a domain or the system.",
            _ASSIGNMENT_ARGS,
            "revoke_role",
        ),
    }

    def fetch(self, root: str) -> Any:
        if root not in COLLECTIONS:
            raise ServiceError(f"keystonev3 has no root table {root!r}")
        path, key = COLLECTIONS[root]
        return self.list_all(path, key)

    # -- actions (Identity API v3) -----------------------------------------------------------
    def update_user(self, user: str, *args: Any, **attributes: Any) -> None:
        body = _body(USER_ARGS, args, attributes)
        self.request("PATCH", f"/users/{_segment(user)}", json={"user": body})

    def delete_user(self, user: str) -> None:
        self.request("DELETE", f"/users/{_segment(user)}")

    def update_project(self, project: str, *args: Any, **attributes: Any) -> None:
        body = _body(PROJECT_ARGS, args, attributes)
        self.request("PATCH", f"/projects/{_segment(project)}", json={"project": body})

    def delete_project(self, project: str) -> None:
        self.request("DELETE", f"/projects/{_segment(project)}")

    def grant_role(
        self,
        role: str,
        user: str | None = None,
        group: str | None = None,
        system: Any = None,
        domain: str | None = None,
        project: str | None = None,
    ) -> None:
        self.request("PUT", _assignment(role, user, group, system, domain, project))

    def revoke_role(
        self,
        role: str,
        user: str | None = None,
        group: str | None = None,
        system: Any = None,
        domain: str | None = None,
        project: str | None = None,
    ) -> None:
        self.request("DELETE", _assignment(role, user, group, system, domain, project))


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


def _body(
    known: Sequence[tuple[str, str, str]], args: Sequence[Any], named: Mapping[str, Any]
) -> dict[str, Any]:
    """The request body of an update: keystoneclient's arguments (positional in its order, or
    named) under their field names, other named arguments as they are; nulls are left out,
    as keystoneclient did, and ``enabled`` given as text (as policies give it) is read as a
    boolean."""
    if len(args) > len(known):
        raise InvalidActionArguments(f"at most {len(known) + 1} positional arguments")
    values = {name: value for (name, _, _), value in zip(known, args, strict=False)}
    twice = sorted(set(values) & set(named))
    if twice:
        raise InvalidActionArguments(f"arguments given twice: {', '.join(twice)}")
    values.update(named)
    fields = {name: field for name, field, _ in known}
    body: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "enabled" and isinstance(value, str):
            value = bool_arg(value, "enabled")
        body[fields.get(name, name)] = value
    if not body:
        raise InvalidActionArguments("nothing to update: no attribute given")
    return body


def _assignment(
    role: str,
    user: str | None,
    group: str | None,
    system: Any,
    domain: str | None,
    project: str | None,
) -> str:
    """``/projects/{p}/users/{u}/roles/{r}`` and its domain, system and group forms."""
    if (user is None) == (group is None):
        raise InvalidActionArguments("give exactly one of user and group")
    targets = [t for t in (system, domain, project) if t is not None and t is not False]
    if len(targets) != 1:
        raise InvalidActionArguments("give exactly one of system, domain and project")
    if project is not None:
        target = f"/projects/{_segment(project)}"
    elif domain is not None:
        target = f"/domains/{_segment(domain)}"
    else:
        target = "/system"
    actor = f"/users/{_segment(user)}" if user is not None else f"/groups/{_segment(group)}"
    return f"{target}{actor}/roles/{_segment(role)}"
