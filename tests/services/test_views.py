"""Datasources shared with projects and the projects' views of them, in the policy engine
service (docs/tenancy.md, congress.services.views): in a project policy ``X@P``,
``D:t(...)`` reads ``D@P:t``, the rows of ``(D, t)`` whose project column is ``P``."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from congress.bus import ExecuteRequest, InProcessBus
from congress.datalog.errors import PolicyError
from congress.datasources.loader import DriverLoader
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.datasources import DatasourceHost
from congress.services.enforcement import EnforcementOptions
from congress.services.policy_engine import PolicyEngineService
from congress.services.sink import PolicyEngineSink
from congress.services.views import effective_columns, visible_to

CLOCK = datetime.datetime(2026, 11, 26, 12, 0, 0)
NOVA = {"servers": ["id", "status", "tenant_id"], "flavors": ["id", "name"]}
PAUSE = frozenset({"nova:servers.pause"})


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


def engine(database: Engine, node_id: str = "pe1", **kw: Any) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: CLOCK, node_id=node_id, **kw)
    svc.start()
    return svc


def with_nova(svc: PolicyEngineService, database: Engine) -> PolicyEngineService:
    """The operator's ``nova`` datasource (driver nova: servers.tenant_id is its project
    column), as its publisher would announce it, with two projects' servers."""
    try:
        db.create_datasource(database, "nova", "nova", config={})
    except Exception:  # another engine's test made it already
        pass
    svc.ensure_datasource("nova", NOVA)
    svc.replace(
        "nova",
        "servers",
        [("vm1", "ERROR", "p1"), ("vm2", "ERROR", "p2"), ("vm3", "ACTIVE", "p1")],
        activation=None,
    )
    svc.replace("nova", "flavors", [("f1", "tiny"), ("f2", "huge")], activation=None)
    return svc


ERRORS = 'error(x) :- nova:servers(id=x, status="ERROR")'


# -- the pure helpers ------------------------------------------------------------------------
def test_visible_to() -> None:
    assert visible_to(["p1", "p2"], "p1") and not visible_to(["p1"], "p2")
    assert visible_to(["*"], "anyone")
    assert not visible_to([], "p1") and not visible_to(None, "p1")
    assert visible_to([], None)  # the operator sees every datasource


def test_effective_columns_merge_overrides_over_the_drivers() -> None:
    declared = {"servers": "tenant_id", "ports": "tenant_id"}
    assert effective_columns(declared, {}) == declared
    assert effective_columns(declared, {"servers": "user_id", "ports": None, "x": "y"}) == {
        "servers": "user_id",
        "x": "y",
    }


def test_every_drivers_project_columns_are_columns_of_its_schema() -> None:
    drivers = DriverLoader().available()
    declaring = {name for name, cls in drivers.items() if cls.PROJECT_COLUMNS}
    assert {"nova", "neutronv2", "glancev2"} <= declaring
    for name in declaring:
        schema = {t: [c.name for c in cols] for t, cols in drivers[name].schema().items()}
        for table, column in drivers[name].PROJECT_COLUMNS.items():
            assert column in schema[table], (name, table, column)
    assert drivers["nova"].PROJECT_COLUMNS == {"servers": "tenant_id"}
    assert drivers["glancev2"].PROJECT_COLUMNS == {"images": "owner"}
    assert drivers["neutronv2"].PROJECT_COLUMNS["ports"] == "tenant_id"
    assert drivers["push"].PROJECT_COLUMNS == {}  # the operator's only


# -- views -------------------------------------------------------------------------------------
def test_rows_are_filtered_to_the_project_and_deltas_flow(database: Engine) -> None:
    svc = with_nova(engine(database), database)
    answer = svc.update_datasource_sharing("nova", {"shared_with": ["p1", "p2"]})
    assert answer == {"shared_with": ["p1", "p2"], "project_columns": {"servers": "tenant_id"}}
    for project in ("p1", "p2"):
        svc.create_policy(f"ops@{project}")
        svc.create_rule(f"ops@{project}", ERRORS)
    assert svc.rows("ops@p1", "error") == [("vm1",)]
    assert svc.rows("ops@p2", "error") == [("vm2",)]
    assert svc.views() == ["nova@p1", "nova@p2"]
    assert svc.is_view("nova@p1") and not svc.is_view("ops@p1") and not svc.is_view("nova")
    # a view is no policy of the project
    assert "nova@p1" not in {p.name for p in svc.list_policies()}
    with pytest.raises(errors.PolicyNotFound):
        svc.get_policy("nova@p1")
    # deltas reach the views in the same batch as the datasource
    result = svc.receive("nova", "servers", [("vm4", "ERROR", "p2")], [("vm1", "ERROR", "p1")])
    assert svc.rows("ops@p1", "error") == []
    assert svc.rows("ops@p2", "error") == [("vm2",), ("vm4",)]
    assert ("nova@p2", "servers") in result.changes
    # a snapshot too
    svc.replace("nova", "servers", [("vm5", "ERROR", "p1")])
    assert svc.rows("ops@p1", "error") == [("vm5",)]
    assert svc.rows("ops@p2", "error") == []
    assert svc.runtime.rows("nova@p1", "servers") == {("vm5", "ERROR", "p1")}


