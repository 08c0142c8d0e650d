"""Explanations and the impact of a policy change across the bus: ``RemoteEngine.explain``,
``explain_table``, ``impact`` and ``preview_rule`` answer as the engine itself does
(docs/explanations.md), over an ``InProcessBus`` with the wire's JSON codec."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from congress.bus import InProcessBus
from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse_literal
from congress.datalog.simulate import ImpactResult
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors, rpc
from congress.services.policy_engine import PolicyEngineService, RuleView


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@pytest.fixture
def engine(database: Engine) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: datetime.datetime(2026, 11, 25, 12))
    svc.start()
    svc.create_policy("alice")
    for rule in ("p(1)", "p(2)", "r(2)", "q(x) :- p(x), not r(x)", "error(x) :- q(x)"):
        svc.create_rule("alice", rule)
    svc.take_written_revision()  # the set-up's writes: not the tests' calls
    return svc


@pytest.fixture
def remote(engine: PolicyEngineService) -> rpc.RemoteEngine:
    bus = InProcessBus()
    rpc.serve(
        bus, rpc.ENGINE, engine, rpc.ENGINE_METHODS, written_revision=engine.take_written_revision
    )
    return rpc.RemoteEngine(bus)


def test_explain_across_the_bus(remote: rpc.RemoteEngine, engine: PolicyEngineService) -> None:
    held = remote.explain("alice", "q", [1])
    assert held == engine.explain("alice", "q", [1])
    assert held["holds"] is True and held["explanation"]["rule_id"]
    absent = remote.explain("alice", "q", [2])
    assert absent == engine.explain("alice", "q", [2])
    assert absent["why_not"]["rules"][0]["failed"]["reason"] == "present"
    assert remote.explain_table("alice", "q") == engine.explain_table("alice", "q")
    with pytest.raises(errors.NotFound):
        remote.explain("alice", "nosuch", [1])
    with pytest.raises(errors.BadRequest):
        remote.explain("alice", "q", [1, 2])
    assert remote.take_written_revision() is None


def test_impact_and_dry_run_across_the_bus(
    remote: rpc.RemoteEngine, engine: PolicyEngineService
) -> None:
    revision = engine.revision
    res = remote.impact("alice", add_rules=["r(1)"], query="q(x)", trace=True)
    assert isinstance(res, ImpactResult)
    assert res.changes == {"error": [[], [[1]]]}  # tuples travel as lists
    assert res.answers == [] and res.trace
    delete = [v.id for v in engine.list_rules("alice") if v.rule == "r(2)"]
    res = remote.impact("alice", delete_rules=delete, tables=["q"], query="q(x)")
    assert res.changes == {"q": [[[2]], []]}
    assert res.answers == [parse_literal("q(1)"), parse_literal("q(2)")]
    view, preview = remote.preview_rule("alice", "r(1)", name="n")
    assert isinstance(view, RuleView) and (view.id, view.name, view.rule) == ("", "n", "r(1)")
    assert preview.changes == {"error": [[], [[1]]]}
    with pytest.raises(PolicyError) as bad:
        remote.impact("alice", add_rules=["p(x) :- "])
    assert bad.value.problems[0].line == 1 and bad.value.problems[0].rule == "p(x) :- "
    with pytest.raises(errors.NotFound):
        remote.impact("alice", delete_rules=["nosuch"])
    with pytest.raises(errors.RuleExists):
        remote.preview_rule("alice", "p(1)")
    assert engine.revision == revision and remote.take_written_revision() is None
    assert [r[0] for r in engine.rows("alice", "error")] == [1]
