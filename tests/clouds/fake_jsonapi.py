"""Fake JSON APIs on a ``FakeCloud`` for the ``json`` driver's tests.

Two services with the shapes their APIs document:

- ``compute`` (in the catalog, at ``/compute/v2.1``): Nova's ``GET /servers/detail`` (the
  ``status`` query filters) and ``GET /flavors/detail`` at microversion 2.1. With
  ``check_tokens`` set, a request must carry an ``X-Auth-Token`` that the fake Keystone issued
  (the Keystone token route is wrapped to remember the tokens it issues).
- an inventory API (not OpenStack, at ``/inventory/api/v1``) that wants ``Authorization: Bearer
  <TOKEN>``: ``GET /hosts`` answers a bare JSON list (the ``state`` query filters) and
  ``GET /status`` a JSON object.

``reset()`` restores the data; tests change ``servers``, ``flavors`` and ``hosts`` in place.
"""

from __future__ import annotations

import copy
from typing import Any

from fakecloud import PROJECT_ID, USER_ID, FakeCloud, Recorded

COMPUTE = "/compute/v2.1"
INVENTORY = "/inventory/api/v1"
TOKEN = "inv-7f3c9d2e-bearer-secret"

WEB_1 = "3f1c2b6a-9d4e-4c1b-8a7e-0b2d5e6f7a81"
WEB_2 = "b7e4d2c1-5a6f-4e3d-9c8b-1a2b3c4d5e62"
DB_1 = "c9a8b7d6-e5f4-4a3b-8c2d-1e0f9a8b7c63"
IMAGE = "70a599e0-31e7-49b7-b260-868f441e862b"


def _server(
    server_id: str,
    name: str,
    status: str,
    flavor: str,
    addresses: dict[str, Any],
    metadata: dict[str, str],
) -> dict[str, Any]:
    """A server of ``GET /servers/detail`` (compute API 2.1)."""
    return {
        "id": server_id,
        "name": name,
        "status": status,
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "metadata": metadata,
        "hostId": "e4d909c290d0fb1ca068ffaddf22cbd0d6a4ab7e06f8d8e4a1c2b3d4",
        "image": {
            "id": IMAGE,
            "links": [{"href": f"http://openstack.example.com/images/{IMAGE}", "rel": "bookmark"}],
        },
        "flavor": {
            "id": flavor,
            "links": [
                {"href": f"http://openstack.example.com/flavors/{flavor}", "rel": "bookmark"}
            ],
        },
        "created": "2026-01-10T10:00:00Z",
        "updated": "2026-01-10T10:01:12Z",
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": [
            {"href": f"http://openstack.example.com/v2.1/servers/{server_id}", "rel": "self"},
            {"href": f"http://openstack.example.com/servers/{server_id}", "rel": "bookmark"},
        ],
        "key_name": None,
        "progress": 0,
        "config_drive": "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": "nova",
        "OS-EXT-STS:power_state": 1 if status == "ACTIVE" else 4,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active" if status == "ACTIVE" else "stopped",
        "OS-SRV-USG:launched_at": "2026-01-10T10:01:10.000000",
        "OS-SRV-USG:terminated_at": None,
        "security_groups": [{"name": "default"}],
        "os-extended-volumes:volumes_attached": [],
    }


def _address(addr: str, kind: str, mac: str, version: int = 4) -> dict[str, Any]:
    return {
        "addr": addr,
        "version": version,
        "OS-EXT-IPS:type": kind,
        "OS-EXT-IPS-MAC:mac_addr": mac,
    }


SERVERS = [
    _server(
        WEB_1,
        "web-1",
        "ACTIVE",
        "1",
        {
            "private": [
                _address("10.0.0.5", "fixed", "fa:16:3e:11:22:01"),
                _address("172.24.4.10", "floating", "fa:16:3e:11:22:01"),
            ]
        },
        {"role": "web"},
    ),
    _server(
        WEB_2,
        "web-2",
        "SHUTOFF",
        "1",
        {"private": [_address("10.0.0.6", "fixed", "fa:16:3e:11:22:02")]},
        {},
    ),
    _server(DB_1, "db-1", "ACTIVE", "3", {}, {"role": "db", "tier": "gold"}),
]


