"""Project quotas in the policy engine service (SQLite here; the database checks are tested on
every backend in tests/db/test_db_quotas.py): policies and rules refused over the quota in the
write's transaction, rows per table and evaluation seconds as the runtime's per-policy limits,
and the quotas' own reads and writes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from oslo_config import cfg
from sqlalchemy.engine import Engine

from congress.common import config
from congress.datalog.errors import LimitExceeded
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.library import LibraryService
from congress.services.policy_engine import PolicyEngineService
from congress.services.quotas import QUOTAS, QuotaExceeded, effective, option_defaults

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0)
DEFAULTS = {
    "policies": 2,
    "rules": 4,
    "rows_per_table": 3,
    "evaluation_seconds": 0,
    "actions_per_hour": 100,
}


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


def service(database: Engine, **kw: object) -> PolicyEngineService:
    kw.setdefault("quota_defaults", DEFAULTS)
    svc = PolicyEngineService(database, clock=lambda: CLOCK, node_id="n1", **kw)  # type: ignore[arg-type]
    svc.start()
    return svc


class FakeTimer:
    """A clock that advances one second every time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


# -- policies and rules ------------------------------------------------------------------


def test_a_project_may_own_only_so_many_policies(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("a@p1", owner="p1")
    svc.create_policy("b@p1", owner="p1")
    revision = db.current_revision(database)
    with pytest.raises(QuotaExceeded) as caught:
        svc.create_policy("c@p1", owner="p1")
    err = caught.value
    assert (err.code, err.status, err.quota, err.limit) == ("quota_exceeded", 400, "policies", 2)
    assert err.message == "Quota exceeded: project may own at most 2 policies"
    assert db.current_revision(database) == revision
    assert not svc.runtime.policy_exists("c@p1")  # taken back from the runtime too
    assert "c@p1" not in {p.name for p in svc.list_policies()}
    # another project, and the operator (global policies), have their own room
    svc.create_policy("c@p2", owner="p2")
    for name in ("g1", "g2", "g3"):
        svc.create_policy(name)
    # deleting one makes room
    svc.delete_policy("a@p1")
    svc.create_policy("c@p1", owner="p1")


def test_a_project_may_own_only_so_many_rules(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("a@p1", owner="p1", rules=[{"rule": "p(1)"}, {"rule": "p(2)"}])
    svc.create_policy("b@p1", owner="p1")
    svc.create_rule("b@p1", "q(1)")
    svc.create_rule("b@p1", "q(2)")
    with pytest.raises(QuotaExceeded) as caught:
        svc.create_rule("b@p1", "q(3)")
    assert caught.value.message == "Quota exceeded: project may own at most 4 rules"
    assert caught.value.quota == "rules"
    assert {r.rule for r in db.list_rules(database, "b@p1")} == {"q(1)", "q(2)"}
    assert svc.runtime.rows("b@p1", "q") == {(1,), (2,)}
    # the operator's policies have no quota
    svc.create_policy("glob", rules=[{"rule": f"p({i})"} for i in range(6)])


def test_a_policy_created_with_too_many_rules_is_refused_whole(database: Engine) -> None:
    svc = service(database)
    with pytest.raises(QuotaExceeded):
        svc.create_policy("a@p1", owner="p1", rules=[{"rule": f"p({i})"} for i in range(5)])
    assert not svc.runtime.policy_exists("a@p1")
    assert "a@p1" not in {p.name for p in db.list_policies(database)}


def test_library_activation_into_a_project_counts(database: Engine) -> None:
    svc = service(database)
    library = LibraryService(database, svc)
    library.create({"name": "Lib", "rules": [{"rule": "p(1)"}, {"rule": "q(x) :- p(x)"}]})
    library.activate("Lib", owner="p1", name="lib1@p1")
    library.activate("Lib", owner="p1", name="lib2@p1")
    with pytest.raises(QuotaExceeded) as caught:  # rules: 4 owned, 2 more
        svc.set_quotas("p1", {"policies": 5})
        library.activate("Lib", owner="p1", name="lib3@p1")
    assert caught.value.quota == "rules"
    svc.set_quotas("p1", {"rules": 10})
    library.activate("Lib", owner="p1", name="lib3@p1")
    svc.set_quotas("p1", {"policies": 3})
    with pytest.raises(QuotaExceeded) as caught:
        library.activate("Lib", owner="p1", name="lib4@p1")
    assert caught.value.quota == "policies"


def test_the_operator_s_quotas_override_the_defaults(database: Engine) -> None:
    svc = service(database)
    svc.set_quotas("*", {"policies": 1})
    svc.set_quotas("p2", {"policies": 3})
    svc.create_policy("a@p1", owner="p1")
    with pytest.raises(QuotaExceeded):
        svc.create_policy("b@p1", owner="p1")  # '*' holds for p1
    for name in ("a@p2", "b@p2", "c@p2"):
        svc.create_policy(name, owner="p2")  # p2 has its own
    svc.delete_quotas("*")
    svc.create_policy("b@p1", owner="p1")  # the default (2) again


# -- rows per table and evaluation seconds -------------------------------------------------


def test_a_rule_over_rows_per_table_is_refused(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("a@p1", owner="p1", rules=[{"rule": "p(1)"}, {"rule": "p(2)"}])
    svc.create_rule("a@p1", "p(3)")
    svc.set_quotas("p1", {"rules": 100})
    svc.create_rule("a@p1", "p(4)")  # asserted rows are not limited
    with pytest.raises(LimitExceeded) as caught:
        svc.create_rule("a@p1", "q(x) :- p(x)")
    assert (caught.value.limit, caught.value.value) == ("rows_per_table", 3)
    assert "rows_per_table=3" in caught.value.message
    assert "q(x) :- p(x)" not in {r.rule for r in db.list_rules(database, "a@p1")}
    assert svc.runtime.rows("a@p1", "q") == set()
    # a global policy is not limited
    svc.create_policy("glob", rules=[{"rule": f"p({i})"} for i in range(5)])
    svc.create_rule("glob", "q(x) :- p(x)")
    assert len(svc.runtime.rows("glob", "q")) == 5


def test_data_over_rows_per_table_puts_the_policy_in_its_error_state(database: Engine) -> None:
    """(The project reads its own datasource ``nova@p1``: a view of a shared one is the same
    to the runtime.)"""
    svc = service(database)
    svc.ensure_datasource("nova@p1", {"servers": ["id"]})
    svc.create_policy("a@p1", owner="p1", rules=[{"rule": "s(x) :- nova:servers(x)"}])
    svc.create_policy("glob", rules=[{"rule": "s(x) :- nova@p1:servers(x)"}])
    svc.receive("nova@p1", "servers", [("vm1",), ("vm2",), ("vm3",)], [])
    assert svc.policy_errors() == {}
    svc.receive("nova@p1", "servers", [("vm4",)], [])
    errs = svc.policy_errors()
    assert list(errs) == ["a@p1"]
    assert "rows_per_table=3" in errs["a@p1"]
    assert svc.runtime.rows("a@p1", "s") == set()
    assert len(svc.runtime.rows("glob", "s")) == 4
    # a higher quota brings it back at once
    svc.set_quotas("p1", {"rows_per_table": 10})
    assert svc.policy_errors() == {}
    assert len(svc.runtime.rows("a@p1", "s")) == 4
    # a lower one takes effect with the next data change
    svc.set_quotas("p1", {"rows_per_table": 2})
    assert svc.policy_errors() == {}
    svc.receive("nova@p1", "servers", [("vm5",)], [])
    assert "rows_per_table=2" in svc.policy_errors()["a@p1"]


def test_evaluation_seconds_are_limited_per_project_policy(database: Engine) -> None:
    svc = service(database, timer=FakeTimer(), quota_defaults={**DEFAULTS, "evaluation_seconds": 2})
    svc.set_quotas("p1", {"rows_per_table": 0, "rules": 100})
    svc.ensure_datasource("nova@p1", {"servers": ["id"]})
    svc.receive("nova@p1", "servers", [(i,) for i in range(100)], [])
    svc.create_policy("a@p1", owner="p1")
    with pytest.raises(LimitExceeded) as caught:
        svc.create_rule("a@p1", "pair(x, y) :- nova:servers(x), nova:servers(y)")
    assert (caught.value.limit, caught.value.value) == ("evaluation_seconds", 2.0)
    assert db.list_rules(database, "a@p1") == []
    svc.create_policy("glob")
    svc.create_rule("glob", "pair(x, y) :- nova@p1:servers(x), nova@p1:servers(y)")
    assert len(svc.runtime.rows("glob", "pair")) == 10_000


# -- the quotas themselves -----------------------------------------------------------------


def test_get_quotas_answers_effective_own_and_usage(database: Engine) -> None:
    svc = service(database)
    svc.create_policy("a@p1", owner="p1", rules=[{"rule": "p(1)"}])
    svc.set_quotas("p1", {"rules": 50})
    got = svc.get_quotas("p1")
    assert got == {
        "quotas": {**DEFAULTS, "rules": 50},
        "own": {"rules": 50},
        "usage": {"policies": 1, "rules": 1},
    }
    assert svc.get_quotas("p9")["own"] == {}
    assert svc.get_quotas("*") == {"quotas": DEFAULTS, "own": {}, "usage": {}}
    assert svc.list_quotas() == {"p1": {"rules": 50}}


def test_set_quotas_merges_and_null_removes(database: Engine) -> None:
    svc = service(database)
    svc.set_quotas("p1", {"rules": 50, "policies": 7})
    svc.set_quotas("p1", {"rules": None, "evaluation_seconds": 1.5})
    assert svc.get_quotas("p1")["own"] == {"policies": 7, "evaluation_seconds": 1.5}
    svc.set_quotas("p1", {"policies": None, "evaluation_seconds": None})
    assert svc.list_quotas() == {}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"widgets": 3}, "'widgets'"),
        ({"rules": -1}, "'rules'"),
        ({"rules": 1.5}, "'rules'"),
        ({"rules": "10"}, "'rules'"),
        ({"rules": True}, "'rules'"),
        ({"evaluation_seconds": -0.5}, "'evaluation_seconds'"),
        ({"widgets": None}, "'widgets'"),
    ],
)
def test_bad_quotas_are_refused_naming_the_field(
    database: Engine, body: dict[str, object], named: str
) -> None:
    svc = service(database)
    with pytest.raises(errors.BadRequest) as caught:
        svc.set_quotas("p1", body)
    assert named in caught.value.message
    assert svc.list_quotas() == {}


def test_bad_project_ids_are_refused(database: Engine) -> None:
    svc = service(database)
    for project in ("a b", "x@y", ""):
        with pytest.raises(errors.BadRequest):
            svc.set_quotas(project, {"rules": 1})
        with pytest.raises(errors.BadRequest):
            svc.get_quotas(project)


def test_delete_quotas(database: Engine) -> None:
    svc = service(database)
    svc.set_quotas("p1", {"rules": 1})
    svc.delete_quotas("p1")
    assert svc.list_quotas() == {}
    with pytest.raises(errors.NotFound):
        svc.delete_quotas("p1")


def test_effective_merges_defaults_star_and_own(database: Engine) -> None:
    conf = cfg.ConfigOpts()
    config.init([], conf=conf, default_config_files=[])
    assert effective(conf, None, "p1").as_dict() == option_defaults()
    db.set_project_quotas(database, "*", {"rules": 7})
    db.set_project_quotas(database, "p1", {"policies": 3})
    got = effective(conf, database, "p1").as_dict()
    assert got == {**option_defaults(), "rules": 7, "policies": 3}
    assert set(got) == set(QUOTAS)
    assert effective(conf, database, "p2").policies == option_defaults()["policies"]
