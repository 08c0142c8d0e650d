"""The policy library (reference section 7): every file loads, every rule is accepted by the
engine against the datasource schemas of ``driver-schemas.md``, and every policy flags the bad
objects of a small cloud and leaves the good ones alone."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import yaml

import congress
from congress.datalog.ast import Constant, Literal, Rule, Variable
from congress.datalog.model import ActionRequest, BatchResult
from congress.datalog.parser import parse
from congress.datalog.runtime import Runtime

LIBRARY_DIR = pathlib.Path(congress.__file__).resolve().parent / "library"

# name -> (file, number of rules), reference section 7
EXPECTED = {
    "CrossProjectNetwork": ("cross_project_network.yaml", 10),
    "BadFlavors": ("bad_flavors.yaml", 4),
    "PauseBadFlavors": ("pause_bad_flavors.yaml", 1),
    "DisallowedServerImages": ("disallowed_server_images.yaml", 11),
    "PauseDisallowedServerImages": ("pause_disallowed_server_images.yaml", 1),
    "NetworkGateway": ("network_gateway.yaml", 1),
    "SecurityGroups": ("security_groups.yaml", 6),
    "UnsafeTraffic": ("unsafe_traffic.yaml", 12),
    "TagBasedNetworkSecurityZone": ("tag_based_network_security_zone.yaml", 14),
    "VolumeEncryption": ("volume_encryption.yaml", 4),
    "VolumeEncryptionPauseServer": ("volume_encryption_pause_server.yaml", 1),
}

# The tables and columns (in order) of the drivers the library reads, as driver-schemas.md
# writes them.
_DRIVER_TABLES = """
nova:servers(id, name, host_id, status, tenant_id, user_id, image_id, flavor_id, zone,
    host_name, created_at)
nova:servers.addresses(server_id, network_name, address, version, mac_address, address_type)
nova:tags(server_id, tag)
nova:flavors(id, name, vcpus, ram, disk, ephemeral, rxtx_factor)
nova:hypervisors(hypervisor_hostname, id, state, status)
nova:services(service_id, binary, host, zone, status, state, updated_at, disabled_reason)
nova:availability_zones(zone, state)
neutronv2:networks(id, tenant_id, name, status, admin_state_up, shared)
neutronv2:ports(id, tenant_id, name, network_id, mac_address, admin_state_up, status,
    device_id, device_owner)
neutronv2:fixed_ips(port_id, ip_address, subnet_id)
neutronv2:security_group_port_bindings(port_id, security_group_id)
neutronv2:subnets(id, tenant_id, name, network_id, ip_version, cidr, gateway_ip, enable_dhcp,
    ipv6_ra_mode, ipv6_address_mode)
neutronv2:allocation_pools(subnet_id, start, end)
neutronv2:dns_nameservers(subnet_id, dns_nameserver)
neutronv2:host_routes(subnet_id, destination, nexthop)
neutronv2:routers(id, tenant_id, status, admin_state_up, name, distributed)
neutronv2:external_gateway_infos(router_id, network_id, enable_snat)
neutronv2:external_fixed_ips(router_id, subnet_id, ip_address)
neutronv2:security_groups(id, tenant_id, name, description)
neutronv2:security_group_rules(security_group_id, id, tenant_id, remote_group_id, direction,
    ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix)
neutronv2:floating_ips(id, router_id, tenant_id, floating_network_id, fixed_ip_address,
    floating_ip_address, port_id, status)
glancev2:images(id, status, name, container_format, created_at, updated_at, disk_format,
    owner, protected, min_ram, min_disk, checksum, size, file, kernel_id, ramdisk_id, schema,
    visibility)
glancev2:tags(image_id, tag)
cinder:volumes(id, size, user_id, status, description, name, bootable, created_at,
    volume_type, encrypted, availability_zone, replication_status, multiattach, snapshot_id,
    source_volid, consistencygroup_id, migration_status)
