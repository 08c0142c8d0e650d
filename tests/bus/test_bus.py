"""The bus: messages, the in-process transport, and reliable sequenced table pub/sub (reference
1.2) under out-of-order, duplicated and lost messages."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from congress.bus import (
    Announcement,
    ExecuteRequest,
    InProcessBus,
    Message,
    NoSuchService,
    Publisher,
    Subscriber,
    TableDelta,
    TableMessage,
    TableSnapshot,
    UnsupportedVersion,
    from_wire,
    to_wire,
)
from congress.bus.messages import parse_version, speakable

Row = tuple[Any, ...]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class HeldBus(InProcessBus):
    """A bus that holds published table messages; the test delivers them (or not) by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[TableMessage] = []

    def publish(self, message: TableMessage) -> None:
        self.held.append(message)


class Table:
    """A subscriber's copy of a table; checks that every delta fits (nothing applied twice)."""

    def __init__(self) -> None:
        self.rows: set[Row] = set()
        self.snapshots = 0
        self.deltas = 0

    def snapshot(self, rows: frozenset[Row]) -> None:
        self.rows = set(rows)
        self.snapshots += 1

    def delta(self, inserts: frozenset[Row], deletes: frozenset[Row]) -> None:
        assert not inserts & self.rows, "a delta was applied twice or out of order"
        assert deletes <= self.rows, "a delta was applied twice or out of order"
        self.rows = (self.rows - deletes) | inserts
        self.deltas += 1


def subscriber(bus: InProcessBus, table: Table, clock: Clock, **kw: Any) -> Subscriber:
    return Subscriber(
        bus, "ds", "t", on_snapshot=table.snapshot, on_delta=table.delta, clock=clock, **kw
    )


# -- messages ---------------------------------------------------------------------------------


def test_messages_round_trip_through_the_wire_form() -> None:
    messages: list[Message] = [
        TableSnapshot("ds", "t", 0, frozenset({(1, "a"), (2, "é")})),
        TableDelta("ds", "t", 3, frozenset({(1.5, "x")}), frozenset()),
        ExecuteRequest("nova", "servers.pause", ("s1",), {"reason": "r"}, "classification", "n1"),
        Announcement("ds", {"t": ("id", "name")}, "n1"),
        Announcement("ds", present=False),
    ]
    for message in messages:
        wire = to_wire(message)
        assert wire["version"] == "1.1"
        assert from_wire(wire) == message
    assert to_wire(messages[0])["rows"] == [[1, "a"], [2, "é"]]


def test_messages_take_any_iterables_and_freeze_them() -> None:
    snap = TableSnapshot("ds", "t", 0, [[1, 2]])  # type: ignore[arg-type]
    assert snap.rows == frozenset({(1, 2)})
    req = ExecuteRequest("ds", "a", [1, 2])  # type: ignore[arg-type]
    assert req.positional == (1, 2) and req.named == {}


def test_another_major_version_or_kind_is_refused() -> None:
    wire = to_wire(TableSnapshot("ds", "t", 0, frozenset()))
    newer_minor = from_wire({**wire, "version": "1.7"})
    assert isinstance(newer_minor, TableSnapshot) and newer_minor.version == "1.7"
    with pytest.raises(UnsupportedVersion):
        from_wire({**wire, "version": "2.0"})
    with pytest.raises(ValueError, match="kind"):
        from_wire({**wire, "kind": "gossip"})
    with pytest.raises(ValueError, match="malformed"):
        from_wire({"kind": "table_delta", "version": "1.0", "publisher": "ds"})


def test_table_messages_carry_an_optional_send_time() -> None:
    delta = TableDelta("ds", "t", 1, frozenset({(1,)}), frozenset(), 7, sent_at=1700000000.25)
    wire = to_wire(delta)
    assert wire["sent_at"] == 1700000000.25
    back = from_wire(wire)
    assert isinstance(back, TableDelta) and back.sent_at == 1700000000.25
    # absent (a 1.0 sender): no send time; it takes no part in equality
    old = from_wire({k: v for k, v in wire.items() if k != "sent_at"} | {"version": "1.0"})
    assert isinstance(old, TableDelta) and old.sent_at is None
    assert old == dataclasses.replace(delta, version="1.0")
    assert "sent_at" not in to_wire(TableSnapshot("ds", "t", 0, frozenset()))
    assert TableSnapshot("ds", "t", 0, frozenset(), sent_at="soon").sent_at is None  # type: ignore[arg-type]


def test_fields_of_a_later_minor_version_are_ignored() -> None:
    wire = to_wire(TableSnapshot("ds", "t", 0, frozenset({(1,)})))
    later = from_wire({**wire, "version": "1.9", "priority": "high"})
    assert later == TableSnapshot("ds", "t", 0, frozenset({(1,)}), version="1.9")


