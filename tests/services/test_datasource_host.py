"""The datasource host with a real policy engine service on a SQLite file database, wired
through the in-process bus: pushed and polled rows reach policies, persisted rows survive a
restart, secrets are encrypted at rest and never returned, actions run once, errors carry
their status."""

from __future__ import annotations

import datetime
import functools
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_datasource_host_fakes import ENDPOINTS, FakeClient, client_factory

from congress.bus import InProcessBus
from congress.datasources import errors as ds_errors
from congress.datasources.loader import DriverLoader
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.datasources import DatasourceHost
from congress.services.policy_engine import PolicyEngineService
from congress.services.sink import PolicyEngineSink

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.UTC)
CREDENTIALS = {
    "auth_url": "http://keystone:5000/v3",
    "username": "admin",
    "password": "s3cret-pa55",
    "project_name": "admin",
    "poll_time": "0",
}


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@dataclass
class Node:
    """One process: a bus, a policy engine fed by a sink, a datasource host."""

    host: DatasourceHost
    engine: PolicyEngineService
    sink: PolicyEngineSink
    bus: InProcessBus
    clients: dict[str, FakeClient] = field(default_factory=dict)

    def stop(self) -> None:
        self.host.stop()
        self.sink.stop()


@pytest.fixture
def node_factory(database: Engine, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def make(
        *, poll: bool = False, allowed: list[str] | None = None, sink_first: bool = True
    ) -> Node:
        bus = InProcessBus()
        clients: dict[str, FakeClient] = {}
        host = DatasourceHost(
            database,
            bus=bus,
            loader=DriverLoader(allowed, custom_endpoints=ENDPOINTS),
            key_path=tmp_path / "keys",
            clock=lambda: CLOCK,
            node_id="node1",
            poll=poll,
            client_factory=client_factory(clients),
        )
        engine = PolicyEngineService(
            database, clock=lambda: CLOCK, executor=host.execute_request, node_id="node1"
        )
        engine.start()
        sink = PolicyEngineSink(engine, bus)
        if sink_first:
            sink.start()
        host.start()
        if not sink_first:
            sink.start()
        node = Node(host, engine, sink, bus, clients)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.stop()


@pytest.fixture
def node(node_factory: Callable[..., Node]) -> Node:
    return node_factory()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def updates(node: Node, ds: str) -> int:
    return int(node.host.status(ds)["number_of_updates"])


def push(node: Node, name: str = "pushed", **config: Any) -> dict[str, Any]:
    tables = {"data": ["id", "value"], "other": ["x"]}
    return node.host.create_datasource(name, "push", {"tables": json.dumps(tables), **config})


# -- drivers ----------------------------------------------------------------------------------


def test_drivers_and_their_info(node: Node) -> None:
    ids = [d["id"] for d in node.host.drivers()]
    assert ids == [
        "cinder",
        "doctor",
        "fake",
        "glancev2",
        "heat",
        "json",
        "keystonev3",
        "kubernetes",
        "neutronv2",
        "nova",
        "push",
        "swift",
        "vitrage",
    ]
    info = node.host.driver_info("fake")
    assert info["id"] == "fake" and info["description"] == "A fake polling driver."
    assert info["config"]["password"] == "required"
    assert info["config"]["poll_time"] == "(optional)"
    assert info["secret"] == ["password"]
    assert info["module"] == "test_datasource_host_fakes.FakePollingDriver"
    assert info["tables"][0] == {
        "table_id": "servers",
        "columns": [
            {"name": "id", "description": None},
            {"name": "name", "description": None},
            {"name": "status", "description": None},
        ],
    }
    with pytest.raises(ds_errors.DriverNotFound) as e:
        node.host.driver_info("nosuch")
    assert e.value.http_status == 404


# -- push, doctor, vitrage --------------------------------------------------------------------


def test_pushed_rows_reach_a_policys_rules(node: Node) -> None:
    created = push(node, description="ignored")
    assert set(created) == {
        *("id", "name", "driver", "description", "config", "enabled", "type", "owner_id")
    }
    assert created["owner_id"] == "user"
    assert created["type"] is None and created["enabled"] is True
    assert created["driver"] == "push" and created["description"] is None
    node.engine.create_policy("alice")
    node.engine.create_rule("alice", "found(x, y) :- pushed:data(x, y)")
    node.host.replace_rows("pushed", "data", [[1, "a"], {"id": 2}, {"value": "é", "id": 3}])
    assert node.engine.rows("alice", "found") == [(1, "a"), (2, "None"), (3, "é")]
    assert node.host.rows("pushed", "data") == [(1, "a"), (2, "None"), (3, "é")]
    node.host.replace_rows(created["id"], "data", [[4, "d"]])  # by id too; replaces the table
    assert node.engine.rows("alice", "found") == [(4, "d")]
    assert node.host.tables("pushed") == ["data", "other"]
    status = node.host.status("pushed")
    assert status == {
        "last_updated": str(CLOCK),
        "last_error": "None",
        "number_of_updates": "2",
        "initialized": "True",
        "subscriptions": "[]",
        "subscribers": "['__engine']",
    }
    assert node.sink.subscriptions() == {"pushed": ["data", "other"]}


def test_doctor_events_reach_a_policy(node: Node) -> None:
    node.host.create_datasource("doctor", "doctor", {})
    node.engine.create_policy("alice")
    node.engine.create_rule(
        "alice", 'down(h) :- doctor:events(t, "compute.host.down", h, "down", m, i)'
    )
    event = {
        "time": "2016-02-22T11:48:55Z",
        "type": "compute.host.down",
        "details": {"hostname": "compute1", "status": "down", "monitor": "zabbix1"},
    }
    node.host.replace_rows("doctor", "events", [event])
    assert node.engine.rows("alice", "down") == [("compute1",)]
    assert node.host.rows("doctor", "events") == [
        ("2016-02-22T11:48:55Z", "compute.host.down", "compute1", "down", "zabbix1", "None")
    ]
    node.host.replace_rows("doctor", "events", [])
    assert node.engine.rows("alice", "down") == []


def test_vitrage_webhook_reaches_a_policy(node: Node) -> None:
    node.host.create_datasource("vitrage", "vitrage", {})
    node.engine.create_policy("alice")
    node.engine.create_rule("alice", "alarm(n) :- vitrage:alarms(name=n)")
    payload = {
        "notification": "vitrage.alarm.activate",
        "payload": {"name": "cpu high", "vitrage_id": "v1", "state": "Active"},
    }
    assert node.host.webhook("vitrage", payload) == ["alarms"]
    assert node.engine.rows("alice", "alarm") == [("cpu high",)]
    with pytest.raises(ds_errors.InvalidWebhook) as e:
        node.host.webhook("vitrage", {"payload": {}})
    assert e.value.http_status == 400


def test_persisted_rows_survive_a_restart(
    node_factory: Callable[..., Node], database: Engine
) -> None:
    first = node_factory()
    ds = push(first, persist_data="true")
    push(first, "volatile")
    first.host.replace_rows("pushed", "data", [[1, "a"], [2, "b"]])
    first.host.replace_rows("volatile", "data", [[9, "z"]])
    assert db.get_all_table_data(database, ds["id"]) == {"data": [(1, "a"), (2, "b")]}
    first.engine.create_policy("alice")
    first.engine.create_rule("alice", "found(x) :- pushed:data(x, y)")
    first.engine.create_rule("alice", "gone(x) :- volatile:data(x, y)")
    first.stop()
    # a new process: the engine starts first and hears of the datasources from the host
    second = node_factory(sink_first=False)
    assert second.host.rows("pushed", "data") == [(1, "a"), (2, "b")]
    assert second.engine.rows("alice", "found") == [(1,), (2,)]
    assert second.host.rows("volatile", "data") == []
    assert second.engine.rows("alice", "gone") == []


# -- secrets ----------------------------------------------------------------------------------


def test_secrets_are_encrypted_at_rest_and_never_returned(
    node_factory: Callable[..., Node], database: Engine, tmp_path: Path
) -> None:
    node = node_factory()
    created = node.host.create_datasource("fake", "fake", CREDENTIALS, description="d")
    assert created["config"]["password"] == "<hidden>"
    assert created["config"]["username"] == "admin"
    assert "__encrypted_fields" not in created["config"]
    assert node.host.get_datasource("fake")["config"]["password"] == "<hidden>"
    assert node.host.list_datasources()[0]["config"]["password"] == "<hidden>"
    assert node.host.delete_datasource("fake")["config"]["password"] == "<hidden>"
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    with database.connect() as conn:
        raw = conn.execute(text("SELECT config FROM datasources WHERE name = 'fake'")).scalar_one()
    assert "s3cret-pa55" not in raw
    stored = json.loads(raw)
    assert stored["__encrypted_fields"] == ["password"]
    assert stored["password"] != "s3cret-pa55" and stored["username"] == "admin"
    keys = tmp_path / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "aes_key").stat().st_mode) == 0o600
    assert node.clients["fake"].config["password"] == "s3cret-pa55"
    node.stop()
    again = node_factory()  # decrypted with the same key file
    assert again.clients["fake"].config["password"] == "s3cret-pa55"


