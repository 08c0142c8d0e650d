"""``MessagingBus`` against the real RabbitMQ on 127.0.0.1:5672: peers and their expiry, unique
node ids, bus ids that isolate deployments, named services, table pub/sub, announcements,
execute requests, events and heartbeat information between nodes.

Every test runs on a bus id of its own (a uuid), so tests never hear each other. All of them
share one xdist worker (``--dist loadgroup``): another test restarts RabbitMQ."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from congress.bus import (
    Announcement,
    BusUnavailable,
    ExecuteRequest,
    NoSuchService,
    Publisher,
    Subscriber,
    TableMessage,
    TableSnapshot,
)
from congress.bus.messaging import MessagingBus, NodeIdInUse, Peer

pytestmark = pytest.mark.xdist_group("rabbitmq")

URL = "rabbit://guest:guest@127.0.0.1:5672/"
INTERVAL = 0.2
EXPIRY = 1.0
WAIT = 5.0

Row = tuple[Any, ...]


# -- helpers ----------------------------------------------------------------------------------


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def stays_false(condition: Callable[[], object], duration: float) -> bool:
    """True if ``condition`` never holds during ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(0.02)
    return not condition()


def names(bus: MessagingBus) -> list[str]:
    return [p.node_id for p in bus.peers()]


class Nodes:
    """Makes the buses of a test and stops every one of them at the end."""

    def __init__(self) -> None:
        self.buses: list[MessagingBus] = []

    def make(
        self,
        node_id: str,
        bus_id: str,
        *,
        start: bool = True,
        check_node_id: bool = False,
        cls: type[MessagingBus] = MessagingBus,
        **kw: Any,
    ) -> MessagingBus:
        kw.setdefault("heartbeat_interval", INTERVAL)
        kw.setdefault("expiry", EXPIRY)
        bus = cls(cfg.CONF, node_id=node_id, bus_id=bus_id, url=URL, **kw)
        self.buses.append(bus)
        if start:
            bus.start(check_node_id=check_node_id)
        return bus

    def stop_all(self) -> None:
        threads = [threading.Thread(target=bus.stop) for bus in self.buses]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    made = Nodes()
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture
def bus_id() -> str:
    return f"test-{uuid.uuid4().hex}"


class PeerEvents:
    """What a ``watch_peers`` handler heard: (event, node id, instance, when)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, float]] = []

    def __call__(self, event: str, peer: Peer) -> None:
        self.events.append((event, peer.node_id, peer.instance, time.monotonic()))

    def of(self, event: str, node_id: str) -> list[tuple[str, str, str, float]]:
        return [e for e in list(self.events) if e[0] == event and e[1] == node_id]


class Table:
    """A subscriber's copy of a table, and the order in which messages were applied."""

    def __init__(self) -> None:
        self.rows: set[Row] = set()
        self.applied: list[tuple[str, frozenset[Row], frozenset[Row]]] = []

    def snapshot(self, rows: frozenset[Row]) -> None:
        self.rows = set(rows)
        self.applied.append(("snapshot", rows, frozenset()))

    def delta(self, inserts: frozenset[Row], deletes: frozenset[Row]) -> None:
        assert not inserts & self.rows, "a delta was applied twice or out of order"
        assert deletes <= self.rows, "a delta was applied twice or out of order"
        self.rows = (self.rows - deletes) | inserts
        self.applied.append(("delta", inserts, deletes))


# -- peers ------------------------------------------------------------------------------------


def test_nodes_see_each_other_and_a_stopped_node_expires(nodes: Nodes, bus_id: str) -> None:
    events = PeerEvents()
    b = nodes.make("node-b", bus_id, start=False)
    b.watch_peers(events)
    b.start()
    a = nodes.make("node-a", bus_id)
    wait_for(lambda: names(a) == ["node-b"] and names(b) == ["node-a"], "the nodes are peers")
    wait_for(lambda: len(events.of("beat", "node-a")) >= 3, "node-a's heartbeats reach node-b")
    joined = events.of("joined", "node-a")
    assert len(joined) == 1
    assert joined[0][2] == a.instance
    assert b.peers()[0].instance == a.instance
    assert all(e[1] == "node-a" for e in events.events)  # a node does not hear itself
    # heartbeats keep it alive for longer than the expiry time
    assert stays_false(lambda: events.of("expired", "node-a"), EXPIRY * 1.5)
    assert names(b) == ["node-a"]

    stopped = time.monotonic()
    a.stop()
    wait_for(lambda: events.of("expired", "node-a"), "node-b sees node-a expire")
    expired = events.of("expired", "node-a")
    assert len(expired) == 1
    assert expired[0][2] == a.instance
    took = expired[0][3] - stopped
    assert EXPIRY - INTERVAL - 0.1 <= took <= EXPIRY + INTERVAL + 1.0, took
    assert b.peers() == []
    # no more beats, and it expires only once
    beats = len(events.of("beat", "node-a"))
    time.sleep(3 * INTERVAL)
    assert len(events.of("beat", "node-a")) == beats
    assert len(events.of("expired", "node-a")) == 1


