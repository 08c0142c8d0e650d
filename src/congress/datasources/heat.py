"""The ``heat`` driver: OpenStack Orchestration (Heat, Orchestration API v1).

Imports: standard library and congress.datasources (openstacksdk through the base).

The endpoint holds the project (``.../v1/<project_id>``). ``stacks`` is ``GET /stacks``;
``resources`` and ``events`` are ``GET /stacks/{stack_name}/{stack_id}/resources`` and
``/events`` for each listed stack (each resource and event row gets the ``stack_id`` of its
stack, as the original set it; a stack deleted in between, whose lists answer 404, is
skipped); ``deployments`` is ``GET /software_deployments``. The stack
list is read once per poll and shared by the three tables that need it. Each ``links`` list
becomes a ``*_links`` table whose first column (``parent_key``) is the stack id, the
resource's ``physical_resource_id`` or the event id; a deployment's ``output_values`` object
becomes one ``deployment_output_values`` row.

The original registered no actions (and ran any dotted heatclient path). This driver lists
heatclient's names for the stack life-cycle requests: ``stacks.delete(stack_id)``,
``actions.suspend(stack_id)``, ``actions.resume(stack_id)``, ``actions.check(stack_id)`` and
``actions.cancel_update(stack_id)``. ``stack_id`` is a stack's id, its name, or
``<name>/<id>``; an id or a name is first looked up (``GET /stacks/{id or name}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import ServiceError
from congress.datasources.execution import Action
from congress.datasources.openstack import OpenStackDriver


def _links(table: str, parent_key: str) -> tr.HDict:
    return tr.HDict(
        table=table,
        parent_key=parent_key,
        in_list=True,
        fields=[tr.Field("href"), tr.Field("rel")],
    )


STACKS = tr.HDict(
    table="stacks",
    fields=[
        tr.Field("id"),
        tr.Field("stack_name"),
        tr.Field("description"),
        tr.Field("creation_time"),
        tr.Field("updated_time"),
        tr.Field("stack_status"),
        tr.Field("stack_status_reason"),
        tr.Field("stack_owner"),
        tr.Field("parent"),
        tr.Field("links", _links("stacks_links", "id")),
    ],
)
DEPLOYMENTS = tr.HDict(
    table="deployments",
    fields=[
        tr.Field("status"),
        tr.Field("server_id"),
        tr.Field("config_id"),
        tr.Field("action"),
        tr.Field("status_reason"),
        tr.Field("id"),
        tr.Field(
            "output_values",
            tr.HDict(
                table="deployment_output_values",
                parent_key="id",
                fields=[
                    tr.Field("deploy_stdout"),
                    tr.Field("deploy_stderr"),
                    tr.Field("deploy_status_code"),
                    tr.Field("result"),
                ],
            ),
        ),
    ],
)
RESOURCES = tr.HDict(
    table="resources",
    fields=[
        tr.Field("physical_resource_id"),
        tr.Field("logical_resource_id"),
        tr.Field("stack_id"),
        tr.Field("resource_name"),
        tr.Field("resource_type"),
        tr.Field("creation_time"),
        tr.Field("updated_time"),
        tr.Field("resource_status"),
        tr.Field("resource_status_reason"),
        tr.Field("links", _links("resources_links", "physical_resource_id")),
    ],
)
EVENTS = tr.HDict(
    table="events",
    fields=[
        tr.Field("id"),
        tr.Field("physical_resource_id"),
        tr.Field("logical_resource_id"),
        tr.Field("stack_id"),
        tr.Field("resource_name"),
        tr.Field("event_time"),
        tr.Field("resource_status"),
        tr.Field("resource_status_reason"),
        tr.Field("links", _links("events_links", "id")),
    ],
)

_STACK = (("stack_id", "the stack's id, name, or <name>/<id>"),)


class HeatV1Driver(OpenStackDriver):
    """Datasource driver that interfaces with OpenStack orchestration aka heat."""

    DRIVER_NAME: ClassVar[str] = "heat"
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that interfaces with OpenStack orchestration aka heat."
    )
    SERVICE_TYPE: ClassVar[str] = "orchestration"
    PROXY: ClassVar[str] = "orchestration"
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (STACKS, DEPLOYMENTS, RESOURCES, EVENTS)
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "stacks.delete": Action("Delete a stack.", _STACK, "delete_stack"),
        "actions.suspend": Action("Suspend a stack.", _STACK, "suspend_stack"),
        "actions.resume": Action("Resume a suspended stack.", _STACK, "resume_stack"),
        "actions.check": Action(
            "Check a stack (its resources against their real state).", _STACK, "check_stack"
        ),
        "actions.cancel_update": Action(
            "Cancel a running update of a stack (and roll it back).", _STACK, "cancel_update"
        ),
    }

    def fetch(self, root: str) -> Any:
        if root == "stacks":
            return self._stack_list()
        if root == "deployments":
            return self.list_all("/software_deployments", "software_deployments")
        if root in ("resources", "events"):
            return self._per_stack(root)
        raise ServiceError(f"heat has no root table {root!r}")

    def _stack_list(self) -> list[Any]:
        """``GET /stacks``, once per poll (a failure is remembered for the poll, too)."""
        stacks: list[Any] = self.once_per_poll("stacks", lambda: self.list_all("/stacks", "stacks"))
        return stacks

    def _per_stack(self, collection: str) -> list[Any]:
        rows: list[Any] = []
        for stack in self._stack_list():
            if not isinstance(stack, Mapping) or not stack.get("id") or not stack.get("stack_name"):
                raise ServiceError(f"GET /stacks: a stack without id or stack_name: {stack!r}")
            path = f"{_stack_path(stack['stack_name'], stack['id'])}/{collection}"
            try:
                items = self.list_all(path, collection)
            except ServiceError as exc:
                if _not_found(exc):  # deleted since the stack list was read
                    continue
                raise
            for item in items:
                if not isinstance(item, Mapping):
                    raise ServiceError(f"GET {path}: {collection} must be objects")
                rows.append({**item, "stack_id": stack["id"]})
        return rows

    # -- actions (Orchestration API v1) ------------------------------------------------------
    def delete_stack(self, stack_id: str) -> None:
        self.request("DELETE", self._locate(stack_id))

    def suspend_stack(self, stack_id: str) -> None:
        self._action(stack_id, "suspend")

    def resume_stack(self, stack_id: str) -> None:
        self._action(stack_id, "resume")

    def check_stack(self, stack_id: str) -> None:
        self._action(stack_id, "check")

    def cancel_update(self, stack_id: str) -> None:
        self._action(stack_id, "cancel_update")

    def _action(self, stack_id: str, action: str) -> None:
        self.request("POST", f"{self._locate(stack_id)}/actions", json={action: None})

    def _locate(self, stack_id: str) -> str:
        """``/stacks/{name}/{id}`` of a stack given by ``name/id``, id or name (heat answers
        ``GET /stacks/{id or name}`` with a redirect to the stack)."""
        text = str(stack_id).strip("/")
        if "/" in text:
            name, _, ident = text.partition("/")
            return _stack_path(name, ident)
        body = self.get_json(f"/stacks/{quote(text, safe='')}")
        stack = body.get("stack") if isinstance(body, Mapping) else None
        if not isinstance(stack, Mapping) or not stack.get("id") or not stack.get("stack_name"):
            raise ServiceError(f"GET /stacks/{text}: the answer is not a stack")
        return _stack_path(stack["stack_name"], stack["id"])


def _not_found(exc: ServiceError) -> bool:
    return getattr(exc.__cause__, "http_status", None) == 404


def _stack_path(name: Any, ident: Any) -> str:
    return f"/stacks/{quote(str(name), safe='')}/{quote(str(ident), safe='')}"
