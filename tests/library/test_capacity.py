"""The capacity library policies (capacity_*.yaml), which count with aggregates."""

from __future__ import annotations

from test_library import LIBRARY, cloud, feed, load, server, unfeed


def test_the_capacity_policies_are_shipped_with_their_documents() -> None:
    assert LIBRARY["ServersPerProject"][0].name == "capacity_servers_per_project.yaml"
    assert LIBRARY["HypervisorLoad"][0].name == "capacity_hypervisor_load.yaml"
    for name in ("ServersPerProject", "HypervisorLoad"):
        doc = LIBRARY[name][1]
        assert "aggregate" in doc["description"]
        assert all("rule" in entry and "comment" in entry for entry in doc["rules"])


def test_servers_per_project_warns_over_the_default_or_the_projects_own_limit() -> None:
    rt = cloud()
    load(rt, "ServersPerProject")
    rt.delete("ServersPerProject", "max_servers_per_project(20)")
    rt.insert("ServersPerProject", "max_servers_per_project(2)")
    rt.insert("ServersPerProject", 'project_limit("big", 3)')
    servers = [server(f"a{i}", tenant_id="alpha") for i in range(3)]
    servers += [server(f"b{i}", tenant_id="big") for i in range(3)]
    servers += [server("c0", tenant_id="calm")]
    feed(rt, {("nova", "servers"): servers})
    assert rt.rows("ServersPerProject", "warning") == {
        ("alpha", 3, 2, "project runs more servers than its limit"),
    }
    feed(rt, {("nova", "servers"): [server("b3", tenant_id="big")]})
    assert {w[0] for w in rt.rows("ServersPerProject", "warning")} == {"alpha", "big"}
    unfeed(rt, {("nova", "servers"): servers[:2]})  # alpha is down to one server
    assert {w[0] for w in rt.rows("ServersPerProject", "warning")} == {"big"}


def test_hypervisor_load_counts_empty_hypervisors_as_zero() -> None:
    rt = cloud()
    load(rt, "HypervisorLoad")
    rt.delete("HypervisorLoad", "max_servers_per_hypervisor(40)")
    rt.insert("HypervisorLoad", "max_servers_per_hypervisor(1)")
    hypervisors = [
        {"hypervisor_hostname": h, "id": h, "state": "up", "status": status}
        for h, status in (("hv1", "enabled"), ("hv2", "enabled"), ("hv3", "disabled"))
    ]
    feed(
        rt,
        {
            ("nova", "hypervisors"): hypervisors,
            ("nova", "servers"): [server("vm1", host_name="hv1"), server("vm2", host_name="hv1")],
        },
    )
    assert rt.rows("HypervisorLoad", "hypervisor_load") == {("hv1", 2), ("hv2", 0), ("hv3", 0)}
    assert rt.rows("HypervisorLoad", "warning") == {
        ("hv1", 2, "hypervisor runs more servers than allowed"),
        ("hv2", 0, "enabled hypervisor runs no server"),
    }
    result = feed(rt, {("nova", "servers"): [server("vm3", host_name="hv2")]})
    assert result.changes[("HypervisorLoad", "warning")] == (
        set(),
        {("hv2", 0, "enabled hypervisor runs no server")},
    )
