"""A fake Cinder (Block Storage API v3) on a ``FakeCloud``.

``CinderFake(cloud)`` adds the block-storage service to the catalog (type ``block-storage`` by
default, or an alias such as ``volumev3``) at ``/volume/v3/<project_id>`` as devstack
registers it, answers version discovery as Cinder does (``GET /volume/`` is a 300 with the
``versions`` list, ``GET /volume/v3/`` the v3 version), and serves the routes the cinder driver
uses: volumes (paged with ``limit``/``marker`` and ``volumes_links``), snapshots, services,
volume actions and metadata, snapshot deletion, service enable/disable. The JSON is that of
the Block Storage API reference at the base microversion 3.0. Its state (``volumes``,
``snapshots``, ``services``) is plain JSON that tests change; ``reset()`` restores it.
"""

from __future__ import annotations

import copy
from typing import Any

from fake_nova import server_id
from fakecloud import PROJECT_ID, FakeCloud, Recorded

VOLUME_ROOT = "/volume"
VOLUME_PREFIX = f"/volume/v3/{PROJECT_ID}"
MAX_MICROVERSION = "3.71"
OTHER_PROJECT = "9a4c3f0e5b7d41f28e6a1c0d2b3e4f50"
CONSISTENCY_GROUP = "6f2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
USER = "f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5"
VOLUME_ACTIONS = frozenset(
    {
        "os-extend",
        "os-set_bootable",
        "os-reset_status",
        "os-detach",
        "os-force_detach",
        "os-force_delete",
        "os-attach",
        "os-reserve",
        "os-unreserve",
        "os-begin_detaching",
        "os-roll_detaching",
        "os-update_readonly_flag",
        "os-retype",
    }
)


def volume_id(i: int) -> str:
    return f"{i:08x}-7c1d-4a8e-b0f2-5d6e7f8a9b0c"


def snapshot_id(i: int) -> str:
    return f"{i:08x}-3a5b-4c6d-8e9f-0a1b2c3d4e5f"


def attachment_id(i: int) -> str:
    return f"{i:08x}-a77a-4c11-9d0e-6f5e4d3c2b1a"