def test_tenant_name_stands_in_for_project_name(node: Node) -> None:
    config = {k: v for k, v in CREDENTIALS.items() if k != "project_name"}
    created = node.host.create_datasource("fake", "fake", {**config, "tenant_name": "admin"})
    assert created["config"]["tenant_name"] == "admin"


# -- polling ----------------------------------------------------------------------------------


def test_a_polling_driver_is_polled_on_refresh(node: Node) -> None:
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    node.engine.create_policy("alice")
    node.engine.create_rule("alice", 'up(x) :- fake:servers(x, n, "ACTIVE")')
    client = node.clients["fake"]
    client.servers.data = [{"id": "s1", "name": "one", "status": "ACTIVE"}]
    assert client.servers.lists == 0  # no threads in this node: nothing polls by itself
    node.host.request_refresh("fake")
    assert node.host.rows("fake", "servers") == [("s1", "one", "ACTIVE")]
    assert node.engine.rows("alice", "up") == [("s1",)]
    client.servers.data = []
    node.host.request_refresh("fake")
    assert node.engine.rows("alice", "up") == []
    status = node.host.status("fake")
    assert status["number_of_updates"] == "2" and status["initialized"] == "True"
    assert node.host.actions("fake")["results"][2] == {
        "name": "servers.pause",
        "args": [{"name": "server", "description": "the server id"}],
        "description": "Pause a server",
    }
    assert node.host.schema("fake")["tables"][1]["table_id"] == "flavors"
    assert node.host.table_spec("fake", "flavors") == {
        "table_id": "flavors",
        "columns": [{"name": "id", "description": None}, {"name": "ram", "description": None}],
    }


