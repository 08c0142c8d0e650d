"""Notification sinks delivering the changes of a real policy engine's watched tables (its
History on a SQLite file) to a local HTTP receiver: the body and its signature, retries with
backoff and order, dead letters, one delivering node among two and the other taking over; and,
on the real RabbitMQ at 127.0.0.1:5672, a messaging sink and the config-level notifications
heard by an oslo.messaging notification listener."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from sqlalchemy.engine import Engine

from congress.common import config
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.datasource_config import SecretBox
from congress.services.history import History
from congress.services.notify import (
    CONFIG_SINK,
    EVENT_TYPE,
    LEASE,
    Notifications,
    start_notifications,
)
from congress.services.policy_engine import PolicyEngineService
from congress.services.watch import TableSelector

SCHEMA = {"servers": ("id", "status")}
ERROR_RULE = 'error(x) :- ds:servers(x, "ERROR")'
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
WAIT = 10.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


# -- a webhook receiver --------------------------------------------------------------------------
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers what ``answer`` says
    (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.answer: Callable[[dict[str, Any]], int] = lambda body: 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.answer(json.loads(body))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for _, body in self.requests]

    def delivered(self) -> list[dict[str, Any]]:
        """The changes of every request answered 2xx, in the order they came."""
        with self._lock:
            pairs = list(zip(self.requests, self.statuses, strict=True))
        return [
            change
            for (_, body), status in pairs
            if 200 <= status < 300
            for change in json.loads(body)["changes"]
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# -- a node: a policy engine, its history, notification services ---------------------------------
@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox(tmp_path / "keys")


class Node:
    """A policy engine with a policy whose ``error`` rows are servers in ERROR, its history, and
    the notification services of the test (stopped at the end)."""

    def __init__(self, database: Engine, box: SecretBox) -> None:
        self.database = database
        self.box = box
        self.engine = PolicyEngineService(database, node_id="n1")
        self.engine.start()
        self.engine.ensure_datasource("ds", SCHEMA)
        self.engine.create_policy("p")
        self.engine.create_rule("p", ERROR_RULE)
        self.history = History(
            database,
            self.engine,
            TableSelector(["*:error", "*:warning"]),
            "n1",
            reconcile_delay=0.0,
            reconcile_grace=60.0,
            backoff=(0.01, 0.05),
        )
        self.history.start()
        assert self.history.flush()
        self.services: list[Notifications] = []
        self._seq = 0

    def notifications(self, node_id: str = "n1", *, start: bool = True, **kw: Any) -> Notifications:
        kw.setdefault("settle", 0.2)
        kw.setdefault("backoff", (0.05, 0.2))
        kw.setdefault("lease_ttl", 1.0)
        kw.setdefault("renew_interval", 0.1)
        kw.setdefault("reload_interval", 0.2)
        kw.setdefault("poll_interval", 0.05)
        kw.setdefault("timeout", 2.0)
        svc = Notifications(self.database, self.history, node_id=node_id, box=self.box, **kw)
        self.services.append(svc)
        if start:
            svc.start()
        return svc

    def change(self, inserts: list[str], deletes: list[str] | None = None) -> None:
        """Servers going into (and out of) ERROR, as one datasource delta; recorded."""
        self._seq += 1
        self.engine.receive(
            "ds",
            "servers",
            [(x, "ERROR") for x in inserts],
            [(x, "ERROR") for x in deletes or []],
            activation=f"ds:servers:e:{self._seq}",
        )
        assert self.history.flush()

    def stop(self) -> None:
        for svc in self.services:
            svc.stop(timeout=5)
        self.history.stop(timeout=2)


@pytest.fixture
def node(database: Engine, box: SecretBox) -> Iterator[Node]:
    n = Node(database, box)
    yield n
    n.stop()


def ops(changes: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    return [(c["op"], c["row"]) for c in changes]


def recorded(database: Engine) -> list[tuple[str, list[Any]]]:
    return [(c.op, c.row) for c in db.history_after(database, 0) if c.table == "error"]


# -- webhooks ------------------------------------------------------------------------------------
def test_a_violation_is_posted_once_with_its_change_and_a_valid_signature(
    node: Node, receiver: Receiver
) -> None:
    svc = node.notifications()
    made = svc.create_sink({"name": "hooks", "url": receiver.url, "secret": "k3y"})
    assert made["secret"] == "<hidden>"
    node.change(["vm1"])
    wait_for(lambda: receiver.requests, "the webhook request")
    time.sleep(0.5)  # nothing more comes
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Congress-Event"] == "table.changed"
    assert uuid.UUID(headers["X-Congress-Delivery"])
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Congress-Signature"], expected)
    sent = json.loads(body)
    assert {k: sent[k] for k in ("sink", "policy", "table")} == {
        "sink": "hooks",
        "policy": "p",
        "table": "error",
    }
    [change] = sent["changes"]
    [entry] = db.history_after(node.database, 0)
    assert change == {
        "id": entry.id,
        "key": entry.key,
        "op": "insert",
        "row": ["vm1"],
        "time": entry.created_at.isoformat(timespec="microseconds"),
        "revision": node.engine.revision,
    }
    assert dt.datetime.fromisoformat(change["time"]).tzinfo is not None
    assert db.get_cursor(node.database, made["id"]) == entry.id


def test_a_sink_without_a_secret_sends_no_signature_and_only_its_tables(
    node: Node, receiver: Receiver
) -> None:
    svc = node.notifications()
    svc.create_sink({"name": "warnings", "url": receiver.url, "tables": ["p:warning"]})
    node.change(["vm1"])  # an error: not this sink's
    node.engine.create_rule("p", "warning(1)")
    assert node.history.flush()
    wait_for(lambda: receiver.requests, "the webhook request")
    time.sleep(0.3)
    [(headers, body)] = receiver.requests
    assert "X-Congress-Signature" not in headers
    sent = json.loads(body)
    assert (sent["table"], ops(sent["changes"])) == ("warning", [("insert", [1])])


def test_a_receiver_failing_twice_gets_the_batch_on_the_third_try_and_the_rest_in_order(
    node: Node, receiver: Receiver
) -> None:
    answers = iter([500, 503])
    receiver.answer = lambda body: next(answers, 200)
    svc = node.notifications(backoff=(0.2, 1.0))
    svc.create_sink({"name": "hooks", "url": receiver.url})
    node.change(["vm1", "vm2"])
    wait_for(lambda: len(receiver.requests) >= 1, "the first attempt")
    node.change(["vm3"], ["vm1"])  # comes while the first batch is retried
    node.change([], ["vm2"])
    wait_for(lambda: len(receiver.delivered()) == 5, "every change delivered")
    assert receiver.statuses[:3] == [500, 503, 200]
    first = receiver.bodies()[:3]
    assert first[0] == first[1] == first[2]  # the same batch, tried again as it was
    assert ops(first[0]["changes"]) == [("insert", ["vm1"]), ("insert", ["vm2"])]
    assert ops(receiver.delivered()) == recorded(node.database)
    assert ops(receiver.delivered()) == [
        ("insert", ["vm1"]),
        ("insert", ["vm2"]),
        ("delete", ["vm1"]),
        ("insert", ["vm3"]),
        ("delete", ["vm2"]),
    ]
    ids = [c["id"] for c in receiver.delivered()]
    assert ids == sorted(ids)
    assert svc.dead_letters("hooks") == []


def test_a_batch_refused_every_time_becomes_a_dead_letter_and_the_next_change_still_goes(
    node: Node, receiver: Receiver
) -> None:
    """The receiver always refuses the change of vm1; after ``max_retries`` attempts it is a
    dead letter, the cursor moves past it, and the change that follows is delivered."""
    receiver.answer = lambda body: 500 if ["vm1"] in [c["row"] for c in body["changes"]] else 200
    svc = node.notifications()
    sink = svc.create_sink({"name": "hooks", "url": receiver.url, "max_retries": 3})
    node.change(["vm1"])
    wait_for(lambda: svc.dead_letters("hooks"), "the dead letter")
    [letter] = svc.dead_letters("hooks")
    assert receiver.statuses == [500, 500, 500]
    assert letter["attempts"] == 3 and letter["error"].startswith("HTTP 500")
    assert (letter["policy"], letter["table"]) == ("p", "error")
    assert letter["payload"] == receiver.bodies()[0]
    [entry] = db.history_after(node.database, 0)
    assert db.get_cursor(node.database, sink["id"]) == entry.id
    node.change(["vm2"])
    wait_for(lambda: receiver.delivered(), "the next change")
    assert ops(receiver.delivered()) == [("insert", ["vm2"])]
    assert len(svc.dead_letters(sink["id"])) == 1


def test_a_connection_refused_is_retried_like_an_error_answer(
    node: Node, receiver: Receiver
) -> None:
    svc = node.notifications()
    receiver.close()  # nothing listens there any more
    svc.create_sink({"name": "hooks", "url": receiver.url, "max_retries": 2})
    node.change(["vm1"])
    wait_for(lambda: svc.dead_letters("hooks"), "the dead letter")
    [letter] = svc.dead_letters("hooks")
    assert letter["attempts"] == 2 and "ConnectionError" in letter["error"]


def test_two_services_on_one_database_deliver_each_change_once(
    node: Node, receiver: Receiver
) -> None:
    first = node.notifications("n1", lease_ttl=5.0)  # no takeover here, however slow the host
    second = node.notifications("n2", lease_ttl=5.0)
    first.create_sink({"name": "hooks", "url": receiver.url})
    wait_for(lambda: first.holding or second.holding, "a delivering node")
    assert not (first.holding and second.holding)
    for n in range(6):
        node.change([f"vm{n}"])
    wait_for(lambda: len(receiver.delivered()) == 6, "every change")
    time.sleep(0.5)
    keys = [c["key"] for c in receiver.delivered()]
    assert len(keys) == len(set(keys)) == 6
    assert sorted([first.delivered > 0, second.delivered > 0]) == [False, True]
    lease = db.get_lease(node.database, LEASE)
    assert lease is not None and lease.holder in (first.holder, second.holder)


@pytest.mark.parametrize("release", [True, False], ids=["stopped", "killed"])
def test_when_the_delivering_node_stops_the_other_delivers_what_is_left(
    node: Node, receiver: Receiver, release: bool
) -> None:
    """The holder cannot deliver (the receiver is down) when it stops; the other node takes the
    lease (at once when it was given up, after it expires when the holder died) and delivers
    everything from the cursor."""
    first = node.notifications("n1", lease_ttl=3.0)
    wait_for(lambda: first.holding, "n1 delivering")
    second = node.notifications("n2", lease_ttl=3.0)
    first.create_sink({"name": "hooks", "url": receiver.url})
    node.change(["vm0"])
    wait_for(lambda: receiver.delivered(), "the first change, from n1")
    receiver.answer = lambda body: 503
    node.change(["vm1"])
    node.change(["vm2"])
    wait_for(lambda: len(receiver.requests) >= 2, "n1 trying")
    assert not second.holding
    first.stop(release=release)
    receiver.answer = lambda body: 200
    wait_for(lambda: second.holding, "n2 taking over")
    node.change(["vm3"])
    wait_for(lambda: len(receiver.delivered()) == 4, "what was left, from n2")
    assert ops(receiver.delivered()) == [("insert", [f"vm{n}"]) for n in range(4)]
    # n2 counts a batch once its answer is in and its cursor moved (just after the receiver
    # has it)
    wait_for(lambda: second.delivered >= 1, "n2 counting what it delivered")
    assert first.delivered == 1


def test_a_sink_created_on_another_node_is_delivered_by_the_holder(
    node: Node, receiver: Receiver
) -> None:
    """Sinks are read from the database: the API of one node, the delivery of another."""
    holder = node.notifications("n1")
    wait_for(lambda: holder.holding, "n1 delivering")
    api_only = Notifications(node.database, None, node_id="api", box=node.box)
    api_only.create_sink({"name": "hooks", "url": receiver.url, "tables": ["*:error"]})
    time.sleep(0.5)  # the holder's next reload
    node.change(["vm1"])
    wait_for(lambda: receiver.delivered(), "the change")
    api_only.delete_sink("hooks")
    time.sleep(0.5)
    node.change(["vm2"])
    time.sleep(0.5)
    assert ops(receiver.delivered()) == [("insert", ["vm1"])]


def test_a_sink_for_a_table_not_yet_watched_has_it_recorded_with_its_current_rows(
    node: Node, receiver: Receiver
) -> None:
    svc = node.notifications()
    node.engine.create_rule("p", 'down(x) :- ds:servers(x, "DOWN")')
    node.engine.receive("ds", "servers", [("vm7", "DOWN")], [], activation="ds:servers:x:1")
    assert not node.history.watched("p", "down")
    svc.create_sink({"name": "downs", "url": receiver.url, "tables": ["p:down"]})
    assert node.history.watched("p", "down")
    wait_for(lambda: receiver.delivered(), "the current rows, as inserts")
    assert ops(receiver.delivered()) == [("insert", ["vm7"])]


def test_the_settle_time_holds_delivery_back_at_a_gap_in_the_ids(
    node: Node, receiver: Receiver
) -> None:
    """An id not yet visible (an entry whose transaction has not committed) holds the later
    entries back for ``settle`` seconds; then the gap is taken for an id that never comes."""
    svc = node.notifications(settle=1.5, start=False)
    svc.create_sink({"name": "hooks", "url": receiver.url})
    with node.database.begin() as connection:  # burn an id, as a rolled-back write would
        connection.exec_driver_sql(
            "INSERT INTO table_history (id, key, policy_name, table_name, op, row, row_hash, "
            "created_at, revision) SELECT COALESCE(MAX(id), 0) + 1, 'burnt', 'x', 'y', "
            "'insert', '[]', 'h', '2026-01-01 00:00:00', 0 FROM table_history"
        )
    node.change(["vm1"])
    with node.database.begin() as connection:
        connection.exec_driver_sql("DELETE FROM table_history WHERE key = 'burnt'")
    started = time.monotonic()
    svc.start()
    wait_for(lambda: receiver.delivered(), "the change after the gap")
    assert time.monotonic() - started >= 1.0
    assert ops(receiver.delivered()) == [("insert", ["vm1"])]


def test_changes_are_delivered_in_batches_per_table(node: Node, receiver: Receiver) -> None:
    svc = node.notifications(start=False, batch_size=2)
    svc.create_sink({"name": "hooks", "url": receiver.url})
    node.change(["vm1", "vm2", "vm3"])
    node.engine.create_rule("p", "warning(1)")
    assert node.history.flush()
    svc.start()
    wait_for(lambda: len(receiver.delivered()) == 4, "every change")
    sizes = sorted((b["table"], len(b["changes"])) for b in receiver.bodies())
    assert sizes == [("error", 1), ("error", 2), ("warning", 1)]


# -- the API's side -------------------------------------------------------------------------------
def test_secrets_are_stored_encrypted(node: Node, receiver: Receiver) -> None:
    svc = node.notifications(start=False)
    made = svc.create_sink({"name": "hooks", "url": receiver.url, "secret": "k3y"})
    stored = db.get_sink(node.database, made["id"]).secret
    assert stored and "k3y" not in stored
    assert node.box.fernet().decrypt(stored.encode()) == b"k3y"
    assert svc.get_sink("hooks")["secret"] == "<hidden>"
    assert [s["secret"] for s in svc.list_sinks()] == ["<hidden>"]


def test_unknown_sinks_and_duplicates_are_refused(node: Node, receiver: Receiver) -> None:
    svc = node.notifications(start=False)
    svc.create_sink({"name": "hooks", "url": receiver.url})
    with pytest.raises(errors.SinkExists):
        svc.create_sink({"name": "hooks", "url": receiver.url})
    for call in (svc.get_sink, svc.delete_sink, svc.dead_letters):
        with pytest.raises(errors.SinkNotFound):
            call("nosuch")
    assert svc.dead_letters(CONFIG_SINK) == []


# -- a lone process ------------------------------------------------------------------------------
def test_a_lone_process_never_loads_oslo_messaging(tmp_path: Path) -> None:
    """Without a transport URL or a notification driver, the service (and a webhook sink) need
    no messaging library; a messaging sink is refused with what to configure."""
    code = f"""