def test_a_node_id_held_by_a_live_node_is_refused(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    events = PeerEvents()
    b.watch_peers(events)
    twin = nodes.make("node-a", bus_id, start=False)
    with pytest.raises(NodeIdInUse, match="'node-a'"):
        twin.start()
    # the refused node never heartbeated: the others do not know it; the holder is untouched
    assert stays_false(lambda: twin.instance in {p.instance for p in b.peers()}, 3 * INTERVAL)
    assert [p.instance for p in b.peers()] == [a.instance]
    assert events.of("expired", "node-a") == []
    assert names(a) == ["node-b"]


def test_a_node_id_of_a_stopped_node_can_be_taken_again(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    a.stop()
    wait_for(lambda: b.peers() == [], "node-a expires")
    again = nodes.make("node-a", bus_id, check_node_id=True)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears the new node-a")
    assert b.peers()[0].instance == again.instance != a.instance


def test_a_standby_waits_for_a_reported_holder_to_expire(
    nodes: Nodes, bus_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    # stop() says no goodbye: to its peers a stopped node is a killed one. node-b still
    # reports node-a (with its age) in its heartbeats until node-a expires there.
    expiry = 5.0
    a = nodes.make("node-a", bus_id, expiry=expiry)
    b = nodes.make("node-b", bus_id, expiry=expiry)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    events = PeerEvents()
    b.watch_peers(events)
    stopped = time.monotonic()
    a.stop()
    assert names(b) == ["node-a"]  # not expired yet
    standby = nodes.make("node-a", bus_id, start=False, expiry=expiry)
    with caplog.at_level(logging.INFO, logger="congress.bus.messaging"):
        standby.start()
    started = time.monotonic()
    assert "node id node-a was alive" in caplog.text
    # it started only once node-a had been silent for the expiry time
    assert started - stopped >= expiry - INTERVAL - 0.1, started - stopped
    wait_for(lambda: [p.instance for p in b.peers()] == [standby.instance], "b hears standby")
    assert [e[2] for e in events.of("expired", "node-a")] == [a.instance]
    assert [e[2] for e in events.of("joined", "node-a")] == [standby.instance]


def test_a_restarted_node_replaces_its_older_instance(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id, expiry=30.0)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    events = PeerEvents()
    b.watch_peers(events)
    a.stop()
    restarted = nodes.make("node-a", bus_id)  # without the check: the old one is still known
    wait_for(lambda: events.of("expired", "node-a"), "the old instance is dropped")
    assert [e[2] for e in events.of("expired", "node-a")] == [a.instance]
    assert [p.instance for p in b.peers()] == [restarted.instance]


# -- bus ids ----------------------------------------------------------------------------------


def test_buses_with_different_ids_never_see_each_other(nodes: Nodes, bus_id: str) -> None:
    other_id = f"{bus_id}-other"
    x1 = nodes.make("node-1", bus_id)
    x2 = nodes.make("node-2", bus_id)
    # the same node id is no clash on another bus
    y = nodes.make("node-1", other_id, check_node_id=True)

    heard: dict[str, list[Any]] = {"x2": [], "y": []}

    def listen_all(bus: MessagingBus, record: list[Any], subscriber: str) -> None:
        def on_peer(event: str, peer: Peer) -> None:
            record.append(("peer", event))

        def on_announcement(a: Announcement) -> None:
            record.append(("announce", a.publisher))

        def on_event(body: dict[str, Any]) -> None:
            record.append(("event", body["n"]))

        def on_table(m: TableMessage) -> None:
            record.append(("table", m.seqnum))

        bus.watch_peers(on_peer)
        bus.watch_services(on_announcement)
        bus.listen("evt", on_event)
        bus.subscribe("ds", "t", on_table, subscriber=subscriber)

    listen_all(x2, heard["x2"], "sub-x2")
    listen_all(y, heard["y"], "sub-y")
    wait_for(lambda: names(x1) == ["node-2"] and names(x2) == ["node-1"], "x1 and x2 are peers")
    x1.serve_rpc("svc", lambda method, kwargs: "x1")
    pub = Publisher(x1, "ds")
    pub.publish("t", [(1,)])
    pub.publish("t", [(1,), (2,)])
    x1.announce(Announcement("ds", {"t": ("a",)}, node_id="node-1"))
    x1.broadcast("evt", {"n": 1})

    wait_for(
        lambda: {("table", 0), ("table", 1), ("announce", "ds"), ("event", 1)} <= set(heard["x2"]),
        "x2 hears x1's tables, announcement and event",
    )
    wait_for(lambda: x2.offers("svc"), "x2 learns that x1 offers svc")
    assert x2.call("svc", "m") == "x1"
    wait_for(lambda: x1.subscribers("ds") == ["sub-x2"], "x1 learns of x2's subscription")
    # the other bus heard nothing at all, and none of its state leaked over
    assert stays_false(lambda: heard["y"], 5 * INTERVAL)
    assert y.peers() == []
    assert y.services() == []
    assert not y.offers("svc")
    with pytest.raises(NoSuchService):
        y.call("svc", "m")
    assert y.request_snapshot("ds", "t") is None
    assert x1.subscribers("ds") == ["sub-x2"]
    assert names(x1) == ["node-2"]


# -- named services ---------------------------------------------------------------------------


def test_named_services_are_called_on_the_node_that_offers_them(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    calls: list[tuple[str, dict[str, Any]]] = []

    def handler(method: str, kwargs: dict[str, Any]) -> Any:
        calls.append((method, kwargs))
        return {"method": method, "kwargs": kwargs, "node": "node-a"}

    assert not b.offers("svc")
    a.serve_rpc("svc", handler)
    assert a.offers("svc")
    wait_for(lambda: b.offers("svc"), "node-b learns that node-a offers svc")
    answer = b.call("svc", "lookup", {"key": ["x", 1], "nested": {"n": None}})
    assert answer == {
        "method": "lookup",
        "kwargs": {"key": ["x", 1], "nested": {"n": None}},
        "node": "node-a",
    }
    assert calls == [("lookup", {"key": ["x", 1], "nested": {"n": None}})]
    assert a.call("svc", "local") == {"method": "local", "kwargs": {}, "node": "node-a"}

    assert not b.offers("nosuch")
    with pytest.raises(NoSuchService):
        b.call("nosuch", "lookup")
    a.stop_serving_rpc("svc")
    assert not a.offers("svc")
    wait_for(lambda: not b.offers("svc"), "node-b learns that svc is gone")
    with pytest.raises(NoSuchService):
        b.call("svc", "lookup")


def test_a_call_to_a_node_whose_rpc_server_is_gone_fails_within_the_timeout(
    nodes: Nodes, bus_id: str
) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id, call_timeout=2.0)
    a.serve_rpc("svc", lambda method, kwargs: "answer")
    wait_for(lambda: b.offers("svc"), "node-b learns that node-a offers svc")
    assert b.call("svc", "m") == "answer"
    # node-a's listener goes (its queue with it) while it goes on heartbeating: node-b still
    # sends it the call, which nobody answers
    a._server.stop()
    a._server.wait()
    time.sleep(3 * INTERVAL)
    assert names(b) == ["node-a"] and b.offers("svc")
    began = time.monotonic()
    with pytest.raises(BusUnavailable):
        b.call("svc", "m")
    assert 1.9 <= time.monotonic() - began < 4.0
    # the per-call timeout wins over the bus's
    began = time.monotonic()
    with pytest.raises(BusUnavailable):
        b.call("svc", "m", timeout=0.5)
    assert time.monotonic() - began < 1.5


def test_a_call_to_a_silent_node_fails_at_once(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id, expiry=30.0, call_timeout=10.0)
    a.serve_rpc("svc", lambda method, kwargs: "answer")
    wait_for(lambda: b.offers("svc"), "node-b learns that node-a offers svc")
    assert b.call("svc", "m") == "answer"
    a.stop()  # no goodbye: to node-b, node-a has only gone silent
    silent = max(2.5 * INTERVAL, 1.0)
    wait_for(lambda: time.monotonic() - b.peers()[0].last_seen > silent, "node-a is silent")
    assert names(b) == ["node-a"] and b.offers("svc")  # not expired: 30 s
    began = time.monotonic()
    with pytest.raises(NoSuchService, match="not been heard from"):
        b.call("svc", "m")
    assert time.monotonic() - began < 0.5  # not the 10 s call timeout


# -- tables -----------------------------------------------------------------------------------


def test_tables_travel_between_nodes_in_order(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    hooked: list[str] = []
    pub = Publisher(a, "ds", on_subscribe=hooked.append)
    pub.publish("t", [(1, "x"), (2, "y")])
    wait_for(lambda: b.peers() and "ds" in b.peers()[0].publishers, "node-b knows ds's node")

    table = Table()
    sub = Subscriber(
        b, "ds", "t", on_snapshot=table.snapshot, on_delta=table.delta, subscriber="engine-b"
    )
    assert stays_false(lambda: hooked, 3 * INTERVAL)  # nobody subscribes yet
    sub.start()
    assert table.applied == [("snapshot", frozenset({(1, "x"), (2, "y")}), frozenset())]
    assert sub.last_seqnum == 0
    assert sub.epoch == pub.epoch
    wait_for(lambda: hooked == ["t"], "the publisher hears of the subscription")
    on_a: list[TableMessage] = []  # a raw subscription beside the publisher
    a.subscribe("ds", "t", on_a.append, subscriber="local-a")

    pub.publish("t", [(1, "x"), (2, "y"), (3, "z")])
    pub.publish("t", [(2, "y"), (3, "z")])
    pub.publish("t", [(2, "y"), (3, "z"), (4, "w")])
    wait_for(lambda: sub.last_seqnum == 3, "the deltas arrive")
    assert table.applied[1:] == [
        ("delta", frozenset({(3, "z")}), frozenset()),
        ("delta", frozenset(), frozenset({(1, "x")})),
        ("delta", frozenset({(4, "w")}), frozenset()),
    ]
    assert table.rows == {(2, "y"), (3, "z"), (4, "w")}
    assert sub.resyncs == 1  # nothing was lost or out of order: no resync
    wait_for(lambda: a.subscribers("ds") == ["engine-b", "local-a"], "node-a learns who subscribes")
    assert hooked == ["t"]  # once, although every heartbeat repeats the subscription
    # the publisher's node has each message once: directly, and not again through its echo
    assert [m.seqnum for m in on_a] == [1, 2, 3]

    sub.stop()
    wait_for(lambda: a.subscribers("ds") == ["local-a"], "node-a learns of the unsubscription")


def test_a_lazy_table_is_published_when_a_remote_node_subscribes(nodes: Nodes, bus_id: str) -> None:
    # node-b heartbeats once, when it starts: only the direct "subscribed" message can tell
    # node-a of its subscription in time
    a = nodes.make("node-a", bus_id, expiry=60.0)
    b = nodes.make("node-b", bus_id, heartbeat_interval=60.0)
    pub: Publisher

    def lazy(table: str) -> None:
        pub.publish(table, [(table, 1)])

    pub = Publisher(a, "ds", on_subscribe=lazy)
    assert pub.tables() == []
    wait_for(lambda: b.peers() and "ds" in b.peers()[0].publishers, "node-b knows ds's node")
    table = Table()
    sub = Subscriber(b, "ds", "t", on_snapshot=table.snapshot, on_delta=table.delta)
    sub.start()
    wait_for(lambda: table.rows == {("t", 1)}, "the lazy table reaches node-b")
    assert pub.tables() == ["t"]
    assert table.applied[0] == ("snapshot", frozenset({("t", 1)}), frozenset())


def test_a_subscription_made_before_the_publisher_appears_is_heard(
    nodes: Nodes, bus_id: str
) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    got: list[TableMessage] = []
    b.subscribe("ds", "t", got.append, subscriber="engine-b")
    assert b.request_snapshot("ds", "t") is None  # nobody serves ds yet
    hooked: list[str] = []
    pub = Publisher(a, "ds", on_subscribe=hooked.append)
    wait_for(lambda: hooked == ["t"], "node-a hears of node-b's subscription (heartbeat)")
    pub.publish("t", [(1,)])
    wait_for(lambda: got, "the snapshot reaches node-b")
    assert got == [TableSnapshot("ds", "t", 0, frozenset({(1,)}), pub.epoch)]
    wait_for(  # once node-a's heartbeat says it serves ds
        lambda: b.request_snapshot("ds", "t") == got[0], "node-b asks node-a for a snapshot"
    )


# -- announcements ----------------------------------------------------------------------------


def test_announcements_reach_watchers_also_on_nodes_that_join_later(
    nodes: Nodes, bus_id: str
) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    wait_for(lambda: names(b) == ["node-a"], "node-b hears node-a")
    on_b: list[Announcement] = []
    b.watch_services(on_b.append)
    present = Announcement("ds", {"t": ("id", "name")}, node_id="node-a")
    a.announce(present)
    wait_for(lambda: on_b, "the announcement reaches node-b")
    assert on_b == [present]
    assert b.services() == [present]

    # a node that joins now learns it from node-a's heartbeats
    on_c: list[Announcement] = []
    c = nodes.make("node-c", bus_id, start=False)
    c.watch_services(on_c.append)
    c.start()
    wait_for(lambda: on_c, "the announcement reaches the late node-c")
    assert on_c == [present]
    late: list[Announcement] = []
    c.watch_services(late.append)  # a watcher registered later gets what is present
    assert late == [present]
    time.sleep(3 * INTERVAL)
    assert on_b == [present] and on_c == [present]  # heartbeats repeat it, watchers hear it once

    gone = Announcement("ds", node_id="node-a", present=False)
    a.announce(gone)
    wait_for(lambda: len(on_b) == 2 and len(on_c) == 2, "the withdrawal reaches the watchers")
    assert on_b[1] == gone and on_c[1] == gone and late == [present, gone]
    assert b.services() == [] and c.services() == [] and a.services() == []
    time.sleep(3 * INTERVAL)
    assert b.services() == [] and len(on_b) == 2  # heartbeats no longer bring it back


# -- execute requests -------------------------------------------------------------------------


def test_execute_requests_reach_the_node_that_executes_them(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    got: list[ExecuteRequest] = []
    a.serve_executions("ds", got.append)
    wait_for(lambda: b.peers() and "ds" in b.peers()[0].executors, "node-b learns of ds")
    request = ExecuteRequest("ds", "reboot", (1, "x"), {"force": True}, "alice", "node-b")
    b.send_execute(request)
    wait_for(lambda: got, "the request reaches node-a")
    assert got == [request]
    with pytest.raises(NoSuchService):
        b.send_execute(ExecuteRequest("nosuch", "reboot"))
    a.stop_serving_executions("ds")
    wait_for(lambda: "ds" not in b.peers()[0].executors, "node-b learns that ds is gone")
    with pytest.raises(NoSuchService):
        b.send_execute(request)
    assert got == [request]


# -- events and heartbeat information ---------------------------------------------------------


def test_a_broadcast_reaches_every_node_exactly_once(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    wait_for(lambda: names(a) == ["node-b"] and names(b) == ["node-a"], "the nodes are peers")
    on_a: list[dict[str, Any]] = []
    on_b: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    a.listen("revision", on_a.append)
    b.listen("revision", on_b.append)
    b.listen("something-else", other.append)
    a.broadcast("revision", {"revision": 7, "node": "node-a"})
    assert on_a == [{"revision": 7, "node": "node-a"}]  # the sender's own, directly
    wait_for(lambda: on_b, "the event reaches node-b")
    b.broadcast("revision", {"revision": 8, "node": "node-b"})
    wait_for(lambda: len(on_a) == 2, "node-b's event reaches node-a")
    time.sleep(5 * INTERVAL)  # room for any echo or duplicate to arrive
    assert on_a == [{"revision": 7, "node": "node-a"}, {"revision": 8, "node": "node-b"}]
    assert on_b == [{"revision": 7, "node": "node-a"}, {"revision": 8, "node": "node-b"}]
    assert other == []


def test_heartbeat_info_reaches_the_peers(nodes: Nodes, bus_id: str) -> None:
    a = nodes.make("node-a", bus_id)
    b = nodes.make("node-b", bus_id)
    revision = [3]
    a.add_heartbeat_info("revision", lambda: revision[0])
    a.add_heartbeat_info("role", lambda: {"engine": True})
    wait_for(
        lambda: b.peers() and b.peers()[0].info == {"revision": 3, "role": {"engine": True}},
        "node-a's information reaches node-b",
    )
    revision[0] = 4
    wait_for(lambda: b.peers()[0].info["revision"] == 4, "the new value follows")
    assert a.peers()[0].info == {}  # node-b adds nothing