def version_json(base: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_MICROVERSION,
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"href": "https://docs.openstack.org/", "type": "text/html", "rel": "describedby"},
            {"href": f"{base}/v3/", "rel": "self"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


def attachment_json(vid: str, att: int, server: str, device: str) -> dict[str, Any]:
    return {
        "server_id": server,
        "attachment_id": attachment_id(att),
        "attached_at": "2024-03-02T09:00:00.000000",
        "host_name": None,
        "volume_id": vid,
        "device": device,
        "id": vid,
    }


def volume_json(
    i: int,
    endpoint: str,
    *,
    status: str = "available",
    size: int = 1,
    name: str | None = None,
    description: str | None = None,
    bootable: str = "false",
    volume_type: str = "lvmdriver-1",
    encrypted: bool = False,
    multiattach: bool = False,
    attachments: list[dict[str, Any]] | None = None,
    snapshot: str | None = None,
    source_volid: str | None = None,
    consistencygroup: str | None = None,
    migration_status: str | None = None,
    project: str = PROJECT_ID,
) -> dict[str, Any]:
    """A volume as ``GET /volumes/detail`` returns it (microversion 3.0)."""
    vid = volume_id(i)
    root = endpoint.replace("/v3/", "/", 1)
    created = f"2024-03-0{i + 1}T10:00:00.000000"
    body: dict[str, Any] = {
        "id": vid,
        "name": name if name is not None else f"vol-{i}",
        "description": description,
        "status": status,
        "size": size,
        "user_id": USER,
        "bootable": bootable,
        "encrypted": encrypted,
        "multiattach": multiattach,
        "availability_zone": "nova",
        "volume_type": volume_type,
        "created_at": created,
        "updated_at": created,
        "attachments": attachments or [],
        "links": [
            {"href": f"{endpoint}/volumes/{vid}", "rel": "self"},
            {"href": f"{root}/volumes/{vid}", "rel": "bookmark"},
        ],
        "metadata": {"purpose": "test", "owner": f"team-{i}"},
        "replication_status": "disabled",
        "consistencygroup_id": consistencygroup,
        "snapshot_id": snapshot,
        "source_volid": source_volid,
        "migration_status": migration_status,
        "os-vol-host-attr:host": "controller@lvmdriver-1#lvmdriver-1",
        "os-vol-tenant-attr:tenant_id": project,
        "os-vol-mig-status-attr:migstat": migration_status,
        "os-vol-mig-status-attr:name_id": None,
    }
    if bootable == "true":
        body["volume_image_metadata"] = {
            "image_id": "70a599e0-31e7-49b7-b260-868f441e862b",
            "image_name": "cirros-0.6.2-x86_64-disk",
            "checksum": "c8fc807773e5354afe61636071771906",
            "container_format": "bare",
            "disk_format": "qcow2",
            "min_disk": "0",
            "min_ram": "0",
            "size": "21430272",
        }
    return body


def volumes_json(endpoint: str) -> list[dict[str, Any]]:
    v1, v2 = volume_id(1), volume_id(2)
    return [
        volume_json(0, endpoint),
        volume_json(
            1,
            endpoint,
            status="in-use",
            size=10,
            bootable="true",
            description="root disk of vm-1",
            consistencygroup=CONSISTENCY_GROUP,
            attachments=[attachment_json(v1, 1, server_id(1), "/dev/vda")],
        ),
        volume_json(
            2,
            endpoint,
            status="in-use",
            size=20,
            volume_type="luks",
            encrypted=True,
            multiattach=True,
            source_volid=volume_id(0),
            attachments=[
                attachment_json(v2, 2, server_id(3), "/dev/vdb"),
                attachment_json(v2, 3, server_id(4), "/dev/vdc"),
            ],
            project=OTHER_PROJECT,
        ),
        volume_json(
            3,
            endpoint,
            status="error",
            name="",
            snapshot=snapshot_id(0),
            migration_status="error",
            project=OTHER_PROJECT,
        ),
    ]


def snapshot_json(i: int, volume: str, size: int, status: str, project: str) -> dict[str, Any]:
    """A snapshot as ``GET /snapshots/detail`` returns it (microversion 3.0)."""
    created = f"2024-03-1{i}T12:00:00.000000"
    return {
        "id": snapshot_id(i),
        "name": f"snap-{i}",
        "description": None,
        "status": status,
        "size": size,
        "volume_id": volume,
        "created_at": created,
        "updated_at": created,
        "metadata": {},
        "os-extended-snapshot-attributes:progress": "100%" if status == "available" else "40%",
        "os-extended-snapshot-attributes:project_id": project,
    }


def snapshots_json() -> list[dict[str, Any]]:
    return [
        snapshot_json(0, volume_id(0), 1, "available", PROJECT_ID),
        snapshot_json(1, volume_id(2), 20, "creating", OTHER_PROJECT),
    ]


def services_json() -> list[dict[str, Any]]:
    """Services as ``GET /os-services`` returns them (microversion 3.0)."""
    return [
        {
            "binary": "cinder-scheduler",
            "host": "controller",
            "zone": "nova",
            "status": "enabled",
            "state": "up",
            "updated_at": "2024-03-01T10:00:00.000000",
            "disabled_reason": None,
        },
        {
            "binary": "cinder-volume",
            "host": "controller@lvmdriver-1",
            "zone": "nova",
            "status": "enabled",
            "state": "up",
            "updated_at": "2024-03-01T10:00:03.000000",
            "disabled_reason": None,
            "replication_status": "disabled",
            "active_backend_id": None,
            "frozen": False,
        },
        {
            "binary": "cinder-backup",
            "host": "controller",
            "zone": "az-2",
            "status": "disabled",
            "state": "down",
            "updated_at": "2024-02-28T08:00:00.000000",
            "disabled_reason": "maintenance",
        },
    ]


def not_found(what: str) -> tuple[int, dict[str, Any]]:
    return 404, {"itemNotFound": {"code": 404, "message": f"{what} could not be found."}}


def bad_request(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"badRequest": {"code": 400, "message": message}}


class CinderFake:
    """Cinder's routes on ``cloud``; a volume page holds at most ``page_size`` volumes."""

    def __init__(
        self, cloud: FakeCloud, service_type: str = "block-storage", page_size: int = 3
    ) -> None:
        self.cloud = cloud
        self.page_size = page_size
        cloud.add_service(service_type, "cinderv3", VOLUME_PREFIX)
        self.endpoint = cloud.url + VOLUME_PREFIX
        self.volumes: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.reset()
        self._add_routes()

    def reset(self) -> None:
        self.volumes = volumes_json(self.endpoint)
        self.snapshots = snapshots_json()
        self.services = services_json()

    def volume(self, vid: str) -> dict[str, Any] | None:
        return next((v for v in self.volumes if v["id"] == vid), None)

    def _add_routes(self) -> None:
        route = self.cloud.route
        p = VOLUME_PREFIX
        base = self.cloud.url + VOLUME_ROOT

        @route("GET", VOLUME_ROOT)
        def versions(request: Recorded) -> Any:
            return 300, {"versions": [version_json(base)]}

        @route("GET", VOLUME_ROOT + "/v3")
        def version(request: Recorded) -> Any:
            return {"versions": [version_json(base)]}

        def all_tenants(request: Recorded) -> bool:
            return request.query.get("all_tenants", ["0"])[-1] in ("1", "True", "true")

        @route("GET", p + "/volumes/detail")
        def volumes(request: Recorded) -> Any:
            query = {k: v[-1] for k, v in request.query.items()}
            found = self.volumes
            if not all_tenants(request):
                found = [v for v in found if v["os-vol-tenant-attr:tenant_id"] == PROJECT_ID]
            limit = min(int(query.get("limit", self.page_size)), self.page_size)
            start = 0
            if "marker" in query:
                ids = [v["id"] for v in found]
                if query["marker"] not in ids:
                    return bad_request(f"marker [{query['marker']}] not found")
                start = ids.index(query["marker"]) + 1
            page = copy.deepcopy(found[start : start + limit])
            body: dict[str, Any] = {"volumes": page}
            if len(page) == limit:
                params = "&".join(
                    f"{k}={v}" for k, v in {**query, "limit": limit}.items() if k != "marker"
                )
                href = f"{self.endpoint}/volumes/detail?{params}&marker={page[-1]['id']}"
                body["volumes_links"] = [{"href": href, "rel": "next"}]
            return body

        @route("GET", p + "/snapshots/detail")
        def snapshots(request: Recorded) -> Any:
            found = self.snapshots
            if not all_tenants(request):
                found = [
                    s
                    for s in found
                    if s["os-extended-snapshot-attributes:project_id"] == PROJECT_ID
                ]
            return {"snapshots": copy.deepcopy(found)}

        @route("GET", p + "/os-services")
        def services(request: Recorded) -> Any:
            return {"services": copy.deepcopy(self.services)}

        @route("DELETE", p + "/volumes/{vid}")
        def delete(request: Recorded, vid: str) -> Any:
            volume = self.volume(vid)
            if volume is None:
                return not_found(f"Volume {vid}")
            self.volumes.remove(volume)
            return 202, None

        @route("POST", p + "/volumes/{vid}/action")
        def action(request: Recorded, vid: str) -> Any:
            volume = self.volume(vid)
            if volume is None:
                return not_found(f"Volume {vid}")
            body = request.body
            if (
                not isinstance(body, dict)
                or len(body) != 1
                or next(iter(body)) not in VOLUME_ACTIONS
            ):
                return bad_request(f"Invalid volume action {body!r}")
            name, args = next(iter(body.items()))
            if name == "os-extend":
                volume["size"] = args["new_size"]
            elif name == "os-set_bootable":
                volume["bootable"] = "true" if args["bootable"] else "false"
            elif name == "os-reset_status" and "status" in args:
                volume["status"] = args["status"]
            elif name in ("os-detach", "os-force_detach"):
                volume["attachments"] = [
                    a for a in volume["attachments"] if a["attachment_id"] != args["attachment_id"]
                ]
            return 202, None

        @route("POST", p + "/volumes/{vid}/metadata")
        def set_metadata(request: Recorded, vid: str) -> Any:
            volume = self.volume(vid)
            if volume is None:
                return not_found(f"Volume {vid}")
            body = request.body
            if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                return bad_request("Malformed request body: metadata expected")
            volume["metadata"].update(body["metadata"])
            return {"metadata": dict(volume["metadata"])}

        @route("DELETE", p + "/volumes/{vid}/metadata/{key}")
        def delete_metadata(request: Recorded, vid: str, key: str) -> Any:
            volume = self.volume(vid)
            if volume is None:
                return not_found(f"Volume {vid}")
            if key not in volume["metadata"]:
                return not_found(f"Metadata item {key}")
            del volume["metadata"][key]
            return 200, None

        @route("DELETE", p + "/snapshots/{sid}")
        def delete_snapshot(request: Recorded, sid: str) -> Any:
            found = [s for s in self.snapshots if s["id"] == sid]
            if not found:
                return not_found(f"Snapshot {sid}")
            self.snapshots.remove(found[0])
            return 202, None

        @route("PUT", p + "/os-services/{what}")
        def update_service(request: Recorded, what: str) -> Any:
            if what not in ("enable", "disable", "disable-log-reason"):
                return not_found(f"Action {what}")
            body = request.body if isinstance(request.body, dict) else {}
            found = [
                s
                for s in self.services
                if s["host"] == body.get("host") and s["binary"] == body.get("binary")
            ]
            if not found:
                return not_found(f"Host {body.get('host')}")
            disabled = what != "enable"
            found[0]["status"] = "disabled" if disabled else "enabled"
            found[0]["disabled_reason"] = body.get("disabled_reason")
            return {
                "disabled": disabled,
                "status": found[0]["status"],
                "host": found[0]["host"],
                "service": "",
                "binary": found[0]["binary"],
                "disabled_reason": found[0]["disabled_reason"],
            }
