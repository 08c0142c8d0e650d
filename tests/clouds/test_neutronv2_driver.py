"""The neutronv2 driver against a fake Neutron over real HTTP (openstacksdk, keystoneauth1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fake_neutron import (
    ADMIN_PROJECT,
    DEVICE_VM,
    DHCP_DEVICE,
    FIP_BOUND,
    FIP_FREE,
    NET_PRIVATE,
    NET_PUBLIC,
    PORT_DHCP,
    PORT_ROUTER,
    PORT_VM,
    ROUTER_DVR,
    ROUTER_GW,
    RULE_EGRESS_V4,
    RULE_EGRESS_V6,
    RULE_HTTP,
    RULE_INGRESS_GROUP,
    SG_DEFAULT,
    SG_WEB,
    SUBNET_PUBLIC,
    SUBNET_V4,
    SUBNET_V6,
    V2,
    FakeNeutron,
)
from fakecloud import PROJECT_ID, FakeCloud

from congress.datalog.ast import Row
from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    InvalidLazyTables,
    LazyTableNotActive,
    PollFailed,
)
from congress.datasources.neutronv2 import NeutronV2Driver
from congress.datasources.openstack import ServiceError

# openstacksdk 4.x's own Proxy.request passes service_type to Proxy._extract_name, which then
# warns that the parameter is deprecated: every raw request through a proxy warns, whatever the
# caller does. Only that warning is ignored here.

EXPECTED: dict[str, set[Row]] = {
    "networks": {
        (NET_PRIVATE, PROJECT_ID, "private", "ACTIVE", "True", "False"),
        (NET_PUBLIC, ADMIN_PROJECT, "public", "ACTIVE", "True", "True"),
    },
    "ports": {
        (
            PORT_ROUTER,
            PROJECT_ID,
            "",
            NET_PRIVATE,
            "fa:16:3e:23:fd:d7",
            "True",
            "ACTIVE",
            ROUTER_GW,
            "network:router_interface",
        ),
        (
            PORT_VM,
            PROJECT_ID,
            "web-1-port",
            NET_PRIVATE,
            "fa:16:3e:8b:7a:61",
            "True",
            "ACTIVE",
            DEVICE_VM,
            "compute:nova",
        ),
        (
            PORT_DHCP,
            PROJECT_ID,
            "",
            NET_PRIVATE,
            "fa:16:3e:00:4c:2e",
            "False",
            "DOWN",
            DHCP_DEVICE,
            "network:dhcp",
        ),
    },
    "fixed_ips": {
        (PORT_ROUTER, "10.0.0.1", SUBNET_V4),
        (PORT_VM, "10.0.0.5", SUBNET_V4),
        (PORT_VM, "fd00:1234::f816:3eff:fe8b:7a61", SUBNET_V6),
        (PORT_DHCP, "10.0.0.2", SUBNET_V4),
    },
    "security_group_port_bindings": {(PORT_VM, SG_DEFAULT), (PORT_VM, SG_WEB)},
    "subnets": {
        (
            SUBNET_V4,
            PROJECT_ID,
            "private-subnet",
            NET_PRIVATE,
            4,
            "10.0.0.0/24",
            "10.0.0.1",
            "True",
            "None",
            "None",
        ),
        (
            SUBNET_V6,
            PROJECT_ID,
            "private-subnet-v6",
            NET_PRIVATE,
            6,
            "fd00:1234::/64",
            "fd00:1234::1",
            "True",
            "slaac",
            "slaac",
        ),
        (
            SUBNET_PUBLIC,
            ADMIN_PROJECT,
            "public-subnet",
            NET_PUBLIC,
            4,
            "172.24.4.0/24",
            "172.24.4.1",
            "False",
            "None",
            "None",
        ),
    },
    "allocation_pools": {
        (SUBNET_V4, "10.0.0.2", "10.0.0.99"),
        (SUBNET_V4, "10.0.0.150", "10.0.0.254"),
        (SUBNET_V6, "fd00:1234::2", "fd00:1234::ffff:ffff:ffff:ffff"),
        (SUBNET_PUBLIC, "172.24.4.2", "172.24.4.254"),
    },
    "dns_nameservers": {
        (SUBNET_V4, "8.8.8.8"),
        (SUBNET_V4, "8.8.4.4"),
        (SUBNET_PUBLIC, "1.1.1.1"),
    },
    "host_routes": {(SUBNET_V4, "192.168.10.0/24", "10.0.0.10")},
    "routers": {
        (ROUTER_GW, PROJECT_ID, "ACTIVE", "True", "router1", "False"),
        (ROUTER_DVR, PROJECT_ID, "ACTIVE", "False", "router2", "True"),
    },
    "external_gateway_infos": {(ROUTER_GW, NET_PUBLIC, "True")},
    "external_fixed_ips": {
        (ROUTER_GW, SUBNET_PUBLIC, "172.24.4.6"),
        (ROUTER_GW, SUBNET_PUBLIC, "172.24.4.7"),
    },
    "security_groups": {
        (SG_DEFAULT, PROJECT_ID, "default", "Default security group"),
        (SG_WEB, PROJECT_ID, "web", "web servers"),
    },
    "security_group_rules": {
        (SG_DEFAULT, RULE_EGRESS_V4, PROJECT_ID, "None", "egress", "IPv4") + ("None",) * 4,
        (SG_DEFAULT, RULE_EGRESS_V6, PROJECT_ID, "None", "egress", "IPv6") + ("None",) * 4,
        (SG_DEFAULT, RULE_INGRESS_GROUP, PROJECT_ID, SG_DEFAULT, "ingress", "IPv4") + ("None",) * 4,
        (SG_WEB, RULE_HTTP, PROJECT_ID, "None", "ingress", "IPv4", "tcp", 80, 80, "0.0.0.0/0"),
    },
    "floating_ips": {
        (
            FIP_BOUND,
            ROUTER_GW,
            PROJECT_ID,
            NET_PUBLIC,
            "10.0.0.5",
            "172.24.4.228",
            PORT_VM,
            "ACTIVE",
        ),
        (FIP_FREE, "None", PROJECT_ID, NET_PUBLIC, "None", "172.24.4.229", "None", "DOWN"),
    },
}

COLLECTION_PATHS = ["networks", "ports", "subnets", "routers", "security-groups", "floatingips"]


@pytest.fixture(scope="module")
def cloud_and_neutron() -> Iterator[tuple[FakeCloud, FakeNeutron]]:
    cloud = FakeCloud().start()
    try:
        yield cloud, FakeNeutron(cloud)
    finally:
        cloud.stop()


@pytest.fixture
def cloud(cloud_and_neutron: tuple[FakeCloud, FakeNeutron]) -> FakeCloud:
    cloud, neutron = cloud_and_neutron
    cloud.heal()
    neutron.reset()
    cloud.clear_requests()
    return cloud


@pytest.fixture
def neutron(cloud: FakeCloud, cloud_and_neutron: tuple[FakeCloud, FakeNeutron]) -> FakeNeutron:
    return cloud_and_neutron[1]


def make_driver(cloud: FakeCloud, timeout: float = 5.0, **config: Any) -> NeutronV2Driver:
    conf = cloud.credentials(**config)
    cls = NeutronV2Driver
    return cls("neutron", conf, client=cls.build_client(conf, timeout=timeout))


def gets(cloud: FakeCloud, collection: str) -> list[Any]:
    return cloud.requests_to(f"{V2}/{collection}", "GET")


# -- declaration ---------------------------------------------------------------------------------


def test_schema_tables_and_columns_are_the_originals() -> None:
    schema = {t: [c.name for c in cols] for t, cols in NeutronV2Driver.schema().items()}
    assert schema == {
        "networks": ["id", "tenant_id", "name", "status", "admin_state_up", "shared"],
        "ports": [
            "id",
            "tenant_id",
            "name",
            "network_id",
            "mac_address",
            "admin_state_up",
            "status",
            "device_id",
            "device_owner",
        ],
        "fixed_ips": ["port_id", "ip_address", "subnet_id"],
        "security_group_port_bindings": ["port_id", "security_group_id"],
        "subnets": [
            "id",
            "tenant_id",
            "name",
            "network_id",
            "ip_version",
            "cidr",
            "gateway_ip",
            "enable_dhcp",
            "ipv6_ra_mode",
            "ipv6_address_mode",
        ],
        "allocation_pools": ["subnet_id", "start", "end"],
        "dns_nameservers": ["subnet_id", "dns_nameserver"],
        "host_routes": ["subnet_id", "destination", "nexthop"],
        "routers": ["id", "tenant_id", "status", "admin_state_up", "name", "distributed"],
        "external_gateway_infos": ["router_id", "network_id", "enable_snat"],
        "external_fixed_ips": ["router_id", "subnet_id", "ip_address"],
        "security_groups": ["id", "tenant_id", "name", "description"],
        "security_group_rules": [
            "security_group_id",
            "id",
            "tenant_id",
            "remote_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
        ],
        "floating_ips": [
            "id",
            "router_id",
            "tenant_id",
            "floating_network_id",
            "fixed_ip_address",
            "floating_ip_address",
            "port_id",
            "status",
        ],
    }
    assert NeutronV2Driver.root_tables({}) == [
        "networks",
        "ports",
        "subnets",
        "routers",
        "security_groups",
        "floating_ips",
    ]


def test_info_lists_the_common_openstack_options_and_lazy_tables() -> None:
    info = NeutronV2Driver.info()
    assert info["id"] == "neutronv2"
    assert info["secret"] == ["password"]
    required = sorted(k for k, v in info["config"].items() if v == "required")
    optional = sorted(k for k, v in info["config"].items() if v == "(optional)")
    assert required == ["auth_url", "password", "project_name", "username"]
    assert optional == [
        "endpoint",
        "lazy_tables",
        "poll_time",
        "project_domain_name",
        "region",
        "tenant_name",
        "user_domain_name",
    ]


def test_building_the_driver_does_no_io(cloud: FakeCloud) -> None:
    make_driver(cloud)
    assert cloud.requests == []


# -- polling -------------------------------------------------------------------------------------


def test_poll_fills_every_table_with_exact_rows(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    assert driver.poll() == EXPECTED
    assert driver.last_error is None
    assert driver.initialized
    for collection in COLLECTION_PATHS:
        (request,) = gets(cloud, collection)
        assert request.path == f"{V2}/{collection}"


def test_tenant_id_is_preferred_to_project_id(cloud: FakeCloud, neutron: FakeNeutron) -> None:
    # The fake's public network, one rule and one floating IP have no tenant_id (the rows above
    # show their project_id); where both are given and differ, tenant_id wins.
    neutron.find("networks", NET_PRIVATE)["project_id"] = "someone-else"  # type: ignore[index]
    net = neutron.find("networks", NET_PUBLIC)
    assert net is not None and "tenant_id" not in net
    net["tenant_id"] = None  # null counts as missing
    driver = make_driver(cloud)
    rows = driver.poll()["networks"]
    assert rows == EXPECTED["networks"]


def test_a_second_poll_with_nothing_changed_keeps_the_tables(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    first = driver.poll()
    assert driver.poll() == first == EXPECTED
    assert driver.number_of_updates == 2
    assert len(gets(cloud, "ports")) == 2


def test_a_change_to_one_object_changes_only_its_rows(
    cloud: FakeCloud, neutron: FakeNeutron
) -> None:
    driver = make_driver(cloud)
    before = driver.poll()
    port = neutron.find("ports", PORT_VM)
    assert port is not None
    port["name"] = "web-1-renamed"
    port["security_groups"] = [SG_WEB]
    port["updated_at"] = "2024-06-01T00:00:00Z"  # ignored fields may change too
    after = driver.poll()
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"ports", "security_group_port_bindings"}
    assert before["ports"] - after["ports"] == {r for r in EXPECTED["ports"] if r[0] == PORT_VM}
    assert after["ports"] - before["ports"] == {
        (
            PORT_VM,
            PROJECT_ID,
            "web-1-renamed",
            NET_PRIVATE,
            "fa:16:3e:8b:7a:61",
            "True",
            "ACTIVE",
            DEVICE_VM,
            "compute:nova",
        )
    }
    assert after["security_group_port_bindings"] == {(PORT_VM, SG_WEB)}


def test_a_router_losing_its_gateway_loses_its_gateway_rows(
    cloud: FakeCloud, neutron: FakeNeutron
) -> None:
    driver = make_driver(cloud)
    driver.poll()
    router = neutron.find("routers", ROUTER_GW)
    assert router is not None
    router["external_gateway_info"] = None
    after = driver.poll()
    assert after["external_gateway_infos"] == set()
    assert after["external_fixed_ips"] == set()
    assert after["routers"] == EXPECTED["routers"]


def test_paged_collections_are_read_whole(cloud: FakeCloud, neutron: FakeNeutron) -> None:
    neutron.page_size = 1
    driver = make_driver(cloud)
    assert driver.poll() == EXPECTED
    pages = gets(cloud, "ports")
    assert [r.query.get("marker") for r in pages] == [None, [PORT_ROUTER], [PORT_VM]]
    assert len(gets(cloud, "security-groups")) == 2


def test_lazy_tables_are_not_fetched_until_activated(cloud: FakeCloud) -> None:
    driver = make_driver(cloud, lazy_tables="ports,routers")
    snapshot = driver.poll()
    assert gets(cloud, "ports") == [] and gets(cloud, "routers") == []
    assert set(snapshot) == set(EXPECTED) - {
        "ports",
        "fixed_ips",
        "security_group_port_bindings",
        "routers",
        "external_gateway_infos",
        "external_fixed_ips",
    }
    with pytest.raises(LazyTableNotActive):
        driver.rows("fixed_ips")
    assert driver.activate("fixed_ips") is True  # a sub-table activates its root
    assert driver.activate("ports") is False
    snapshot = driver.poll()
    assert len(gets(cloud, "ports")) == 1 and gets(cloud, "routers") == []
    assert snapshot["ports"] == EXPECTED["ports"]
    assert snapshot["fixed_ips"] == EXPECTED["fixed_ips"]
    assert "routers" not in snapshot


def test_lazy_tables_must_be_root_tables(cloud: FakeCloud) -> None:
    with pytest.raises(InvalidLazyTables, match="fixed_ips"):
        make_driver(cloud, lazy_tables="fixed_ips")


def test_the_endpoint_option_overrides_the_catalog(cloud: FakeCloud) -> None:
    cloud.services["network"].prefix = "/not-neutron"  # the catalog now points elsewhere
    try:
        driver = make_driver(cloud, endpoint=f"{cloud.url}/networking")
        assert driver.poll()["networks"] == EXPECTED["networks"]
    finally:
        cloud.services["network"].prefix = "/networking"
    assert driver.last_error is None


# -- failures ------------------------------------------------------------------------------------


def test_a_500_keeps_the_last_good_rows_and_the_next_good_poll_clears_it(
    cloud: FakeCloud, neutron: FakeNeutron
) -> None:
    driver = make_driver(cloud)
    driver.poll()
    cloud.fail(500, prefix=f"{V2}/ports")
    network = neutron.find("networks", NET_PRIVATE)
    assert network is not None
    network["status"] = "DOWN"
    neutron.objects["ports"].clear()
    snapshot = driver.poll()
    assert snapshot["ports"] == EXPECTED["ports"]
    assert snapshot["fixed_ips"] == EXPECTED["fixed_ips"]
    assert (NET_PRIVATE, PROJECT_ID, "private", "DOWN", "True", "False") in snapshot["networks"]
    assert isinstance(driver.last_error, PollFailed)
    assert "polling ports failed" in str(driver.last_error)
    assert "HTTP 500" in str(driver.last_error)
    cloud.heal()
    snapshot = driver.poll()
    assert driver.last_error is None
    assert snapshot["ports"] == set() and snapshot["fixed_ips"] == set()


def test_malformed_json_keeps_the_last_good_rows(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.poll()
    cloud.fail(body=b'{"networks": [', prefix=V2)
    assert driver.poll() == EXPECTED
    # every table got the same broken answer: they share one clause
    roots = "networks, ports, subnets, routers, security_groups, floating_ips"
    assert str(driver.last_error).startswith(f"polling {roots} failed: the answer is not JSON")
    cloud.heal()
    assert driver.poll() == EXPECTED
    assert driver.last_error is None


def test_an_answer_of_the_wrong_shape_keeps_the_last_good_rows(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.poll()
    cloud.fail(body=b'{"subnet": {}}', prefix=f"{V2}/subnets")
    assert driver.poll() == EXPECTED
    assert "has no list 'subnets'" in str(driver.last_error)


def test_refused_authentication_keeps_the_last_good_rows(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.poll()
    cloud.refuse_auth = True
    cloud.fail(401, prefix=V2)  # the token is refused, and so is the new one asked for
    assert driver.poll() == EXPECTED
    assert "authentication refused by Keystone" in str(driver.last_error)
    cloud.heal()
    assert driver.poll() == EXPECTED
    assert driver.last_error is None


def test_a_timeout_keeps_the_last_good_rows(cloud: FakeCloud, neutron: FakeNeutron) -> None:
    driver = make_driver(cloud, timeout=0.3)
    driver.poll()
    cloud.fail(delay=1.0, prefix=f"{V2}/networks")
    neutron.objects["networks"].clear()
    assert driver.poll()["networks"] == EXPECTED["networks"]
    assert "polling networks failed" in str(driver.last_error)
    assert "timed out" in str(driver.last_error)
    cloud.heal()
    assert driver.poll()["networks"] == set()
    assert driver.last_error is None


# -- actions -------------------------------------------------------------------------------------


def test_the_actions_route_lists_exactly_the_actions(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    listed = {a["name"]: a for a in driver.actions()["results"]}
    assert sorted(listed) == [
        "add_tag",
        "attach_port_security_group",
        "create_security_group_rule",
        "delete_floatingip",
        "delete_network",
        "delete_port",
        "delete_router",
        "delete_security_group_rule",
        "detach_port_security_group",
        "remove_interface_router",
        "remove_tag",
        "update_resource_attrs",
    ]
    assert [a["name"] for a in listed["attach_port_security_group"]["args"]] == [
        "port_id",
        "security_group_id",
    ]
    assert [a["name"] for a in listed["update_resource_attrs"]["args"]][:4] == [
        "resource_type",
        "id",
        "attr1",
        "attr1-value",
    ]


@pytest.mark.parametrize(
    ("resource_type", "ident", "collection"),
    [
        ("network", NET_PRIVATE, "networks"),
        ("port", PORT_VM, "ports"),
        ("subnet", SUBNET_V4, "subnets"),
        ("router", ROUTER_GW, "routers"),
        ("security_group", SG_WEB, "security-groups"),
        ("floatingip", FIP_BOUND, "floatingips"),
    ],
)
def test_update_resource_attrs_puts_the_attributes(
    cloud: FakeCloud, resource_type: str, ident: str, collection: str
) -> None:
    driver = make_driver(cloud)
    driver.execute("update_resource_attrs", [resource_type, ident, "description", "by policy"])
    (request,) = cloud.requests_to(V2, "PUT")
    assert request.path == f"{V2}/{collection}/{ident}"
    assert request.body == {resource_type: {"description": "by policy"}}


def test_update_resource_attrs_converts_booleans_and_json_but_not_names(
    cloud: FakeCloud, neutron: FakeNeutron
) -> None:
    driver = make_driver(cloud)
    driver.execute(
        "update_resource_attrs",
        [
            "port",
            PORT_VM,
            "admin_state_up",
            "False",
            "port_security_enabled",
            "true",
            "name",
            "True",
            "security_groups",
            f'["{SG_WEB}"]',
            "dns_name",
            "web-2",
            "binding:profile",
            {"trusted": True},
        ],
    )
    (request,) = cloud.requests_to(V2, "PUT")
    assert request.path == f"{V2}/ports/{PORT_VM}"
    assert request.body == {
        "port": {
            "admin_state_up": False,
            "port_security_enabled": True,
            "name": "True",
            "security_groups": [SG_WEB],
            "dns_name": "web-2",
            "binding:profile": {"trusted": True},
        }
    }
    rows = driver.poll()
    assert (PORT_VM, SG_DEFAULT) not in rows["security_group_port_bindings"]
    assert any(r[0] == PORT_VM and r[2] == "True" and r[5] == "False" for r in rows["ports"])


@pytest.mark.parametrize(
    "args",
    [
        ["port", PORT_VM, "name"],
        ["port", PORT_VM, "name", "a", "admin_state_up"],
        ["volume", PORT_VM, "name", "a"],
        [],
    ],
)
def test_update_resource_attrs_rejects_bad_arguments(cloud: FakeCloud, args: list[Any]) -> None:
    driver = make_driver(cloud)
    with pytest.raises(InvalidActionArguments, match="the arguments do not fit") as info:
        driver.execute("update_resource_attrs", args)
    assert info.value.http_status == 400
    assert isinstance(info.value.__cause__, InvalidActionArguments)
    assert "update_resource_attrs" in str(info.value.__cause__)
    assert cloud.requests_to(V2) == []


def test_attach_adds_the_group_to_the_port(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.execute("attach_port_security_group", [PORT_DHCP, SG_WEB])
    assert [r.path for r in cloud.requests_to(V2, "GET")] == [f"{V2}/ports/{PORT_DHCP}"]
    (put,) = cloud.requests_to(V2, "PUT")
    assert put.path == f"{V2}/ports/{PORT_DHCP}"
    assert put.body == {"port": {"security_groups": [SG_WEB]}}


def test_attach_appends_to_the_existing_groups(cloud: FakeCloud, neutron: FakeNeutron) -> None:
    driver = make_driver(cloud)
    port = neutron.find("ports", PORT_VM)
    assert port is not None
    port["security_groups"] = [SG_DEFAULT]
    driver.execute("attach_port_security_group", [PORT_VM, SG_WEB])
    (put,) = cloud.requests_to(V2, "PUT")
    assert put.body == {"port": {"security_groups": [SG_DEFAULT, SG_WEB]}}


def test_attach_does_nothing_when_the_port_has_the_group(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    assert driver.execute("attach_port_security_group", [PORT_VM, SG_WEB]) is None
    assert len(cloud.requests_to(f"{V2}/ports/{PORT_VM}", "GET")) == 1
    assert cloud.requests_to(V2, "PUT") == []


def test_detach_removes_the_group_from_the_port(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.execute("detach_port_security_group", [PORT_VM, SG_DEFAULT])
    (put,) = cloud.requests_to(V2, "PUT")
    assert put.path == f"{V2}/ports/{PORT_VM}"
    assert put.body == {"port": {"security_groups": [SG_WEB]}}


def test_detach_does_nothing_when_the_port_lacks_the_group(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    assert driver.execute("detach_port_security_group", [PORT_DHCP, SG_DEFAULT]) is None
    assert len(cloud.requests_to(f"{V2}/ports/{PORT_DHCP}", "GET")) == 1
    assert cloud.requests_to(V2, "PUT") == []


def test_attach_to_a_missing_port_fails(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    with pytest.raises(ActionFailed) as info:
        driver.execute("attach_port_security_group", ["no-such-port", SG_WEB])
    assert isinstance(info.value.__cause__, ServiceError)
    assert "404" in str(info.value.__cause__)
    assert cloud.requests_to(V2, "PUT") == []


@pytest.mark.parametrize(
    ("action", "ident", "path"),
    [
        ("delete_port", PORT_DHCP, f"ports/{PORT_DHCP}"),
        ("delete_network", NET_PUBLIC, f"networks/{NET_PUBLIC}"),
        ("delete_floatingip", FIP_FREE, f"floatingips/{FIP_FREE}"),
        ("delete_router", ROUTER_DVR, f"routers/{ROUTER_DVR}"),
        ("delete_security_group_rule", RULE_HTTP, f"security-group-rules/{RULE_HTTP}"),
    ],
)
def test_delete_actions_send_delete(cloud: FakeCloud, action: str, ident: str, path: str) -> None:
    driver = make_driver(cloud)
    assert driver.execute(action, [ident]) is None
    (request,) = cloud.requests_to(V2, "DELETE")
    assert request.path == f"{V2}/{path}"
    assert request.body is None


def test_a_deleted_port_leaves_the_tables_at_the_next_poll(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    driver.poll()
    driver.execute("delete_port", [], {"port": PORT_VM})
    rows = driver.poll()
    assert rows["ports"] == {r for r in EXPECTED["ports"] if r[0] != PORT_VM}
    assert rows["security_group_port_bindings"] == set()
    assert rows["fixed_ips"] == {r for r in EXPECTED["fixed_ips"] if r[0] != PORT_VM}


def test_deleting_a_missing_port_fails_with_the_services_error(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    with pytest.raises(ActionFailed) as info:
        driver.execute("delete_port", ["no-such-port"])
    assert "HTTP 404" in str(info.value.__cause__)
    assert "PortNotFound: Port no-such-port could not be found." in str(info.value.__cause__)


def test_ids_cannot_change_the_path(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    with pytest.raises(ActionFailed):
        driver.execute("delete_port", ["../networks/" + NET_PRIVATE])
    (request,) = cloud.requests_to(V2, "DELETE")
    assert request.path == f"{V2}/ports/..%2Fnetworks%2F{NET_PRIVATE}"


RULE_BODY = {
    "security_group_id": SG_WEB,
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "port_range_min": 443,
    "port_range_max": 443,
    "remote_ip_prefix": "0.0.0.0/0",
}
RULE_YAML = f"""
security_group_rule:
  security_group_id: {SG_WEB}
  direction: ingress
  ethertype: IPv4
  protocol: tcp
  port_range_min: 443
  port_range_max: 443
  remote_ip_prefix: 0.0.0.0/0
