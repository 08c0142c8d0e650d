"""A fake Nova (Compute API v2.1) on a ``FakeCloud``, and realistic server documents.

``server_json(i)`` builds the ``i``-th server as ``GET /servers/detail`` returns it at
microversion 2.26 (the nova driver's default): every field of the Compute API reference,
``OS-EXT-*`` attributes, links, metadata, tags. It is deterministic and cheap, so the
benchmarks can build 100k servers with it.

``NovaFake(cloud)`` adds the compute service (catalog entry, version document) and the routes
the driver uses: the lists (servers paged with ``limit``/``marker`` and ``servers_links``,
flavors, hypervisors, services, availability zones) and the actions (server actions,
metadata, tags, delete, service enable/disable). Its state (``servers``, ``flavors``...) is
plain JSON that tests change; ``reset()`` restores it.
"""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from typing import Any

from fakecloud import PROJECT_ID, FakeCloud, Recorded

COMPUTE_PREFIX = "/compute/v2.1"
MAX_MICROVERSION = "2.96"
COMPUTE_VERSION: dict[str, Any] = {
    "id": "v2.1",
    "status": "CURRENT",
    "version": MAX_MICROVERSION,
    "min_version": "2.1",
    "updated": "2013-07-23T11:33:21Z",
    "media-types": [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ],
}
DEFAULT_ENDPOINT = "http://openstack.example.com/compute/v2.1"

# The projects owning servers; the first is the admin project the driver authenticates to.
PROJECTS = (PROJECT_ID, "9a4c3f0e5b7d41f28e6a1c0d2b3e4f50", "3e1f9b2c7d8a4e6f9c0b1a2d3e4f5a6b")
USERS = ("f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5", "6d2b8e4f1a3c4b5d9e7f0a1b2c3d4e5f")
HOSTS = ("compute-0", "compute-1", "compute-2", "compute-3")
ZONES = ("nova", "az-2")
IMAGES = ("70a599e0-31e7-49b7-b260-868f441e862b", "155d900f-4e14-4e4c-a73d-069cbf4541e6")
FLAVOR_IDS = ("1", "2", "3")
# status, OS-EXT-STS:vm_state, OS-EXT-STS:power_state
STATES = (
    ("ACTIVE", "active", 1),
    ("ACTIVE", "active", 1),
    ("SHUTOFF", "stopped", 4),
    ("PAUSED", "paused", 3),
    ("ACTIVE", "active", 1),
)
TAGS: tuple[list[str], ...] = (["production", "web"], [], ["staging"], [])
# what a server action makes of the server's status (vm_state, power_state)
ACTION_STATUS = {
    "pause": ("PAUSED", "paused", 3),
    "unpause": ("ACTIVE", "active", 1),
    "os-stop": ("SHUTOFF", "stopped", 4),
    "os-start": ("ACTIVE", "active", 1),
    "suspend": ("SUSPENDED", "suspended", 4),
    "resume": ("ACTIVE", "active", 1),
    "shelve": ("SHELVED_OFFLOADED", "shelved_offloaded", 4),
}
SERVER_ACTIONS = frozenset(
    {
        *ACTION_STATUS,
        "reboot",
        "lock",
        "unlock",
        "migrate",
        "os-migrateLive",
        "addSecurityGroup",
        "removeSecurityGroup",
    }
)


def server_id(i: int) -> str:
    """The UUID of the ``i``-th server (unique for any ``i`` below 2**32)."""
    return f"{i:08x}-5e7e-4d1a-9c1e-{(i * 2654435761) % 2**48:012x}"


def volume_id(i: int) -> str:
    return f"{i:08x}-0b1e-4c5a-8f3d-{(i * 40503) % 2**48:012x}"


def mac_address(n: int, nic: int) -> str:
    return f"fa:16:3e:{nic:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


@lru_cache(maxsize=64)
def host_id(project: str, host: str) -> str:
    """Nova's ``hostId``: sha224 of the project and the host."""
    return hashlib.sha224((project + host).encode()).hexdigest()


