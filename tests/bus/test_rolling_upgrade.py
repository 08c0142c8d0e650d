"""Rolling upgrades on the real RabbitMQ: nodes of two releases side by side on one bus.

A node of the previous release is emulated by its wire behaviour: its heartbeats name no
version (1.0 was implied) and no release, and it sends bus messages of version 1.0 (without
the fields 1.1 added: ``sent_at``, an announcement's ``lazy``). A node of a later release
speaks 1.2 (a field this release does not know); one of another major version speaks 2.0.
(docs/upgrades.md.)"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from test_messaging import Nodes, Table, wait_for

from congress.bus import (
    Announcement,
    ExecuteRequest,
    Publisher,
    Subscriber,
    TableMessage,
    to_wire,
)
from congress.bus.messages import VERSION, Message
from congress.bus.messaging import AUTO, MessagingBus, checked_level, message_level
from congress.common import config

pytestmark = pytest.mark.xdist_group("rabbitmq")


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


class PreviousRelease(MessagingBus):
    """A node of the previous release, as the others see it on the wire."""

    def _beat(self) -> dict[str, Any]:
        beat = super()._beat()
        del beat["version"], beat["release"]
        return beat

    def _encode(self, message: Message) -> dict[str, Any]:
        return to_wire(message, "1.0")


class NextRelease(MessagingBus):
    """A node of a later release: messages 1.2, with a field this release does not know."""

    def _beat(self) -> dict[str, Any]:
        return {**super()._beat(), "version": "1.2", "release": "99.0"}

    def _encode(self, message: Message) -> dict[str, Any]:
        return {**to_wire(message), "version": "1.2", "priority": "high"}


class NextMajor(MessagingBus):
    """A node whose messages this release cannot read."""

    def _beat(self) -> dict[str, Any]:
        return {**super()._beat(), "version": "2.0", "release": "100.0"}

    def _encode(self, message: Message) -> dict[str, Any]:
        return {**to_wire(message), "version": "2.0"}


def test_nodes_of_two_releases_work_side_by_side(
    nodes: Nodes, bus_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="congress.bus.messaging")
    new = nodes.make("new", bus_id)
    assert new.speaking == VERSION == "1.1"
    old = nodes.make("old", bus_id, cls=PreviousRelease)
    wait_for(lambda: new.speaking == "1.0", "the upgraded node speaks the old node's version")
    assert [(p.node_id, p.version, p.release) for p in new.peers()] == [("old", "1.0", "")]
    wait_for(lambda: "sends bus messages 1.0" in caplog.text, "the upgraded node says so")
    assert "old (an earlier release)" in caplog.text

    # a table of the old node reaches the new one
    pub_old = Publisher(old, "ds-old")
    pub_old.publish("t", [(1, "x")])
    wait_for(lambda: any("ds-old" in p.publishers for p in new.peers()), "new knows ds-old")
    table = Table()
    sub = Subscriber(new, "ds-old", "t", on_snapshot=table.snapshot, on_delta=table.delta)
    sub.start()
    pub_old.publish("t", [(1, "x"), (2, "y")])
    wait_for(lambda: table.rows == {(1, "x"), (2, "y")}, "the old node's delta arrives")
    sub.stop()

    # and one of the new node reaches the old one, in version 1.0
    pub_new = Publisher(new, "ds-new")
    pub_new.publish("t", [(1, "a")])
    wait_for(lambda: any("ds-new" in p.publishers for p in old.peers()), "old knows ds-new")
    got: list[TableMessage] = []
    old_table = Table()
    sub_old = Subscriber(
        old, "ds-new", "t", on_snapshot=old_table.snapshot, on_delta=old_table.delta
    )
    sub_old.start()
    old.subscribe("ds-new", "t", got.append, subscriber="raw")
    pub_new.publish("t", [(1, "a"), (2, "b")])
    wait_for(lambda: old_table.rows == {(1, "a"), (2, "b")}, "the new node's delta arrives")
    wait_for(lambda: got, "the raw subscriber hears the delta")
    assert {(m.version, m.sent_at) for m in got} == {("1.0", None)}
    sub_old.stop()

    # announcements lose what 1.0 does not have; execute requests reach the old node
    heard: list[Announcement] = []
    old.watch_services(heard.append)
    new.announce(Announcement("ds-new", {"t": ("id",)}, node_id="new", lazy=("t",)))
    wait_for(lambda: any(a.publisher == "ds-new" for a in heard), "old hears the announcement")
    found = [a for a in heard if a.publisher == "ds-new"][-1]
    assert found.version == "1.0" and found.lazy == () and found.schema == {"t": ("id",)}
    executed: list[ExecuteRequest] = []
    old.serve_executions("ds-old", executed.append)
    wait_for(lambda: any("ds-old" in p.executors for p in new.peers()), "new knows the executor")
    new.send_execute(ExecuteRequest("ds-old", "reboot", ("vm1",), {}, "p", "new"))
    wait_for(lambda: executed, "the old node executes")
    assert executed[0].action == "reboot" and executed[0].version == "1.0"

    # the old node leaves (upgraded): the new one speaks its own version again
    old.stop()
    wait_for(lambda: new.speaking == VERSION, "back to the node's own version", timeout=10)
    wait_for(lambda: "every node speaks bus messages 1.1" in caplog.text, "it says so")


def test_a_later_release_is_heard_and_this_node_keeps_its_version(
    nodes: Nodes, bus_id: str
) -> None:
    new = nodes.make("new", bus_id)
    later = nodes.make("later", bus_id, cls=NextRelease)
    wait_for(lambda: [p.version for p in new.peers()] == ["1.2"], "new hears the later node")
    assert new.speaking == "1.1"
    assert new.peers()[0].release == "99.0"
    pub = Publisher(later, "ds")
    pub.publish("t", [(1,)])
    wait_for(lambda: any("ds" in p.publishers for p in new.peers()), "new knows ds")
    table = Table()
    sub = Subscriber(new, "ds", "t", on_snapshot=table.snapshot, on_delta=table.delta)
    sub.start()
    pub.publish("t", [(1,), (2,)])
    wait_for(
        lambda: table.rows == {(1,), (2,)}, "messages of 1.2 are read (unknown fields dropped)"
    )
    sub.stop()


def test_a_node_of_another_major_version_is_ignored_and_named(
    nodes: Nodes, bus_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="congress.bus.messaging")
    new = nodes.make("new", bus_id)
    other = nodes.make("other", bus_id, cls=NextMajor)
    got: list[TableMessage] = []
    new.subscribe("ds", "t", got.append, subscriber="raw")
    Publisher(other, "ds").publish("t", [(1,)])
    wait_for(lambda: "speaks bus messages 2.0" in caplog.text, "the refusal is logged")
    assert new.peers() == [] and new.speaking == VERSION
    other.broadcast("anything", {})
    Publisher(other, "ds").publish("t", [(2,)])
    wait_for(lambda: "is ignored: bus message version '2.0'" in caplog.text, "its message too")
    assert got == []
    assert caplog.text.count("speaks bus messages 2.0") == 1  # once, not at every heartbeat


def test_the_level_can_be_pinned(nodes: Nodes, bus_id: str) -> None:
    pinned = nodes.make("pinned", bus_id, level="1.0")
    assert pinned.speaking == "1.0"
    other = nodes.make("other", bus_id)
    got: list[TableMessage] = []
    pub = Publisher(pinned, "ds")
    pub.publish("t", [(1,)])
    wait_for(lambda: any("ds" in p.publishers for p in other.peers()), "other knows ds")
    other.subscribe("ds", "t", got.append, subscriber="raw")
    pub.publish("t", [(1,), (2,)])
    wait_for(lambda: got, "the delta arrives")
    assert got[0].version == "1.0"


def test_the_option_is_checked(tmp_path: Path) -> None:
    assert checked_level(" AUTO ") == AUTO
    assert checked_level("1.0") == "1.0"
    for bad in ("1.2", "2.0", "latest", "1"):
        with pytest.raises(ValueError, match=r"\[upgrade_levels\] bus must be auto or"):
            checked_level(bad)
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    assert message_level(conf) == AUTO
    # (from a file: an override would stay on the option group, which every ConfigOpts shares)
    pinned = cfg.ConfigOpts()
    config.register_opts(pinned)
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text("[upgrade_levels]\nbus = 1.0\n")
    pinned(["--config-file", str(conf_file)], default_config_files=[])
    assert message_level(pinned) == "1.0"
    assert message_level(cfg.ConfigOpts()) == AUTO  # not registered: auto