def test_a_message_is_sent_as_an_earlier_minor_version_has_it() -> None:
    delta = TableDelta("ds", "t", 1, frozenset({(1,)}), frozenset(), 7, sent_at=5.0)
    wire = to_wire(delta, "1.0")
    assert wire["version"] == "1.0" and "sent_at" not in wire
    assert from_wire(wire) == dataclasses.replace(delta, version="1.0")
    lazy = Announcement("ds", {"t": ("id",)}, node_id="n", lazy=("t",))
    old = to_wire(lazy, "1.0")
    assert "lazy" not in old and old["schema"] == {"t": ["id"]}
    assert to_wire(lazy, "1.1") == to_wire(lazy)
    for version in ("1.2", "2.0", "0.9", "x"):
        with pytest.raises(UnsupportedVersion, match="cannot send bus message version"):
            to_wire(delta, version)
    assert speakable("1.0") and speakable("1.1") and not speakable("1.2")
    assert parse_version("1.10") == (1, 10)
    with pytest.raises(ValueError, match="not a bus message version"):
        parse_version("1")


# -- the in-process transport -----------------------------------------------------------------


def test_in_process_bus_fans_out_synchronously_and_survives_a_failing_handler() -> None:
    bus = InProcessBus()
    got: list[TableMessage] = []

    def failing(message: TableMessage) -> None:
        raise RuntimeError("bad subscriber")

    bus.subscribe("ds", "t", failing, subscriber="a")
    bus.subscribe("ds", "t", got.append, subscriber="b")
    bus.subscribe("ds", "t", got.append, subscriber="b")  # the same handler once only
    bus.subscribe("ds", "u", got.append, subscriber="c")
    message = TableSnapshot("ds", "t", 0, frozenset({(1,)}))
    bus.publish(message)
    assert got == [message]
    assert bus.subscribers("ds") == ["a", "b", "c"]
    bus.unsubscribe("ds", "t", got.append)
    bus.unsubscribe("ds", "t", failing)
    bus.publish(message)
    assert got == [message]
    assert bus.subscribers("ds") == ["c"]


def test_snapshot_requests_reach_the_publisher_that_serves_them() -> None:
    bus = InProcessBus()
    assert bus.request_snapshot("ds", "t") is None
    heard: list[str] = []
    pub = Publisher(bus, "ds", on_subscribe=heard.append, epoch=0)
    assert bus.request_snapshot("ds", "t") is None  # not published yet
    pub.publish("t", [(1,)])
    assert bus.request_snapshot("ds", "t") == TableSnapshot("ds", "t", 0, frozenset({(1,)}))
    bus.subscribe("ds", "t", lambda m: None)
    assert heard == ["t"]
    pub.close()
    assert bus.request_snapshot("ds", "t") is None


def test_the_directory_replays_present_services_to_a_new_watcher() -> None:
    bus = InProcessBus()
    bus.announce(Announcement("a", {"t": ("x",)}))
    bus.announce(Announcement("b", {}))
    bus.announce(Announcement("b", present=False))
    seen: list[Announcement] = []
    bus.watch_services(seen.append)
    assert [a.publisher for a in seen] == ["a"]
    bus.announce(Announcement("c"))
    assert [a.publisher for a in seen] == ["a", "c"]
    assert [a.publisher for a in bus.services()] == ["a", "c"]
    bus.unwatch_services(seen.append)
    bus.announce(Announcement("d"))
    assert len(seen) == 2


def test_execute_requests_go_to_the_serving_service() -> None:
    bus = InProcessBus()
    got: list[ExecuteRequest] = []
    bus.serve_executions("nova", got.append)
    request = ExecuteRequest("nova", "servers.pause", ("s1",))
    bus.send_execute(request)
    assert got == [request]
    bus.stop_serving_executions("nova")
    with pytest.raises(NoSuchService):
        bus.send_execute(request)


# -- publisher --------------------------------------------------------------------------------


def test_publisher_sends_a_snapshot_then_numbered_deltas() -> None:
    bus = HeldBus()
    pub = Publisher(bus, "ds", epoch=0)
    assert pub.publish("t", [(1,), (2,)]) == TableSnapshot("ds", "t", 0, frozenset({(1,), (2,)}))
    assert pub.publish("t", [(2,), (1,)]) is None  # no change, nothing sent
    assert pub.publish("t", [(2,), (3,)]) == TableDelta(
        "ds", "t", 1, frozenset({(3,)}), frozenset({(1,)})
    )
    assert pub.publish("u", []) == TableSnapshot("ds", "u", 0, frozenset())
    assert pub.publish("t", []) == TableDelta("ds", "t", 2, frozenset(), frozenset({(2,), (3,)}))
    assert [m.seqnum for m in bus.held] == [0, 1, 0, 2]
    assert pub.snapshot("t") == TableSnapshot("ds", "t", 2, frozenset())
    assert pub.seqnum("u") == 0 and pub.seqnum("v") is None
    assert pub.tables() == ["t", "u"]