"""


@pytest.mark.parametrize(
    "body",
    [
        {"security_group_rule": RULE_BODY},
        json.dumps({"security_group_rule": RULE_BODY}),
        RULE_YAML,
        RULE_BODY,  # the rule alone is wrapped
    ],
    ids=["object", "json", "yaml", "unwrapped"],
)
def test_create_security_group_rule_posts_the_body(cloud: FakeCloud, body: Any) -> None:
    driver = make_driver(cloud)
    created = driver.execute("create_security_group_rule", [body])
    (request,) = cloud.requests_to(V2, "POST")
    assert request.path == f"{V2}/security-group-rules"
    assert request.body == {"security_group_rule": RULE_BODY}
    assert created["security_group_rule"]["port_range_min"] == 443
    rules = driver.poll()["security_group_rules"]
    assert (SG_WEB, created["security_group_rule"]["id"]) in {r[:2] for r in rules}


def test_create_security_group_rule_rejects_a_body_that_is_not_an_object(
    cloud: FakeCloud,
) -> None:
    driver = make_driver(cloud)
    for body in ["- a\n- b", "{not: [valid", 42]:
        with pytest.raises(InvalidActionArguments, match="the arguments do not fit: body "):
            driver.execute("create_security_group_rule", [body])
    assert cloud.requests_to(V2) == []


def test_remove_interface_router_puts_the_body(cloud: FakeCloud) -> None:
    driver = make_driver(cloud)
    answer = driver.execute(
        "remove_interface_router", [ROUTER_GW, '{"subnet_id": "' + SUBNET_V4 + '"}']
    )
    (request,) = cloud.requests_to(V2, "PUT")
    assert request.path == f"{V2}/routers/{ROUTER_GW}/remove_router_interface"
    assert request.body == {"subnet_id": SUBNET_V4}
    assert answer["port_id"] == PORT_ROUTER
    assert all(r[0] != PORT_ROUTER for r in driver.poll()["ports"])


@pytest.mark.parametrize(
    ("resource_type", "ident", "collection"),
    [
        ("networks", NET_PRIVATE, "networks"),
        ("network", NET_PRIVATE, "networks"),
        ("ports", PORT_VM, "ports"),
        ("security_group", SG_DEFAULT, "security-groups"),
        ("security_groups", SG_DEFAULT, "security-groups"),
        ("floatingips", FIP_BOUND, "floatingips"),
    ],
)
def test_add_and_remove_tag(
    cloud: FakeCloud, neutron: FakeNeutron, resource_type: str, ident: str, collection: str
) -> None:
    driver = make_driver(cloud)
    driver.execute("add_tag", [resource_type, ident, "policy:checked"])
    (put,) = cloud.requests_to(V2, "PUT")
    assert put.path == f"{V2}/{collection}/{ident}/tags/policy:checked"
    assert put.body is None
    found = neutron.find(collection, ident)
    assert found is not None and "policy:checked" in found["tags"]
    driver.execute("remove_tag", [resource_type, ident, "policy:checked"])
    (delete,) = cloud.requests_to(V2, "DELETE")
    assert delete.path == f"{V2}/{collection}/{ident}/tags/policy:checked"
    assert "policy:checked" not in found["tags"]


def test_a_tag_with_a_slash_is_quoted(cloud: FakeCloud, neutron: FakeNeutron) -> None:
    driver = make_driver(cloud)
    driver.execute("add_tag", ["networks", NET_PRIVATE, "a/b c"])
    (put,) = cloud.requests_to(V2, "PUT")
    assert put.path == f"{V2}/networks/{NET_PRIVATE}/tags/a%2Fb%20c"
    found = neutron.find("networks", NET_PRIVATE)
    assert found is not None and found["tags"] == ["a/b c"]