cinder:attachments(volume_id, server_id, attachment_id, host_name, device)
cinder:snapshots(id, size, status, volume_id, name, created_at)
cinder:services(status, binary, zone, state, updated_at, host, disabled_reason)
keystonev3:users(id, name, enabled, default_project_id, domain_id)
keystonev3:roles(id, name)
keystonev3:projects(enabled, description, name, domain_id, id)
keystonev3:domains(enabled, description, name, id)
"""


def _schemas(text: str) -> dict[str, dict[str, tuple[str, ...]]]:
    schemas: dict[str, dict[str, tuple[str, ...]]] = {}
    for ds, table, cols in re.findall(r"(\w+):([\w.]+)\(([^)]*)\)", text):
        schemas.setdefault(ds, {})[table] = tuple(c.strip() for c in cols.split(","))
    return schemas


SCHEMAS = _schemas(_DRIVER_TABLES)

REQUIRED_KEYS = {"name", "description", "rules"}
OPTIONAL_KEYS = {"depends-on", "kind", "abbreviation"}


def _load_library() -> dict[str, tuple[pathlib.Path, dict[str, Any]]]:
    docs: dict[str, tuple[pathlib.Path, dict[str, Any]]] = {}
    for path in sorted(LIBRARY_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert isinstance(doc, dict), path
            assert doc.get("name") not in docs, f"{path}: duplicate policy {doc.get('name')}"
            docs[doc["name"]] = (path, doc)
    return docs


LIBRARY = _load_library()


# -- helpers --------------------------------------------------------------------------------
def cloud() -> Runtime:
    """A runtime with the datasource policies the library reads, with their exact schemas."""
    rt = Runtime()
    for ds, tables in SCHEMAS.items():
        rt.create_policy(ds, "datasource", schema=tables)
    return rt


def load(rt: Runtime, name: str) -> None:
    """Create a library policy (its depends-on first) and insert its rules one by one."""
    if rt.policy_exists(name):
        return
    doc = LIBRARY[name][1]
    for dep in doc.get("depends-on", []):
        load(rt, dep)
    rt.create_policy(name, doc.get("kind", "nonrecursive"), abbreviation=doc.get("abbreviation"))
    for entry in doc["rules"]:
        rt.insert(name, entry["rule"])


def row(ds: str, table: str, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row of a datasource table from column values; missing columns are "None"."""
    cols = SCHEMAS[ds][table]
    unknown = set(values) - set(cols)
    assert not unknown, f"{ds}:{table} has no columns {unknown}"
    return tuple(values.get(c, "None") for c in cols)


def feed(rt: Runtime, data: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]]) -> BatchResult:
    """Insert datasource rows given as {(ds, table): [{column: value}, ...]}."""
    return rt.apply(
        {(ds, t): ([row(ds, t, v) for v in rows], []) for (ds, t), rows in data.items()}
    )


def unfeed(rt: Runtime, data: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]]) -> BatchResult:
    return rt.apply(
        {(ds, t): ([], [row(ds, t, v) for v in rows]) for (ds, t), rows in data.items()}
    )


def server(sid: str, **values: Any) -> dict[str, Any]:
    return {"id": sid, "name": f"{sid}-name", "status": "ACTIVE", **values}


def pause_requests(result: BatchResult, policy: str) -> set[tuple[Any, ...]]:
    assert all(
        a.policy == policy and a.service == "nova" and a.action == "servers.pause"
        for a in result.actions
    ), result.actions
    return {a.args for a in result.actions}


PAUSE = "execute[nova:servers.pause]"


def test_the_driver_schemas_are_complete() -> None:
    assert {ds: len(tables) for ds, tables in SCHEMAS.items()} == {
        "nova": 7,
        "neutronv2": 14,
        "glancev2": 2,
        "cinder": 4,
        "keystonev3": 4,
    }
    widths = {
        ("nova", "servers"): 11,
        ("neutronv2", "ports"): 9,
        ("neutronv2", "security_group_rules"): 10,
        ("glancev2", "images"): 18,
        ("cinder", "volumes"): 17,
        ("keystonev3", "projects"): 5,
    }
    assert {key: len(SCHEMAS[key[0]][key[1]]) for key in widths} == widths


