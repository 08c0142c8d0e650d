"""The history of watched tables, recorded from real policy engines on a SQLite file: changes of
rules and data, one entry per change however many engines see it, reconciliation of rows that
were there before (or vanished while the node was down), retention, and a database that fails
for a while."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from congress.common import config
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db import migration
from congress.db.engine import make_engine
from congress.db.models import TableHistoryRow
from congress.services import errors
from congress.services.history import History, iso, start_history
from congress.services.policy_engine import PolicyEngineService
from congress.services.watch import TableSelector

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
SCHEMA = {"servers": ("id", "status")}
ERROR_RULE = 'error(x) :- ds:servers(x, "ERROR")'


class Clock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def started() -> Iterator[list[History]]:
    """Histories to stop at the end of the test."""
    made: list[History] = []
    yield made
    for h in made:
        h.stop(timeout=2)


def policy_engine(database: Engine, node: str) -> PolicyEngineService:
    svc = PolicyEngineService(database, node_id=node)
    svc.start()
    svc.ensure_datasource("ds", SCHEMA)
    return svc


def history(
    started: list[History],
    database: Engine,
    engine: PolicyEngineService,
    clock: Clock,
    node: str = "n1",
    **kw: Any,
) -> History:
    kw.setdefault("reconcile_delay", 0.0)
    kw.setdefault("reconcile_grace", 60.0)
    kw.setdefault("backoff", (0.01, 0.05))
    h = History(database, engine, TableSelector(["*:error", "*:warning"]), node, clock, **kw)
    h.start()
    started.append(h)
    assert h.flush()  # the reconciliation at start is done
    return h


def entries(database: Engine) -> int:
    with database.connect() as connection:
        return connection.execute(select(func.count()).select_from(TableHistoryRow)).scalar_one()


def ops(changes: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    return [(c["op"], c["row"]) for c in changes]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_changes_of_rules_and_data_are_recorded(
    database: Engine, clock: Clock, started: list[History]
) -> None:
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock)
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    engine.create_rule("p", "other(x) :- ds:servers(x, y)")  # not watched
    revision = engine.revision
    clock.advance(seconds=1)
    engine.receive("ds", "servers", [("vm1", "ERROR"), ("vm2", "ACTIVE")], [], activation="ds:1")
    clock.advance(seconds=1)
    engine.receive("ds", "servers", [("vm2", "ERROR")], [("vm1", "ERROR")], activation="ds:2")
    clock.advance(seconds=1)
    engine.create_rule("p", "warning(1)")
    assert h.flush()
    assert h.changes("p", "error") == [
        {"time": iso(T0 + dt.timedelta(seconds=1)), "revision": revision, "op": "insert",
         "row": ["vm1"]},
        {"time": iso(T0 + dt.timedelta(seconds=2)), "revision": revision, "op": "delete",
         "row": ["vm1"]},
        {"time": iso(T0 + dt.timedelta(seconds=2)), "revision": revision, "op": "insert",
         "row": ["vm2"]},
    ]  # fmt: skip
    assert h.changes("p", "error")[0]["time"] == "2026-03-01T12:00:01.000000+00:00"
    assert ops(h.changes("p", "warning")) == [("insert", [1])]
    assert h.changes("p", "warning")[0]["revision"] == engine.revision
    assert db.history_tables(database) == [("p", "error"), ("p", "warning")]
    assert h.rows_as_of("p", "error", T0) == []
    assert h.rows_as_of("p", "error", T0 + dt.timedelta(seconds=1.5)) == [["vm1"]]
    assert h.rows_as_of("p", "error", clock.now) == [["vm2"]]
    # since, until and limit
    since = T0 + dt.timedelta(seconds=2)
    assert ops(h.changes("p", "error", since=since)) == [("delete", ["vm1"]), ("insert", ["vm2"])]
    assert ops(h.changes("p", "error", until=since)) == [("insert", ["vm1"])]
    assert len(h.changes("p", "error", limit=1)) == 1
    assert h.watched("p", "error") and not h.watched("p", "other")


def test_engines_seeing_the_same_changes_record_each_once(
    database: Engine, clock: Clock, started: list[History]
) -> None:
    """Two engines on one database, as in HA: the same batches with the same activations; the
    entries collapse on their keys. A change that each engine makes by itself (a ``local:``
    activation) is recorded by both, and answered once."""
    e1, e2 = policy_engine(database, "n1"), policy_engine(database, "n2")
    h1 = history(started, database, e1, clock, "n1")
    h2 = history(started, database, e2, clock, "n2")
    e1.create_policy("p")
    e1.create_rule("p", ERROR_RULE)
    e1.create_rule("p", "warning(1)")
    e2.sync()  # the same rules, by revision: rev:N on both
    for n, (inserts, deletes) in enumerate(
        [
            ([("vm1", "ERROR"), ("vm2", "ERROR")], []),
            ([("vm3", "ERROR")], [("vm1", "ERROR")]),
            ([], [("vm2", "ERROR")]),
        ]
    ):
        clock.advance(seconds=1)
        for e in (e1, e2):
            e.receive("ds", "servers", inserts, deletes, activation=f"ds:servers:ep:{n}")
    assert h1.flush() and h2.flush()
    assert entries(database) == 6  # warning(1), and five changes of error
    assert ops(h1.changes("p", "error")) == [
        ("insert", ["vm1"]),
        ("insert", ["vm2"]),
        ("delete", ["vm1"]),
        ("insert", ["vm3"]),
        ("delete", ["vm2"]),
    ]
    assert h2.changes("p", "error") == h1.changes("p", "error")
    with database.connect() as connection:
        nodes = set(connection.execute(select(TableHistoryRow.node_id)).scalars())
    assert nodes <= {"n1", "n2"}

    for e in (e1, e2):  # no shared activation: each engine's own
        e.receive("ds", "servers", [("vm9", "ERROR")], [])
    assert h1.flush() and h2.flush()
    assert entries(database) == 8
    assert ops(h1.changes("p", "error"))[-1] == ("insert", ["vm9"])
    assert len(h1.changes("p", "error")) == 6


def test_a_reconciliation_leaves_alone_rows_another_engine_changed_just_now(
    database: Engine, clock: Clock, started: list[History]
) -> None:
    """An engine behind another (it has not applied a change yet) does not take the
    history's newer state for a discrepancy: the rows changed within the grace are left for
    later, and its own entries of the change then collapse with the other engine's."""
    e1, e2 = policy_engine(database, "n1"), policy_engine(database, "n2")
    h1 = history(started, database, e1, clock, "n1")
    h2 = history(started, database, e2, clock, "n2", reconcile_grace=30.0)
    e1.create_policy("p")
    e1.create_rule("p", ERROR_RULE)
    e2.sync()
    for e in (e1, e2):
        e.receive("ds", "servers", [("vm1", "ERROR")], [], activation="ds:1")
    assert h1.flush() and h2.flush()
    clock.advance(seconds=10)
    e1.receive("ds", "servers", [("vm2", "ERROR")], [("vm1", "ERROR")], activation="ds:2")
    assert h1.flush()
    h2.reconcile()  # e2 still has vm1 and not vm2
    assert h2.flush()
    assert entries(database) == 3
    e2.receive("ds", "servers", [("vm2", "ERROR")], [("vm1", "ERROR")], activation="ds:2")
    assert h2.flush()
    assert entries(database) == 3
    assert h2.rows_as_of("p", "error", clock.now) == [["vm2"]]