def test_an_action_that_asks_for_a_refresh_gets_a_poll(node_factory: Callable[..., Node]) -> None:
    node = node_factory(poll=True)
    node.host.create_datasource("fake", "fake", CREDENTIALS)  # poll_time 0: on refresh only
    client = node.clients["fake"]
    wait_until(lambda: client.servers.lists == 1)
    node.host.execute("fake", "servers.pause", ["s1"], {})  # asks for nothing
    time.sleep(0.2)
    assert client.servers.lists == 1
    node.host.execute("fake", "refresh_after", [], {})
    wait_until(lambda: client.servers.lists == 2)


def test_polling_threads_honour_poll_time_and_refresh_and_stop(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory(poll=True)
    node.host.create_datasource("fake", "fake", CREDENTIALS)  # poll_time 0: on refresh only
    client = node.clients["fake"]
    wait_until(lambda: client.servers.lists == 1)  # a first poll at once
    client.servers.data = [{"id": "s1", "name": "one", "status": "ACTIVE"}]
    time.sleep(0.1)
    assert client.servers.lists == 1
    node.host.request_refresh("fake")
    wait_until(lambda: node.host.rows("fake", "servers") == [("s1", "one", "ACTIVE")])
    node.host.create_datasource("fast", "fake", {**CREDENTIALS, "poll_time": "1"})
    fast = node.clients["fast"]
    wait_until(lambda: fast.servers.lists >= 2, timeout=5)
    assert any(t.name == "congress-poll-fake" for t in threading.enumerate())
    node.host.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("congress-")]


