"""``execute[...]`` in project policies (docs/tenancy.md): the operator's allow-list, the
project's hourly quota (counted in the shared execution log) and the driver's check that the
target belongs to the project, between a real policy engine, a real datasource host and a
driver whose cloud the tests control; global policies are unaffected."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from project_enforcement_fakes import ENDPOINTS, Cloud, client_factory
from sqlalchemy.engine import Engine

from congress.bus import ExecuteRequest, InProcessBus
from congress.common import opts
from congress.datasources.loader import DriverLoader
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.datasources import DatasourceHost
from congress.services.enforcement import EnforcementOptions
from congress.services.policy_engine import PolicyEngineService

PAUSE = 'execute[nova:servers.pause(x)] :- nova:servers(x, "bad")'
STOP = 'execute[nova:servers.stop(x)] :- nova:servers(x, "bad")'
ALLOWED = ["nova:servers.pause"]
FOREIGN = "the target of nova:servers.pause does not belong to the project"


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path}/congress.db"
    migration.upgrade(url)
    return make_engine(url)


def tenancy(project_actions: list[str] = ALLOWED, **quotas: Any) -> cfg.ConfigOpts:
    """A configuration with ``[tenancy]`` as given (the rest at the defaults), from a file: an
    override would stay on the option group, which every ConfigOpts shares."""
    conf = cfg.ConfigOpts()
    conf.register_opts(opts.tenancy_opts, group=opts.TENANCY_GROUP)
    lines = ["[tenancy]", f"project_actions = {','.join(project_actions)}"]
    lines += [f"quota_{name} = {value}" for name, value in quotas.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        conf(["--config-file", f.name], default_config_files=[], default_config_dirs=[])
    finally:
        os.unlink(f.name)
    return conf


@dataclass
class Node:
    """A policy engine whose actions go to a datasource host running ``nova`` (an ``owned``
    driver), both on the shared database."""

    engine: PolicyEngineService
    host: DatasourceHost
    cloud: Cloud

    def feed(self, *ids: str) -> None:
        """``ids`` become bad servers of ``nova`` (shared with every project, whose views see
        every row: the fake driver declares no project column)."""
        self.engine.receive("nova", "servers", [(i, "bad") for i in ids], [])
        self.wait()

    def wait(self) -> None:
        assert self.host.wait_for_executions(5.0)


@pytest.fixture
def node_factory(database: Engine, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    hosts: list[DatasourceHost] = []

    def make(conf: cfg.ConfigOpts | None = None) -> Node:
        clouds: dict[str, Cloud] = {}
        host = DatasourceHost(
            database,
            bus=InProcessBus(),
            loader=DriverLoader(None, custom_endpoints=ENDPOINTS),
            key_path=tmp_path / "keys",
            node_id="node1",
            poll=False,
            client_factory=client_factory(clouds),
        )
        host.start()
        hosts.append(host)
        host.create_datasource("nova", "owned", {})
        engine = PolicyEngineService(
            database,
            executor=host.execute_request,
            node_id="node1",
            enforcement=EnforcementOptions(conf=conf or tenancy()),
        )
        engine.start()
        engine.ensure_datasource("nova", {"servers": ["id", "status"]})
        engine.update_datasource_sharing("nova", {"shared_with": ["*"]})
        return Node(engine, host, clouds["nova"])

    yield make
    for host in hosts:
        host.stop()


@pytest.fixture
def node(node_factory: Callable[..., Node]) -> Node:
    return node_factory()


def log(database: Engine, **filters: Any) -> dict[str, tuple[str, str | None]]:
    """``{server: (status, detail)}`` of the execution log."""
    return {
        e.args["positional"][0]: (e.status, e.detail)
        for e in db.list_executions(database, limit=1000, **filters)
    }


def test_an_allowed_action_on_the_projects_own_target_runs(node: Node, database: Engine) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners["vm1"] = "p1"
    node.feed("vm1")
    assert node.cloud.done == [("pause", "vm1")]
    assert node.cloud.asked == ["vm1"]  # the driver was asked whose target it is
    [entry] = db.list_executions(database)
    assert (entry.policy, entry.datasource, entry.action, entry.status) == (
        "ops@p1",
        "nova",
        "servers.pause",
        "executed",
    )
    assert entry.result == "pause vm1"


def test_an_action_not_in_the_allow_list_is_refused_and_logged(
    node: Node, database: Engine
) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": STOP}])
    node.cloud.owners["vm1"] = "p1"
    node.feed("vm1")
    assert node.cloud.done == [] and node.cloud.asked == []
    assert log(database) == {
        "vm1": ("refused", "action nova:servers.stop is not allowed for project policies")
    }
    assert node.engine.pending_actions() == []  # nothing was sent


def test_the_allow_list_is_checked_before_dry_run(node: Node, database: Engine) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": STOP}, {"rule": PAUSE}])
    node.engine.update_policy("ops@p1", {"dry_run": True})
    node.feed("vm1")
    assert node.cloud.done == []
    assert sorted(e.status for e in db.list_executions(database)) == [
        "refused",
        "would_execute",
    ]


def test_an_empty_allow_list_lets_no_project_act(
    node_factory: Callable[..., Node], database: Engine
) -> None:
    node = node_factory(tenancy(project_actions=[]))
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners["vm1"] = "p1"
    node.feed("vm1")
    assert node.cloud.done == []
    assert log(database) == {
        "vm1": ("refused", "action nova:servers.pause is not allowed for project policies")
    }


def test_the_allow_list_comes_from_the_options_when_given(database: Engine) -> None:
    options = EnforcementOptions(project_actions=frozenset(ALLOWED), conf=tenancy([]))
    assert options.allowed_project_actions() == frozenset(ALLOWED)
    assert EnforcementOptions(conf=tenancy(["nova:servers.stop"])).allowed_project_actions() == {
        "nova:servers.stop"
    }
    assert EnforcementOptions().allowed_project_actions() == frozenset()


def test_a_target_of_another_project_or_missing_is_refused_alike(
    node: Node, database: Engine
) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners["vm2"] = "p2"
    node.feed("vm2", "vm3")  # vm2 is p2's, vm3 does not exist
    assert node.cloud.done == []
    assert sorted(node.cloud.asked) == ["vm2", "vm3"]
    assert log(database) == {"vm2": ("refused", FOREIGN), "vm3": ("refused", FOREIGN)}
    assert all("p2" not in (e.detail or "") for e in db.list_executions(database))


def test_a_target_the_driver_cannot_tell_is_refused(node: Node, database: Engine) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])

    def broken(server: str) -> str | None:
        raise RuntimeError("the cloud is down")

    node.cloud.owner = broken  # type: ignore[method-assign]
    node.feed("vm1")
    assert node.cloud.done == []
    assert log(database) == {"vm1": ("refused", FOREIGN)}


def test_the_hourly_quota_refuses_the_extra_actions(node: Node, database: Engine) -> None:
    db.set_project_quotas(database, "p1", {"actions_per_hour": 2})
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.engine.create_policy("more@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners.update({"vm1": "p1", "vm2": "p1", "vm3": "p1"})
    node.cloud.owners.update({"wm1": "p2", "wm2": "p2", "wm3": "p2"})
    node.feed("vm1", "vm2", "vm3")  # one batch, two policies of p1: 2 of the 6 actions run
    assert len(node.cloud.done) == 2
    entries = [
        (e.status, e.detail)
        for e in db.list_executions(database, limit=100)
        if e.policy in ("ops@p1", "more@p1")
    ]
    assert sorted(entries, key=str) == sorted(
        [("executed", None)] * 2 + [("refused", "quota_exceeded: actions_per_hour (2)")] * 4,
        key=str,
    )
    # another project has the default quota (100); p1 stays over its own in a later batch
    node.engine.create_policy("ops@p2", rules=[{"rule": PAUSE}])
    node.wait()  # its actions on p1's servers are refused by the driver's check
    node.feed("wm1", "wm2", "wm3")
    assert sorted(node.cloud.done[2:]) == [("pause", "wm1"), ("pause", "wm2"), ("pause", "wm3")]
    assert log(database, policy="ops@p2") == {
        "vm1": ("refused", FOREIGN),
        "vm2": ("refused", FOREIGN),
        "vm3": ("refused", FOREIGN),
        "wm1": ("executed", None),
        "wm2": ("executed", None),
        "wm3": ("executed", None),
    }
    quota = ("refused", "quota_exceeded: actions_per_hour (2)")
    assert {log(database, policy="ops@p1")[w] for w in ("wm1", "wm2", "wm3")} == {quota}


def test_the_default_quota_comes_from_the_options_and_the_star_row(
    node_factory: Callable[..., Node], database: Engine
) -> None:
    node = node_factory(tenancy(actions_per_hour=1))
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners.update({"vm1": "p1", "vm2": "p1"})
    node.feed("vm1", "vm2")
    assert len(node.cloud.done) == 1
    assert sorted(s for s, _ in log(database).values()) == ["executed", "refused"]
    db.set_project_quotas(database, db.ALL_PROJECTS, {"actions_per_hour": 0})  # 0: no limit
    node.cloud.owners.update({"vm3": "p1", "vm4": "p1"})
    node.feed("vm3", "vm4")
    assert sorted(node.cloud.done[1:]) == [("pause", "vm3"), ("pause", "vm4")]


def test_the_quota_counts_the_actions_of_every_engine(
    node: Node, database: Engine, node_factory: Callable[..., Node]
) -> None:
    db.set_project_quotas(database, "p1", {"actions_per_hour": 2})
    node.engine.create_policy("ops@p1", rules=[{"rule": PAUSE}])
    node.cloud.owners.update({"vm1": "p1", "vm2": "p1", "vm3": "p1"})
    node.feed("vm1", "vm2")
    assert len(node.cloud.done) == 2
    sent: list[ExecuteRequest] = []
    other = PolicyEngineService(
        database,
        executor=sent.append,
        node_id="node2",
        enforcement=EnforcementOptions(conf=tenancy()),
    )
    other.start()  # reads ops@p1 and the sharing of nova from the database
    other.ensure_datasource("nova", {"servers": ["id", "status"]})
    other.receive("nova", "servers", [("vm3", "bad")], [])
    assert sent == []
    assert log(database)["vm3"] == ("refused", "quota_exceeded: actions_per_hour (2)")


def test_refused_actions_are_listed_with_the_others(node: Node, database: Engine) -> None:
    node.engine.create_policy("ops@p1", rules=[{"rule": STOP}, {"rule": PAUSE}])
    node.cloud.owners.update({"vm1": "p1"})
    node.feed("vm1", "vm2")
    refused = db.list_executions(database, status="refused")
    assert sorted((e.action, e.args["positional"][0]) for e in refused) == [
        ("servers.pause", "vm2"),
        ("servers.stop", "vm1"),
        ("servers.stop", "vm2"),
    ]
    assert [e.args["positional"][0] for e in db.list_executions(database, status="executed")] == [
        "vm1"
    ]


def test_a_global_policy_is_unaffected(node_factory: Callable[..., Node], database: Engine) -> None:
    node = node_factory(tenancy(project_actions=[], actions_per_hour=1))
    node.engine.create_policy("remediation", rules=[{"rule": STOP}, {"rule": PAUSE}])
    node.feed("vm1", "vm2")  # no allow-list, no quota, no owner known
    assert sorted(node.cloud.done) == [
        ("pause", "vm1"),
        ("pause", "vm2"),
        ("stop", "vm1"),
        ("stop", "vm2"),
    ]
    assert node.cloud.asked == []
    assert {s for s, _ in log(database).values()} == {"executed"}