def test_rows_gone_while_the_node_was_down_get_their_delete(
    database: Engine, clock: Clock, started: list[History], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock)
    engine.create_policy("p")
    engine.create_rule("p", "error(x) :- q(x)")
    engine.create_rule("p", "q(1)")
    q2 = engine.create_rule("p", "q(2)")
    assert h.flush()
    assert h.rows_as_of("p", "error", clock.now) == [[1], [2]]
    h.stop()
    before = clock.now

    # while down: another writer changes the rules
    db.delete_rule(database, q2.id)
    db.add_rule(database, "p", "q(3)")
    clock.advance(hours=1)

    stale = {key: db.history_latest(database, *key) for key in db.history_tables(database)}
    restarted = PolicyEngineService(database, node_id="n1")
    restarted.start()  # its rows were there before: activation None
    h2 = history(started, database, restarted, clock)
    assert ops(h2.changes("p", "error")) == [
        ("insert", [1]),
        ("insert", [2]),
        ("delete", [2]),
        ("insert", [3]),
    ]
    assert h2.changes("p", "error")[-1]["time"] == iso(clock.now)
    assert h2.rows_as_of("p", "error", before) == [[1], [2]]
    assert h2.rows_as_of("p", "error", clock.now) == [[1], [3]]
    # another engine, down as long, reconciles the same rows against the same history: its
    # entries have the same keys (after the same latest entries) and collapse with these
    count = entries(database)
    other = PolicyEngineService(database, node_id="n2")
    other.start()
    monkeypatch.setattr(db, "history_latest", lambda _db, p, t: stale[(p, t)])
    h3 = history(started, database, other, clock, "n2")
    assert h3.flush()
    assert entries(database) == count