# -- subscriber -------------------------------------------------------------------------------


def test_subscriber_follows_a_publisher_on_the_in_process_bus() -> None:
    bus = InProcessBus()
    pub = Publisher(bus, "ds")
    pub.publish("t", [(1,)])
    table, clock = Table(), Clock()
    sub = subscriber(bus, table, clock, subscriber="me")
    sub.start()  # joins late: gets the snapshot by request
    assert table.rows == {(1,)} and sub.last_seqnum == 0
    pub.publish("t", [(1,), (2,)])
    pub.publish("t", [(2,)])
    assert table.rows == {(2,)} and sub.last_seqnum == 2
    assert (table.snapshots, table.deltas) == (1, 2)
    assert bus.subscribers("ds") == ["me"]
    sub.stop()
    pub.publish("t", [])
    assert table.rows == {(2,)}


def test_subscriber_waits_for_its_first_snapshot() -> None:
    bus = InProcessBus()
    table, clock = Table(), Clock()
    sub = subscriber(bus, table, clock)
    sub.start()  # nothing published yet: no snapshot to apply
    assert sub.last_seqnum is None
    sub.receive(TableDelta("ds", "t", 1, frozenset({(2,)}), frozenset()))
    assert table.rows == set() and sub.waiting == [1]
    sub.receive(TableSnapshot("ds", "t", 0, frozenset({(1,)})))
    assert table.rows == {(1,), (2,)} and sub.last_seqnum == 1 and sub.waiting == []


def test_out_of_order_deltas_wait_for_their_predecessors() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    for rows in ([(1,)], [(1,), (2,)], [(2,)], [(2,), (3,)]):
        pub.publish("t", rows)
    snap, d1, d2, d3 = bus.held
    sub = subscriber(bus, table, clock)
    for message in (snap, d3, d1, d2):
        sub.receive(message)
    assert table.rows == {(2,), (3,)} and sub.last_seqnum == 3
    assert sub.resyncs == 0 and table.deltas == 3


def test_duplicates_and_old_messages_are_ignored() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    pub.publish("t", [(1,)])
    pub.publish("t", [(2,)])
    snap, d1 = bus.held
    sub = subscriber(bus, table, clock)
    for message in (snap, d1, d1, snap, d1):
        sub.receive(message)
    assert table.rows == {(2,)} and (table.snapshots, table.deltas) == (1, 1)
    # an old snapshot (not a reset) is ignored too
    pub.publish("t", [(3,)])
    sub.receive(bus.held[-1])
    sub.receive(TableSnapshot("ds", "t", 1, frozenset({(2,)}), pub.epoch))
    assert table.rows == {(3,)} and sub.last_seqnum == 2


def test_a_new_epoch_is_a_reset_and_old_epochs_are_ignored() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    sub = subscriber(bus, table, clock)
    sub.receive(TableSnapshot("ds", "t", 0, frozenset({(1,)}), epoch=1))
    sub.receive(TableDelta("ds", "t", 1, frozenset({(2,)}), frozenset(), epoch=1))
    # the publisher restarted: its numbers begin again in a new epoch; a delta of the new
    # epoch that comes before its snapshot waits for it
    sub.receive(TableDelta("ds", "t", 1, frozenset({(10,)}), frozenset(), epoch=2))
    assert table.rows == {(1,), (2,)} and sub.waiting == [1]
    sub.receive(TableSnapshot("ds", "t", 0, frozenset({(9,)}), epoch=2))
    assert table.rows == {(9,), (10,)} and (sub.epoch, sub.last_seqnum) == (2, 1)
    # late messages of the old incarnation change nothing
    sub.receive(TableDelta("ds", "t", 2, frozenset({(3,)}), frozenset(), epoch=1))
    sub.receive(TableSnapshot("ds", "t", 5, frozenset({(3,)}), epoch=1))
    assert table.rows == {(9,), (10,)} and sub.waiting == []


def test_a_restarted_publisher_resets_its_subscribers() -> None:
    bus = InProcessBus()
    table, clock = Table(), Clock()
    Publisher(bus, "ds", epoch=1).publish("t", [(1,)])
    sub = subscriber(bus, table, clock)
    sub.start()
    again = Publisher(bus, "ds", epoch=2)
    again.publish("t", [(5,)])
    again.publish("t", [(5,), (6,)])
    assert table.rows == {(5,), (6,)} and (sub.epoch, sub.last_seqnum) == (2, 1)


