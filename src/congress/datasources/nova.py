"""The ``nova`` driver: OpenStack Compute servers, flavors, hypervisors, services and zones.

Imports: standard library, congress.datasources and (lazily, in the action handlers)
openstacksdk.

The driver reads the Compute API v2.1 JSON through openstacksdk's compute proxy, with the
microversion of the ``api_version`` option (default ``2.26``, the original's, the first that
lists a server's ``tags``):

- ``servers``: ``GET /servers/detail?all_tenants=1``, every page (``servers_links``);
  ``servers.addresses`` flattens each server's ``addresses`` (``{network: [address, ...]}``,
  one row per address) and ``tags`` has one row per tag;
- ``flavors``: ``GET /flavors/detail`` (``ephemeral`` is ``OS-FLV-EXT-DATA:ephemeral``);
- ``hypervisors``: ``GET /os-hypervisors/detail``;
- ``services``: ``GET /os-services``;
- ``availability_zones``: ``GET /os-availability-zone/detail`` (what the original's
  ``availability_zones.list()`` read); ``state`` is ``zoneState`` as the API gives it, an
  object such as ``{"available": true}``, normalised to its JSON text.

Actions keep the original's novaclient names (``servers.pause``...) and call the compute
proxy's methods (``pause_server``...); ``servers_set_meta(server, k1, v1, ..., kN, vN)`` is the
original's explicit wrapper of ``servers.set_meta``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import InvalidActionArguments, InvalidConfig, ServiceError
from congress.datasources.execution import (
    Action,
    bool_arg,
    keys_arg,
    metadata_arg,
    owner_at,
    target_arg,
)
from congress.datasources.openstack import OPENSTACK_DRIVER_OPTIONS, OpenStackDriver
from congress.datasources.options import Option

DEFAULT_API_VERSION = "2.26"
_API_VERSION = re.compile(r"^2(\.[0-9]+)?$")


def safe_id(value: Any) -> Any:
    """The ``id`` of an ``image`` or ``flavor`` reference, or the value itself when it is not
    an object (``""`` is the image of a server booted from a volume)."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def flatten_addresses(addresses: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A server's ``{network: [address, ...]}`` as one object per address, with the network's
    name as ``network_name``."""
    return [
        {**address, "network_name": network}
        for network, items in addresses.items()
        for address in items
    ]


SERVERS = tr.HDict(
    table="servers",
    fields=[
        tr.Field("id", desc="The UUID for the server"),
        tr.Field("name", desc="Name of the server"),
        tr.Field("hostId", col="host_id", desc="The UUID for the host"),
        tr.Field("status", desc="The server status"),
        tr.Field("tenant_id", desc="The tenant ID"),
        tr.Field("user_id", desc="The user ID of the user who owns the server"),
        tr.Field("image", tr.Value(safe_id), col="image_id", desc="Name or ID of image"),
        tr.Field("flavor", tr.Value(safe_id), col="flavor_id", desc="ID of the flavor"),
        tr.Field("OS-EXT-AZ:availability_zone", col="zone", desc="The availability zone of host"),
        tr.Field(
            "OS-EXT-SRV-ATTR:hypervisor_hostname",
            col="host_name",
            desc="The hostname of hypervisor where the server is running",
        ),
        tr.Field("created", col="created_at", desc="Time at which server is created"),
        tr.Field(
            "addresses",
            tr.HDict(
                table="servers.addresses",
                parent_key="id",
                parent_col_name="server_id",
                parent_key_desc="UUID of server",
                in_list=True,
                objects_extract_fn=flatten_addresses,
                fields=[
                    tr.Field("network_name", desc="Name of attached network to server"),
                    tr.Field("addr", col="address", desc="IP address of the server"),
                    tr.Field("version", desc="Internet Protocol version of the address"),
                    tr.Field(
                        "OS-EXT-IPS-MAC:mac_addr",
                        col="mac_address",
                        desc="MAC address associated to the IP of the server",
                    ),
                    tr.Field("OS-EXT-IPS:type", col="address_type", desc="IP address type"),
                ],
            ),
        ),
        tr.Field(
            "tags",
            tr.ListSpec(
                table="tags",
                val_col="tag",
                val_col_desc="server tag string",
                parent_key="id",
                parent_col_name="server_id",
                parent_key_desc="UUID of server",
            ),
        ),
    ],
)

FLAVORS = tr.HDict(
    table="flavors",
    fields=[
        tr.Field("id", desc="ID of the flavor"),
        tr.Field("name", desc="Name of the flavor"),
        tr.Field("vcpus", desc="Number of vcpus"),
        tr.Field("ram", desc="Memory size in MB"),
        tr.Field("disk", desc="Disk size in GB"),
        tr.Field("OS-FLV-EXT-DATA:ephemeral", col="ephemeral", desc="Ephemeral space size in GB"),
        tr.Field("rxtx_factor", desc="RX/TX factor"),
    ],
)

HYPERVISORS = tr.HDict(
    table="hypervisors",
    fields=[
        tr.Field("hypervisor_hostname", desc="Hypervisor host"),
        tr.Field("id", desc="Hypervisor ID"),
        tr.Field("state", desc="State of the hypervisor"),
        tr.Field("status", desc="Status of the hypervisor"),
    ],
)

SERVICES = tr.HDict(
    table="services",
    fields=[
        tr.Field("id", col="service_id", desc="Service ID"),
        tr.Field("binary", desc="Service binary"),
        tr.Field("host", desc="Host Name"),
        tr.Field("zone", desc="Availability Zone"),
        tr.Field("status", desc="Status of service"),
        tr.Field("state", desc="State of service"),
        tr.Field("updated_at", desc="Last updated time"),
        tr.Field("disabled_reason", desc="Disabled reason"),
    ],
)

AVAILABILITY_ZONES = tr.HDict(
    table="availability_zones",
    fields=[
        tr.Field("zoneName", col="zone", desc="Availability zone name"),
        tr.Field("zoneState", col="state", desc="Availability zone state"),
    ],
)

# root table -> (path, collection key, query)
SOURCES: Mapping[str, tuple[str, str, Mapping[str, Any]]] = {
    "servers": ("/servers/detail", "servers", {"all_tenants": 1}),
    "flavors": ("/flavors/detail", "flavors", {}),
    "hypervisors": ("/os-hypervisors/detail", "hypervisors", {}),
    "services": ("/os-services", "services", {}),
    "availability_zones": ("/os-availability-zone/detail", "availabilityZoneInfo", {}),
}

_SERVER = ("server", "ID of the server")
_HOST = ("host", "host of the service (with api_version 2.53 or later, or the service's ID)")
_BINARY = ("binary", "binary of the service, e.g. nova-compute (omit to give a service ID)")


def _server_action(description: str, handler: str, *args: tuple[str, str]) -> Action:
    return Action(description, (_SERVER, *args), handler)


NOVA_ACTIONS: Mapping[str, Action] = {
    "servers.pause": _server_action("Pause a server.", "servers_pause"),
    "servers.unpause": _server_action("Unpause a server.", "servers_unpause"),
    "servers.stop": _server_action("Stop a server.", "servers_stop"),
    "servers.start": _server_action("Start a server.", "servers_start"),
    "servers.reboot": _server_action(
        "Reboot a server.",
        "servers_reboot",
        ("reboot_type", "SOFT (default) or HARD"),
    ),
    "servers.delete": _server_action("Delete a server.", "servers_delete"),
    "servers.suspend": _server_action("Suspend a server.", "servers_suspend"),
    "servers.resume": _server_action("Resume a suspended server.", "servers_resume"),
    "servers.lock": _server_action("Lock a server.", "servers_lock"),
    "servers.unlock": _server_action("Unlock a server.", "servers_unlock"),
    "servers.set_meta": _server_action(
        "Set or update metadata items of a server.",
        "servers_set_metadata",
        ("metadata", "the items to set: an object (or its JSON text)"),
    ),
    "servers.delete_meta": _server_action(
        "Delete metadata items of a server.",
        "servers_delete_metadata",
        ("keys", "the keys to delete: a list (or its JSON text, or one key)"),
    ),
    "servers.add_security_group": _server_action(
        "Add a security group to a server.",
        "servers_add_security_group",
        ("security_group", "name of the security group"),
    ),
    "servers.remove_security_group": _server_action(
        "Remove a security group from a server.",
        "servers_remove_security_group",
        ("security_group", "name of the security group"),
    ),
    "servers.migrate": _server_action(
        "Cold-migrate a server to a host the scheduler chooses.", "servers_migrate"
    ),
    "servers.live_migrate": _server_action(
        "Live-migrate a server.",
        "servers_live_migrate",
        ("host", "destination host (default: the scheduler chooses)"),
        ("block_migration", "auto (default), True or False"),
    ),
    "servers.add_tag": _server_action(
        "Add a tag to a server.", "servers_add_tag", ("tag", "the tag")
    ),
    "servers.shelve": _server_action("Shelve a server.", "servers_shelve"),
    "services.disable": Action("Disable a compute service.", (_HOST, _BINARY), "services_disable"),
    "services.enable": Action("Enable a compute service.", (_HOST, _BINARY), "services_enable"),
    "servers_set_meta": Action(
        "Set metadata of a server: servers_set_meta(server, meta-key1, meta-value1, ..., "
        "meta-keyN, meta-valueN); keys and values come in pairs.",
        (
            _SERVER,
            ("meta-key1", "meta key 1"),
            ("meta-value1", "value for meta key1"),
            ("meta-keyN", "meta key N"),
            ("meta-valueN", "value for meta keyN"),
        ),
        "servers_set_meta",
    ),
}


class NovaDriver(OpenStackDriver):
    """Datasource driver for OpenStack Compute (Nova)."""

    DRIVER_NAME: ClassVar[str] = "nova"
    PROJECT_COLUMNS: ClassVar[Mapping[str, str]] = {"servers": "tenant_id"}
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that interfaces with OpenStack Compute aka nova."
    )
    SERVICE_TYPE: ClassVar[str] = "compute"
    PROXY: ClassVar[str] = "compute"
    CONFIG: ClassVar[Mapping[str, Option]] = {
        **OPENSTACK_DRIVER_OPTIONS,
        "api_version": Option(
            description=f"Compute API microversion to request (default {DEFAULT_API_VERSION})"
        ),
    }
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (
        SERVERS,
        FLAVORS,
        HYPERVISORS,
        SERVICES,
        AVAILABILITY_ZONES,
    )
    ACTIONS: ClassVar[Mapping[str, Action]] = NOVA_ACTIONS

    @classmethod
    def api_version(cls, config: Mapping[str, Any]) -> str:
        """The ``api_version`` option: ``2`` or ``2.N``; ``InvalidConfig`` otherwise."""
        value = config.get("api_version")
        if value is None or value == "":
            return DEFAULT_API_VERSION
        text = str(value).strip()
        if not _API_VERSION.match(text):
            raise InvalidConfig(
                f"Invalid value for option api_version: {value!r}; expected a Compute API "
                f"microversion such as {DEFAULT_API_VERSION}"
            )
        return text

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        cls.api_version(config)

    @classmethod
    def connection_options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"compute_api_version": cls.api_version(config)}

    def fetch(self, root: str) -> Any:
        path, key, params = SOURCES[root]
        return self.list_all(path, key, params)

    # -- actions ------------------------------------------------------------------------------
    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        """A server action's target project: the server's ``tenant_id`` (``GET
        /servers/<id>``); None for the other actions and a server that cannot be read."""
        if not (action.startswith("servers.") or action == "servers_set_meta"):
            return None
        server = target_arg(positional, named, "server")
        if server is None:
            return None
        try:
            body = self.get_json(f"/servers/{quote(server, safe='')}")
        except ServiceError:
            return None
        return owner_at(body, "server", "tenant_id")

    def servers_pause(self, server: Any) -> None:
        self.service.pause_server(str(server))

    def servers_unpause(self, server: Any) -> None:
        self.service.unpause_server(str(server))

    def servers_stop(self, server: Any) -> None:
        self.service.stop_server(str(server))

    def servers_start(self, server: Any) -> None:
        self.service.start_server(str(server))

    def servers_reboot(self, server: Any, reboot_type: Any = "SOFT") -> None:
        self.service.reboot_server(str(server), str(reboot_type).upper())

    def servers_delete(self, server: Any) -> None:
        self.service.delete_server(str(server), ignore_missing=False)

    def servers_suspend(self, server: Any) -> None:
        self.service.suspend_server(str(server))

    def servers_resume(self, server: Any) -> None:
        self.service.resume_server(str(server))

    def servers_lock(self, server: Any) -> None:
        self.service.lock_server(str(server))

    def servers_unlock(self, server: Any) -> None:
        self.service.unlock_server(str(server))

    def servers_set_metadata(self, server: Any, metadata: Any) -> None:
        self.service.set_server_metadata(str(server), **metadata_arg(metadata))

    def servers_delete_metadata(self, server: Any, keys: Any) -> None:
        self.service.delete_server_metadata(str(server), keys_arg(keys))

    def servers_add_security_group(self, server: Any, security_group: Any) -> None:
        self.service.add_security_group_to_server(str(server), str(security_group))

    def servers_remove_security_group(self, server: Any, security_group: Any) -> None:
        self.service.remove_security_group_from_server(str(server), str(security_group))

    def servers_migrate(self, server: Any) -> None:
        self.service.migrate_server(str(server))

    def servers_live_migrate(
        self, server: Any, host: Any = None, block_migration: Any = "auto"
    ) -> None:
        from openstack import utils

        block: bool | str = "auto"
        if str(block_migration).lower() != "auto":
            block = bool_arg(block_migration, "block_migration")
        # From 2.25 to 2.29 naming a host bypasses the scheduler (novaclient sent it so);
        # openstacksdk wants that said with force=True. From 2.30 the scheduler checks it.
        force = bool(host) and not utils.supports_microversion(self.service, "2.30")
        self.service.live_migrate_server(
            str(server),
            host=str(host) if host else None,
            force=force,
            block_migration=block,
        )

    def servers_add_tag(self, server: Any, tag: Any) -> None:
        self.service.add_tag_to_server(str(server), str(tag))

    def servers_shelve(self, server: Any) -> None:
        self.service.shelve_server(str(server))

    def services_disable(self, host: Any, binary: Any = None) -> None:
        if binary is None:  # a service ID (api_version 2.53 and later)
            self._service_id_allowed()
            self.service.disable_service(str(host))
        else:
            self.service.disable_service(None, host=str(host), binary=str(binary))

    def services_enable(self, host: Any, binary: Any = None) -> None:
        if binary is None:
            self._service_id_allowed()
            self.service.enable_service(str(host))
        else:
            self.service.enable_service(None, host=str(host), binary=str(binary))

    def _service_id_allowed(self) -> None:
        version = self.api_version(self.config)
        minor = int(version.partition(".")[2] or 0)
        if minor < 53:
            raise InvalidActionArguments(
                f"a service alone (without binary) needs api_version 2.53 or later; this "
                f"datasource uses {version}: give the host and the binary"
            )

    def servers_set_meta(self, server: Any, *pairs: Any) -> None:
        """``servers.set_meta(server, {k1: v1, ...})`` from positional key/value pairs."""
        if len(pairs) % 2:
            raise InvalidActionArguments(
                f"servers_set_meta takes the server then meta keys and values in pairs; got "
                f"{len(pairs)} key and value arguments, an odd number"
            )
        metadata = {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        self.service.set_server_metadata(str(server), **metadata)