def test_rows_that_were_there_before_are_reconciled_after_a_pause(
    database: Engine, clock: Clock, started: list[History]
) -> None:
    """A first snapshot after a start (activation None) is not recorded as changes; the
    reconciliation that follows it records what the history did not have."""
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock, reconcile_delay=0.05)
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    assert h.flush()
    engine.replace("ds", "servers", [("vm1", "ERROR"), ("vm2", "ERROR")], activation=None)
    time.sleep(0.1)
    assert h.flush()
    assert ops(h.changes("p", "error")) == [("insert", ["vm1"]), ("insert", ["vm2"])]
    engine.replace("ds", "servers", [("vm1", "ERROR"), ("vm2", "ERROR")], activation=None)
    time.sleep(0.1)
    assert h.flush()
    assert entries(database) == 2  # nothing changed: nothing recorded


def test_retention(database: Engine, clock: Clock, started: list[History]) -> None:
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock, retention_days=1)
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    engine.receive("ds", "servers", [("old", "ERROR"), ("kept", "ERROR")], [], activation="a1")
    clock.advance(hours=1)
    engine.receive("ds", "servers", [], [("old", "ERROR")], activation="a2")
    clock.advance(days=2)
    engine.receive("ds", "servers", [("new", "ERROR")], [], activation="a3")
    assert h.flush()
    assert entries(database) == 4
    assert h.prune() == 2  # old's insert and delete; kept's insert stays
    assert entries(database) == 2
    cutoff = clock.now - dt.timedelta(days=1)
    assert h.rows_as_of("p", "error", cutoff) == [["kept"]]
    assert h.rows_as_of("p", "error", clock.now) == [["kept"], ["new"]]
    with pytest.raises(errors.HistoryExpired) as caught:
        h.rows_as_of("p", "error", cutoff - dt.timedelta(seconds=1))
    assert "[watch] history_retention_days" in caught.value.message
    assert caught.value.status == 400
    # the changes start at the cutoff, however early ``since`` is
    assert ops(h.changes("p", "error")) == [("insert", ["new"])]
    assert ops(h.changes("p", "error", since=T0)) == [("insert", ["new"])]

    # a history that starts applies the retention at once
    engine.receive("ds", "servers", [], [("new", "ERROR")], activation="a4")
    assert h.flush()
    clock.advance(days=2)
    h2 = history(started, database, engine, clock, "n1", retention_days=1)
    wait_for(lambda: entries(database) == 1)
    assert h2.rows_as_of("p", "error", clock.now) == [["kept"]]