def test_a_view_goes_when_no_rule_reads_it(database: Engine) -> None:
    svc = with_nova(engine(database), database)
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_policy("ops@p1")
    rule = svc.create_rule("ops@p1", ERRORS)
    assert svc.views() == ["nova@p1"]
    svc.delete_rule("ops@p1", rule.id)
    assert svc.views() == [] and not svc.runtime.policy_exists("nova@p1")
    svc.create_rule("ops@p1", ERRORS)
    assert svc.views() == ["nova@p1"]
    svc.delete_policy("ops@p1")
    assert svc.views() == []


def test_execute_fires_from_a_view_row(database: Engine) -> None:
    calls: list[ExecuteRequest] = []
    options = EnforcementOptions(project_actions=PAUSE)
    svc = with_nova(engine(database, executor=calls.append, enforcement=options), database)
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_policy("ops@p1")
    svc.create_rule(
        "ops@p1", 'execute[nova:servers.pause(x)] :- nova:servers(id=x, status="ERROR")'
    )
    assert [(c.positional, c.policy) for c in calls] == [(("vm1",), "ops@p1")]
    svc.receive(
        "nova",
        "servers",
        [("vm7", "ERROR", "p1"), ("vm8", "ERROR", "p2")],
        [],
        activation="nova:servers:1:2",
    )
    assert [(c.positional, c.policy) for c in calls] == [
        (("vm1",), "ops@p1"),
        (("vm7",), "ops@p1"),  # p2's vm8 is not the project's: nothing
    ]
    # the data the action depends on are the datasource's (its staleness holds it back)
    req = next(iter(svc.runtime.rows("ops@p1", "execute[nova:servers.pause]")))
    assert req in {("vm1",), ("vm7",)}


def test_revoking_the_sharing_removes_the_rows_and_star_shares_with_everyone(
    database: Engine,
) -> None:
    svc = with_nova(engine(database), database)
    svc.create_policy("ops@p1")
    svc.create_policy("ops@p2")
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_rule("ops@p1", ERRORS)
    # a forward-compatible rule of p2 (nova not shared with p2) is refused ...
    with pytest.raises(PolicyError):
        svc.create_rule("ops@p2", ERRORS)
    assert svc.rows("ops@p1", "error") == [("vm1",)]
    svc.update_datasource_sharing("nova", {"shared_with": []})
    assert svc.rows("ops@p1", "error") == []
    assert svc.views() == []
    svc.update_datasource_sharing("nova", {"shared_with": ["*"]})
    assert svc.rows("ops@p1", "error") == [("vm1",)]  # the rule stayed: rows come back
    svc.create_rule("ops@p2", ERRORS)
    assert svc.rows("ops@p2", "error") == [("vm2",)]
    assert svc.views() == ["nova@p1", "nova@p2"]


