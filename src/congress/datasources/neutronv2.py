"""The ``neutronv2`` driver: OpenStack Networking (Neutron) through its v2.0 API.

Imports: standard library, congress.datasources, and (lazily, for structured action arguments)
PyYAML.

Each poll reads six collections of the Networking API v2.0 (``GET /v2.0/networks``, ``/ports``,
``/subnets``, ``/routers``, ``/security-groups``, ``/floatingips``, following
``<collection>_links`` pages when the service pages) through the openstacksdk ``network`` proxy,
whose endpoint ends in ``/v2.0``. The tables and columns are the original's: every column takes
the API field of the same name; lists and nested objects become sub-tables linked by the parent's
id (``external_fixed_ips`` by ``external_gateway_infos.router_id``). Neutron returns both
``tenant_id`` and ``project_id``; ``tenant_id`` is used, and ``project_id`` stands in for it when
a newer Neutron leaves it out (or null).

Actions (``execute``), each a driver method that calls the Networking API:

- ``update_resource_attrs(resource_type, id, attr1, value1, ..., attrN, valueN)``:
  ``PUT /v2.0/<resources>/<id>`` with ``{resource_type: {attr: value, ...}}`` for the resource
  types ``network``, ``port``, ``subnet``, ``router``, ``security_group`` and ``floatingip``.
  Policy rows carry booleans as ``"True"``/``"False"``; the original sent the strings as given,
  which Neutron happened to accept for its boolean attributes only. Here a string value
  ``True``/``False`` (any case) becomes the JSON boolean, and a string holding a JSON array or
  object (``["sg1", "sg2"]``) becomes that array or object, except for the free-text attributes
  ``name`` and ``description``, which are always sent as given. Other values (numbers, other
  strings, and any non-string value passed through the API) are sent as they are.
- ``attach_port_security_group(port_id, security_group_id)`` and
  ``detach_port_security_group(port_id, security_group_id)``: read the port, add or remove the
  group, and ``PUT`` the port's ``security_groups`` only if that changed the list.
- Client-style ones with python-neutronclient's names: ``delete_port(port)``,
  ``delete_network(network)``, ``delete_floatingip(floatingip)``, ``delete_router(router)``,
  ``delete_security_group_rule(security_group_rule)``, ``create_security_group_rule(body)``,
  ``remove_interface_router(router, body)``, ``add_tag(resource_type, resource_id, tag)`` and
  ``remove_tag(resource_type, resource_id, tag)``. A ``body`` is an object or its JSON/YAML text
  (as the original parsed structured ``body`` arguments).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import InvalidActionArguments, ServiceError
from congress.datasources.execution import Action, owner_at, target_arg
from congress.datasources.openstack import OPENSTACK_DRIVER_OPTIONS, OpenStackDriver
from congress.datasources.options import Option

__all__ = ["NeutronV2Driver"]

NETWORKS = "networks"
FIXED_IPS = "fixed_ips"
SECURITY_GROUP_PORT_BINDINGS = "security_group_port_bindings"
PORTS = "ports"
ALLOCATION_POOLS = "allocation_pools"
DNS_NAMESERVERS = "dns_nameservers"
HOST_ROUTES = "host_routes"
SUBNETS = "subnets"
EXTERNAL_FIXED_IPS = "external_fixed_ips"
EXTERNAL_GATEWAY_INFOS = "external_gateway_infos"
ROUTERS = "routers"
SECURITY_GROUP_RULES = "security_group_rules"
SECURITY_GROUPS = "security_groups"
FLOATING_IPS = "floating_ips"

# root table -> (path under the proxy's /v2.0 endpoint, the collection's key in the answer)
SOURCES: Mapping[str, tuple[str, str]] = {
    NETWORKS: ("/networks", "networks"),
    PORTS: ("/ports", "ports"),
    SUBNETS: ("/subnets", "subnets"),
    ROUTERS: ("/routers", "routers"),
    SECURITY_GROUPS: ("/security-groups", "security_groups"),
    FLOATING_IPS: ("/floatingips", "floatingips"),
}

# update_resource_attrs: resource type -> the collection's path segment
UPDATABLE: Mapping[str, str] = {
    "network": "networks",
    "port": "ports",
    "subnet": "subnets",
    "router": "routers",
    "security_group": "security-groups",
    "floatingip": "floatingips",
}

# add_tag / remove_tag: other spellings of a collection's path segment
TAG_RESOURCES: Mapping[str, str] = {
    **UPDATABLE,
    **{path: path for path in UPDATABLE.values()},
    "security_groups": "security-groups",
    "subnetpool": "subnetpools",
    "subnetpools": "subnetpools",
    "trunk": "trunks",
    "trunks": "trunks",
}

FREE_TEXT_ATTRS = frozenset({"name", "description"})
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?$")


def _with_tenant_ids(objects: Any) -> Any:
    """The objects, with ``project_id`` standing in for a missing (or null) ``tenant_id``."""
    if not isinstance(objects, list):
        return objects  # the translator reports the wrong shape
    result: list[Any] = []
    for obj in objects:
        if isinstance(obj, Mapping) and obj.get("tenant_id") is None and "project_id" in obj:
            obj = {**obj, "tenant_id": obj["project_id"]}
        result.append(obj)
    return result


FLOATING_IPS_SPEC = tr.HDict(
    table=FLOATING_IPS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="The UUID of the floating IP address"),
        tr.Field("router_id", desc="UUID of router"),
        tr.Field("tenant_id", desc="Tenant ID"),
        tr.Field("floating_network_id", desc="The UUID of the network associated with floating IP"),
        tr.Field("fixed_ip_address", desc="Fixed IP address associated with floating IP address"),
        tr.Field("floating_ip_address", desc="The floating IP address"),
        tr.Field("port_id", desc="UUID of port"),
        tr.Field("status", desc="The floating IP status"),
    ],
)

NETWORKS_SPEC = tr.HDict(
    table=NETWORKS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="Network ID"),
        tr.Field("tenant_id", desc="Tenant ID"),
        tr.Field("name", desc="Network name"),
        tr.Field("status", desc="Network status"),
        tr.Field("admin_state_up", desc="Administrative state of the network (true/false)"),
        tr.Field("shared", desc="Indicates if network is shared across all tenants"),
    ],
)

PORTS_FIXED_IPS_SPEC = tr.HDict(
    table=FIXED_IPS,
    parent_key="id",
    parent_col_name="port_id",
    parent_key_desc="UUID of Port",
    in_list=True,
    fields=[
        tr.Field("ip_address", desc="The IP addresses for the port"),
        tr.Field("subnet_id", desc="The UUID of the subnet to which the port is attached"),
    ],
)

PORTS_SECURITY_GROUPS_SPEC = tr.ListSpec(
    table=SECURITY_GROUP_PORT_BINDINGS,
    parent_key="id",
    parent_col_name="port_id",
    parent_key_desc="UUID of port",
    val_col="security_group_id",
    val_col_desc="UUID of security group",
)

PORTS_SPEC = tr.HDict(
    table=PORTS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="UUID of port"),
        tr.Field("tenant_id", desc="tenant ID"),
        tr.Field("name", desc="port name"),
        tr.Field("network_id", desc="UUID of attached network"),
        tr.Field("mac_address", desc="MAC address of the port"),
        tr.Field("admin_state_up", desc="Administrative state of the port"),
        tr.Field("status", desc="Port status"),
        tr.Field("device_id", desc="The UUID of the device that uses this port"),
        tr.Field("device_owner", desc="The UUID of the entity that uses this port"),
        tr.Field("fixed_ips", PORTS_FIXED_IPS_SPEC, desc="The IP addresses for the port"),
        tr.Field("security_groups", PORTS_SECURITY_GROUPS_SPEC),
    ],
)

SUBNETS_ALLOCATION_POOLS_SPEC = tr.HDict(
    table=ALLOCATION_POOLS,
    parent_key="id",
    parent_col_name="subnet_id",
    parent_key_desc="UUID of subnet",
    in_list=True,
    fields=[
        tr.Field("start", desc="The start address for the allocation pools"),
        tr.Field("end", desc="The end address for the allocation pools"),
    ],
)

SUBNETS_DNS_NAMESERVERS_SPEC = tr.ListSpec(
    table=DNS_NAMESERVERS,
    parent_key="id",
    parent_col_name="subnet_id",
    parent_key_desc="UUID of subnet",
    val_col="dns_nameserver",
    val_col_desc="The DNS server",
)

SUBNETS_ROUTES_SPEC = tr.HDict(
    table=HOST_ROUTES,
    parent_key="id",
    parent_col_name="subnet_id",
    parent_key_desc="UUID of subnet",
    in_list=True,
    fields=[
        tr.Field("destination", desc="The destination for static route"),
        tr.Field("nexthop", desc="The next hop for the destination"),
    ],
)

SUBNETS_SPEC = tr.HDict(
    table=SUBNETS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="UUID of subnet"),
        tr.Field("tenant_id", desc="tenant ID"),
        tr.Field("name", desc="subnet name"),
        tr.Field("network_id", desc="UUID of attached network"),
        tr.Field("ip_version", desc="The IP version, which is 4 or 6"),
        tr.Field("cidr", desc="The CIDR"),
        tr.Field("gateway_ip", desc="The gateway IP address"),
        tr.Field("enable_dhcp", desc="Is DHCP is enabled or not"),
        tr.Field("ipv6_ra_mode", desc="The IPv6 RA mode"),
        tr.Field("ipv6_address_mode", desc="The IPv6 address mode"),
        tr.Field("allocation_pools", SUBNETS_ALLOCATION_POOLS_SPEC),
        tr.Field("dns_nameservers", SUBNETS_DNS_NAMESERVERS_SPEC),
        tr.Field("host_routes", SUBNETS_ROUTES_SPEC),
    ],
)

EXTERNAL_FIXED_IPS_SPEC = tr.HDict(
    table=EXTERNAL_FIXED_IPS,
    parent_key="router_id",
    parent_col_name="router_id",
    parent_key_desc="UUID of router",
    in_list=True,
    fields=[
        tr.Field("subnet_id", desc="UUID of the subnet"),
        tr.Field("ip_address", desc="IP Address"),
    ],
)

ROUTERS_EXTERNAL_GATEWAY_INFOS_SPEC = tr.HDict(
    table=EXTERNAL_GATEWAY_INFOS,
    parent_key="id",
    parent_col_name="router_id",
    parent_key_desc="UUID of router",
    fields=[
        tr.Field("network_id", desc="Network ID"),
        tr.Field("enable_snat", desc="current Source NAT status for router"),
        tr.Field("external_fixed_ips", EXTERNAL_FIXED_IPS_SPEC),
    ],
)

ROUTERS_SPEC = tr.HDict(
    table=ROUTERS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="uuid of the router"),
        tr.Field("tenant_id", desc="tenant ID"),
        tr.Field("status", desc="router status"),
        tr.Field("admin_state_up", desc="administrative state of router"),
        tr.Field("name", desc="router name"),
        tr.Field("distributed", desc="indicates if it's distributed router "),
        tr.Field("external_gateway_info", ROUTERS_EXTERNAL_GATEWAY_INFOS_SPEC),
    ],
)

SECURITY_GROUP_RULES_SPEC = tr.HDict(
    table=SECURITY_GROUP_RULES,
    parent_key="id",
    parent_col_name="security_group_id",
    parent_key_desc="uuid of security group",
    in_list=True,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="The UUID of the security group rule"),
        tr.Field("tenant_id", desc="tenant ID"),
        tr.Field("remote_group_id", desc="remote group id to associate with security group rule"),
        tr.Field("direction", desc="Direction in which the security group rule is applied"),
        tr.Field("ethertype", desc="IPv4 or IPv6"),
        tr.Field("protocol", desc="protocol that is matched by the security group rule."),
        tr.Field("port_range_min", desc="Min port number in the range"),
        tr.Field("port_range_max", desc="Max port number in the range"),
        tr.Field("remote_ip_prefix", desc="Remote IP prefix to be associated"),
    ],
)

SECURITY_GROUPS_SPEC = tr.HDict(
    table=SECURITY_GROUPS,
    objects_extract_fn=_with_tenant_ids,
    fields=[
        tr.Field("id", desc="The UUID for the security group"),
        tr.Field("tenant_id", desc="Tenant ID"),
        tr.Field("name", desc="The security group name"),
        tr.Field("description", desc="security group description"),
        tr.Field("security_group_rules", SECURITY_GROUP_RULES_SPEC),
    ],
)

_ID = "the UUID of the {}"
_TAG_ARGS = (
    ("resource_type", "the tagged collection: networks, subnets, ports, routers, ... "),
    ("resource_id", "the UUID of the resource"),
    ("tag", "the tag"),
)


class NeutronV2Driver(OpenStackDriver):
    """Datasource driver that interfaces with OpenStack Networking aka Neutron."""

    DRIVER_NAME: ClassVar[str] = "neutronv2"
    PROJECT_COLUMNS: ClassVar[Mapping[str, str]] = dict.fromkeys(
        (
            "networks",
            "ports",
            "subnets",
            "routers",
            "security_groups",
            "security_group_rules",
            "floating_ips",
        ),
        "tenant_id",
    )
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that interfaces with OpenStack Networking aka Neutron."
    )
    CONFIG: ClassVar[Mapping[str, Option]] = OPENSTACK_DRIVER_OPTIONS
    SERVICE_TYPE: ClassVar[str] = "network"
    PROXY: ClassVar[str] = "network"
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (
        NETWORKS_SPEC,
        PORTS_SPEC,
        SUBNETS_SPEC,
        ROUTERS_SPEC,
        SECURITY_GROUPS_SPEC,
        FLOATING_IPS_SPEC,
    )
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "update_resource_attrs": Action(
            "Update attributes of a Neutron resource: PUT /v2.0/<resources>/<id>. Resource "
            "types: network, port, subnet, router, security_group, floatingip. Values "
            "True/False become JSON booleans and JSON array/object texts their value "
            "(not for name and description).",
            (
                ("resource_type", "network, port, subnet, router, security_group or floatingip"),
                ("id", "the UUID of the resource"),
                ("attr1", "the first attribute to update"),
                ("attr1-value", "its new value"),
                ("attrN", "the N-th attribute to update"),
                ("attrN-value", "its new value"),
            ),
            "update_resource_attrs",
        ),
        "attach_port_security_group": Action(
            "Add a security group to a port's security groups (nothing if it has it already).",
            (("port_id", _ID.format("port")), ("security_group_id", _ID.format("group"))),
            "attach_port_security_group",
        ),
        "detach_port_security_group": Action(
            "Remove a security group from a port's security groups (nothing if it lacks it).",
            (("port_id", _ID.format("port")), ("security_group_id", _ID.format("group"))),
            "detach_port_security_group",
        ),
        "delete_port": Action("Delete a port.", (("port", _ID.format("port")),), "delete_port"),
        "delete_network": Action(
            "Delete a network.", (("network", _ID.format("network")),), "delete_network"
        ),
        "delete_floatingip": Action(
            "Delete a floating IP.",
            (("floatingip", _ID.format("floating IP")),),
            "delete_floatingip",
        ),
        "delete_router": Action(
            "Delete a router.", (("router", _ID.format("router")),), "delete_router"
        ),
        "delete_security_group_rule": Action(
            "Delete a security group rule.",
            (("security_group_rule", _ID.format("security group rule")),),
            "delete_security_group_rule",
        ),
        "create_security_group_rule": Action(
            "Create a security group rule: POST /v2.0/security-group-rules.",
            (
                (
                    "body",
                    '{"security_group_rule": {...}} (or the rule alone), an object or its '
                    "JSON/YAML text",
                ),
            ),
            "create_security_group_rule",
        ),
        "remove_interface_router": Action(
            "Remove an interface from a router: PUT /v2.0/routers/<router>/"
            "remove_router_interface.",
            (
                ("router", _ID.format("router")),
                ("body", '{"subnet_id": ...} or {"port_id": ...}, an object or its JSON/YAML'),
            ),
            "remove_interface_router",
        ),
        "add_tag": Action("Add a tag to a resource.", _TAG_ARGS, "add_tag"),
        "remove_tag": Action("Remove a tag from a resource.", _TAG_ARGS, "remove_tag"),
    }

    # -- reading ------------------------------------------------------------------------------
    def fetch(self, root: str) -> Any:
        path, key = SOURCES[root]
        return self.list_all(path, key)

    # -- actions ------------------------------------------------------------------------------
    TARGETS: ClassVar[Mapping[str, tuple[str, str, str]]] = {
        "delete_port": ("port", "ports", "port"),
        "delete_network": ("network", "networks", "network"),
        "delete_floatingip": ("floatingip", "floatingips", "floatingip"),
        "delete_router": ("router", "routers", "router"),
        "remove_interface_router": ("router", "routers", "router"),
        "attach_port_security_group": ("port_id", "ports", "port"),
        "detach_port_security_group": ("port_id", "ports", "port"),
        "delete_security_group_rule": (
            "security_group_rule",
            "security-group-rules",
            "security_group_rule",
        ),
    }
    """The actions with one target: ``{action: (argument, collection, object key)}``."""

    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The target's ``tenant_id`` (or ``project_id``): the resource of the actions of
        ``TARGETS`` and of ``update_resource_attrs``; None for the others (tags, new rules)
        and a target that cannot be read."""
        if action == "update_resource_attrs" and len(positional) >= 2:
            key = str(positional[0])
            collection = UPDATABLE.get(key)
            target = target_arg(positional, None, "", 1)
        elif action in self.TARGETS:
            arg, collection, key = self.TARGETS[action]
            target = target_arg(positional, named, arg)
        else:
            return None
        if collection is None or target is None:
            return None
        try:
            body = self.get_json(f"/{collection}/{_segment(target)}")
        except ServiceError:
            return None
        return owner_at(body, key, "tenant_id") or owner_at(body, key, "project_id")

    def update_resource_attrs(self, *args: Any) -> Any:
        """``PUT /v2.0/<resources>/<id>`` with ``{resource_type: {attr: value, ...}}``."""
        if len(args) < 4 or len(args) % 2:
            raise InvalidActionArguments(
                "update_resource_attrs takes a resource type, a resource id and pairs of "
                f"attribute and value; got {len(args)} arguments"
            )
        resource_type, resource_id = str(args[0]), args[1]
        collection = UPDATABLE.get(resource_type)
        if collection is None:
            raise InvalidActionArguments(
                f"update_resource_attrs: unknown resource type {resource_type!r}; "
                f"accepted: {', '.join(UPDATABLE)}"
            )
        attrs: dict[str, Any] = {}
        for attr, value in zip(args[2::2], args[3::2], strict=True):
            attrs[str(attr)] = _attr_value(str(attr), value)
        body = {resource_type: attrs}
        return self._send("PUT", f"/{collection}/{_segment(resource_id)}", body)

    def attach_port_security_group(self, port_id: Any, security_group_id: Any) -> Any:
        """Add the group to the port's ``security_groups`` unless it is there already."""
        return self._change_port_groups(port_id, security_group_id, attach=True)

    def detach_port_security_group(self, port_id: Any, security_group_id: Any) -> Any:
        """Remove the group from the port's ``security_groups`` if it is there."""
        return self._change_port_groups(port_id, security_group_id, attach=False)

    def delete_port(self, port: Any) -> None:
        self._send("DELETE", f"/ports/{_segment(port)}")

    def delete_network(self, network: Any) -> None:
        self._send("DELETE", f"/networks/{_segment(network)}")

    def delete_floatingip(self, floatingip: Any) -> None:
        self._send("DELETE", f"/floatingips/{_segment(floatingip)}")

    def delete_router(self, router: Any) -> None:
        self._send("DELETE", f"/routers/{_segment(router)}")

    def delete_security_group_rule(self, security_group_rule: Any) -> None:
        self._send("DELETE", f"/security-group-rules/{_segment(security_group_rule)}")

    def create_security_group_rule(self, body: Any) -> Any:
        """``POST /v2.0/security-group-rules``; a rule without its wrapper is wrapped."""
        parsed = _structured(body, "body")
        if "security_group_rule" not in parsed and "security_group_rules" not in parsed:
            parsed = {"security_group_rule": parsed}
        return self._send("POST", "/security-group-rules", parsed)

    def remove_interface_router(self, router: Any, body: Any) -> Any:
        """``PUT /v2.0/routers/<router>/remove_router_interface`` with ``body``."""
        parsed = _structured(body, "body")
        path = f"/routers/{_segment(router)}/remove_router_interface"
        return self._send("PUT", path, parsed)

    def add_tag(self, resource_type: Any, resource_id: Any, tag: Any) -> None:
        """``PUT /v2.0/<resources>/<id>/tags/<tag>``."""
        self._send("PUT", _tag_path(resource_type, resource_id, tag))

    def remove_tag(self, resource_type: Any, resource_id: Any, tag: Any) -> None:
        """``DELETE /v2.0/<resources>/<id>/tags/<tag>``."""
        self._send("DELETE", _tag_path(resource_type, resource_id, tag))

    # -- helpers ------------------------------------------------------------------------------
    def _change_port_groups(self, port_id: Any, group: Any, *, attach: bool) -> Any:
        path = f"/ports/{_segment(port_id)}"
        body = self.get_json(path)
        port = body.get("port") if isinstance(body, Mapping) else None
        if not isinstance(port, Mapping):
            raise ValueError(f"GET {path}: the answer has no port object")
        current = port.get("security_groups") or []
        if not isinstance(current, list):
            raise ValueError(f"GET {path}: the port's security_groups is not a list")
        groups = [str(g) for g in current]
        if (str(group) in groups) == attach:
            return None  # nothing to change
        changed = [*groups, str(group)] if attach else [g for g in groups if g != str(group)]
        return self._send("PUT", path, {"port": {"security_groups": changed}})

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        """One write to Neutron; the answer's JSON, or None when it has no body."""
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        try:
            response = self.request(method, path, **kwargs)
        except ServiceError as exc:
            detail = _neutron_message(exc.__cause__)
            if detail is None:
                raise
            raise ServiceError(f"{exc.message}; Neutron says: {detail}") from exc.__cause__
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None


