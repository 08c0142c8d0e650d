"""Policies and rules: create, read, list, delete; names, fingerprints and soft deletion."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from congress.db import api, errors
from congress.db._support import PRIMARY, violated_constraint
from congress.db.models import DeletedPolicyRow, PolicyRow, RuleRow
from congress.db.records import NewRule, Policy

RunTogether = Callable[..., list[object]]


def test_create_and_read_a_policy(engine: Engine) -> None:
    before = datetime.now(UTC)
    policy = api.create_policy(
        engine, "classification", description="the default", owner="proj", kind="materialized"
    )
    assert (policy.name, policy.abbreviation, policy.description) == (
        "classification",
        "class",
        "the default",
    )
    assert (policy.owner, policy.kind, policy.revision) == ("proj", "materialized", 1)
    assert len(policy.id) == 36
    assert policy.created_at.tzinfo is UTC and policy.created_at >= before
    assert api.get_policy(engine, policy.id) == policy
    assert api.get_policy_by_name(engine, "classification") == policy
    assert api.find_policy(engine, policy.id) == policy
    assert api.find_policy(engine, "classification") == policy
    assert api.list_policies(engine) == [policy]


def test_defaults(engine: Engine) -> None:
    policy = api.create_policy(engine, "ab", abbreviation="x")
    assert (policy.abbreviation, policy.owner, policy.kind, policy.description) == (
        "x",
        "user",
        "nonrecursive",
        "",
    )


def test_missing_policies_are_not_found(engine: Engine) -> None:
    for lookup in (api.get_policy, api.get_policy_by_name, api.find_policy, api.delete_policy):
        with pytest.raises(errors.NotFound) as caught:
            lookup(engine, "nope")
        assert caught.value.code == "resource_not_found"


def test_find_prefers_the_id(engine: Engine) -> None:
    first = api.create_policy(engine, "first")
    api.create_policy(engine, first.id)  # a policy named like another's id
    assert api.find_policy(engine, first.id) == first


def test_list_is_oldest_first(engine: Engine) -> None:
    names = ["b", "a", "c"]
    for name in names:
        api.create_policy(engine, name)
    assert [p.name for p in api.list_policies(engine)] == names


def test_duplicate_names_are_refused(engine: Engine) -> None:
    api.create_policy(engine, "p")
    with pytest.raises(errors.DuplicateName) as caught:
        api.create_policy(engine, "p")
    assert (caught.value.kind, caught.value.name, caught.value.code) == (
        "policy",
        "p",
        "duplicate_name",
    )
    assert len(api.list_policies(engine)) == 1
    assert api.current_revision(engine) == 1


def test_names_are_case_sensitive(engine: Engine) -> None:
    api.create_policy(engine, "Policy")
    api.create_policy(engine, "policy")
    assert {p.name for p in api.list_policies(engine)} == {"Policy", "policy"}


def test_duplicate_ids_are_refused(engine: Engine) -> None:
    api.create_policy(engine, "p", policy_id="11111111-2222-3333-4444-555555555555")
    with pytest.raises(errors.DuplicateId):
        api.create_policy(engine, "q", policy_id="11111111-2222-3333-4444-555555555555")


def test_concurrent_creation_of_one_name_has_one_winner(
    engine: Engine, run_together: RunTogether
) -> None:
    for round_ in range(3):
        name = f"race{round_}"
        results = run_together(*[lambda name=name: api.create_policy(engine, name)] * 2)
        winners = [r for r in results if isinstance(r, Policy)]
        losers = [r for r in results if isinstance(r, errors.DuplicateName)]
        assert (len(winners), len(losers)) == (1, 1), results
        assert api.get_policy_by_name(engine, name) == winners[0]


def test_values_that_do_not_fit_are_refused_everywhere(engine: Engine) -> None:
    bad: list[dict[str, str]] = [
        {"name": ""},
        {"name": "n" * 256},
        {"name": "p", "abbreviation": "toolong"},
        {"name": "p", "kind": "k" * 37},
        {"name": "p", "policy_id": "x" * 37},
        {"name": "p", "policy_id": ""},
    ]
    for fields in bad:
        name = fields.pop("name")
        with pytest.raises(errors.InvalidValue):
            api.create_policy(engine, name, **fields)  # type: ignore[arg-type]
    assert api.current_revision(engine) == 0


def test_unicode_round_trips(engine: Engine) -> None:
    policy = api.create_policy(engine, "política_政策", description="Ünïcødé ✓ 🚀")
    rule = api.add_rule(engine, policy.name, 'p("日本語", "🚀") :- q("ü")', comment="коммент")
    assert api.get_policy_by_name(engine, "política_政策").description == "Ünïcødé ✓ 🚀"
    assert api.get_rule(engine, rule.id) == rule
    assert rule.rule == 'p("日本語", "🚀") :- q("ü")' and rule.comment == "коммент"


def test_delete_moves_the_policy_and_frees_its_name(engine: Engine) -> None:
    old = api.create_policy(engine, "p", description="old")
    api.add_rules(engine, "p", [NewRule("a(1)"), NewRule("b(1)", fingerprint="fb")])
    gone = api.delete_policy(engine, old.id)
    assert gone == dataclasses.replace(old, deleted_revision=3)  # the policy as it was, and when
    assert api.current_revision(engine) == 3
    with pytest.raises(errors.NotFound):
        api.get_policy(engine, old.id)
    assert api.list_rules(engine, "p") == []

    new = api.create_policy(engine, "p", description="new")
    assert new.id != old.id
    api.add_rule(engine, "p", "b(1)", fingerprint="fb")  # the old rule no longer counts
    assert api.find_policy(engine, "p") == new
    with Session(engine) as session:
        deleted = session.get(DeletedPolicyRow, old.id)
        assert deleted is not None
        assert (deleted.name, deleted.deleted, deleted.deleted_revision) == ("p", old.id, 3)
        assert deleted.deleted_at is not None
        gone = session.scalars(select(RuleRow).where(RuleRow.deleted != "")).all()
        assert {(r.rule, r.deleted == r.id, r.deleted_revision) for r in gone} == {
            ("a(1)", True, 3),
            ("b(1)", True, 3),
        }


def test_create_with_rules_is_atomic(engine: Engine) -> None:
    policy = api.create_policy(
        engine, "p", rules=[NewRule("a(1)", name="first", comment="c"), NewRule("b(x) :- a(x)")]
    )
    rules = api.list_rules(engine, "p")
    assert [(r.rule, r.name, r.comment, r.revision) for r in rules] == [
        ("a(1)", "first", "c", policy.revision),
        ("b(x) :- a(x)", None, "", policy.revision),
    ]
    with pytest.raises(errors.DuplicateRule):
        api.create_policy(engine, "q", rules=[NewRule("a", fingerprint="f")] * 2)
    with pytest.raises(errors.DuplicateName):
        api.create_policy(engine, "p", rules=[NewRule("c(1)")])
    assert [p.name for p in api.list_policies(engine)] == ["p"]
    assert len(api.list_rules(engine)) == 2
    assert api.current_revision(engine) == 1


# ---------------------------------------------------------------------------- rules


def test_add_get_list_delete_rules(engine: Engine) -> None:
    api.create_policy(engine, "p")
    api.create_policy(engine, "q")
    first = api.add_rule(engine, "p", "a(1)", name="n", comment="c", fingerprint="fa")
    assert (first.policy_name, first.rule, first.name, first.comment) == ("p", "a(1)", "n", "c")
    assert (first.fingerprint, first.revision, first.deleted_revision) == ("fa", 3, None)
    batch = api.add_rules(engine, "p", [NewRule(f"b({i})") for i in range(5)])
    other = api.add_rule(engine, "q", "c(1)")
    assert api.get_rule(engine, first.id) == first
    assert api.get_rule(engine, first.id, policy_name="p") == first
    assert api.list_rules(engine, "p") == [first, *batch]
    assert api.list_rules(engine) == [first, *batch, other]

    deleted = api.delete_rule(engine, first.id, policy_name="p")
    assert deleted.id == first.id and deleted.deleted_revision == 6
    with pytest.raises(errors.NotFound):
        api.get_rule(engine, first.id)
    assert api.list_rules(engine, "p") == batch


def test_rules_of_missing_policies_and_missing_rules(engine: Engine) -> None:
    with pytest.raises(errors.NotFound):
        api.add_rule(engine, "nope", "a(1)")
    api.create_policy(engine, "p")
    api.create_policy(engine, "q")
    rule = api.add_rule(engine, "p", "a(1)")
    with pytest.raises(errors.NotFound):
        api.get_rule(engine, rule.id, policy_name="q")
    with pytest.raises(errors.NotFound):
        api.delete_rule(engine, rule.id, policy_name="q")
    with pytest.raises(errors.NotFound):
        api.get_rule(engine, "nope")
    api.delete_rule(engine, rule.id)
    with pytest.raises(errors.NotFound):
        api.delete_rule(engine, rule.id)
    assert api.current_revision(engine) == 4


def test_delete_rules_is_all_or_nothing(engine: Engine) -> None:
    api.create_policy(engine, "p")
    a, b = api.add_rules(engine, "p", [NewRule("a(1)"), NewRule("b(1)")])
    with pytest.raises(errors.NotFound) as caught:
        api.delete_rules(engine, [a.id, "missing", b.id])
    assert caught.value.key == "missing"
    assert api.list_rules(engine, "p") == [a, b]
    deleted = api.delete_rules(engine, [b.id, a.id, b.id])
    assert [r.id for r in deleted] == [b.id, a.id]
    assert {r.deleted_revision for r in deleted} == {3}
    assert api.list_rules(engine, "p") == []


def test_fingerprints_are_unique_among_live_rules(engine: Engine) -> None:
    api.create_policy(engine, "p")
    api.create_policy(engine, "q")
    rule = api.add_rule(engine, "p", "a(1)", fingerprint="fa")
    with pytest.raises(errors.DuplicateRule) as caught:
        api.add_rules(engine, "p", [NewRule("b(1)"), NewRule("a( 1 )", fingerprint="fa")])
    assert caught.value.fingerprint == "fa"
    assert len(api.list_rules(engine, "p")) == 1
    api.add_rule(engine, "q", "a(1)", fingerprint="fa")  # another policy
    api.add_rules(engine, "p", [NewRule("c(1)"), NewRule("c(1)")])  # no fingerprints
    api.delete_rule(engine, rule.id)
    api.add_rule(engine, "p", "a(1)", fingerprint="fa")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(RuleRow)) == 5


def _violation(engine: Engine, row: object) -> str | None:
    with Session(engine) as session:
        session.add(row)
        with pytest.raises(IntegrityError) as caught:
            session.flush()
    return violated_constraint(caught.value)


def test_unique_violations_are_told_apart(engine: Engine) -> None:
    """The constraints back the repository's own checks, and each is recognised by name."""
    policy = api.create_policy(engine, "p")
    rule = api.add_rule(engine, "p", "a(1)", fingerprint="fa")
    stamp = datetime.now(UTC)

    def rule_row(rule_id: str, fingerprint: str) -> RuleRow:
        return RuleRow(
            id=rule_id,
            rule="x",
            policy_name="p",
            comment="",
            fingerprint=fingerprint,
            revision=9,
            created_at=stamp,
            deleted="",
        )

    def policy_row(policy_id: str, name: str) -> PolicyRow:
        return PolicyRow(
            id=policy_id,
            name=name,
            abbreviation="p",
            description="",
            owner="u",
            kind="k",
            revision=9,
            created_at=stamp,
            deleted="",
        )

    assert _violation(engine, rule_row("new", "fa")) == "uq_policy_rules_fingerprint"
    assert _violation(engine, rule_row(rule.id, "other")) == PRIMARY
    assert _violation(engine, policy_row("new", "p")) == "uq_policies_name"
    assert _violation(engine, policy_row(policy.id, "other")) == PRIMARY


def test_rule_ids_must_be_new(engine: Engine) -> None:
    api.create_policy(engine, "p")
    rule = api.add_rule(engine, "p", "a(1)", rule_id="r-1")
    assert rule.id == "r-1"
    with pytest.raises(errors.DuplicateId):
        api.add_rule(engine, "p", "b(1)", rule_id="r-1")


def test_rule_fields_that_do_not_fit_are_refused(engine: Engine) -> None:
    api.create_policy(engine, "p")
    for new in (
        NewRule("a", name="n" * 256),
        NewRule("a", comment="c" * 256),
        NewRule("a", fingerprint="f" * 65),
    ):
        with pytest.raises(errors.InvalidValue):
            api.add_rules(engine, "p", [new])
    long_rule = "p(x) :- " + ", ".join(f"q{i}(x)" for i in range(5000))
    assert api.add_rule(engine, "p", long_rule).rule == long_rule