def test_lazy_tables_wait_for_a_subscriber(node_factory: Callable[..., Node]) -> None:
    node = node_factory()
    node.sink.stop()  # nobody subscribes
    node.host.create_datasource("fake", "fake", {**CREDENTIALS, "lazy_tables": "flavors"})
    node.host.request_refresh("fake")
    with pytest.raises(ds_errors.LazyTableNotActive) as e:
        node.host.rows("fake", "flavors")
    assert e.value.http_status == 400
    node.sink.start()  # the engine takes a lazy table only once a rule reads it
    node.host.request_refresh("fake")
    with pytest.raises(ds_errors.LazyTableNotActive):
        node.host.rows("fake", "flavors")
    assert "flavors" not in node.sink.subscriptions().get("fake", [])
    node.engine.create_policy("sizes")
    node.engine.create_rule("sizes", "big(n) :- fake:flavors(n, ram), gt(ram, 100)")
    wait_until(lambda: "flavors" in node.sink.subscriptions().get("fake", []))
    node.host.request_refresh("fake")  # subscribing activated the table: this poll fills it
    assert node.host.rows("fake", "flavors") == [("small", 512)]
    wait_until(lambda: node.engine.rows("sizes", "big") == [("small",)])


# -- execution --------------------------------------------------------------------------------


def test_an_execute_rule_runs_the_action_exactly_once(
    node_factory: Callable[..., Node], database: Engine
) -> None:
    node = node_factory(poll=True)
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    client = node.clients["fake"]
    wait_until(lambda: updates(node, "fake") == 1)
    node.engine.create_policy("enforce")
    node.engine.create_rule(
        "enforce", 'execute[fake:servers.pause(x)] :- fake:servers(x, n, "ERROR")'
    )
    client.servers.data = [
        {"id": "s1", "name": "one", "status": "ERROR"},
        {"id": "s2", "name": "two", "status": "ACTIVE"},
    ]
    node.host.request_refresh("fake")
    # the status waits for the driver's lock: a poll it counts has been published
    wait_until(lambda: updates(node, "fake") == 2)
    assert node.host.wait_for_executions(5)
    assert client.servers.paused == ["s1"]
    node.host.request_refresh("fake")  # the same data: nothing new to do
    wait_until(lambda: updates(node, "fake") == 3)
    assert node.host.wait_for_executions(5)
    assert client.servers.paused == ["s1"]
    logged = db.list_executions(database, datasource="fake")
    assert [(e.action, e.status) for e in logged] == [("servers.pause", "executed")]


def test_failed_actions_are_logged_and_recorded_not_raised(node: Node, database: Engine) -> None:
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    node.engine.create_policy("enforce")
    node.engine.create_rule("enforce", "execute[fake:servers.explode(x)] :- fake:servers(x, n, s)")
    node.engine.create_rule("enforce", "execute[nowhere:act(x)] :- fake:servers(x, n, s)")
    node.clients["fake"].servers.data = [{"id": "s1", "name": "one", "status": "ERROR"}]
    node.host.request_refresh("fake")
    assert node.host.wait_for_executions(5)
    failed = {e.datasource: e.detail for e in db.list_executions(database) if e.status == "failed"}
    assert set(failed) == {"fake", "nowhere"}
    assert "raised an exception" in (failed["fake"] or "")