def test_a_project_column_override_and_a_table_without_one(database: Engine) -> None:
    svc = with_nova(engine(database), database)
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_policy("ops@p1")
    svc.create_rule("ops@p1", "flavor(n) :- nova:flavors(name=n)")
    svc.create_rule("ops@p1", "mine(x) :- nova:servers(id=x)")
    assert svc.rows("ops@p1", "flavor") == [("huge",), ("tiny",)]  # no project column: all
    assert svc.rows("ops@p1", "mine") == [("vm1",), ("vm3",)]
    # the operator says servers' project is in another column (here: status, for the test)
    answer = svc.update_datasource_sharing(
        "nova", {"project_columns": {"servers": "status", "flavors": "name"}}
    )
    assert answer["project_columns"] == {"flavors": "name", "servers": "status"}
    assert svc.rows("ops@p1", "mine") == []
    assert svc.rows("ops@p1", "flavor") == []
    svc.receive("nova", "flavors", [("f3", "p1")], [])
    assert svc.rows("ops@p1", "flavor") == [("p1",)]
    # null: the table has no project column (over the driver's declaration)
    svc.update_datasource_sharing("nova", {"project_columns": {"servers": None}})
    assert svc.datasource_sharing("nova")["project_columns"] == {}
    assert svc.rows("ops@p1", "mine") == [("vm1",), ("vm2",), ("vm3",)]
    assert svc.rows("ops@p1", "flavor") == [("huge",), ("p1",), ("tiny",)]
    # an unknown table or column is a 400, and changes nothing
    for bad in ({"volumes": "id"}, {"servers": "owner"}):
        with pytest.raises(errors.BadRequest):
            svc.update_datasource_sharing("nova", {"project_columns": bad})
    with pytest.raises(errors.BadRequest):
        svc.update_datasource_sharing("nova", {"shared_with": ["*", "p1"]})
    with pytest.raises(errors.BadRequest):
        svc.update_datasource_sharing("nova", {"owner": "p1"})
    with pytest.raises(errors.DatasourceNotFound):
        svc.update_datasource_sharing("glance", {"shared_with": ["p1"]})
    assert svc.datasource_sharing("nova") == {"shared_with": ["p1"], "project_columns": {}}


def test_cross_project_references_are_refused_at_write_time(database: Engine) -> None:
    svc = with_nova(engine(database), database)
    db.create_datasource(database, "cinder", "cinder", config={})
    svc.ensure_datasource("cinder", {"volumes": ["id"]})
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_policy("secret", rules=[{"rule": "leak(1)"}])
    svc.create_policy("ops@p1")
    svc.create_policy("own@p1", rules=[{"rule": "q(1)"}])

    def refused(text: str, policy: str = "ops@p1") -> PolicyError:
        with pytest.raises(PolicyError) as caught:
            svc.create_rule(policy, text)
        assert caught.value.code == "cross_project_reference"
        return caught.value

    err = refused("x(y) :-\n    own:q(y),\n  secret:leak(y)")
    assert err.first.message == "secret:leak is not visible to this project"
    assert (err.first.line, err.first.column) == (3, 3)
    err = refused("x(y) :- cinder:volumes(y)")
    assert err.first.message == "cinder:volumes is not visible to this project"
    assert (err.first.line, err.first.column, err.first.policy) == (1, 9, "ops@p1")
    refused("x(y) :- not secret:leak(y), own:q(y)")
    refused("x(n) :- n = count{y | secret:leak(y)}")
    # a policy with rules is checked the same way, all or nothing
    with pytest.raises(PolicyError, match="secret:leak is not visible"):
        svc.create_policy("more@p1", rules=[{"rule": "a(1)"}, {"rule": "b(x) :- secret:leak(x)"}])
    assert "more@p1" not in {p.name for p in svc.list_policies()}
    # the project's own policies, shared datasources and names that are nothing yet are fine
    svc.create_rule("ops@p1", "a(y) :- own:q(y)")
    svc.create_rule("ops@p1", "b(y) :- nova:servers(id=y)")
    svc.create_rule("ops@p1", "c(y) :- later:t(y)")
    svc.create_rule("ops@p1", "d(y) :- e(y)")
    # a global policy's rules read anything, as before
    svc.create_rule("secret", "f(y) :- cinder:volumes(y)")
    assert sorted(svc.rows("ops@p1", "b")) == [("vm1",), ("vm3",)]


def test_lazy_tables_read_through_a_view_are_referenced(database: Engine) -> None:
    svc = with_nova(engine(database), database)
    svc.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    svc.create_policy("ops@p1")
    svc.create_rule("ops@p1", "f(x) :- nova:flavors(id=x)")
    assert svc.referenced_tables("nova") == {"flavors"}


