"""A fake Heat (Orchestration API v1) on a ``FakeCloud``: stacks, resources, events, software
deployments and the stack actions.

The catalog endpoint holds the project, ``/orchestration/v1/<project_id>``, as Heat's does.
Objects have the fields the Orchestration API v1 reference shows (``deletion_time``,
``stack_user_project_id``, ``tags``, ``required_by``, ``input_values``...). ``GET
/stacks/{name or id}`` answers ``302 Found`` with the stack's ``/stacks/{name}/{id}`` URL, as
Heat's stack lookup does.
"""

from __future__ import annotations

import copy
from typing import Any

from fakecloud import PROJECT_ID, FakeCloud, Recorded

PREFIX = f"/orchestration/v1/{PROJECT_ID}"
USER_PROJECT = "8f1e0c3a5b7d4e2f9a6c1b3d5e7f9a0b"

WEB_ID = "3095aefc-09fb-4bc7-b1f0-f21a304e864c"
DB_ID = "7b1c0d2e-3f4a-4b5c-8d6e-9f0a1b2c3d4e"
SERVER_ID = "9f1a5e3c-7b2d-4c8e-a6f0-1d3b5c7e9a2b"
PORT_ID = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5f7a"
VOLUME_ID = "5d7f9b1d-3f5a-4c7e-8b0d-2f4a6c8e0b1d"
CONFIG_ID = "8da95794-2ad9-4979-8ae5-739ce314c5cd"
DEPLOYMENT_ID = "ef422fa5-719a-419e-a10c-72e3a367b0b8"
PENDING_DEPLOYMENT_ID = "1a3c5e7f-9b1d-4f3a-8c5e-7a9c1e3f5b7d"
EVENT_IDS = {
    "web": [
        "a1c3e5f7-1111-4b2d-9f0e-000000000001",
        "a1c3e5f7-1111-4b2d-9f0e-000000000002",
        "a1c3e5f7-1111-4b2d-9f0e-000000000003",
    ],
    "db": ["b2d4f6a8-2222-4c3e-8a1f-000000000001"],
}