def test_the_execute_route_runs_now_and_raises(node: Node, database: Engine) -> None:
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    node.host.execute("fake", "servers.pause", ["s9"], {})
    assert node.clients["fake"].servers.paused == ["s9"]
    with pytest.raises(ds_errors.UnknownAction) as unknown:
        node.host.execute("fake", "servers.delete", ["s9"])
    assert unknown.value.http_status == 400
    with pytest.raises(ds_errors.ActionFailed) as failed:
        node.host.execute("fake", "servers.explode", [], {"server": "s9"})
    assert failed.value.http_status == 502
    with pytest.raises(errors.BadRequest):
        node.host.execute("fake", "servers.pause", "s9")
    assert [e.status for e in db.list_executions(database)] == ["failed", "failed", "executed"]


def test_the_first_engine_heard_leads_and_others_are_dropped(node: Node) -> None:
    from congress.bus import ExecuteRequest

    node.host.create_datasource("fake", "fake", CREDENTIALS)
    node.bus.send_execute(ExecuteRequest("fake", "servers.pause", ("a",), node_id="pe1"))
    node.bus.send_execute(ExecuteRequest("fake", "servers.pause", ("b",), node_id="pe2"))
    node.bus.send_execute(ExecuteRequest("fake", "servers.pause", ("c",), node_id="pe1"))
    assert node.host.wait_for_executions(5)
    assert node.clients["fake"].servers.paused == ["a", "c"]


# -- deletion and synchronisation -------------------------------------------------------------


def test_deleting_a_datasource_removes_its_rows_from_policies(node: Node, database: Engine) -> None:
    ds = push(node, persist_data="true")
    node.engine.create_policy("alice")
    node.engine.create_rule("alice", "found(x) :- pushed:data(x, y)")
    node.host.replace_rows("pushed", "data", [[1, "a"]])
    assert node.engine.rows("alice", "found") == [(1,)]
    deleted = node.host.delete_datasource("pushed")
    assert deleted["id"] == ds["id"]
    assert node.engine.rows("alice", "found") == []
    assert not node.engine.runtime.policy_exists("pushed")
    assert db.get_all_table_data(database, ds["id"]) == {}
    assert node.sink.subscriptions() == {}
    with pytest.raises(errors.DatasourceNotFound) as e:
        node.host.get_datasource("pushed")
    assert e.value.status == 404
    push(node)  # the name is free again; the new one starts empty
    assert node.host.rows("pushed", "data") == []


def test_sync_follows_changes_made_by_other_nodes(node: Node, database: Engine) -> None:
    tables = json.dumps({"data": ["id"]})
    ds = db.create_datasource(database, "elsewhere", "push", config={"tables": tables})
    node.host.sync()
    node.host.replace_rows("elsewhere", "data", [[1]])
    assert node.engine.runtime.policy_exists("elsewhere")
    db.delete_datasource(database, ds.id)
    node.host.sync()
    assert not node.engine.runtime.policy_exists("elsewhere")
    db.create_datasource(database, "broken", "nosuchdriver", config={})
    node.host.sync()
    with pytest.raises(errors.DatasourceNotRunning) as e:
        node.host.rows("broken", "servers")
    assert e.value.status == 503 and "nosuchdriver" in e.value.message


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "_hidden", "builtin", "a b", "1abc", None])
def test_invalid_datasource_names(node: Node, name: Any) -> None:
    with pytest.raises(errors.InvalidDatasourceName) as e:
        node.host.create_datasource(name, "push", {"tables": "{}"})
    assert e.value.status == 400


def test_creation_errors(node_factory: Callable[..., Node]) -> None:
    node = node_factory(allowed=["push", "fake"])
    host = node.host
    with pytest.raises(errors.InvalidDriver) as bad_driver:
        host.create_datasource("d", "doctor", {})  # installed but not permitted
    assert bad_driver.value.status == 400
    with pytest.raises(errors.InvalidDriver):
        host.create_datasource("d", "nova", {})
    with pytest.raises(ds_errors.InvalidDriverOptions, match="Invalid driver options: bogus") as e:
        host.create_datasource("d", "fake", {**CREDENTIALS, "bogus": 1})
    assert e.value.http_status == 400
    config = {k: v for k, v in CREDENTIALS.items() if k not in ("username", "password")}
    with pytest.raises(
        ds_errors.MissingRequiredOptions,
        match="Missing required config options: password, username",
    ):
        host.create_datasource("d", "fake", config)
    with pytest.raises(ds_errors.InvalidConfig):
        host.create_datasource("d", "push", {"tables": "not json"})
    with pytest.raises(errors.BadRequest):
        host.create_datasource("d", "push", ["tables"])  # type: ignore[arg-type]
    push(node)
    with pytest.raises(errors.DatasourceExists) as exists:
        push(node)
    assert exists.value.status == 409
    node.engine.create_policy("taken")
    with pytest.raises(errors.DatasourceExists, match="in use by a policy"):
        push(node, "taken")
    assert [d["name"] for d in host.list_datasources()] == ["pushed"]