def test_two_engines_on_one_database_agree(database: Engine) -> None:
    pe1 = with_nova(engine(database, "pe1"), database)
    pe2 = with_nova(engine(database, "pe2"), database)
    pe1.add_write_listener(lambda revision: pe2.sync())  # the bus's policy_changed
    pe2.add_write_listener(lambda revision: pe1.sync())
    pe1.update_datasource_sharing("nova", {"shared_with": ["p1"]})
    pe1.create_policy("ops@p1")
    pe1.create_rule("ops@p1", ERRORS)
    for pe in (pe1, pe2):
        pe.receive("nova", "servers", [("vm9", "ERROR", "p1")], [], activation="nova:servers:1:9")
    for pe in (pe1, pe2):
        assert pe.rows("ops@p1", "error") == [("vm1",), ("vm9",)]
        assert pe.views() == ["nova@p1"]
    pe2.update_datasource_sharing("nova", {"project_columns": {"servers": None}})
    for pe in (pe1, pe2):
        assert pe.rows("ops@p1", "error") == [("vm1",), ("vm2",), ("vm9",)]
    pe2.update_datasource_sharing("nova", {"shared_with": []})
    for pe in (pe1, pe2):
        assert pe.rows("ops@p1", "error") == [] and pe.views() == []
    # an engine that starts later computes the same from the database and the data
    pe1.update_datasource_sharing("nova", {"shared_with": ["*"], "project_columns": {}})
    pe3 = with_nova(engine(database, "pe3"), database)
    pe3.receive("nova", "servers", [("vm9", "ERROR", "p1")], [])
    for pe in (pe1, pe2, pe3):
        assert pe.rows("ops@p1", "error") == [("vm1",), ("vm9",)]


# -- through the bus: a push datasource, its host and the engine's sink -----------------------
@pytest.fixture
def node(database: Engine, tmp_path: Path) -> Iterator[tuple[DatasourceHost, PolicyEngineService]]:
    bus = InProcessBus()
    host = DatasourceHost(
        database,
        bus=bus,
        loader=DriverLoader(None),
        key_path=tmp_path / "keys",
        clock=lambda: CLOCK.replace(tzinfo=datetime.UTC),
        node_id="node1",
        poll=False,
    )
    calls: list[ExecuteRequest] = []
    svc = engine(
        database,
        "node1",
        executor=calls.append,
        enforcement=EnforcementOptions(project_actions=frozenset({"inv:servers.pause"})),
    )
    sink = PolicyEngineSink(svc, bus)
    sink.start()
    host.start()
    svc.calls = calls  # type: ignore[attr-defined]
    yield host, svc
    host.stop()
    sink.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_a_push_datasource_on_the_bus_feeds_the_projects_views(
    node: tuple[DatasourceHost, PolicyEngineService],
) -> None:
    host, svc = node
    tables = '{"servers": ["id", "status", "project"], "zones": ["name"]}'
    host.create_datasource("inv", "push", {"tables": tables})
    wait_until(lambda: svc.runtime.policy_exists("inv"))
    # a push datasource has no project column until the operator names one
    assert svc.datasource_sharing("inv") == {"shared_with": [], "project_columns": {}}
    svc.update_datasource_sharing(
        "inv", {"shared_with": ["p1"], "project_columns": {"servers": "project"}}
    )
    svc.create_policy("ops@p1")
    svc.create_rule("ops@p1", 'bad(x) :- inv:servers(id=x, status="ERROR")')
    svc.create_rule("ops@p1", "execute[inv:servers.pause(x)] :- bad(x)")
    svc.create_rule("ops@p1", "zone(z) :- inv:zones(z)")
    host.replace_rows("inv", "servers", [["a", "ERROR", "p1"], ["b", "ERROR", "p2"]])
    host.replace_rows("inv", "zones", [["z1"]])
    wait_until(lambda: svc.rows("ops@p1", "zone") == [("z1",)])
    wait_until(lambda: svc.rows("ops@p1", "bad") == [("a",)])
    calls: list[ExecuteRequest] = svc.calls  # type: ignore[attr-defined]
    wait_until(lambda: [c.positional for c in calls] == [("a",)])
    assert calls[0].policy == "ops@p1" and calls[0].service == "inv"
    host.replace_rows("inv", "servers", [["b", "ERROR", "p2"], ["c", "ERROR", "p1"]])
    wait_until(lambda: svc.rows("ops@p1", "bad") == [("c",)])
    wait_until(lambda: [c.positional for c in calls] == [("a",), ("c",)])
    # the datasource goes away: so do its views and their rows
    host.delete_datasource("inv")
    wait_until(lambda: not svc.runtime.policy_exists("inv"))
    assert svc.views() == [] and svc.rows("ops@p1", "bad") == []