def _root(endpoint: str) -> str:
    return endpoint.rsplit("/v2.1", 1)[0]


def server_json(i: int, endpoint: str = DEFAULT_ENDPOINT) -> dict[str, Any]:
    """The ``i``-th server as ``GET /servers/detail`` (microversion 2.26) returns it.

    Variety by ``i``: ``i % 3 == 1`` boots from a volume (``image`` is ``""``); even servers
    have an IPv6 address as well, ``i % 3 == 2`` a floating IP, ``i % 5 == 4`` a second network
    (``shared``); ``TAGS[i % 4]`` are the tags; ``STATES[i % 5]`` the status.
    """
    sid = server_id(i)
    project = PROJECTS[i % len(PROJECTS)]
    host = HOSTS[i % len(HOSTS)]
    flavor = FLAVOR_IDS[i % len(FLAVOR_IDS)]
    status, vm_state, power_state = STATES[i % len(STATES)]
    root = _root(endpoint)
    from_volume = i % 3 == 1
    image: Any = ""
    if not from_volume:
        image_id = IMAGES[i % len(IMAGES)]
        image = {
            "id": image_id,
            "links": [{"href": f"{root}/images/{image_id}", "rel": "bookmark"}],
        }
    n = i + 10  # the host part of the server's addresses
    a, b, c = (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF
    mac = mac_address(n, 0)
    private: list[dict[str, Any]] = [
        {
            "OS-EXT-IPS-MAC:mac_addr": mac,
            "version": 4,
            "addr": f"10.{a}.{b}.{c}",
            "OS-EXT-IPS:type": "fixed",
        }
    ]
    if i % 2 == 0:
        private.append(
            {
                "OS-EXT-IPS-MAC:mac_addr": mac,
                "version": 6,
                "addr": f"fd5e:7e00:0:1::{n:x}",
                "OS-EXT-IPS:type": "fixed",
            }
        )
    if i % 3 == 2:
        private.append(
            {
                "OS-EXT-IPS-MAC:mac_addr": mac,
                "version": 4,
                "addr": f"172.24.{b}.{c}",
                "OS-EXT-IPS:type": "floating",
            }
        )
    addresses: dict[str, list[dict[str, Any]]] = {"private": private}
    if i % 5 == 4:
        addresses["shared"] = [
            {
                "OS-EXT-IPS-MAC:mac_addr": mac_address(n, 1),
                "version": 4,
                "addr": f"192.168.{b}.{c}",
                "OS-EXT-IPS:type": "fixed",
            }
        ]
    day, minute = i % 28 + 1, i % 1440
    created = f"2024-03-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:{i % 60:02d}Z"
    name = f"vm-{i}"
    return {
        "id": sid,
        "name": name,
        "status": status,
        "tenant_id": project,
        "user_id": USERS[i % len(USERS)],
        "metadata": {"owner": f"team-{i % 3}", "role": "web" if i % 2 == 0 else "db"},
        "hostId": host_id(project, host),
        "image": image,
        "flavor": {
            "id": flavor,
            "links": [{"href": f"{root}/flavors/{flavor}", "rel": "bookmark"}],
        },
        "created": created,
        "updated": created,
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": [
            {"href": f"{endpoint}/servers/{sid}", "rel": "self"},
            {"href": f"{root}/servers/{sid}", "rel": "bookmark"},
        ],
        "key_name": "ops-key" if i % 2 == 0 else None,
        "config_drive": "",
        "progress": 0,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": ZONES[i % len(ZONES)],
        "OS-EXT-SRV-ATTR:host": host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": f"{host}.example.com",
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{i + 1:08x}",
        "OS-EXT-SRV-ATTR:hostname": name,
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:launch_index": 0,
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:reservation_id": f"r-{i:08x}",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:user_data": None,
        "OS-EXT-STS:power_state": power_state,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": vm_state,
        "os-extended-volumes:volumes_attached": (
            [{"id": volume_id(i), "delete_on_termination": True}] if from_volume else []
        ),
        "OS-SRV-USG:launched_at": created[:-1] + ".000000",
        "OS-SRV-USG:terminated_at": None,
        "security_groups": [{"name": "default"}],
        "locked": False,
        "description": None,
        "tags": list(TAGS[i % len(TAGS)]),
    }


