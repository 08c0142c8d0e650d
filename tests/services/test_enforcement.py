"""Safe enforcement in the policy engine (docs/enforcement.md): dry-run, the stale-data guard,
the circuit breaker and deferred actions, with the execution log they leave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from test_datasource_host_fakes import ENDPOINTS, FakeClient, client_factory

from congress.bus import Announcement, ExecuteRequest, InProcessBus, Publisher
from congress.datasources.loader import DriverLoader
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.datasources import DatasourceHost
from congress.services.enforcement import BREAKER_EVENT, EnforcementOptions
from congress.services.policy_engine import PolicyEngineService
from congress.services.sink import PolicyEngineSink

RULE = 'execute[nova:pause(x)] :- nova:servers(x, "bad")'
CREDENTIALS = {
    "auth_url": "http://keystone:5000/v3",
    "username": "admin",
    "password": "secret",
    "project_name": "admin",
    "poll_time": "0",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path}/congress.db"
    migration.upgrade(url)
    return make_engine(url)


class Node:
    """A policy engine with a recording executor, a settable staleness and a clock."""

    def __init__(self, database: Engine, node_id: str = "pe1", **options: Any) -> None:
        self.sent: list[ExecuteRequest] = []
        self.stale: dict[str, str] = {}
        self.notified: list[tuple[str, dict[str, Any]]] = []
        self.clock = Clock()
        self.engine = PolicyEngineService(
            database,
            executor=self.sent.append,
            node_id=node_id,
            enforcement=EnforcementOptions(**options),
            enforcement_clock=self.clock,
        )
        self.engine.enforcement.add_staleness_source(lambda: dict(self.stale))
        self.engine.enforcement.notifier = lambda kind, body: self.notified.append((kind, body))
        self.engine.start()
        self.engine.ensure_datasource("nova", {"servers": ["id", "status"]})

    def bad(self, *ids: str) -> None:
        self.engine.receive("nova", "servers", [(i, "bad") for i in ids], [])

    def good(self, *ids: str) -> None:
        self.engine.receive("nova", "servers", [(i, "ok") for i in ids], [(i, "bad") for i in ids])

    def paused(self) -> list[str]:
        return [r.positional[0] for r in self.sent]


def statuses(database: Engine) -> dict[str, str]:
    return {e.args["positional"][0]: e.status for e in db.list_executions(database, limit=1000)}


@pytest.fixture
def node(database: Engine) -> Node:
    n = Node(database)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    return n


def test_without_settings_an_action_is_sent_at_once(node: Node) -> None:
    node.bad("vm1")
    assert node.paused() == ["vm1"]
    assert node.engine.get_policy("p").dry_run is False


def test_dry_run_records_would_execute_and_calls_nothing(node: Node, database: Engine) -> None:
    view = node.engine.update_policy("p", {"dry_run": True})
    assert view.dry_run is True and node.engine.get_policy("p").dry_run is True
    node.bad("vm1")
    assert node.sent == []
    [entry] = db.list_executions(database)
    assert (entry.status, entry.policy, entry.datasource, entry.action) == (
        "would_execute",
        "p",
        "nova",
        "pause",
    )
    node.engine.update_policy("p", {"dry_run": False})
    node.bad("vm2")
    assert node.paused() == ["vm2"]


def test_dry_run_set_on_one_engine_holds_on_another(database: Engine) -> None:
    one = Node(database, "pe1")
    one.engine.create_policy("p", rules=[{"rule": RULE}])
    two = Node(database, "pe2")
    one.engine.update_policy("p", {"dry_run": True})
    two.engine.sync()
    assert two.engine.get_policy("p").dry_run is True
    two.bad("vm1")
    assert two.sent == [] and statuses(database) == {"vm1": "would_execute"}


def test_update_policy_refuses_other_fields_and_bad_values(node: Node) -> None:
    with pytest.raises(errors.BadRequest, match="'kind'"):
        node.engine.update_policy("p", {"kind": "database"})
    with pytest.raises(errors.BadRequest, match="dry_run"):
        node.engine.update_policy("p", {"dry_run": "yes"})
    with pytest.raises(errors.BadRequest, match="action_grace_seconds"):
        node.engine.update_policy("p", {"action_grace_seconds": -1})
    with pytest.raises(errors.PolicyNotFound):
        node.engine.update_policy("nosuch", {"dry_run": True})


def test_stale_data_holds_actions_until_fresh_and_rechecks_the_row(
    node: Node, database: Engine
) -> None:
    node.stale["nova"] = "is failing: its last poll failed (boom)"
    node.bad("vm1", "vm2")
    assert node.sent == []
    assert statuses(database) == {"vm1": "held", "vm2": "held"}
    [entry] = [e for e in db.list_executions(database) if e.args["positional"] == ["vm1"]]
    assert entry.detail == "datasource nova is failing: its last poll failed (boom)"
    assert node.engine.check_actions() == 0  # still stale: nothing moves
    node.good("vm2")  # vm2's row no longer holds: cancelled at once, though still stale
    assert node.engine.check_actions() == 1
    assert node.sent == []
    assert statuses(database) == {"vm1": "held", "vm2": "cancelled"}
    del node.stale["nova"]
    assert node.engine.check_actions() == 1
    assert node.paused() == ["vm1"]
    assert statuses(database) == {"vm1": "requested", "vm2": "cancelled"}


def test_stale_guard_follows_rules_through_other_policies(database: Engine) -> None:
    n = Node(database)
    n.engine.ensure_datasource("keystone", {"users": ["id"]})
    n.engine.create_policy("q", rules=[{"rule": 'bad(x) :- nova:servers(x, "bad")'}])
    n.engine.create_policy("p", rules=[{"rule": "execute[nova:pause(x)] :- q:bad(x)"}])
    n.stale["keystone"] = "has not completed its first poll since it started"
    n.bad("vm1")
    assert n.paused() == ["vm1"]  # keystone is not read: not held
    n.stale["nova"] = "has not completed its first poll since it started"
    n.bad("vm2")
    assert n.paused() == ["vm1"] and statuses(database)["vm2"] == "held"


def test_held_actions_expire(database: Engine) -> None:
    n = Node(database, max_hold_seconds=60.0)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    n.stale["nova"] = "is failing"
    n.bad("vm1")
    n.clock.now += 61
    n.engine.check_actions()
    del n.stale["nova"]
    n.engine.check_actions()
    assert n.sent == [] and statuses(database) == {"vm1": "expired"}


def test_stale_guard_can_be_turned_off(database: Engine) -> None:
    n = Node(database, stale_guard=False)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    n.stale["nova"] = "is failing"
    n.bad("vm1")
    assert n.paused() == ["vm1"]


def test_breaker_trips_over_the_rate_blocks_and_resets(database: Engine) -> None:
    n = Node(database, breaker_max_actions=2, breaker_interval=60.0)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    for vm in ("vm1", "vm2", "vm3", "vm4"):
        n.bad(vm)
    assert n.paused() == ["vm1", "vm2"]
    assert statuses(database)["vm3"] == statuses(database)["vm4"] == "blocked_by_breaker"
    shown = n.engine.breaker("p")
    assert shown["state"] == "open" and shown["tripped_by"] == "pe1"
    assert shown["reason"] == "more than 2 nova actions within 60 s"
    assert shown["counts"]["at_trip"] == {"window": {"nova": 3}}
    assert [kind for kind, _ in n.notified] == [BREAKER_EVENT]
    assert n.notified[0][1]["policy"] == "p"
    other = Node(database, "pe2")  # every node sees it, from the database
    assert other.engine.breaker("p")["state"] == "open"
    other.bad("vm9")
    assert other.sent == []
    n.clock.now += 120  # the window passes; the breaker stays open until reset
    n.bad("vm5")
    assert statuses(database)["vm5"] == "blocked_by_breaker"
    closed = n.engine.reset_breaker("p")
    assert closed["state"] == "closed" and closed["reason"] is None
    other.engine.sync()
    assert other.engine.breaker("p")["state"] == "closed"
    n.bad("vm6")
    assert n.paused() == ["vm1", "vm2", "vm6"]


def test_breaker_trips_on_a_wave_over_the_fraction(database: Engine) -> None:
    n = Node(database, breaker_max_fraction=0.5, breaker_min_rows=10)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    n.engine.receive("nova", "servers", [(f"ok{i}", "ok") for i in range(10)], [])
    n.bad("vm1")  # 1 of 11 rows
    assert n.paused() == ["vm1"]
    n.bad(*[f"w{i}" for i in range(12)])  # 12 of 23 rows at once
    assert n.paused() == ["vm1"]
    shown = n.engine.breaker("p")
    assert shown["state"] == "open"
    assert (
        shown["reason"]
        == "12 nova:pause actions at once, more than 0.5 of the 23 rows their rules read"
    )


def test_the_fraction_rule_spares_small_tables(database: Engine) -> None:
    n = Node(database, breaker_max_fraction=0.5, breaker_min_rows=10)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    n.bad("a", "b", "c")  # every row of a 3-row table
    assert sorted(n.paused()) == ["a", "b", "c"]


def test_deferred_actions_run_after_the_grace_if_their_row_holds(
    node: Node, database: Engine
) -> None:
    assert node.engine.update_policy("p", {"action_grace_seconds": 30}).action_grace_seconds == 30
    node.bad("vm1", "vm2")
    assert node.sent == [] and statuses(database) == {"vm1": "deferred", "vm2": "deferred"}
    node.clock.now += 29
    assert node.engine.check_actions() == 0
    node.good("vm2")
    node.clock.now += 2
    assert node.engine.check_actions() == 2
    assert node.paused() == ["vm1"]
    assert statuses(database) == {"vm1": "requested", "vm2": "cancelled"}


def test_the_configured_grace_applies_to_policies_without_their_own(database: Engine) -> None:
    n = Node(database, action_grace_seconds=10.0)
    n.engine.create_policy("p", rules=[{"rule": RULE}])
    n.bad("vm1")
    assert n.sent == []
    n.engine.update_policy("p", {"action_grace_seconds": 0})
    n.bad("vm2")
    assert n.paused() == ["vm2"]
    n.clock.now += 11
    n.engine.check_actions()
    assert n.paused() == ["vm2", "vm1"]


class Peer:
    def __init__(self, node_id: str, info: dict[str, Any]) -> None:
        self.node_id = node_id
        self.info = info


class Host:
    """What the sink reads of a datasource host in the same process."""

    def __init__(self) -> None:
        self.stale: dict[str, str] = {}

    def staleness(self) -> dict[str, str]:
        return dict(self.stale)

    def published(self) -> dict[str, Any]:
        return {"nova": {}}


def test_the_sink_reports_failover_resnapshots_and_heartbeat_staleness(database: Engine) -> None:
    engine = PolicyEngineService(database, executor=lambda r: None, node_id="pe1")
    engine.start()
    bus = InProcessBus()
    sink = PolicyEngineSink(engine, bus)
    sink.start()
    first = Publisher(bus, "nova", epoch=1)
    first.publish("servers", [("vm1", "ok")])
    sink.on_announcement(Announcement("nova", {"servers": ("id", "status")}, "ds"))
    assert sink.stale_datasources() == {}
    first.close()
    second = Publisher(bus, "nova", epoch=2)  # the datasources node restarted elsewhere
    second.publish("servers", [])
    assert engine.enforcement.stale_datasources() == {
        "nova": "is being re-snapshotted after a failover"
    }
    beat = {"tables": {"nova": {"servers": [2, 0]}}, "stale": {"nova": "has not completed "}}
    sink._on_peer("beat", Peer("ds", beat))
    assert sink.stale_datasources()["nova"] == "has not completed "
    sink._on_peer("beat", Peer("ds", {"tables": beat["tables"], "stale": {}}))
    assert sink.stale_datasources() == {}
    host = Host()
    sink.attach_host(host)
    host.stale["nova"] = "is failing: its last poll failed (boom)"
    assert sink.stale_datasources() == {"nova": "is failing: its last poll failed (boom)"}
    sink.stop()


def test_the_host_reports_datasources_not_polled_yet_or_failing(
    database: Engine, tmp_path: Path
) -> None:
    clients: dict[str, FakeClient] = {}
    host = DatasourceHost(
        database,
        bus=InProcessBus(),
        loader=DriverLoader(None, custom_endpoints=ENDPOINTS),
        key_path=tmp_path / "keys",
        node_id="ds",
        poll=False,
        client_factory=client_factory(clients),
    )
    host.start()
    try:
        host.create_datasource("nova", "fake", dict(CREDENTIALS))
        host.create_datasource("inv", "push", {"tables": '{"t": ["x"]}'})
        assert host.staleness() == {"nova": "has not completed its first poll since it started"}
        host.request_refresh("nova")
        assert host.staleness() == {}

        def broken() -> list[Any]:
            raise RuntimeError("nova is down")

        clients["nova"].servers.list = broken  # type: ignore[method-assign]
        host.request_refresh("nova")
        assert host.staleness()["nova"].startswith("is failing: its last poll failed (")
        assert "nova is down" in host.staleness()["nova"]
    finally:
        host.stop()