def test_a_heartbeat_reveals_a_lost_last_delta() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    pub.publish("t", [(1,)])
    pub.publish("t", [(2,)])  # lost
    sub = subscriber(bus, table, clock, resync_after=0)
    sub.receive(bus.held[0])
    assert table.rows == {(1,)}
    pub.heartbeat()
    sub.receive(bus.held[-1])
    assert table.rows == {(2,)} and sub.last_seqnum == 2 == pub.seqnum("t")


def test_a_lost_message_is_healed_by_a_snapshot_request() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    for rows in ([(1,)], [(1,), (2,)], [(2,)], [(2,), (4,)]):
        pub.publish("t", rows)
    snap, _lost, d2, d3 = bus.held
    sub = subscriber(bus, table, clock, resync_after=10.0)
    sub.receive(snap)
    sub.receive(d2)
    assert sub.check() is False  # the gap is young: the message may still come
    clock.now += 5
    sub.receive(d3)
    assert table.rows == {(1,)} and sub.waiting == [2, 3]
    clock.now += 5
    assert sub.check() is True  # too old now: ask for a snapshot
    assert table.rows == {(2,), (4,)} and sub.last_seqnum == 3 and sub.waiting == []
    assert sub.check() is False


def test_a_gap_is_healed_on_the_next_message_once_old_enough() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    for rows in ([(1,)], [(2,)], [(3,)], [(4,)]):
        pub.publish("t", rows)
    snap, _lost, d2, d3 = bus.held
    sub = subscriber(bus, table, clock, resync_after=1.0)
    sub.receive(snap)
    sub.receive(d2)
    clock.now += 2
    sub.receive(d3)
    assert table.rows == {(4,)} and sub.resyncs == 1


def test_too_many_waiting_messages_ask_for_a_snapshot_at_once() -> None:
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    for n in range(6):
        pub.publish("t", [(n,)])
    snap, _lost, *rest = bus.held
    sub = subscriber(bus, table, clock, max_waiting=3)
    sub.receive(snap)
    for message in rest:
        sub.receive(message)
    assert table.rows == {(5,)} and sub.resyncs == 1 and sub.waiting == []


def test_a_failing_apply_is_healed_by_a_later_snapshot() -> None:
    bus, clock = HeldBus(), Clock()
    table = Table()
    fail = {"on": True}

    def delta(inserts: frozenset[Row], deletes: frozenset[Row]) -> None:
        if fail["on"]:
            raise RuntimeError("engine refused")
        table.delta(inserts, deletes)

    pub = Publisher(bus, "ds")
    for rows in ([(1,)], [(2,)], [(3,)]):
        pub.publish("t", rows)
    snap, d1, d2 = bus.held
    sub = Subscriber(
        bus, "ds", "t", on_snapshot=table.snapshot, on_delta=delta, clock=clock, resync_after=1
    )
    sub.receive(snap)
    with pytest.raises(RuntimeError):
        sub.receive(d1)
    fail["on"] = False
    sub.receive(d2)  # waits: 1 was not applied
    clock.now += 1
    assert sub.check() is True
    assert table.rows == {(3,)} and sub.last_seqnum == 2


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(
        st.frozensets(st.integers(0, 6).map(lambda n: (n, f"v{n % 3}")), max_size=5),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 2**32),
    loss=st.floats(0, 0.5),
    duplicates=st.floats(0, 0.5),
)
def test_any_delivery_order_converges_and_applies_nothing_twice(
    changes: list[frozenset[Row]], seed: int, loss: float, duplicates: float
) -> None:
    """Shuffled, duplicated and lost messages: after the gap timeout, the copy is exact."""
    rng = random.Random(seed)
    bus, table, clock = HeldBus(), Table(), Clock()
    pub = Publisher(bus, "ds")
    for rows in changes:
        pub.publish("t", rows)
    sent = len(bus.held)
    pub.heartbeat()  # later traffic: it reveals a lost last delta
    delivered = [m for m in bus.held[:sent] if rng.random() >= loss]
    delivered += [m for m in delivered if rng.random() < duplicates]
    rng.shuffle(delivered)
    delivered += bus.held[sent:]
    sub = subscriber(bus, table, clock, resync_after=5.0)
    for message in delivered:
        sub.receive(message)
    clock.now += 5
    sub.check()
    if sub.last_seqnum is None:  # the snapshot itself was lost: a late subscriber asks
        sub.resync()
    assert table.rows == set(changes[-1])
    assert sub.last_seqnum == pub.seqnum("t")
