"""Policy versions through the policy engine service (docs/policy-lifecycle.md): two engines
on one database (as an HA deployment's), a rollback on one followed by the other; the calls
across the bus (``RemoteEngine``) carry who asks."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from congress.bus import InProcessBus
from congress.datalog.errors import LimitExceeded
from congress.datalog.runtime import Limits
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors, rpc
from congress.services.policy_engine import PolicyEngineService
from congress.services.policy_versions import Actor

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0)


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


def service(database: Engine, node_id: str) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: CLOCK, node_id=node_id)
    svc.start()
    return svc


def test_a_rollback_on_one_engine_is_followed_by_the_other(database: Engine) -> None:
    pe1, pe2 = service(database, "pe1"), service(database, "pe2")
    pe1.add_write_listener(lambda revision: pe2.sync())  # the bus's policy_changed
    alice = Actor("alice", "blue")
    pe1.create_policy("p", rules=[{"rule": "q(1)"}, {"rule": "error(x) :- q(x)"}], actor=alice)
    pe2.sync()
    pe2.create_rule("p", "q(2)", actor=Actor("bob", None))
    pe2.update_policy("p", {"dry_run": True}, actor=Actor("bob", None))
    pe1.sync()
    assert pe1.rows("p", "error") == [(1,), (2,)]
    assert pe1.get_policy("p").dry_run is True

    done = pe1.rollback_policy("p", 1, actor=alice)
    assert (done["version"], done["node"], done["user_id"]) == (4, "pe1", "alice")
    assert pe1.take_written_revision() == done["revision"] == pe1.revision
    for engine in (pe1, pe2):  # pe2 followed through the database, as it follows any write
        assert engine.revision == done["revision"]
        assert engine.rows("p", "error") == [(1,)]
        assert engine.get_policy("p").dry_run is False
        assert sorted(r.rule for r in engine.list_rules("p")) == ["error(x) :- q(x)", "q(1)"]
    listed = pe2.list_versions("p")
    assert [(v["version"], v["action"], v["node"], v["user_id"]) for v in listed] == [
        (4, "rollback", "pe1", "alice"),
        (3, "settings_changed", "pe2", "bob"),
        (2, "rule_added", "pe2", "bob"),
        (1, "policy_created", "pe1", "alice"),
    ]

    # an engine that missed the notification catches up at its next sync, and a restarted
    # engine loads the restored policy
    pe3 = service(database, "pe3")
    pe2.rollback_policy("p", 3)
    pe1.sync()
    for engine in (pe1, pe3, service(database, "pe4")):
        engine.sync()
        assert engine.rows("p", "error") == [(1,), (2,)]
        assert engine.get_policy("p").dry_run is True


def test_errors_of_the_engine(database: Engine) -> None:
    pe = service(database, "pe1")
    pe.create_policy("p")
    with pytest.raises(errors.VersionNotFound):
        pe.get_version("p", 2)
    with pytest.raises(errors.VersionNotFound):
        pe.rollback_policy("p", 2)
    with pytest.raises(errors.SystemPolicy):
        pe.rollback_policy("classification", 1)
    with pytest.raises(errors.BadRequest):
        pe.rollback_policy("p", "1")  # type: ignore[arg-type]
    with pytest.raises(errors.PolicyNotFound):
        pe.list_versions("nosuch")
    assert pe.get_version("p", 1)["after"]["name"] == "p"


def test_versions_and_rollback_across_the_bus(database: Engine) -> None:
    pe = service(database, "pe1")
    bus = InProcessBus()
    rpc.serve(bus, rpc.ENGINE, pe, rpc.ENGINE_METHODS, written_revision=pe.take_written_revision)
    remote = rpc.RemoteEngine(bus)
    carol = Actor("carol", "red")
    remote.create_policy("p", rules=[{"rule": "q(1)"}], actor=carol)
    rule = remote.create_rule("p", "q(2)", actor=carol)
    remote.update_policy("p", {"action_grace_seconds": 5}, actor=carol)
    remote.delete_rule("p", rule.id, actor=carol)
    done = remote.rollback_policy("p", 2, actor=carol)
    assert remote.take_written_revision() == done["revision"]
    listed = remote.list_versions("p", limit=10)
    assert [(v["action"], v["user_id"], v["project_id"]) for v in listed] == [
        ("rollback", "carol", "red"),
        ("rule_deleted", "carol", "red"),
        ("settings_changed", "carol", "red"),
        ("rule_added", "carol", "red"),
        ("policy_created", "carol", "red"),
    ]
    assert remote.get_version("p", 5)["after"]["settings"]["action_grace_seconds"] is None
    with pytest.raises(errors.VersionNotFound):
        remote.rollback_policy("p", 9, actor=carol)
    remote.delete_policy("p", actor=carol)
    assert pe.list_versions(listed[0]["policy_id"])[0]["action"] == "policy_deleted"


def test_a_rule_refused_after_its_write_is_recorded_as_taken_back(database: Engine) -> None:
    pe = PolicyEngineService(
        database, clock=lambda: CLOCK, node_id="pe1", limits=Limits(max_rows=5)
    )
    pe.start()
    dave = Actor("dave", None)
    pe.create_policy("p", rules=[{"rule": f"q({i})"} for i in range(3)], actor=dave)
    with pytest.raises(LimitExceeded):
        pe.create_rule("p", "pair(x, y) :- q(x), q(y)", actor=dave)
    newest, added, _ = pe.list_versions("p")
    assert (added["action"], newest["action"], newest["user_id"]) == (
        "rule_added",
        "rule_deleted",
        "dave",
    )
    refused = pe.get_version("p", 3)
    assert refused["detail"] == {"refused": refused["before"]["rules"][-1]["id"]}
    assert refused["after"] == pe.get_version("p", 1)["after"]


def test_two_engines_starting_at_once_both_start(
    database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engines started at once on a new database both find no system policies; the one
    that makes them second finds them made (a race seen in HA: the loser must not crash)."""
    from congress.db import api as db

    empty = db.load_policy_state(database)  # as read before the other engine wrote
    pe1 = service(database, "pe1")
    monkeypatch.setattr(db, "load_policy_state", lambda _db: empty)
    pe2 = service(database, "pe2")
    monkeypatch.undo()
    pe2.sync()
    for engine in (pe1, pe2):
        assert {p.name for p in engine.list_policies()} >= {"classification", "action"}
    assert [p.name for p in db.list_policies(database)].count("classification") == 1