def flavors_json(endpoint: str = DEFAULT_ENDPOINT) -> list[dict[str, Any]]:
    """Flavors as ``GET /flavors/detail`` (microversion 2.26) returns them."""
    root = _root(endpoint)
    specs = (
        ("1", "m1.tiny", 1, 512, 1, 0, ""),
        ("2", "m1.small", 1, 2048, 20, 0, ""),
        ("3", "m1.medium", 2, 4096, 40, 10, 1024),
    )
    return [
        {
            "id": fid,
            "name": name,
            "vcpus": vcpus,
            "ram": ram,
            "disk": disk,
            "OS-FLV-EXT-DATA:ephemeral": ephemeral,
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": True,
            "swap": swap,
            "rxtx_factor": 1.0,
            "links": [
                {"href": f"{endpoint}/flavors/{fid}", "rel": "self"},
                {"href": f"{root}/flavors/{fid}", "rel": "bookmark"},
            ],
        }
        for fid, name, vcpus, ram, disk, ephemeral, swap in specs
    ]


def hypervisors_json() -> list[dict[str, Any]]:
    """Hypervisors as ``GET /os-hypervisors/detail`` (2.26: integer ids, cpu_info text)."""
    result = []
    for n, host in enumerate(HOSTS[:2]):
        result.append(
            {
                "id": n + 1,
                "hypervisor_hostname": f"{host}.example.com",
                "state": "up" if n == 0 else "down",
                "status": "enabled" if n == 0 else "disabled",
                "cpu_info": '{"arch": "x86_64", "model": "Nehalem", "vendor": "Intel"}',
                "current_workload": 0,
                "disk_available_least": 180,
                "free_disk_gb": 200,
                "free_ram_mb": 30000,
                "host_ip": f"192.0.2.{n + 10}",
                "hypervisor_type": "QEMU",
                "hypervisor_version": 8002000,
                "local_gb": 250,
                "local_gb_used": 50,
                "memory_mb": 32768,
                "memory_mb_used": 2768,
                "running_vms": 2,
                "service": {
                    "host": host,
                    "id": n + 6,
                    "disabled_reason": None if n == 0 else "maintenance",
                },
                "vcpus": 16,
                "vcpus_used": 3,
            }
        )
    return result


def services_json() -> list[dict[str, Any]]:
    """Services as ``GET /os-services`` (microversion 2.26) returns them."""
    return [
        {
            "id": 1,
            "binary": "nova-scheduler",
            "host": "controller",
            "zone": "internal",
            "status": "enabled",
            "state": "up",
            "updated_at": "2024-03-01T10:00:00.000000",
            "disabled_reason": None,
            "forced_down": False,
        },
        {
            "id": 6,
            "binary": "nova-compute",
            "host": "compute-0",
            "zone": "nova",
            "status": "enabled",
            "state": "up",
            "updated_at": "2024-03-01T10:00:02.000000",
            "disabled_reason": None,
            "forced_down": False,
        },
        {
            "id": 7,
            "binary": "nova-compute",
            "host": "compute-1",
            "zone": "nova",
            "status": "disabled",
            "state": "down",
            "updated_at": "2024-02-28T08:12:40.000000",
            "disabled_reason": "maintenance",
            "forced_down": False,
        },
    ]


def zones_json() -> list[dict[str, Any]]:
    """Zones as ``GET /os-availability-zone/detail`` returns them (``internal`` included)."""

    def service(updated: str) -> dict[str, Any]:
        return {"available": True, "active": True, "updated_at": updated}

    return [
        {
            "zoneName": "internal",
            "zoneState": {"available": True},
            "hosts": {"controller": {"nova-scheduler": service("2024-03-01T10:00:00.000000")}},
        },
        {
            "zoneName": "nova",
            "zoneState": {"available": True},
            "hosts": {"compute-0": {"nova-compute": service("2024-03-01T10:00:02.000000")}},
        },
        {"zoneName": "az-2", "zoneState": {"available": False}, "hosts": None},
    ]