def test_errors_of_one_datasource(node: Node) -> None:
    host = node.host
    push(node)
    host.create_datasource("fake", "fake", CREDENTIALS)
    host.create_datasource("off", "push", {"tables": '{"t": ["a"]}'}, enabled=False)
    cases: list[tuple[Callable[[], object], type[Exception], int]] = [
        (lambda: host.rows("nosuch", "data"), errors.DatasourceNotFound, 404),
        (lambda: host.delete_datasource("nosuch"), errors.DatasourceNotFound, 404),
        (lambda: host.rows("pushed", "nosuch"), ds_errors.UnknownTable, 404),
        (lambda: host.table_spec("pushed", "nosuch"), ds_errors.UnknownTable, 404),
        (lambda: host.replace_rows("pushed", "data", [[1]]), ds_errors.InvalidRows, 400),
        (lambda: host.replace_rows("pushed", "data", {"a": 1}), ds_errors.InvalidRows, 400),
        (lambda: host.replace_rows("fake", "servers", []), ds_errors.NotSupported, 400),
        (lambda: host.webhook("pushed", {}), ds_errors.NotSupported, 400),
        (lambda: host.execute("pushed", "x"), ds_errors.UnknownAction, 400),
        (lambda: host.rows("off", "t"), errors.DatasourceDisabled, 404),
    ]
    for call, kind, status in cases:
        with pytest.raises(kind) as e:
            call()
        got = getattr(e.value, "http_status", getattr(e.value, "status", None))
        assert got == status, (kind, e.value)
    host.request_refresh("pushed")  # nothing to poll: no error
    assert host.get_datasource("off")["enabled"] is False


# -- wiring -----------------------------------------------------------------------------------


def test_the_sink_leaves_a_policy_of_the_same_name_alone(node: Node) -> None:
    from congress.bus import Announcement

    node.engine.create_policy("alice")
    node.bus.announce(Announcement("alice", {"t": ("x",)}))
    assert node.engine.runtime.kind("alice") == "nonrecursive"
    assert node.sink.subscriptions() == {}


def test_a_bus_executor_reaches_the_host_over_the_bus(node: Node) -> None:
    from congress.bus import ExecuteRequest, NoSuchService
    from congress.services.sink import bus_executor

    node.host.create_datasource("fake", "fake", CREDENTIALS)
    send = bus_executor(node.bus, "node1")
    send(ExecuteRequest("fake", "servers.pause", ("s5",), policy="enforce", node_id="node1"))
    assert node.host.wait_for_executions(5)
    assert node.clients["fake"].servers.paused == ["s5"]
    with pytest.raises(NoSuchService):
        send(ExecuteRequest("nowhere", "act", (), policy="enforce", node_id="node1"))