import sys
from oslo_config import cfg
from congress.common import config
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.notify import start_notifications
conf = cfg.ConfigOpts()
config.init(["--config-file", {str(tmp_path / "c.conf")!r}], conf=conf, default_config_files=[])
url = config.database_url(conf)
migration.upgrade(url)
svc = start_notifications(conf, make_engine(url), None, "lone")
svc.create_sink({{"name": "h", "url": "http://127.0.0.1:9/"}})
try:
    svc.create_sink({{"name": "m", "type": "messaging", "topic": "t"}})
except errors.InvalidSink as exc:
    print("refused:", exc)
svc.stop()
print("loaded" if "oslo_messaging" in sys.modules else "not loaded")
"""
    (tmp_path / "c.conf").write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.strip().splitlines()  # oslo.log writes its lines to stdout too
    assert lines[-1] == "not loaded", done.stdout
    [refused] = [line for line in lines if line.startswith("refused:")]
    assert (
        refused.startswith("refused: type: a messaging sink needs") and "transport_url" in refused
    )


# -- oslo.messaging, on the real RabbitMQ ---------------------------------------------------------
class Heard:
    """A notification listener's endpoint: every ``info`` notification."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, dict[str, Any]]] = []

    def info(
        self,
        ctxt: Any,
        publisher_id: str,
        event_type: str,
        payload: dict[str, Any],
        metadata: Any,
    ) -> None:
        self.got.append((publisher_id, event_type, payload))