def _neutron_message(exc: BaseException | None) -> str | None:
    """The message of Neutron's ``{"NeutronError": {"type", "message"}}`` error body, which
    keystoneauth does not recognise; None if the failure has no such body."""
    response = getattr(exc, "response", None)
    try:
        error = response.json().get("NeutronError") if response is not None else None
    except (AttributeError, ValueError):
        return None
    if not isinstance(error, Mapping) or not error.get("message"):
        return None
    kind = error.get("type")
    return f"{kind}: {error['message']}" if kind else str(error["message"])


def _segment(value: Any) -> str:
    """One path segment (an id or a tag), quoted so that it cannot change the path (``:`` and
    ``@`` may stay as they are in a segment)."""
    text = str(value)
    if not text:
        raise InvalidActionArguments("an empty id or tag")
    return quote(text, safe=":@")


def _tag_path(resource_type: Any, resource_id: Any, tag: Any) -> str:
    kind = str(resource_type)
    collection = TAG_RESOURCES.get(kind, kind)
    if not _SEGMENT.match(collection):
        raise InvalidActionArguments(f"invalid resource type {kind!r}")
    return f"/{collection}/{_segment(resource_id)}/tags/{_segment(tag)}"


def _attr_value(attr: str, value: Any) -> Any:
    """The JSON value of one attribute of ``update_resource_attrs`` (see the module doc)."""
    if not isinstance(value, str) or attr in FREE_TEXT_ATTRS:
        return value
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _structured(value: Any, name: str) -> dict[str, Any]:
    """A structured argument: an object, or the JSON/YAML text of one (as the original)."""
    if isinstance(value, str | bytes):
        import yaml  # PyYAML: a dependency of congress and of openstacksdk

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise InvalidActionArguments(f"{name} is not valid JSON/YAML: {exc}") from exc
    if not isinstance(value, Mapping):
        raise InvalidActionArguments(f"{name} must be an object (or its JSON/YAML text)")
    return {str(k): v for k, v in value.items()}
