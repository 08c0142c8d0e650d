"""A fake Neutron (Networking API v2.0) on a ``FakeCloud``, for the neutronv2 driver tests.

``FakeNeutron(cloud)`` adds the ``network`` service (endpoint ``<cloud>/networking``, as
Neutron's catalog URL without a version; openstacksdk appends ``/v2.0``) and serves, with the
shapes of the Networking API v2.0 reference:

- ``GET /v2.0/{networks,ports,subnets,routers,security-groups,floatingips}``, paged with
  ``limit``/``marker`` and ``<collection>_links`` when the client asks for a limit or when
  ``page_size`` is set (as Neutron with ``pagination_max_limit``);
- ``GET/PUT/DELETE /v2.0/<collection>/<id>`` (PUT merges ``{resource: {...}}``);
- ``POST /v2.0/security-group-rules``, ``DELETE /v2.0/security-group-rules/<id>``;
- ``PUT /v2.0/routers/<id>/remove_router_interface``;
- ``PUT/DELETE /v2.0/<collection>/<id>/tags/<tag>``.

``reset()`` restores the initial objects below. Errors answer ``{"NeutronError": {...}}``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any
from urllib.parse import unquote, urlencode

from fakecloud import PROJECT_ID, FakeCloud, Recorded

PREFIX = "/networking"
V2 = PREFIX + "/v2.0"
ADMIN_PROJECT = "f2bd1b5c9a0c4e6a8b7d3e1f0a9c8b7d"
CREATED = "2024-05-02T10:21:33Z"
UPDATED = "2024-05-02T10:22:14Z"

NET_PRIVATE = "5e0ba7a2-38c8-4d2f-b3a4-3d0c0b8f6a11"
NET_PUBLIC = "0f5e8c6d-2b1a-4c3e-9d7f-6a5b4c3d2e1f"
SUBNET_V4 = "a8c4d2e0-5f6b-4a3c-8e9d-1b2c3d4e5f60"
SUBNET_V6 = "b9d5e3f1-6a7c-4b4d-9f0e-2c3d4e5f6a71"
SUBNET_PUBLIC = "c0e6f4a2-7b8d-4c5e-8a1f-3d4e5f6a7b82"
PORT_ROUTER = "d1f7a5b3-8c9e-4d6f-9b2a-4e5f6a7b8c93"
PORT_VM = "e2a8b6c4-9d0f-4e7a-8c3b-5f6a7b8c9d04"
PORT_DHCP = "f3b9c7d5-0e1a-4f8b-9d4c-6a7b8c9d0e15"
ROUTER_GW = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ROUTER_DVR = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
SG_DEFAULT = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f"
SG_WEB = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80"
RULE_EGRESS_V4 = "5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091"
RULE_EGRESS_V6 = "6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f8091a2"
RULE_INGRESS_GROUP = "7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3"
RULE_HTTP = "8b9c0d1e-2f3a-4b4c-9d6e-7f8091a2b3c4"
FIP_BOUND = "9c0d1e2f-3a4b-4c5d-8e7f-8091a2b3c4d5"
FIP_FREE = "0d1e2f3a-4b5c-4d6e-9f80-91a2b3c4d5e6"
DEVICE_VM = "8e3f7c2a-4b5d-4e6f-9a0b-1c2d3e4f5a6b"
DHCP_DEVICE = "dhcp827da361-6a2c-5cf4-b3a5-1e9c0d8f7a6b-5e0ba7a2-38c8-4d2f-b3a4-3d0c0b8f6a11"

# collection path -> (JSON key of the collection, JSON key of one object)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "networks": ("networks", "network"),
    "ports": ("ports", "port"),
    "subnets": ("subnets", "subnet"),
    "routers": ("routers", "router"),
    "security-groups": ("security_groups", "security_group"),
    "floatingips": ("floatingips", "floatingip"),
}


def _owned(project: str, *, legacy: bool = True) -> dict[str, Any]:
    """Ownership fields: both tenant_id and project_id, or (newer Neutron) project_id only."""
    return {"tenant_id": project, "project_id": project} if legacy else {"project_id": project}


def _stamps(revision: int = 1) -> dict[str, Any]:
    return {"created_at": CREATED, "updated_at": UPDATED, "revision_number": revision}


def networks() -> list[dict[str, Any]]:
    return [
        {
            "admin_state_up": True,
            "availability_zone_hints": [],
            "availability_zones": ["nova"],
            "description": "",
            "dns_domain": "",
            "id": NET_PRIVATE,
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "is_default": False,
            "l2_adjacency": True,
            "mtu": 1442,
            "name": "private",
            "port_security_enabled": True,
            "qos_policy_id": None,
            "router:external": False,
            "shared": False,
            "status": "ACTIVE",
            "subnets": [SUBNET_V4, SUBNET_V6],
            "tags": [],
            "vlan_transparent": None,
            **_owned(PROJECT_ID),
            **_stamps(3),
        },
        {
            "admin_state_up": True,
            "availability_zone_hints": [],
            "availability_zones": ["nova"],
            "description": "external network",
            "dns_domain": "",
            "id": NET_PUBLIC,
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "is_default": True,
            "l2_adjacency": True,
            "mtu": 1500,
            "name": "public",
            "port_security_enabled": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
            "provider:segmentation_id": None,
            "qos_policy_id": None,
            "router:external": True,
            "shared": True,
            "status": "ACTIVE",
            "subnets": [SUBNET_PUBLIC],
            "tags": ["external"],
            "vlan_transparent": None,
            **_owned(ADMIN_PROJECT, legacy=False),  # a newer Neutron: no tenant_id
            **_stamps(2),
        },
    ]


def _binding(host: str | None, vif_type: str) -> dict[str, Any]:
    details = {"port_filter": True, "ovs_hybrid_plug": False} if host else {}
    return {
        "binding:host_id": host or "",
        "binding:profile": {},
        "binding:vif_details": details,
        "binding:vif_type": vif_type,
        "binding:vnic_type": "normal",
    }


def ports() -> list[dict[str, Any]]:
    return [
        {
            "admin_state_up": True,
            "allowed_address_pairs": [],
            "description": "",
            "device_id": ROUTER_GW,
            "device_owner": "network:router_interface",
            "dns_assignment": [],
            "dns_domain": "",
            "dns_name": "",
            "extra_dhcp_opts": [],
            "fixed_ips": [{"ip_address": "10.0.0.1", "subnet_id": SUBNET_V4}],
            "id": PORT_ROUTER,
            "ip_allocation": "immediate",
            "mac_address": "fa:16:3e:23:fd:d7",
            "name": "",
            "network_id": NET_PRIVATE,
            "port_security_enabled": False,
            "propagate_uplink_status": False,
            "qos_network_policy_id": None,
            "qos_policy_id": None,
            "resource_request": None,
            "security_groups": [],
            "status": "ACTIVE",
            "tags": [],
            **_binding("compute-1", "ovs"),
            **_owned(PROJECT_ID),
            **_stamps(4),
        },
        {
            "admin_state_up": True,
            "allowed_address_pairs": [{"ip_address": "10.0.0.100", "mac_address": None}],
            "description": "web server",
            "device_id": DEVICE_VM,
            "device_owner": "compute:nova",
            "dns_assignment": [
                {"hostname": "web-1", "ip_address": "10.0.0.5", "fqdn": "web-1.example.org."}
            ],
            "dns_domain": "example.org.",
            "dns_name": "web-1",
            "extra_dhcp_opts": [],
            "fixed_ips": [
                {"ip_address": "10.0.0.5", "subnet_id": SUBNET_V4},
                {"ip_address": "fd00:1234::f816:3eff:fe8b:7a61", "subnet_id": SUBNET_V6},
            ],
            "id": PORT_VM,
            "ip_allocation": "immediate",
            "mac_address": "fa:16:3e:8b:7a:61",
            "name": "web-1-port",
            "network_id": NET_PRIVATE,
            "port_security_enabled": True,
            "propagate_uplink_status": False,
            "qos_network_policy_id": None,
            "qos_policy_id": None,
            "resource_request": None,
            "security_groups": [SG_DEFAULT, SG_WEB],
            "status": "ACTIVE",
            "tags": ["web"],
            **_binding("compute-1", "ovs"),
            **_owned(PROJECT_ID),
            **_stamps(6),
        },
        {
            "admin_state_up": False,
            "allowed_address_pairs": [],
            "description": "",
            "device_id": DHCP_DEVICE,
            "device_owner": "network:dhcp",
            "dns_assignment": [],
            "dns_domain": "",
            "dns_name": "",
            "extra_dhcp_opts": [],
            "fixed_ips": [{"ip_address": "10.0.0.2", "subnet_id": SUBNET_V4}],
            "id": PORT_DHCP,
            "ip_allocation": "immediate",
            "mac_address": "fa:16:3e:00:4c:2e",
            "name": "",
            "network_id": NET_PRIVATE,
            "port_security_enabled": False,
            "propagate_uplink_status": False,
            "qos_network_policy_id": None,
            "qos_policy_id": None,
            "resource_request": None,
            "security_groups": [],
            "status": "DOWN",
            "tags": [],
            **_binding(None, "unbound"),
            **_owned(PROJECT_ID),
            **_stamps(2),
        },
    ]


def subnets() -> list[dict[str, Any]]:
    return [
        {
            "allocation_pools": [
                {"start": "10.0.0.2", "end": "10.0.0.99"},
                {"start": "10.0.0.150", "end": "10.0.0.254"},
            ],
            "cidr": "10.0.0.0/24",
            "description": "",
            "dns_nameservers": ["8.8.8.8", "8.8.4.4"],
            "dns_publish_fixed_ip": False,
            "enable_dhcp": True,
            "gateway_ip": "10.0.0.1",
            "host_routes": [{"destination": "192.168.10.0/24", "nexthop": "10.0.0.10"}],
            "id": SUBNET_V4,
            "ip_version": 4,
            "ipv6_address_mode": None,
            "ipv6_ra_mode": None,
            "name": "private-subnet",
            "network_id": NET_PRIVATE,
            "segment_id": None,
            "service_types": [],
            "subnetpool_id": None,
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(2),
        },
        {
            "allocation_pools": [
                {"start": "fd00:1234::2", "end": "fd00:1234::ffff:ffff:ffff:ffff"}
            ],
            "cidr": "fd00:1234::/64",
            "description": "",
            "dns_nameservers": [],
            "dns_publish_fixed_ip": False,
            "enable_dhcp": True,
            "gateway_ip": "fd00:1234::1",
            "host_routes": [],
            "id": SUBNET_V6,
            "ip_version": 6,
            "ipv6_address_mode": "slaac",
            "ipv6_ra_mode": "slaac",
            "name": "private-subnet-v6",
            "network_id": NET_PRIVATE,
            "segment_id": None,
            "service_types": [],
            "subnetpool_id": None,
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(1),
        },
        {
            "allocation_pools": [{"start": "172.24.4.2", "end": "172.24.4.254"}],
            "cidr": "172.24.4.0/24",
            "description": "",
            "dns_nameservers": ["1.1.1.1"],
            "dns_publish_fixed_ip": False,
            "enable_dhcp": False,
            "gateway_ip": "172.24.4.1",
            "host_routes": [],
            "id": SUBNET_PUBLIC,
            "ip_version": 4,
            "ipv6_address_mode": None,
            "ipv6_ra_mode": None,
            "name": "public-subnet",
            "network_id": NET_PUBLIC,
            "segment_id": None,
            "service_types": [],
            "subnetpool_id": None,
            "tags": [],
            **_owned(ADMIN_PROJECT),
            **_stamps(1),
        },
    ]


def routers() -> list[dict[str, Any]]:
    return [
        {
            "admin_state_up": True,
            "availability_zone_hints": [],
            "availability_zones": ["nova"],
            "description": "",
            "distributed": False,
            "enable_ndp_proxy": False,
            "external_gateway_info": {
                "enable_snat": True,
                "external_fixed_ips": [
                    {"ip_address": "172.24.4.6", "subnet_id": SUBNET_PUBLIC},
                    {"ip_address": "172.24.4.7", "subnet_id": SUBNET_PUBLIC},
                ],
                "network_id": NET_PUBLIC,
            },
            "flavor_id": None,
            "ha": False,
            "id": ROUTER_GW,
            "name": "router1",
            "routes": [],
            "status": "ACTIVE",
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(5),
        },
        {
            "admin_state_up": False,
            "availability_zone_hints": [],
            "availability_zones": [],
            "description": "distributed router without a gateway",
            "distributed": True,
            "enable_ndp_proxy": False,
            "external_gateway_info": None,
            "flavor_id": None,
            "ha": False,
            "id": ROUTER_DVR,
            "name": "router2",
            "routes": [{"destination": "179.24.1.0/24", "nexthop": "10.0.0.99"}],
            "status": "ACTIVE",
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(1),
        },
    ]


def _rule(
    rule_id: str,
    group: str,
    direction: str,
    ethertype: str,
    *,
    protocol: str | None = None,
    ports: tuple[int, int] | None = None,
    remote_group: str | None = None,
    remote_ip_prefix: str | None = None,
    legacy: bool = True,
) -> dict[str, Any]:
    return {
        "belongs_to_default_sg": group == SG_DEFAULT,
        "description": "",
        "direction": direction,
        "ethertype": ethertype,
        "id": rule_id,
        "normalized_cidr": remote_ip_prefix,
        "port_range_max": ports[1] if ports else None,
        "port_range_min": ports[0] if ports else None,
        "protocol": protocol,
        "remote_address_group_id": None,
        "remote_group_id": remote_group,
        "remote_ip_prefix": remote_ip_prefix,
        "security_group_id": group,
        "tags": [],
        **_owned(PROJECT_ID, legacy=legacy),
        **_stamps(1),
    }


def security_groups() -> list[dict[str, Any]]:
    return [
        {
            "description": "Default security group",
            "id": SG_DEFAULT,
            "name": "default",
            "security_group_rules": [
                _rule(RULE_EGRESS_V4, SG_DEFAULT, "egress", "IPv4"),
                _rule(RULE_EGRESS_V6, SG_DEFAULT, "egress", "IPv6", legacy=False),
                _rule(RULE_INGRESS_GROUP, SG_DEFAULT, "ingress", "IPv4", remote_group=SG_DEFAULT),
            ],
            "shared": False,
            "stateful": True,
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(4),
        },
        {
            "description": "web servers",
            "id": SG_WEB,
            "name": "web",
            "security_group_rules": [
                _rule(
                    RULE_HTTP,
                    SG_WEB,
                    "ingress",
                    "IPv4",
                    protocol="tcp",
                    ports=(80, 80),
                    remote_ip_prefix="0.0.0.0/0",
                ),
            ],
            "shared": False,
            "stateful": True,
            "tags": ["web"],
            **_owned(PROJECT_ID),
            **_stamps(2),
        },
    ]


def floatingips() -> list[dict[str, Any]]:
    return [
        {
            "description": "web",
            "dns_domain": "",
            "dns_name": "",
            "fixed_ip_address": "10.0.0.5",
            "floating_ip_address": "172.24.4.228",
            "floating_network_id": NET_PUBLIC,
            "id": FIP_BOUND,
            "port_details": {
                "admin_state_up": True,
                "device_id": DEVICE_VM,
                "device_owner": "compute:nova",
                "mac_address": "fa:16:3e:8b:7a:61",
                "name": "web-1-port",
                "network_id": NET_PRIVATE,
                "status": "ACTIVE",
            },
            "port_forwardings": [],
            "port_id": PORT_VM,
            "qos_network_policy_id": None,
            "qos_policy_id": None,
            "router_id": ROUTER_GW,
            "status": "ACTIVE",
            "tags": [],
            **_owned(PROJECT_ID),
            **_stamps(2),
        },
        {
            "description": "",
            "dns_domain": "",
            "dns_name": "",
            "fixed_ip_address": None,
            "floating_ip_address": "172.24.4.229",
            "floating_network_id": NET_PUBLIC,
            "id": FIP_FREE,
            "port_details": None,
            "port_forwardings": [],
            "port_id": None,
            "qos_network_policy_id": None,
            "qos_policy_id": None,
            "router_id": None,
            "status": "DOWN",
            "tags": [],
            **_owned(PROJECT_ID, legacy=False),
            **_stamps(1),
        },
    ]


def not_found(kind: str, ident: str) -> tuple[int, dict[str, Any]]:
    name = "".join(part.capitalize() for part in kind.split("_"))
    message = f"{name.replace('Floatingip', 'Floating IP')} {ident} could not be found."
    return 404, {"NeutronError": {"type": f"{name}NotFound", "message": message, "detail": ""}}


def bad_request(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"NeutronError": {"type": "HTTPBadRequest", "message": message, "detail": ""}}


class FakeNeutron:
    """Neutron's v2.0 API on ``cloud``, with state the tests can change."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.page_size: int | None = None
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.reset()
        cloud.add_service("network", "neutron", PREFIX)
        self._add_routes()

    def reset(self) -> None:
        self.page_size = None
        self.objects = {
            "networks": networks(),
            "ports": ports(),
            "subnets": subnets(),
            "routers": routers(),
            "security-groups": security_groups(),
            "floatingips": floatingips(),
        }

    def find(self, collection: str, ident: str) -> dict[str, Any] | None:
        return next((o for o in self.objects[collection] if o["id"] == ident), None)

    # -- routes ----------------------------------------------------------------------------
    def _add_routes(self) -> None:
        cloud = self.cloud

        @cloud.route("GET", PREFIX)
        def versions(request: Recorded) -> Any:
            link = {"rel": "self", "href": f"{cloud.url}{V2}/"}
            return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]}

        for path, (plural, singular) in COLLECTIONS.items():
            cloud.route("GET", f"{V2}/{path}")(self._lister(path, plural))
            cloud.route("GET", f"{V2}/{path}/{{ident}}")(self._shower(path, singular))
            cloud.route("PUT", f"{V2}/{path}/{{ident}}")(self._updater(path, singular))
            cloud.route("DELETE", f"{V2}/{path}/{{ident}}")(self._deleter(path, singular))
            cloud.route("PUT", f"{V2}/{path}/{{ident}}/tags/{{tag}}")(self._tagger(path, True))
            cloud.route("DELETE", f"{V2}/{path}/{{ident}}/tags/{{tag}}")(self._tagger(path, False))

        cloud.route("POST", f"{V2}/security-group-rules")(self._create_rule)
        cloud.route("DELETE", f"{V2}/security-group-rules/{{ident}}")(self._delete_rule)
        cloud.route("PUT", f"{V2}/routers/{{ident}}/remove_router_interface")(
            self._remove_interface
        )

    def _lister(self, path: str, plural: str) -> Any:
        def handler(request: Recorded) -> Any:
            items = copy.deepcopy(self.objects[path])
            limit_text = request.query.get("limit", [None])[-1]
            limit = int(limit_text) if limit_text else self.page_size
            if not limit:
                return {plural: items}
            marker = request.query.get("marker", [None])[-1]
            start = 0
            if marker is not None:
                ids = [o["id"] for o in items]
                start = ids.index(marker) + 1 if marker in ids else len(items)
            page = items[start : start + limit]
            links: list[dict[str, str]] = []
            if start + limit < len(items):
                query = urlencode({"limit": limit, "marker": page[-1]["id"]})
                links.append({"href": f"{self.cloud.url}{V2}/{path}?{query}", "rel": "next"})
            if start > 0:
                query = urlencode({"limit": limit, "marker": page[0]["id"], "page_reverse": "True"})
                links.append({"href": f"{self.cloud.url}{V2}/{path}?{query}", "rel": "previous"})
            return {plural: page, f"{plural}_links": links}

        return handler

    def _shower(self, path: str, singular: str) -> Any:
        def handler(request: Recorded, ident: str) -> Any:
            found = self.find(path, ident)
            if found is None:
                return not_found(singular, ident)
            return {singular: copy.deepcopy(found)}

        return handler

    def _updater(self, path: str, singular: str) -> Any:
        def handler(request: Recorded, ident: str) -> Any:
            found = self.find(path, ident)
            if found is None:
                return not_found(singular, ident)
            body = request.body
            if not isinstance(body, dict) or not isinstance(body.get(singular), dict):
                return bad_request(f"Resource body required: expected {{{singular!r}: {{...}}}}")
            found.update(body[singular])
            found["revision_number"] += 1
            found["updated_at"] = "2024-05-03T08:00:00Z"
            return {singular: copy.deepcopy(found)}

        return handler

    def _deleter(self, path: str, singular: str) -> Any:
        def handler(request: Recorded, ident: str) -> Any:
            found = self.find(path, ident)
            if found is None:
                return not_found(singular, ident)
            self.objects[path].remove(found)
            return 204, None

        return handler

    def _tagger(self, path: str, add: bool) -> Any:
        def handler(request: Recorded, ident: str, tag: str) -> Any:
            tag = unquote(tag)  # Neutron decodes the path segment
            found = self.find(path, ident)
            if found is None:
                return not_found(COLLECTIONS[path][1], ident)
            if add:
                if tag not in found["tags"]:
                    found["tags"].append(tag)
                return 201, None
            if tag not in found["tags"]:
                return 404, {
                    "NeutronError": {
                        "type": "TagNotFound",
                        "message": f"Tag {tag} could not be found.",
                        "detail": "",
                    }
                }
            found["tags"].remove(tag)
            return 204, None

        return handler

    def _create_rule(self, request: Recorded) -> Any:
        body = request.body
        rule = body.get("security_group_rule") if isinstance(body, dict) else None
        if not isinstance(rule, dict):
            return bad_request("Resource body required: security_group_rule")
        group = self.find("security-groups", str(rule.get("security_group_id")))
        if group is None:
            return not_found("security_group", str(rule.get("security_group_id")))
        created = _rule(
            str(uuid.uuid4()),
            group["id"],
            rule.get("direction", "ingress"),
            rule.get("ethertype", "IPv4"),
            protocol=rule.get("protocol"),
            ports=(rule["port_range_min"], rule["port_range_max"])
            if rule.get("port_range_min") is not None
            else None,
            remote_group=rule.get("remote_group_id"),
            remote_ip_prefix=rule.get("remote_ip_prefix"),
        )
        group["security_group_rules"].append(created)
        return 201, {"security_group_rule": copy.deepcopy(created)}

    def _delete_rule(self, request: Recorded, ident: str) -> Any:
        for group in self.objects["security-groups"]:
            for rule in group["security_group_rules"]:
                if rule["id"] == ident:
                    group["security_group_rules"].remove(rule)
                    return 204, None
        return not_found("security_group_rule", ident)

    def _remove_interface(self, request: Recorded, ident: str) -> Any:
        router = self.find("routers", ident)
        if router is None:
            return not_found("router", ident)
        body = request.body if isinstance(request.body, dict) else {}
        subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
        if subnet_id is None and port_id is None:
            return bad_request("Either subnet_id or port_id must be specified")
        for port in self.objects["ports"]:
            subnets_of_port = [ip["subnet_id"] for ip in port["fixed_ips"]]
            if (
                port["device_id"] == ident
                and port["device_owner"] == "network:router_interface"
                and (port["id"] == port_id or subnet_id in subnets_of_port)
            ):
                self.objects["ports"].remove(port)
                return {
                    "id": ident,
                    "network_id": port["network_id"],
                    "port_id": port["id"],
                    "project_id": port["project_id"],
                    "subnet_id": subnets_of_port[0],
                    "subnet_ids": subnets_of_port,
                    "tenant_id": port["project_id"],
                }
        return 404, {
            "NeutronError": {
                "type": "RouterInterfaceNotFoundForSubnet",
                "message": f"Router {ident} has no interface on subnet {subnet_id}",
                "detail": "",
            }
        }