def rabbit_conf(tmp_path: Path, extra: str = "") -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    path = tmp_path / "congress.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\ntransport_url = {RABBIT}\n{extra}")
    config.init(["--config-file", str(path)], conf=conf, default_config_files=[])
    return conf


@pytest.fixture
def listen() -> Iterator[Callable[[cfg.ConfigOpts, str], Heard]]:
    """Start a notification listener on a topic (stopped at the end)."""
    stops: list[Callable[[], None]] = []

    def start(conf: cfg.ConfigOpts, topic: str) -> Heard:
        from congress.bus import messaging  # first: it imports oslo.messaging quietly

        om = messaging.om

        messaging.set_defaults(conf)
        transport = om.get_notification_transport(conf, url=RABBIT)
        heard = Heard()
        listener = om.get_notification_listener(
            transport, [om.Target(topic=topic)], [heard], executor="threading"
        )
        listener.start()

        def stop() -> None:
            listener.stop()
            listener.wait()
            transport.cleanup()

        stops.append(stop)
        return heard

    yield start
    for stop in stops:
        stop()


@pytest.mark.xdist_group("rabbitmq")
def test_a_messaging_sink_sends_each_batch_as_a_notification(
    node: Node, tmp_path: Path, listen: Callable[[cfg.ConfigOpts, str], Heard]
) -> None:
    conf = rabbit_conf(tmp_path)
    topic = f"congress-test-{uuid.uuid4().hex}"
    heard = listen(conf, topic)
    svc = start_notifications(conf, node.database, node.history, "pe1")
    node.services.append(svc)
    assert svc.messaging_available
    made = svc.create_sink({"name": "bus", "type": "messaging", "topic": topic})
    assert (made["type"], made["topic"], made["url"], made["secret"]) == (
        "messaging",
        topic,
        None,
        None,
    )
    node.change(["vm1"])
    wait_for(lambda: heard.got, "the notification", timeout=20)
    [(publisher, event_type, payload)] = heard.got
    assert (publisher, event_type) == ("policy.pe1", EVENT_TYPE)
    assert (payload["sink"], payload["policy"], payload["table"]) == ("bus", "p", "error")
    assert ops(payload["changes"]) == [("insert", ["vm1"])]
    assert svc.dead_letters("bus") == []


