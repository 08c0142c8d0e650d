"""The engine's lock lets reads in while a long change evaluates (``congress.services.gate``)."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path

import pytest

from congress.datalog.errors import LimitExceeded
from congress.datalog.runtime import Limits
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.gate import EngineGate
from congress.services.policy_engine import PolicyEngineService


def writer_in_pauses(gate: EngineGate, stop: threading.Event, log: list[str]) -> None:
    with gate:
        log.append("write begins")
        while not stop.is_set():
            gate.pause_point()
            time.sleep(0.001)
        log.append("write ends")


def pausing_writer() -> tuple[EngineGate, threading.Event, list[str], threading.Thread]:
    """A gate that pauses at every pause point, and a writer in it (``writer_in_pauses``),
    started and at work: the gate, the event that ends the write, the log, the thread."""
    gate = EngineGate(slice_seconds=0.0)
    stop = threading.Event()
    log: list[str] = []
    writer = threading.Thread(target=writer_in_pauses, args=(gate, stop, log))
    writer.start()
    while not log:
        time.sleep(0.001)
    return gate, stop, log, writer


def test_a_read_runs_at_the_writers_pause_point_and_the_writer_goes_on() -> None:
    gate, stop, log, writer = pausing_writer()
    for _ in range(3):
        with gate.read():
            log.append("read")
            assert writer.is_alive()
    assert gate.pauses >= 1
    stop.set()
    writer.join(5)
    assert log == ["write begins", "read", "read", "read", "write ends"]


def test_without_pause_points_a_read_waits_for_the_writer() -> None:
    gate = EngineGate()
    log: list[str] = []
    holding = threading.Event()

    def write() -> None:
        with gate:
            holding.set()
            time.sleep(0.2)
            log.append("write")

    writer = threading.Thread(target=write)
    writer.start()
    holding.wait(5)
    with gate.read():
        log.append("read")
    writer.join(5)
    assert log == ["write", "read"]


def test_a_writer_waits_for_the_running_change_even_at_its_pause_points() -> None:
    gate, stop, log, first = pausing_writer()

    def second() -> None:
        with gate:
            log.append("second write")

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.1)
    assert "second write" not in log
    stop.set()
    first.join(5)
    t.join(5)
    assert log == ["write begins", "write ends", "second write"]


def test_reads_nest_and_a_read_in_a_pause_cannot_write() -> None:
    gate, stop, log, writer = pausing_writer()
    with gate.read():
        with gate.read():  # a read calling another read
            log.append("nested read")
        with pytest.raises(RuntimeError, match="tried to change"):
            gate.acquire()
    stop.set()
    writer.join(5)
    with gate, gate.read():  # the writer's own reads, and reads of a free engine
        pass
    assert log == ["write begins", "nested read", "write ends"]


@pytest.fixture
def svc(tmp_path: Path) -> PolicyEngineService:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    svc = PolicyEngineService(
        make_engine(url),
        clock=datetime.datetime.now,
        timer=time.monotonic,
        limits=Limits(max_rows=2_000_000),
        node_id="n1",
    )
    svc.start()
    svc.ensure_datasource("big", {f"t{i}": ["v"] for i in range(4)} | {"servers": ["id", "s"]})
    for i in range(4):
        svc.receive("big", f"t{i}", [(f"t{i}-{j}",) for j in range(60)], [])
    svc.receive("big", "servers", [("vm1", "ERROR"), ("vm2", "ACTIVE")], [])
    svc.create_policy("ops", rules=[{"rule": 'error(id) :- big:servers(id, "ERROR")'}])
    svc.create_policy("huge")
    return svc


def test_reads_are_answered_while_a_huge_rule_evaluates(
    svc: PolicyEngineService, caplog: pytest.LogCaptureFixture
) -> None:
    outcome: list[BaseException] = []

    def huge() -> None:
        try:
            svc.create_rule("huge", "c(a, b, c, d) :- big:t0(a), big:t1(b), big:t2(c), big:t3(d)")
        except BaseException as e:
            outcome.append(e)

    writer = threading.Thread(target=huge)
    writer.start()
    while svc.lock.pauses == 0 and writer.is_alive():  # a read waiting makes it pause
        with svc.lock.read():
            pass
    answered: list[object] = []
    while writer.is_alive() and len(answered) < 20:
        answered.append(svc.rows("ops", "error"))
        answered.append([p.name for p in svc.list_policies()])
        answered.append(svc.tables("huge"))
        answered.append([r.rule for r in svc.list_rules("huge")])
    writer.join(120)
    assert len(answered) >= 20  # answered while the rule was still being evaluated
    assert all(
        a in ([("vm1",)], [], ["action", "classification", "huge", "ops"]) for a in answered
    ), answered[:8]
    assert isinstance(outcome[0], LimitExceeded)  # 60^4 rows: over the limit, and undone
    assert svc.tables("huge") == [] and svc.list_rules("huge") == []
    # evaluated once: catching up with the database skips the rule added and deleted again
    assert len([r for r in caplog.records if "undone" in r.getMessage()]) == 1
