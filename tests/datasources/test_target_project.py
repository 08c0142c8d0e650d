"""``Driver.target_project``: the project that owns an action's target (docs/tenancy.md), read
through the injected client; None whenever the driver cannot tell."""

from __future__ import annotations

from typing import Any

from ds_fakes import CREDENTIALS, FakeClient, FakePollingDriver

from congress.datasources.cinder import CinderDriver
from congress.datasources.execution import owner_at, target_arg
from congress.datasources.glancev2 import GlanceV2Driver
from congress.datasources.neutronv2 import NeutronV2Driver
from congress.datasources.nova import NovaDriver

NOVA_CREDENTIALS = {
    "auth_url": "http://127.0.0.1:9/identity/v3",
    "username": "admin",
    "password": "secret",
    "project_name": "admin",
}


class Response:
    def __init__(self, body: Any) -> None:
        self._body = body

    def json(self) -> Any:
        return self._body


class NotFound(Exception):
    """What keystoneauth raises for a 404 (``raise_exc=True``)."""


class Proxy:
    """A service proxy that knows some documents: ``GET <path>`` only."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.requests: list[tuple[str, str]] = []
        self.down = False

    def request(self, path: str, method: str, **kwargs: Any) -> Response:
        self.requests.append((method, path))
        if self.down:
            raise ConnectionError("the service is unreachable")
        if method != "GET" or path not in self.documents:
            raise NotFound(f"404 {path}")
        return Response(self.documents[path])


class Connection:
    """An openstacksdk connection whose every proxy is ``proxy``."""

    def __init__(self, proxy: Proxy) -> None:
        self.compute = self.block_storage = self.image = self.network = proxy


def nova(servers: dict[str, dict[str, Any]]) -> tuple[NovaDriver, Proxy]:
    compute = Proxy({f"/servers/{k}": {"server": v} for k, v in servers.items()})
    return NovaDriver("nova", NOVA_CREDENTIALS, client=Connection(compute)), compute


SERVERS = {
    "vm-a": {"id": "vm-a", "tenant_id": "proj-a", "status": "ERROR"},
    "vm-b": {"id": "vm-b", "tenant_id": "proj-b", "status": "ACTIVE"},
    "vm-x": {"id": "vm-x", "status": "ACTIVE"},  # no tenant_id shown
}


def test_nova_server_actions_name_the_servers_tenant() -> None:
    driver, compute = nova(SERVERS)
    assert driver.target_project("servers.pause", ["vm-a"]) == "proj-a"
    assert driver.target_project("servers.reboot", ["vm-b", "HARD"]) == "proj-b"
    assert driver.target_project("servers.set_meta", [], {"server": "vm-a"}) == "proj-a"
    assert driver.target_project("servers_set_meta", ["vm-b", "k", "v"]) == "proj-b"
    assert compute.requests == [
        ("GET", "/servers/vm-a"),
        ("GET", "/servers/vm-b"),
        ("GET", "/servers/vm-a"),
        ("GET", "/servers/vm-b"),
    ]


def test_nova_cannot_tell_a_missing_server_or_a_server_without_a_tenant() -> None:
    driver, _ = nova(SERVERS)
    assert driver.target_project("servers.pause", ["nosuch"]) is None
    assert driver.target_project("servers.pause", ["vm-x"]) is None


def test_nova_cannot_tell_when_compute_is_down() -> None:
    driver, compute = nova(SERVERS)
    compute.down = True
    assert driver.target_project("servers.pause", ["vm-a"]) is None


def test_nova_cannot_tell_for_actions_without_a_server_or_without_arguments() -> None:
    driver, compute = nova(SERVERS)
    assert driver.target_project("services.disable", ["compute-0", "nova-compute"]) is None
    assert driver.target_project("servers.pause", []) is None
    assert driver.target_project("servers.pause", [""]) is None
    assert compute.requests == []


def test_nova_quotes_the_server_id_into_the_path() -> None:
    driver, compute = nova(SERVERS)
    assert driver.target_project("servers.pause", ["../os-services"]) is None
    assert compute.requests == [("GET", "/servers/..%2Fos-services")]


def test_the_default_driver_cannot_tell() -> None:
    driver = FakePollingDriver("fake", CREDENTIALS, client=FakeClient())
    assert driver.target_project("servers.pause", ["s1"]) is None


def test_target_arg_takes_the_named_argument_then_the_positional_one() -> None:
    assert target_arg(["a"], {"server": "b"}, "server") == "b"
    assert target_arg(["a"], None, "server") == "a"
    assert target_arg(["a", "b"], {}, "server", 1) == "b"
    assert target_arg([], {}, "server") is None
    assert target_arg([" "], {}, "server") is None
    assert target_arg([{"id": "a"}], {}, "server") is None
    assert target_arg([7], {}, "server") == "7"


def test_owner_at_reads_text_only() -> None:
    assert owner_at({"a": {"b": "p"}}, "a", "b") == "p"
    assert owner_at({"a": {"b": ""}}, "a", "b") is None
    assert owner_at({"a": {"b": 3}}, "a", "b") is None
    assert owner_at({"a": []}, "a", "b") is None
    assert owner_at(None, "a") is None


def test_cinder_volume_and_snapshot_actions_name_their_project() -> None:
    proxy = Proxy(
        {
            "/volumes/v1": {"volume": {"id": "v1", "os-vol-tenant-attr:tenant_id": "pa"}},
            "/snapshots/s1": {
                "snapshot": {"id": "s1", "os-extended-snapshot-attributes:project_id": "pb"}
            },
        }
    )
    driver = CinderDriver("cinder", NOVA_CREDENTIALS, client=Connection(proxy))
    assert driver.target_project("volumes.extend", ["v1", 20]) == "pa"
    assert driver.target_project("volumes.delete", [], {"volume": "v1"}) == "pa"
    assert driver.target_project("volume_snapshots.delete", ["s1"]) == "pb"
    assert driver.target_project("volumes.delete", ["nosuch"]) is None
    assert driver.target_project("services.disable", ["host", "cinder-volume"]) is None


def test_glance_image_actions_name_the_images_owner() -> None:
    proxy = Proxy({"/images/i1": {"id": "i1", "owner": "pa"}, "/images/i2": {"id": "i2"}})
    driver = GlanceV2Driver("glance", NOVA_CREDENTIALS, client=Connection(proxy))
    assert driver.target_project("images.deactivate", ["i1"]) == "pa"
    assert driver.target_project("image_members.create", ["i1", "pb"]) == "pa"
    assert driver.target_project("images.delete", ["i2"]) is None  # no owner shown
    assert driver.target_project("images.delete", ["nosuch"]) is None
    assert driver.target_project("nosuch.action", ["i1"]) is None


def test_neutron_actions_on_one_resource_name_its_tenant() -> None:
    proxy = Proxy(
        {
            "/ports/po1": {"port": {"id": "po1", "tenant_id": "pa"}},
            "/routers/r1": {"router": {"id": "r1", "project_id": "pb"}},
            "/networks/n1": {"network": {"id": "n1", "tenant_id": None, "project_id": "pc"}},
        }
    )
    driver = NeutronV2Driver("neutron", NOVA_CREDENTIALS, client=Connection(proxy))
    assert driver.target_project("delete_port", ["po1"]) == "pa"
    assert driver.target_project("attach_port_security_group", ["po1", "sg"]) == "pa"
    assert driver.target_project("remove_interface_router", ["r1", "{}"]) == "pb"
    assert driver.target_project("update_resource_attrs", ["network", "n1", "name", "x"]) == "pc"
    assert driver.target_project("update_resource_attrs", ["nosuch", "n1", "a", "b"]) is None
    assert driver.target_project("delete_router", ["nosuch"]) is None
    assert driver.target_project("create_security_group_rule", ["{}"]) is None
    assert driver.target_project("add_tag", ["port", "po1", "t"]) is None