@pytest.mark.xdist_group("rabbitmq")
def test_config_level_notifications_send_the_watched_tables_changes(
    node: Node, tmp_path: Path, listen: Callable[[cfg.ConfigOpts, str], Heard]
) -> None:
    topic = f"congress-test-{uuid.uuid4().hex}"
    conf = rabbit_conf(
        tmp_path, f"[oslo_messaging_notifications]\ndriver = messagingv2\ntopics = {topic}\n"
    )
    heard = listen(conf, topic)
    svc = start_notifications(conf, node.database, node.history, "pe1")
    node.services.append(svc)
    wait_for(lambda: db.get_cursor(node.database, CONFIG_SINK) is not None, "the _config cursor")
    node.change(["vm1"])
    node.engine.create_rule("p", "warning(2)")
    node.engine.create_rule("p", "other(3)")  # not a watched table
    assert node.history.flush()
    wait_for(lambda: len(heard.got) == 2, "both notifications", timeout=20)
    time.sleep(0.5)
    assert len(heard.got) == 2
    by_table = {payload["table"]: payload for _, _, payload in heard.got}
    assert {p for p, _, _ in heard.got} == {"policy.pe1"}
    assert {e for _, e, _ in heard.got} == {EVENT_TYPE}
    assert by_table["error"]["sink"] == CONFIG_SINK
    assert ops(by_table["error"]["changes"]) == [("insert", ["vm1"])]
    assert ops(by_table["warning"]["changes"]) == [("insert", [2])]
