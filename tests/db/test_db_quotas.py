"""Project quotas: the ``project_quotas`` rows, and the policies and rules quotas checked in the
write's own transaction (SQLite, PostgreSQL and MariaDB)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from congress.db import api, errors
from congress.db.policies import QuotaExceeded, WriteQuota
from congress.db.records import NewRule

RunTogether = Callable[..., list[object]]


def rules(*texts: str) -> list[NewRule]:
    return [NewRule(rule=t, fingerprint=t) for t in texts]


# -- the quotas rows ---------------------------------------------------------------------


def test_a_project_without_quotas_has_none(engine: Engine) -> None:
    assert api.get_project_quotas(engine, "p1") == {}
    assert api.get_project_quotas(engine, api.ALL_PROJECTS) == {}
    assert api.list_project_quotas(engine) == {}


def test_set_get_list_and_replace(engine: Engine) -> None:
    assert api.set_project_quotas(engine, "p1", {"policies": 3, "rules": 50}) == {
        "policies": 3,
        "rules": 50,
    }
    api.set_project_quotas(engine, api.ALL_PROJECTS, {"evaluation_seconds": 2.5})
    assert api.get_project_quotas(engine, "p1") == {"policies": 3.0, "rules": 50.0}
    assert api.get_project_quotas(engine, "*") == {"evaluation_seconds": 2.5}
    assert api.list_project_quotas(engine) == {
        "*": {"evaluation_seconds": 2.5},
        "p1": {"policies": 3.0, "rules": 50.0},
    }
    api.set_project_quotas(engine, "p1", {"rows_per_table": 10})  # replaces, not merges
    assert api.get_project_quotas(engine, "p1") == {"rows_per_table": 10.0}


def test_setting_no_quotas_removes_the_row(engine: Engine) -> None:
    api.set_project_quotas(engine, "p1", {"policies": 3})
    assert api.set_project_quotas(engine, "p1", {}) == {}
    assert api.list_project_quotas(engine) == {}
    assert api.set_project_quotas(engine, "p2", {}) == {}  # nothing to remove: no error


def test_delete(engine: Engine) -> None:
    api.set_project_quotas(engine, "p1", {"policies": 3})
    assert api.delete_project_quotas(engine, "p1") is True
    assert api.get_project_quotas(engine, "p1") == {}
    assert api.delete_project_quotas(engine, "p1") is False


def test_bad_project_ids_are_invalid(engine: Engine) -> None:
    with pytest.raises(errors.InvalidValue):
        api.set_project_quotas(engine, "", {"policies": 1})
    with pytest.raises(errors.InvalidValue):
        api.set_project_quotas(engine, "x" * 1000, {"policies": 1})


# -- the policies and rules quotas -------------------------------------------------------


def test_usage_counts_live_policies_and_rules_of_the_project(engine: Engine) -> None:
    api.create_policy(engine, "a@p1", owner="p1", rules=rules("p(1)", "p(2)"))
    doomed = api.create_policy(engine, "b@p1", owner="p1", rules=rules("q(1)"))
    api.create_policy(engine, "c@p2", owner="p2", rules=rules("p(1)"))
    api.create_policy(engine, "glob", rules=rules("p(1)"))
    assert api.project_usage(engine, "p1") == {"policies": 2, "rules": 3}
    api.delete_policy(engine, doomed.id)
    (rule,) = [r for r in api.list_rules(engine, "a@p1") if r.rule == "p(1)"]
    api.delete_rule(engine, rule.id)
    assert api.project_usage(engine, "p1") == {"policies": 1, "rules": 1}
    assert api.project_usage(engine, "p3") == {"policies": 0, "rules": 0}


def test_a_policy_over_the_quota_is_refused(engine: Engine) -> None:
    quota = WriteQuota(policies=2)
    api.create_policy(engine, "a@p1", owner="p1", quota=quota)
    api.create_policy(engine, "b@p1", owner="p1", quota=quota)
    revision = api.current_revision(engine)
    with pytest.raises(QuotaExceeded) as caught:
        api.create_policy(engine, "c@p1", owner="p1", quota=quota)
    err = caught.value
    assert (err.code, err.quota, err.limit, err.project) == ("quota_exceeded", "policies", 2, "p1")
    assert str(err) == "Quota exceeded: project may own at most 2 policies"
    assert api.current_revision(engine) == revision  # nothing written
    assert [p.name for p in api.list_policies(engine)] == ["a@p1", "b@p1"]
    # another project, and the operator's global policies, are not affected
    api.create_policy(engine, "c@p2", owner="p2", quota=quota)
    api.create_policy(engine, "c", quota=quota)
    api.create_policy(engine, "d", quota=quota)
    api.create_policy(engine, "e", quota=quota)


def test_a_deleted_policy_frees_its_place(engine: Engine) -> None:
    quota = WriteQuota(policies=1)
    first = api.create_policy(engine, "a@p1", owner="p1", quota=quota)
    api.delete_policy(engine, first.id)
    api.create_policy(engine, "b@p1", owner="p1", quota=quota)


def test_zero_is_no_limit(engine: Engine) -> None:
    for i in range(3):
        api.create_policy(engine, f"p{i}@p1", owner="p1", rules=rules("p(1)"), quota=WriteQuota())


def test_rules_over_the_quota_are_refused(engine: Engine) -> None:
    quota = WriteQuota(rules=3)
    api.create_policy(engine, "a@p1", owner="p1", rules=rules("p(1)", "p(2)"), quota=quota)
    api.create_policy(engine, "b@p1", owner="p1", quota=quota)
    with pytest.raises(QuotaExceeded) as caught:
        api.add_rules(engine, "b@p1", rules("q(1)", "q(2)"), quota=quota)
    assert (caught.value.quota, caught.value.limit) == ("rules", 3)
    assert str(caught.value) == "Quota exceeded: project may own at most 3 rules"
    assert api.list_rules(engine, "b@p1") == []
    api.add_rule(engine, "b@p1", "q(1)", fingerprint="q(1)", quota=quota)
    with pytest.raises(QuotaExceeded):
        api.add_rule(engine, "b@p1", "q(2)", fingerprint="q(2)", quota=quota)
    # a policy created with too many rules is refused whole
    with pytest.raises(QuotaExceeded):
        api.create_policy(engine, "c@p1", owner="p1", rules=rules("r(1)"), quota=quota)
    assert [p.name for p in api.list_policies(engine)] == ["a@p1", "b@p1"]
    # the operator's policies have no quota
    api.create_policy(engine, "glob", rules=rules("p(1)", "p(2)", "p(3)", "p(4)"), quota=quota)
    api.add_rules(engine, "glob", rules("p(5)"), quota=quota)


def test_a_missing_policy_is_still_not_found(engine: Engine) -> None:
    with pytest.raises(errors.NotFound):
        api.add_rules(engine, "nope@p1", rules("p(1)"), quota=WriteQuota(rules=1))


def test_concurrent_writers_cannot_both_take_the_last_place(
    engine: Engine, run_together: RunTogether
) -> None:
    quota = WriteQuota(policies=3, rules=4)
    api.create_policy(engine, "a@p1", owner="p1", rules=rules("p(1)", "p(2)"), quota=quota)
    api.create_policy(engine, "b@p1", owner="p1", quota=quota)
    results = run_together(
        *[
            (lambda i=i: api.create_policy(engine, f"n{i}@p1", owner="p1", quota=quota))
            for i in range(4)
        ]
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, Exception))
    assert api.project_usage(engine, "p1")["policies"] == 3
    results = run_together(
        *[
            (lambda i=i: api.add_rule(engine, "b@p1", f"q({i})", fingerprint=f"q{i}", quota=quota))
            for i in range(4)
        ]
    )
    assert sum(not isinstance(r, Exception) for r in results) == 2, results
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, Exception))
    assert api.project_usage(engine, "p1")["rules"] == 4