def test_concurrent_pushes_polls_and_rule_changes_do_not_deadlock(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory(poll=True)
    push(node)
    node.host.create_datasource("fake", "fake", {**CREDENTIALS, "poll_time": "1"})
    node.clients["fake"].servers.data = [{"id": "s1", "name": "one", "status": "ERROR"}]
    node.engine.create_policy("alice")
    failures: list[BaseException] = []

    def pusher(offset: int) -> None:
        for n in range(30):
            node.host.replace_rows("pushed", "data", [[offset + n, "v"]])
            node.host.request_refresh("fake")

    def ruler() -> None:
        for n in range(15):
            rule = node.engine.create_rule("alice", f"r{n}(x) :- pushed:data(x, y)")
            node.engine.create_rule(
                "alice", f"execute[fake:servers.pause(x)] :- fake:servers(x, n, s), r{n}(z)"
            )
            node.engine.delete_rule("alice", rule.id)

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported below
                failures.append(exc)

        return run

    threads = [
        threading.Thread(target=guarded(functools.partial(pusher, o))) for o in (0, 100, 200)
    ]
    threads.append(threading.Thread(target=guarded(ruler)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert failures == []
    assert node.host.wait_for_executions(10)
    final = node.host.rows("pushed", "data")
    assert len(final) == 1
    assert node.engine.runtime.rows("pushed", "data") == set(final)


def test_an_action_identity_runs_once_and_is_acknowledged(node: Node, database: Engine) -> None:
    """Started before the driver runs; the same identity again (another engine, a resend after
    a leader change) is a duplicate: not run, but acknowledged to every engine."""
    from congress.bus import ExecuteRequest
    from congress.services.datasource_execution import ACTION_DONE

    done: list[dict[str, Any]] = []
    node.bus.listen(ACTION_DONE, done.append)
    node.host.create_datasource("fake", "fake", CREDENTIALS)
    request = ExecuteRequest(
        "fake", "servers.pause", ("s1",), policy="enforce", node_id="node1", key=KEY
    )
    node.host.handle_execute(request)
    node.host.handle_execute(request)
    assert node.host.wait_for_executions(5)
    assert node.clients["fake"].servers.paused == ["s1"]
    (entry,) = db.list_executions(database)
    assert (entry.id, entry.status, entry.policy) == (KEY, "executed", "enforce")
    assert done == [{"key": KEY, "status": "executed"}, {"key": KEY, "status": "duplicate"}]


def test_a_keyed_action_of_a_datasource_not_running_waits(node: Node, database: Engine) -> None:
    from congress.bus import ExecuteRequest

    node.host.create_datasource("fake", "fake", CREDENTIALS, enabled=False)
    node.host.handle_execute(
        ExecuteRequest("fake", "servers.pause", ("s1",), node_id="node1", key=KEY)
    )
    assert node.host.wait_for_executions(5)
    assert db.list_executions(database) == []  # not started: an engine sends it again later


KEY = "0123abcd-0000-4000-8000-000000000001"


def test_a_subscription_progressing_under_load_is_not_resynced(node: Node) -> None:
    """A publisher's heartbeat naming a later number than applied is messages in flight while
    the subscription keeps reaching the numbers earlier beats named; only one that does not
    reach what a beat named within the grace asks for a snapshot (a lost message)."""
    from types import SimpleNamespace

    from congress.services import sink as sink_module

    now = [100.0]
    node.sink._clock = lambda: now[0]
    push(node)
    node.host.replace_rows("pushed", "data", [["a", 1]])
    sub = node.sink._subs["pushed"]["data"]
    epoch, seq = sub.epoch, sub.last_seqnum
    assert epoch is not None and seq is not None

    def beat(ahead: int) -> None:
        state = [epoch, (sub.last_seqnum or 0) + ahead]
        peer = SimpleNamespace(info={"tables": {"pushed": {"data": state}}})
        node.sink._on_peer("beat", peer)

    resyncs = sub.resyncs
    for i in range(10):  # ten beats, each a little ahead; each time the delta then arrives
        beat(1)
        now[0] += 0.6
        node.host.replace_rows("pushed", "data", [["a", i + 2]])
    assert now[0] - 100.0 > 3 * sink_module.BEHIND_GRACE
    assert sub.resyncs == resyncs  # always behind a beat, never stale
    beat(1)  # a message that never arrives
    now[0] += 0.6
    beat(1)
    assert sub.resyncs == resyncs
    now[0] += sink_module.BEHIND_GRACE
    beat(1)
    assert sub.resyncs == resyncs + 1