class FakeHeat:
    """Orchestration API v1 routes on ``cloud`` over mutable stacks and deployments."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.stacks: list[dict[str, Any]] = []
        self.resources: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.deployments: list[dict[str, Any]] = []
        self.reset()
        cloud.add_service("orchestration", "heat", PREFIX)
        self._routes()

    def url(self, path: str) -> str:
        return f"{self.cloud.url}{PREFIX}{path}"

    def reset(self) -> None:
        self.stacks = [
            self.stack("web", WEB_ID, "A web server with a port", "CREATE_COMPLETE"),
            self.stack("db", DB_ID, "No description", "CREATE_IN_PROGRESS"),
        ]
        self.resources = {
            WEB_ID: [
                self.resource("web", WEB_ID, "server", SERVER_ID, "OS::Nova::Server"),
                self.resource("web", WEB_ID, "port", PORT_ID, "OS::Neutron::Port"),
            ],
            DB_ID: [
                self.resource(
                    "db",
                    DB_ID,
                    "volume",
                    VOLUME_ID,
                    "OS::Cinder::Volume",
                    status="CREATE_IN_PROGRESS",
                ),
                self.resource(
                    "db",
                    DB_ID,
                    "attachment",
                    "",
                    "OS::Cinder::VolumeAttachment",
                    status="INIT_COMPLETE",
                ),
            ],
        }
        web_events = EVENT_IDS["web"]
        self.events = {
            WEB_ID: [
                self.event("web", WEB_ID, web_events[0], "web", WEB_ID, "CREATE_IN_PROGRESS"),
                self.event("web", WEB_ID, web_events[1], "server", SERVER_ID, "CREATE_COMPLETE"),
                self.event("web", WEB_ID, web_events[2], "web", WEB_ID, "CREATE_COMPLETE"),
            ],
            DB_ID: [
                self.event("db", DB_ID, EVENT_IDS["db"][0], "db", DB_ID, "CREATE_IN_PROGRESS"),
            ],
        }
        self.deployments = [
            {
                "action": "CREATE",
                "config_id": CONFIG_ID,
                "creation_time": "2025-06-02T16:34:07Z",
                "id": DEPLOYMENT_ID,
                "input_values": {"deploy_server_id": SERVER_ID},
                "output_values": {
                    "deploy_stdout": "Writing to /tmp/barmy\nWritten to /tmp/barmy\n",
                    "deploy_stderr": "+ echo Writing to /tmp/barmy\n",
                    "deploy_status_code": 0,
                    "result": "The file /tmp/barmy contains fu for server " + SERVER_ID,
                },
                "server_id": SERVER_ID,
                "status": "COMPLETE",
                "status_reason": "Outputs received",
                "updated_time": "2025-06-02T16:35:10Z",
            },
            {
                "action": "CREATE",
                "config_id": CONFIG_ID,
                "creation_time": "2025-06-03T09:00:00Z",
                "id": PENDING_DEPLOYMENT_ID,
                "input_values": {},
                "output_values": None,
                "server_id": SERVER_ID,
                "status": "IN_PROGRESS",
                "status_reason": "Deploy data available",
                "updated_time": None,
            },
        ]

    def stack(self, name: str, stack_id: str, description: str, status: str) -> dict[str, Any]:
        done = status.endswith("COMPLETE")
        return {
            "creation_time": "2025-02-01T18:04:45Z",
            "deletion_time": None,
            "description": description,
            "id": stack_id,
            "links": [{"href": self.url(f"/stacks/{name}/{stack_id}"), "rel": "self"}],
            "parent": None,
            "stack_name": name,
            "stack_owner": None,
            "stack_status": status,
            "stack_status_reason": "Stack CREATE completed successfully"
            if done
            else "Stack CREATE started",
            "stack_user_project_id": USER_PROJECT,
            "tags": None,
            "updated_time": None,
        }

    def resource(
        self,
        stack: str,
        stack_id: str,
        name: str,
        physical_id: str,
        kind: str,
        *,
        status: str = "CREATE_COMPLETE",
    ) -> dict[str, Any]:
        stack_url = self.url(f"/stacks/{stack}/{stack_id}")
        return {
            "creation_time": "2025-02-01T18:04:47Z",
            "links": [
                {"href": f"{stack_url}/resources/{name}", "rel": "self"},
                {"href": stack_url, "rel": "stack"},
            ],
            "logical_resource_id": name,
            "physical_resource_id": physical_id,
            "required_by": [],
            "resource_name": name,
            "resource_status": status,
            "resource_status_reason": "state changed",
            "resource_type": kind,
            "updated_time": "2025-02-01T18:04:50Z",
        }

    def event(
        self,
        stack: str,
        stack_id: str,
        event_id: str,
        resource: str,
        physical_id: str,
        status: str,
    ) -> dict[str, Any]:
        stack_url = self.url(f"/stacks/{stack}/{stack_id}")
        reason = "Stack CREATE started" if status.endswith("PROGRESS") else "state changed"
        return {
            "event_time": "2025-02-01T18:04:46Z",
            "id": event_id,
            "links": [
                {"href": f"{stack_url}/resources/{resource}/events/{event_id}", "rel": "self"},
                {"href": f"{stack_url}/resources/{resource}", "rel": "resource"},
                {"href": stack_url, "rel": "stack"},
            ],
            "logical_resource_id": resource,
            "physical_resource_id": physical_id,
            "resource_name": resource,
            "resource_status": status,
            "resource_status_reason": reason,
        }

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        return next(
            (s for s in self.stacks if name_or_id in (s["id"], s["stack_name"])),
            None,
        )

    def _routes(self) -> None:
        route = self.cloud.route

        def stack_of(name: str, stack_id: str) -> dict[str, Any] | None:
            found = self.find(stack_id)
            return found if found is not None and found["stack_name"] == name else None

        @route("GET", f"{PREFIX}/stacks")
        def list_stacks(request: Recorded) -> Any:
            return {"stacks": copy.deepcopy(self.stacks)}

        @route("GET", f"{PREFIX}/stacks/{{name_or_id}}")
        def lookup(request: Recorded, name_or_id: str) -> Any:
            found = self.find(name_or_id)
            if found is None:
                return not_found(name_or_id)
            location = self.url(f"/stacks/{found['stack_name']}/{found['id']}")
            return 302, {"explanation": "The resource was found."}, {"Location": location}

        @route("GET", f"{PREFIX}/stacks/{{name}}/{{stack_id}}")
        def show(request: Recorded, name: str, stack_id: str) -> Any:
            found = stack_of(name, stack_id)
            if found is None:
                return not_found(stack_id)
            detail = {
                **copy.deepcopy(found),
                "capabilities": [],
                "disable_rollback": True,
                "notification_topics": [],
                "outputs": [],
                "parameters": {"OS::project_id": PROJECT_ID, "OS::stack_id": stack_id},
                "template_description": found["description"],
                "timeout_mins": None,
            }
            return {"stack": detail}

        @route("DELETE", f"{PREFIX}/stacks/{{name}}/{{stack_id}}")
        def delete(request: Recorded, name: str, stack_id: str) -> Any:
            found = stack_of(name, stack_id)
            if found is None:
                return not_found(stack_id)
            found["stack_status"] = "DELETE_IN_PROGRESS"
            return 204, None

        @route("POST", f"{PREFIX}/stacks/{{name}}/{{stack_id}}/actions")
        def action(request: Recorded, name: str, stack_id: str) -> Any:
            found = stack_of(name, stack_id)
            if found is None:
                return not_found(stack_id)
            body = request.body
            if not isinstance(body, dict) or len(body) != 1:
                return 400, {"error": {"message": "Invalid action", "type": "HTTPBadRequest"}}
            (verb,) = body
            found["stack_status"] = f"{verb.upper()}_IN_PROGRESS"
            return 202, None

        @route("GET", f"{PREFIX}/stacks/{{name}}/{{stack_id}}/resources")
        def resources(request: Recorded, name: str, stack_id: str) -> Any:
            if stack_of(name, stack_id) is None:
                return not_found(stack_id)
            return {"resources": copy.deepcopy(self.resources.get(stack_id, []))}

        @route("GET", f"{PREFIX}/stacks/{{name}}/{{stack_id}}/events")
        def events(request: Recorded, name: str, stack_id: str) -> Any:
            if stack_of(name, stack_id) is None:
                return not_found(stack_id)
            return {"events": copy.deepcopy(self.events.get(stack_id, []))}

        @route("GET", f"{PREFIX}/software_deployments")
        def deployments(request: Recorded) -> Any:
            return {"software_deployments": copy.deepcopy(self.deployments)}


def not_found(what: str) -> tuple[int, dict[str, Any]]:
    return 404, {
        "code": 404,
        "error": {
            "message": f"The Stack ({what}) could not be found.",
            "traceback": None,
            "type": "EntityNotFound",
        },
        "explanation": "The resource could not be found.",
        "title": "Not Found",
    }