def test_the_drivers_have_the_schemas_the_library_reads() -> None:
    from congress.datasources.loader import DriverLoader

    loader = DriverLoader()
    for ds, tables in SCHEMAS.items():
        schema = loader.load(ds).schema()
        assert {t: tuple(c.name for c in cols) for t, cols in schema.items()} == tables, ds


# -- the files ------------------------------------------------------------------------------
def test_the_library_has_the_eleven_original_policies_one_file_each() -> None:
    # the Kubernetes policies (kubernetes_*.yaml) are tested in tests/clouds, the capacity
    # policies (capacity_*.yaml, with aggregates) in tests/library/test_capacity.py
    added = ("kubernetes_", "capacity_")
    original = {n: p.name for n, (p, _) in LIBRARY.items() if not p.name.startswith(added)}
    assert original == {name: file for name, (file, _) in EXPECTED.items()}
    shipped = [p.name for p in LIBRARY_DIR.glob("*.yaml") if not p.name.startswith(added)]
    assert sorted(shipped) == sorted(f for f, _ in EXPECTED.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_document_has_the_required_keys(name: str) -> None:
    path, doc = LIBRARY[name]
    assert REQUIRED_KEYS <= set(doc) <= REQUIRED_KEYS | OPTIONAL_KEYS
    assert doc["name"] == name
    assert isinstance(doc["description"], str) and len(doc["description"]) > 40
    assert doc["kind"] == "nonrecursive"
    abbreviation = doc["abbreviation"]
    assert isinstance(abbreviation, str) and 1 <= len(abbreviation) <= 5
    for dep in doc.get("depends-on", []):
        assert dep in EXPECTED and dep != name
    assert isinstance(doc["rules"], list)
    for entry in doc["rules"]:
        assert set(entry) <= {"rule", "comment", "name"}
        assert isinstance(entry["rule"], str)
        comment = entry["comment"]
        assert isinstance(comment, str) and comment.strip() and "\n" not in comment.strip()
    assert path.name == EXPECTED[name][0]


def test_abbreviations_are_distinct() -> None:
    abbreviations = [doc["abbreviation"] for _, doc in LIBRARY.values()]
    assert len(set(abbreviations)) == len(abbreviations)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rule_count_matches_the_reference(name: str) -> None:
    assert len(LIBRARY[name][1]["rules"]) == EXPECTED[name][1]


def _statements(name: str) -> list[Rule]:
    rules = []
    for entry in LIBRARY[name][1]["rules"]:
        parsed = parse(entry["rule"])
        assert len(parsed) == 1, entry["rule"]
        assert isinstance(parsed[0], Rule)
        rules.append(parsed[0])
    return rules


def _literals(rule: Rule) -> list[Literal]:
    return [*rule.head, *rule.body]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rule_parses_as_one_rule_without_boolean_variables(name: str) -> None:
    for rule in _statements(name):
        for lit in _literals(rule):
            names = {a.name for a in lit.args if isinstance(a, Variable)}
            names |= {t.name for _, t in lit.named if isinstance(t, Variable)}
            # True/False/None unquoted are variables: the original VolumeEncryption defect
            assert not names & {"True", "False", "None", "_"}, rule


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error_and_warning_rows_end_with_a_reason(name: str) -> None:
    for rule in _statements(name):
        for head in rule.head:
            if head.table in ("error", "warning") and head.policy is None:
                last = head.args[-1]
                assert isinstance(last, Constant) and isinstance(last.value, str), rule


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rule_is_accepted_by_the_engine(name: str) -> None:
    rt = cloud()
    load(rt, name)
    assert len(rt.rules(name)) == EXPECTED[name][1]
    assert rt.kind(name) == "nonrecursive"
    assert rt.abbreviation(name) == LIBRARY[name][1]["abbreviation"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_enforcement_uses_dotted_client_actions(name: str) -> None:
    for rule in _statements(name):
        for head in rule.head:
            if head.modal is not None:
                assert head.modal == "execute"
                assert head.policy in {"nova", "neutronv2"}
                if head.policy == "nova":
                    assert head.table == "servers.pause"


def test_the_whole_library_loads_into_one_runtime() -> None:
    rt = cloud()
    for name in EXPECTED:
        load(rt, name)
    assert set(EXPECTED) <= set(rt.policy_names())
    # an empty cloud violates nothing
    for name in EXPECTED:
        assert rt.rows(name, "error") == set()
        assert rt.rows(name, "warning") == set()


# -- CrossProjectNetwork --------------------------------------------------------------------
def _projects() -> list[dict[str, Any]]:
    names = ["admin", "service", "demo", "alt_demo", "other"]
    return [{"id": f"p-{n}", "name": n, "enabled": "True", "domain_id": "default"} for n in names]


def test_cross_project_network() -> None:
    rt = cloud()
    load(rt, "CrossProjectNetwork")
    networks = [
        ("net-demo", "p-demo", "False"),
        ("net-alt", "p-alt_demo", "False"),
        ("net-admin", "p-admin", "False"),
        ("net-public", "p-admin", "True"),
        ("net-other", "p-other", "False"),
    ]
    servers = {
        # server: (server project, port, port project, network)
        "vm-same": ("p-demo", "pt-1", "p-demo", "net-demo"),
        "vm-group": ("p-demo", "pt-2", "p-alt_demo", "net-alt"),
        "vm-net": ("p-demo", "pt-3", "p-demo", "net-admin"),
        "vm-port": ("p-demo", "pt-4", "p-admin", "net-demo"),
        "vm-shared": ("p-demo", "pt-5", "p-demo", "net-public"),
        "vm-lonely": ("p-other", "pt-6", "p-other", "net-other"),
    }
    feed(
        rt,
        {
            ("keystonev3", "projects"): _projects(),
            ("neutronv2", "networks"): [
                {"id": n, "tenant_id": t, "shared": s} for n, t, s in networks
            ],
            ("nova", "servers"): [server(s, tenant_id=p) for s, (p, *_) in servers.items()],
            ("neutronv2", "ports"): [
                {"id": port, "tenant_id": pp, "network_id": net, "device_id": s}
                for s, (_, port, pp, net) in servers.items()
            ]
            + [
                {
                    "id": "pt-dhcp",
                    "tenant_id": "p-admin",
                    "network_id": "net-demo",
                    "device_id": "dhcp-1",
                }
            ],
        },
    )
    assert rt.rows("CrossProjectNetwork", "error") == {
        (
            "vm-net",
            "vm-net-name",
            "p-demo",
            "net-admin",
            "p-admin",
            "server is connected to a network of a project outside its group",
        ),
    }
    assert rt.rows("CrossProjectNetwork", "warning") == {
        (
            "vm-port",
            "vm-port-name",
            "p-demo",
            "pt-4",
            "p-admin",
            "server uses a port of a project outside its group",
        ),
    }
    # a project may be in several groups: demo also joins the admin group
    rt.insert("CrossProjectNetwork", 'project_groups_by_name(1, "demo")')
    assert rt.rows("CrossProjectNetwork", "error") == set()
    assert rt.rows("CrossProjectNetwork", "warning") == set()


# -- BadFlavors, PauseBadFlavors ------------------------------------------------------------
FLAVORS = [{"id": "f-small", "name": "m1.small"}, {"id": "f-huge", "name": "m1.xlarge"}]


def test_bad_flavors() -> None:
    rt = cloud()
    load(rt, "BadFlavors")
    feed(
        rt,
        {
            ("nova", "flavors"): FLAVORS,
            ("nova", "servers"): [
                server("vm-ok", flavor_id="f-small"),
                server("vm-bad", flavor_id="f-huge"),
                server("vm-unknown", flavor_id="f-private"),
            ],
        },
    )
    assert rt.rows("BadFlavors", "error") == {
        ("vm-bad", "vm-bad-name", "m1.xlarge", "flavor is not permitted"),
    }
    # permitting the flavor clears the error
    rt.insert("BadFlavors", 'permitted_flavor("m1.xlarge")')
    assert rt.rows("BadFlavors", "error") == set()


def test_pause_bad_flavors() -> None:
    rt = cloud()
    load(rt, "PauseBadFlavors")
    result = feed(
        rt,
        {
            ("nova", "flavors"): FLAVORS,
            ("nova", "servers"): [
                server("vm-ok", flavor_id="f-small"),
                server("vm-bad", flavor_id="f-huge"),
                server("vm-paused", flavor_id="f-huge", status="PAUSED"),
            ],
        },
    )
    assert rt.rows("PauseBadFlavors", PAUSE) == {("vm-bad",)}
    assert result.actions == [
        ActionRequest("PauseBadFlavors", "nova", "servers.pause", ("vm-bad",))
    ]


# -- DisallowedServerImages, PauseDisallowedServerImages ------------------------------------
def _image_cloud(rt: Runtime) -> BatchResult:
    return feed(
        rt,
        {
            ("glancev2", "images"): [
                {"id": "img-name", "name": "ubuntu-24.04", "status": "active"},
                {"id": "img-tag", "name": "custom", "status": "active"},
                {"id": "img-bad", "name": "random", "status": "active"},
                {"id": "img-untagged", "name": "other", "status": "active"},
            ],
            ("glancev2", "tags"): [
                {"image_id": "img-tag", "tag": "approved"},
                {"image_id": "img-tag", "tag": "linux"},
                {"image_id": "img-bad", "tag": "experimental"},
                {"image_id": "img-name", "tag": "linux"},
            ],
            ("nova", "servers"): [
                server("s-name", image_id="img-name"),
                server("s-tag", image_id="img-tag"),
                server("s-bad", image_id="img-bad"),
                server("s-untagged", image_id="img-untagged", status="SHUTOFF"),
                server("s-gone", image_id="img-deleted"),
                server("s-volume", image_id=""),
                server("s-none", image_id="None"),
            ],
        },
    )


def test_disallowed_server_images() -> None:
    rt = cloud()
    load(rt, "DisallowedServerImages")
    _image_cloud(rt)
    reason = "image is neither named nor tagged as permitted"
    assert rt.rows("DisallowedServerImages", "error") == {
        ("s-bad", "s-bad-name", "img-bad", "random", reason),
        ("s-untagged", "s-untagged-name", "img-untagged", "other", reason),
    }
    assert rt.rows("DisallowedServerImages", "warning") == {
        (
            "s-gone",
            "s-gone-name",
            "img-deleted",
            "image is not listed by Glance, so it cannot be checked",
        ),
    }
    # tagging an image as approved permits it
    feed(rt, {("glancev2", "tags"): [{"image_id": "img-bad", "tag": "approved"}]})
    assert {r[0] for r in rt.rows("DisallowedServerImages", "error")} == {"s-untagged"}


def test_pause_disallowed_server_images() -> None:
    rt = cloud()
    load(rt, "PauseDisallowedServerImages")
    result = _image_cloud(rt)
    assert rt.rows("PauseDisallowedServerImages", PAUSE) == {("s-bad",)}
    assert pause_requests(result, "PauseDisallowedServerImages") == {("s-bad",)}


# -- NetworkGateway -------------------------------------------------------------------------
def test_network_gateway() -> None:
    rt = cloud()
    load(rt, "NetworkGateway")
    feed(
        rt,
        {
            ("neutronv2", "routers"): [{"id": "r-gw"}, {"id": "r-internal"}],
            ("neutronv2", "external_gateway_infos"): [
                {"router_id": "r-gw", "network_id": "net-ext", "enable_snat": "True"}
            ],
            ("neutronv2", "ports"): [
                {"id": "pt-r1", "network_id": "net-a", "device_id": "r-gw"},
                {"id": "pt-r2", "network_id": "net-b", "device_id": "r-internal"},
                {"id": "pt-a", "network_id": "net-a", "device_id": "vm-a"},
                {"id": "pt-c", "network_id": "net-c", "device_id": "vm-a"},
                {"id": "pt-b", "network_id": "net-b", "device_id": "vm-b"},
                {"id": "pt-dhcp", "network_id": "net-a", "device_id": "dhcp-a"},
            ],
            ("nova", "servers"): [server("vm-a"), server("vm-b")],
        },
    )
    assert rt.rows("NetworkGateway", "servers_connected_to_external_gateway") == {
        ("vm-a", "pt-a", "net-a", "r-gw"),
    }


# -- SecurityGroups, UnsafeTraffic ----------------------------------------------------------
SECURITY_GROUPS = [
    {"id": "sg-default", "name": "default", "tenant_id": "p-demo"},
    {"id": "sg-web", "name": "web", "tenant_id": "p-demo"},
]


def _port_cloud(rt: Runtime) -> None:
    feed(
        rt,
        {
            ("neutronv2", "security_groups"): SECURITY_GROUPS,
            ("neutronv2", "ports"): [
                {"id": "pt-1", "device_id": "vm-protected"},
                {"id": "pt-2", "device_id": "vm-open"},
                {"id": "pt-3", "device_id": "vm-half"},
                {"id": "pt-4", "device_id": "vm-half"},
            ],
            ("neutronv2", "security_group_port_bindings"): [
                {"port_id": "pt-1", "security_group_id": "sg-default"},
                {"port_id": "pt-1", "security_group_id": "sg-web"},
                {"port_id": "pt-2", "security_group_id": "sg-web"},
                {"port_id": "pt-3", "security_group_id": "sg-default"},
            ],
            ("nova", "servers"): [
                server("vm-protected"),
                server("vm-open"),
                server("vm-half"),
                server("vm-portless"),
            ],
        },
    )


def test_security_groups() -> None:
    rt = cloud()
    load(rt, "SecurityGroups")
    _port_cloud(rt)
    assert rt.rows("SecurityGroups", "secure_sg_ids") == {("sg-default",)}
    assert rt.rows("SecurityGroups", "protected_ports") == {("pt-1",), ("pt-3",)}
    assert rt.rows("SecurityGroups", "unprotected_ports") == {("pt-2",), ("pt-4",)}
    assert rt.rows("SecurityGroups", "unprotected_servers") == {("vm-open",), ("vm-half",)}
    assert rt.rows("SecurityGroups", "protected_servers") == {("vm-protected",), ("vm-portless",)}


def test_unsafe_traffic() -> None:
    rt = cloud()
    load(rt, "UnsafeTraffic")

    def rule(
        rid: str,
        sg: str,
        direction: str,
        protocol: Any,
        low: Any,
        high: Any,
        remote_group: str = "None",
    ) -> dict[str, Any]:
        return {
            "id": rid,
            "security_group_id": sg,
            "direction": direction,
            "ethertype": "IPv4",
            "protocol": protocol,
            "port_range_min": low,
            "port_range_max": high,
            "remote_group_id": remote_group,
            "remote_ip_prefix": "0.0.0.0/0",
        }

    feed(
        rt,
        {
            ("neutronv2", "security_groups"): SECURITY_GROUPS,
            ("neutronv2", "security_group_rules"): [
                rule("r-ssh", "sg-web", "ingress", "tcp", 22, 22),
                rule("r-range", "sg-default", "ingress", "tcp", 20, 30),
                rule("r-any", "sg-web", "ingress", "None", "None", "None"),
                rule("r-upto", "sg-web", "ingress", "tcp", "None", 100),
                rule("r-from", "sg-web", "ingress", "tcp", 10, "None"),
                # the default group's own rule: traffic from its members only
                rule("r-self", "sg-default", "ingress", "None", "None", "None", "sg-default"),
                rule("r-http", "sg-web", "ingress", "tcp", 80, 80),
                rule("r-high", "sg-web", "ingress", "tcp", 1000, "None"),
                rule("r-udp", "sg-web", "ingress", "udp", 22, 22),
                rule("r-out", "sg-web", "egress", "tcp", 22, 22),
            ],
        },
    )
    warn = "security group admits unsafe traffic"
    assert rt.rows("UnsafeTraffic", "warning") == {
        ("sg-web", "web", rid, "ingress", "tcp", 22, warn)
        for rid in ("r-ssh", "r-any", "r-upto", "r-from")
    }
    assert rt.rows("UnsafeTraffic", "error") == {
        (
            "sg-default",
            "default",
            "r-range",
            "ingress",
            "tcp",
            22,
            "secure security group admits unsafe traffic",
        ),
    }


# -- TagBasedNetworkSecurityZone ------------------------------------------------------------
def test_tag_based_network_security_zone() -> None:
    rt = cloud()
    name = "TagBasedNetworkSecurityZone"
    load(rt, name)
    result = feed(
        rt,
        {
            ("keystonev3", "projects"): _projects(),
            ("nova", "servers"): [server(s) for s in ("vm-1", "vm-2", "vm-3", "vm-4")],
            ("nova", "tags"): [
                {"server_id": "vm-1", "tag": "demo_zone"},
                {"server_id": "vm-2", "tag": "demo_zone"},
                {"server_id": "vm-2", "tag": "web"},
                {"server_id": "vm-3", "tag": "production_zone"},
                {"server_id": "vm-4", "tag": "web"},
            ],
            ("neutronv2", "ports"): [
                {"id": "pt-1", "device_id": "vm-1"},
                {"id": "pt-2", "device_id": "vm-2"},
                {"id": "pt-2b", "device_id": "vm-2"},
                {"id": "pt-3", "device_id": "vm-3"},
                {"id": "pt-4", "device_id": "vm-4"},
            ],
            # a group named after a zone but owned by another project does not count
            ("neutronv2", "security_groups"): [
                {"id": "sg-fake", "name": "production_zone", "tenant_id": "p-demo"},
            ],
        },
    )
    no_group = "the zone has no security group in the admin project"
    assert rt.rows(name, "error") == {
        ("demo_zone", "all servers", no_group),
        ("production_zone", "all servers", no_group),
    }
    creates = rt.rows(name, "execute[neutronv2:create_security_group]")
    assert sorted((json.loads(body) for (body,) in creates), key=str) == [
        {
            "security_group": {
                "name": zone,
                "project_id": "p-admin",
                "description": f"security zone {zone}",
            }
        }
        for zone in ("demo_zone", "production_zone")
    ]
    assert {(a.service, a.action) for a in result.actions} == {
        ("neutronv2", "create_security_group")
    }

    # the demo zone's group appears, with pt-1 and pt-2b already in it
    result = feed(
        rt,
        {
            ("neutronv2", "security_groups"): [
                {"id": "sg-demo", "name": "demo_zone", "tenant_id": "p-admin"},
            ],
            ("neutronv2", "security_group_port_bindings"): [
                {"port_id": "pt-1", "security_group_id": "sg-demo"},
                {"port_id": "pt-2b", "security_group_id": "sg-demo"},
            ],
        },
    )
    assert rt.rows(name, "error") == {
        ("production_zone", "all servers", no_group),
        ("demo_zone", "vm-2", "a port of the server is not in the zone security group"),
    }
    assert rt.rows(name, "execute[neutronv2:attach_port_security_group]") == {
        ("pt-2", "sg-demo"),
    }
    (rule_body,) = rt.rows(name, "execute[neutronv2:create_security_group_rule]")
    assert json.loads(rule_body[0]) == {
        "security_group_rule": {
            "security_group_id": "sg-demo",
            "direction": "ingress",
            "ethertype": "IPv4",
            "remote_group_id": "sg-demo",
        }
    }
    assert {(a.action, a.args) for a in result.actions} == {
        ("attach_port_security_group", ("pt-2", "sg-demo")),
        ("create_security_group_rule", rule_body),
    }

    # the rule and the binding appear: nothing left to do for the demo zone
    feed(
        rt,
        {
            ("neutronv2", "security_group_rules"): [
                {
                    "security_group_id": "sg-demo",
                    "id": "r-1",
                    "direction": "ingress",
                    "ethertype": "IPv4",
                    "protocol": "None",
                    "remote_group_id": "sg-demo",
                },
            ],
            ("neutronv2", "security_group_port_bindings"): [
                {"port_id": "pt-2", "security_group_id": "sg-demo"},
            ],
        },
    )
    assert rt.rows(name, "error") == {("production_zone", "all servers", no_group)}
    assert rt.rows(name, "execute[neutronv2:create_security_group_rule]") == set()
    assert rt.rows(name, "execute[neutronv2:attach_port_security_group]") == set()


# -- VolumeEncryption, VolumeEncryptionPauseServer ------------------------------------------
def _volume_cloud(rt: Runtime) -> BatchResult:
    _port_cloud(rt)
    return feed(
        rt,
        {
            ("nova", "servers"): [server("vm-encrypted"), server("vm-off", status="SHUTOFF")],
            ("neutronv2", "ports"): [
                {"id": "pt-5", "device_id": "vm-encrypted"},
                {"id": "pt-6", "device_id": "vm-off"},
            ],
            ("cinder", "volumes"): [
                {"id": "v-1", "name": "data-1", "encrypted": "False"},
                {"id": "v-2", "name": "data-2", "encrypted": "False"},
                {"id": "v-3", "name": "data-3", "encrypted": "True"},
                {"id": "v-4", "name": "data-4", "encrypted": "False"},
                {"id": "v-5", "name": "data-5", "encrypted": "False"},
            ],
            ("cinder", "attachments"): [
                {"volume_id": "v-1", "server_id": "vm-protected", "attachment_id": "a-1"},
                {"volume_id": "v-2", "server_id": "vm-open", "attachment_id": "a-2"},
                {"volume_id": "v-3", "server_id": "vm-encrypted", "attachment_id": "a-3"},
                {"volume_id": "v-5", "server_id": "vm-off", "attachment_id": "a-5"},
            ],
        },
    )


def test_volume_encryption() -> None:
    rt = cloud()
    load(rt, "VolumeEncryption")
    _volume_cloud(rt)
    assert rt.rows("VolumeEncryption", "warning") == {
        ("vm-protected", "vm-protected-name", "v-1", "data-1", "unencrypted volume attached"),
    }
    reason = "unencrypted volume attached to a server with an unprotected port"
    assert rt.rows("VolumeEncryption", "error") == {
        ("vm-open", "vm-open-name", "v-2", "data-2", reason),
        ("vm-off", "vm-off-name", "v-5", "data-5", reason),
    }
    # vm-encrypted (unprotected port, encrypted volume) and the unattached v-4: nothing
    flagged = rt.rows("VolumeEncryption", "warning") | rt.rows("VolumeEncryption", "error")
    assert not {r for r in flagged if r[0] == "vm-encrypted" or r[2] == "v-4"}


def test_volume_encryption_pause_server() -> None:
    rt = cloud()
    load(rt, "VolumeEncryptionPauseServer")
    result = _volume_cloud(rt)
    assert rt.rows("VolumeEncryptionPauseServer", PAUSE) == {("vm-open",)}
    assert pause_requests(result, "VolumeEncryptionPauseServer") == {("vm-open",)}
    # the server is paused: the row goes, and nothing is requested again
    result = unfeed(rt, {("nova", "servers"): [server("vm-open")]})
    assert rt.rows("VolumeEncryptionPauseServer", PAUSE) == set()
    result = feed(rt, {("nova", "servers"): [server("vm-open", status="PAUSED")]})
    assert result.actions == []