def test_nothing_is_lost_while_the_database_fails(
    database: Engine, clock: Clock, started: list[History], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock)
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    failures = {"left": 3}
    record = db.record_history

    def flaky(database: Engine, batch: Any) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise db_errors.DatabaseError("the database is away")
        record(database, batch)

    monkeypatch.setattr(db, "record_history", flaky)
    for n in range(5):
        engine.receive("ds", "servers", [(f"vm{n}", "ERROR")], [], activation=f"ds:{n}")
    assert h.flush()
    assert failures["left"] == 0
    assert h.rows_as_of("p", "error", clock.now) == [[f"vm{n}"] for n in range(5)]
    assert h.dropped == 0


def test_an_overflowing_queue_is_repaired_by_a_reconciliation(
    database: Engine,
    clock: Clock,
    started: list[History],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = policy_engine(database, "n1")
    h = history(started, database, engine, clock, max_queued=2, reconcile_grace=0.0)
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    assert h.flush()
    away = {"yes": True}
    record = db.record_history

    def flaky(database: Engine, batch: Any) -> None:
        if away["yes"]:
            raise db_errors.DatabaseError("the database is away")
        record(database, batch)

    monkeypatch.setattr(db, "record_history", flaky)
    with caplog.at_level(logging.WARNING, logger="congress.services.history"):
        for n in range(5):
            engine.receive("ds", "servers", [(f"vm{n}", "ERROR")], [], activation=f"ds:{n}")
    assert h.dropped == 3
    assert any("dropping" in r.getMessage() for r in caplog.records)
    away["yes"] = False
    assert h.flush()
    wait_for(lambda: len(h.rows_as_of("p", "error", clock.now)) == 5)
    assert h.rows_as_of("p", "error", clock.now) == [[f"vm{n}"] for n in range(5)]


def test_start_history_follows_the_configuration(
    database: Engine, tmp_path: Path, started: list[History]
) -> None:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\n"
        "[watch]\ntables = p:alarm\nhistory_retention_days = 7\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    engine = policy_engine(database, "n1")
    engine.create_policy("p")
    engine.create_rule("p", "alarm(1)")
    engine.create_rule("p", "error(1)")
    h = start_history(conf, database, engine, "n1")
    started.append(h)
    assert h.retention_days == 7
    assert h.watched("p", "alarm") and not h.watched("p", "error")
    assert not h.watched("q", "alarm")
    h.reconcile()
    assert h.flush()
    assert ops(h.changes("p", "alarm")) == [("insert", [1])]  # there before: reconciled
    assert h.changes("p", "error") == []
    # a sink's tables are added later: their rows are reconciled in
    h.add_tables(["*:error"])
    assert h.watched("p", "error") and h.watched("p", "alarm")
    h.reconcile()
    assert h.flush()
    assert ops(h.changes("p", "error")) == [("insert", [1])]


def test_changes_close_together_are_written_in_one_transaction(
    database: Engine, clock: Clock, started: list[History]
) -> None:
    """The writer lingers for more changes before writing a small batch (fewer transactions
    taking the database's write lock); a change alone is still written after the linger."""
    engine = policy_engine(database, "n1")
    engine.create_policy("p")
    engine.create_rule("p", ERROR_RULE)
    h = history(started, database, engine, clock, linger=0.5)
    writes = h.writes
    for i in range(5):
        engine.receive("ds", "servers", [(f"vm{i}", "ERROR")], [], activation=f"ds:{i}")
    wait_for(lambda: h.recorded >= 5)
    assert h.writes == writes + 1
    engine.receive("ds", "servers", [("late", "ERROR")], [], activation="ds:late")
    started_at = time.monotonic()
    wait_for(lambda: h.writes == writes + 2)
    assert 0.3 <= time.monotonic() - started_at < 3.0
    assert ops(h.changes("p", "error"))[-1] == ("insert", ["late"])