def service_uuid(service_id: int) -> str:
    """A service's id from microversion 2.53 on (a UUID instead of an integer)."""
    return f"{service_id:08x}-5e71-4ce5-8a1d-000000000000"


def microversion(request: Recorded) -> tuple[int, int]:
    """The compute microversion a request asks for (2.1 when it names none)."""
    text = request.headers.get("x-openstack-nova-api-version") or ""
    header = request.headers.get("openstack-api-version") or ""
    if header.startswith("compute "):
        text = header.split(" ", 1)[1]
    major, _, minor = (text or "2.1").partition(".")
    return int(major), int(minor or 0)


def not_found(what: str) -> tuple[int, dict[str, Any]]:
    return 404, {"itemNotFound": {"code": 404, "message": f"{what} could not be found."}}


def bad_request(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"badRequest": {"code": 400, "message": message}}


class NovaFake:
    """Nova's routes on ``cloud``, serving ``servers`` (``count`` of ``server_json``) and the
    other lists; a page holds at most ``page_size`` servers unless the request asks fewer."""

    def __init__(self, cloud: FakeCloud, count: int = 3, page_size: int = 2) -> None:
        self.cloud = cloud
        self.count = count
        self.page_size = page_size
        cloud.add_service("compute", "nova", COMPUTE_PREFIX, COMPUTE_VERSION)
        self.endpoint = cloud.url + COMPUTE_PREFIX
        self.servers: list[dict[str, Any]] = []
        self.flavors: list[dict[str, Any]] = []
        self.hypervisors: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.zones: list[dict[str, Any]] = []
        self.reset()
        self._add_routes()

    def reset(self) -> None:
        self.servers = [server_json(i, self.endpoint) for i in range(self.count)]
        self.flavors = flavors_json(self.endpoint)
        self.hypervisors = hypervisors_json()
        self.services = services_json()
        self.zones = zones_json()

    def server(self, sid: str) -> dict[str, Any] | None:
        return next((s for s in self.servers if s["id"] == sid), None)

    def _add_routes(self) -> None:
        route = self.cloud.route
        p = COMPUTE_PREFIX

        @route("GET", p + "/servers/detail")
        def servers(request: Recorded) -> Any:
            query = {k: v[-1] for k, v in request.query.items()}
            found = self.servers
            if query.get("all_tenants") not in ("1", "True", "true"):
                found = [s for s in found if s["tenant_id"] == PROJECT_ID]
            limit = self.page_size
            if "limit" in query:
                limit = min(int(query["limit"]), self.page_size)
            start = 0
            if "marker" in query:
                ids = [s["id"] for s in found]
                if query["marker"] not in ids:
                    return bad_request(f"marker [{query['marker']}] not found")
                start = ids.index(query["marker"]) + 1
            page = copy.deepcopy(found[start : start + limit])
            body: dict[str, Any] = {"servers": page}
            if len(page) == limit:
                params = "&".join(
                    f"{k}={v}" for k, v in {**query, "limit": limit}.items() if k != "marker"
                )
                href = f"{self.endpoint}/servers/detail?{params}&marker={page[-1]['id']}"
                body["servers_links"] = [{"href": href, "rel": "next"}]
            return body

        @route("GET", p + "/flavors/detail")
        def flavors(request: Recorded) -> Any:
            return {"flavors": copy.deepcopy(self.flavors)}

        @route("GET", p + "/os-hypervisors/detail")
        def hypervisors(request: Recorded) -> Any:
            return {"hypervisors": copy.deepcopy(self.hypervisors)}

        @route("GET", p + "/os-services")
        def services(request: Recorded) -> Any:
            query = {k: v[-1] for k, v in request.query.items()}
            found = [
                s
                for s in self.services
                if all(s[k] == query[k] for k in ("host", "binary") if k in query)
            ]
            result = copy.deepcopy(found)
            if microversion(request) >= (2, 53):
                for s in result:
                    s["id"] = service_uuid(s["id"])
            return {"services": result}

        @route("GET", p + "/os-availability-zone/detail")
        def zones(request: Recorded) -> Any:
            return {"availabilityZoneInfo": copy.deepcopy(self.zones)}

        @route("GET", p + "/os-availability-zone")
        def zones_brief(request: Recorded) -> Any:
            brief = [
                {**z, "hosts": None}
                for z in self.zones
                if z["zoneName"] != "internal" and z["zoneState"]["available"]
            ]
            return {"availabilityZoneInfo": brief}

        @route("POST", p + "/servers/{sid}/action")
        def action(request: Recorded, sid: str) -> Any:
            server = self.server(sid)
            if server is None:
                return not_found(f"Instance {sid}")
            body = request.body
            if (
                not isinstance(body, dict)
                or len(body) != 1
                or next(iter(body)) not in SERVER_ACTIONS
            ):
                return bad_request(f"Invalid server action {body!r}")
            name = next(iter(body))
            if name in ACTION_STATUS:
                status, vm_state, power_state = ACTION_STATUS[name]
                server["status"] = status
                server["OS-EXT-STS:vm_state"] = vm_state
                server["OS-EXT-STS:power_state"] = power_state
            return 202, None

        @route("DELETE", p + "/servers/{sid}")
        def delete(request: Recorded, sid: str) -> Any:
            server = self.server(sid)
            if server is None:
                return not_found(f"Instance {sid}")
            self.servers.remove(server)
            return 204, None

        @route("POST", p + "/servers/{sid}/metadata")
        def set_metadata(request: Recorded, sid: str) -> Any:
            server = self.server(sid)
            if server is None:
                return not_found(f"Instance {sid}")
            body = request.body
            if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                return bad_request("Malformed request body: metadata expected")
            server["metadata"].update(body["metadata"])
            return {"metadata": dict(server["metadata"])}

        @route("DELETE", p + "/servers/{sid}/metadata/{key}")
        def delete_metadata(request: Recorded, sid: str, key: str) -> Any:
            server = self.server(sid)
            if server is None:
                return not_found(f"Instance {sid}")
            if key not in server["metadata"]:
                return not_found(f"Metadata item {key}")
            del server["metadata"][key]
            return 204, None

        @route("PUT", p + "/servers/{sid}/tags/{tag}")
        def add_tag(request: Recorded, sid: str, tag: str) -> Any:
            server = self.server(sid)
            if server is None:
                return not_found(f"Instance {sid}")
            if tag in server["tags"]:
                return 204, None
            server["tags"].append(tag)
            return 201, None, {"Location": f"{self.endpoint}/servers/{sid}/tags/{tag}"}

        @route("PUT", p + "/os-services/{what}")
        def update_service(request: Recorded, what: str) -> Any:
            body = request.body if isinstance(request.body, dict) else {}
            if what in ("enable", "disable", "disable-log-reason"):  # before 2.53
                found = [
                    s
                    for s in self.services
                    if s["host"] == body.get("host") and s["binary"] == body.get("binary")
                ]
                if not found:
                    return not_found(f"Service {body.get('binary')} on {body.get('host')}")
                status = "enabled" if what == "enable" else "disabled"
                found[0]["status"] = status
                result = {"host": found[0]["host"], "binary": found[0]["binary"], "status": status}
                if what == "disable-log-reason":
                    result["disabled_reason"] = body.get("disabled_reason")
                return {"service": result}
            service = next((s for s in self.services if service_uuid(s["id"]) == what), None)
            if service is None or microversion(request) < (2, 53):
                return not_found(f"Service {what}")
            service.update({k: v for k, v in body.items() if k in ("status", "disabled_reason")})
            return {"service": {**copy.deepcopy(service), "id": what}}