def _flavor(flavor_id: str, name: str, ram: int, vcpus: int, disk: int, public: bool) -> Any:
    """A flavor of ``GET /flavors/detail`` (compute API 2.1)."""
    return {
        "id": flavor_id,
        "name": name,
        "ram": ram,
        "vcpus": vcpus,
        "disk": disk,
        "swap": "",
        "rxtx_factor": 1.0,
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": public,
        "links": [
            {"href": f"http://openstack.example.com/v2.1/flavors/{flavor_id}", "rel": "self"},
            {"href": f"http://openstack.example.com/flavors/{flavor_id}", "rel": "bookmark"},
        ],
    }


FLAVORS = [
    _flavor("1", "m1.tiny", 512, 1, 1, True),
    _flavor("3", "m1.medium", 4096, 2, 40, False),
]

HOSTS = [
    {
        "hostname": "rack1-node01",
        "ip": "10.10.1.11",
        "state": "active",
        "tags": ["compute", "prod"],
        "hardware": {"cpus": 32, "memory_gb": 256, "vendor": "Dell"},
        "decommissioned": False,
        "location": {"datacenter": "fra1", "rack": "r1", "unit": 12},
    },
    {
        "hostname": "rack2-node07",
        "ip": "10.10.2.17",
        "state": "maintenance",
        "tags": [],
        "hardware": {"cpus": 16, "memory_gb": 128, "vendor": "HPE"},
        "decommissioned": False,
        "location": {"datacenter": "fra1", "rack": "r2", "unit": 7},
    },
]

STATUS = {
    "version": "1.4.2",
    "checks": {"database": "ok", "queue": "ok"},
    "uptime_seconds": 86400,
}


class FakeJsonApi:
    """The fake services on ``cloud`` (see the module's docstring)."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.issued_tokens: list[str] = []
        self.check_tokens = False
        self.servers: list[dict[str, Any]] = []
        self.flavors: list[dict[str, Any]] = []
        self.hosts: list[dict[str, Any]] = []
        self.reset()
        cloud.add_service(
            "compute",
            "nova",
            COMPUTE,
            version={
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.95",
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
            },
        )
        self._routes()

    def reset(self) -> None:
        self.servers = copy.deepcopy(SERVERS)
        self.flavors = copy.deepcopy(FLAVORS)
        self.hosts = copy.deepcopy(HOSTS)
        self.check_tokens = False

    def server(self, server_id: str) -> dict[str, Any]:
        return next(s for s in self.servers if s["id"] == server_id)

    def _routes(self) -> None:
        cloud = self.cloud

        @cloud.route("POST", "/identity/v3/auth/tokens")
        def tokens(request: Recorded) -> Any:
            result = cloud._issue_token(request)
            if isinstance(result, tuple) and len(result) == 3:
                self.issued_tokens.append(result[2]["X-Subject-Token"])
            return result

        @cloud.route("GET", f"{COMPUTE}/servers/detail")
        def servers(request: Recorded) -> Any:
            refused = self._refuse_token(request)
            if refused is not None:
                return refused
            wanted = request.query.get("status")
            found = [s for s in self.servers if not wanted or s["status"] in wanted]
            return {"servers": found}

        @cloud.route("GET", f"{COMPUTE}/flavors/detail")
        def flavors(request: Recorded) -> Any:
            refused = self._refuse_token(request)
            if refused is not None:
                return refused
            return {"flavors": self.flavors}

        @cloud.route("GET", f"{INVENTORY}/hosts")
        def hosts(request: Recorded) -> Any:
            refused = self._refuse_bearer(request)
            if refused is not None:
                return refused
            wanted = request.query.get("state")
            return [h for h in self.hosts if not wanted or h["state"] in wanted]

        @cloud.route("GET", f"{INVENTORY}/status")
        def status(request: Recorded) -> Any:
            refused = self._refuse_bearer(request)
            if refused is not None:
                return refused
            return STATUS

    def _refuse_token(self, request: Recorded) -> Any:
        if self.check_tokens and request.headers.get("x-auth-token") not in self.issued_tokens:
            message = "The request you have made requires authentication."
            return 401, {"error": {"code": 401, "title": "Unauthorized", "message": message}}
        return None

    @staticmethod
    def _refuse_bearer(request: Recorded) -> Any:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "missing or invalid bearer token"}
        return None
