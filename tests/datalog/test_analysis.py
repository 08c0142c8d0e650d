"""Tests of the static checks (congress.datalog.analysis and congress.datalog.colrefs)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from congress.datalog.analysis import (
    body_order,
    check_statement,
    is_builtin_literal,
)
from congress.datalog.ast import Constant, Literal, Location, Rule, Variable
from congress.datalog.errors import CODES, KindNotSupported, PolicyError, Problem
from congress.datalog.parser import parse_literal, parse_statement
from congress.datalog.printer import to_text

SERVERS = (
    "id",
    "name",
    "host_id",
    "status",
    "tenant_id",
    "user_id",
    "image_id",
    "flavor_id",
    "zone",
    "host_name",
    "created_at",
)
FLAVORS = ("id", "name", "vcpus", "ram")


class FakeSchema:
    """``nova``: datasource with a complete schema; ``keystone``: datasource, schema not yet known;
    ``alice``: user policy where ``q`` has the inferred arity 2; ``acts``: action policy."""

    def __init__(self) -> None:
        self.kinds = {
            "nova": "datasource",
            "keystone": "datasource",
            "alice": "nonrecursive",
            "acts": "action",
        }
        self.tables = {"nova": {"servers": SERVERS, "flavors": FLAVORS}}
        self.arities = {("alice", "q"): 2}

    def policy_kind(self, policy: str) -> str | None:
        return self.kinds.get(policy)

    def complete_columns(self, policy: str, table: str) -> Sequence[str] | None:
        return self.tables[policy].get(table) if policy in self.tables else None

    def has_complete_schema(self, policy: str) -> bool:
        return policy in self.tables

    def known_arity(self, policy: str, table: str) -> int | None:
        return self.arities.get((policy, table))


def check(text: str, *, policy: str = "alice", kind: str = "nonrecursive") -> Rule:
    stmt = parse_statement(text)
    assert isinstance(stmt, Rule)
    return check_statement(stmt, policy=policy, kind=kind, schema=FakeSchema(), text=text)


def check_rule(rule: Rule, *, policy: str = "alice", kind: str = "nonrecursive") -> Rule:
    return check_statement(rule, policy=policy, kind=kind, schema=FakeSchema())


def problems(text: str, **kwargs: str) -> list[Problem]:
    with pytest.raises(PolicyError) as info:
        check(text, **kwargs)
    found = info.value.problems
    assert info.value.code == found[0].code
    for problem in found:
        assert problem.code in CODES
        assert problem.policy == kwargs.get("policy", "alice")
        assert problem.rule == text
    return found


def only(text: str, **kwargs: str) -> Problem:
    found = problems(text, **kwargs)
    assert len(found) == 1, found
    return found[0]


def where(problem: Problem) -> tuple[str, int | None, int | None]:
    return problem.code, problem.line, problem.column


# --------------------------------------------------------------------------- facts


def test_valid_fact_is_returned_unchanged() -> None:
    assert check('p(1, "a")') == parse_statement('p(1, "a")')
    assert check("q(1, 2)") == parse_statement("q(1, 2)")


def test_fact_not_ground() -> None:
    p = only("p(1, x)")
    assert where(p) == ("fact_not_ground", 1, 6)
    assert p.message == "Fact not ground: p(1, x)"


def test_fact_with_policy_prefix() -> None:
    p = only("\n  alice:p(1)")
    assert where(p) == ("policy_prefix_error", 2, 3)
    assert p.message == "Fact alice:p(1) should not reference any policy: alice"


def test_fact_with_builtin_name() -> None:
    p = only("lt(1, 2)")
    assert where(p) == ("builtin_conflict", 1, 1)
    assert p.message == "Conflict with built-in tablename: lt"


def test_fact_width_against_inferred_arity() -> None:
    p = only("q(1, 2, 3)")
    assert where(p) == ("arity_mismatch", 1, 1)
    assert (
        p.message
        == "Literal q(1, 2, 3) contained 3 arguments but exactly 2 arguments are permitted"
    )


def test_fact_on_datasource_table_is_only_a_prefix_error() -> None:
    p = only("nova:servers(1)")
    assert where(p) == ("policy_prefix_error", 1, 1)
    assert p.message == "Fact nova:servers(1) should not reference any policy: nova"


def test_fact_with_bad_modal() -> None:
    p = only("insert[p(1)]")
    assert where(p) == ("modal_error", 1, 1)
    assert p.message == "Only 'execute' modal is allowed; found insert in head insert[p(1)]"


def test_fact_reports_every_problem() -> None:
    found = problems("nova:lt(x)")
    assert [where(p) for p in found] == [
        ("fact_not_ground", 1, 9),
        ("policy_prefix_error", 1, 1),
        ("builtin_conflict", 1, 1),
    ]
    assert found[2].message == "Conflict with built-in tablename: nova:lt"
    found = problems("lt(x, 1, 2)")
    assert [p.code for p in found] == ["fact_not_ground", "builtin_conflict"]


# --------------------------------------------------------------------------- safety


def test_head_safety_one_problem_per_variable() -> None:
    found = problems("p(x, y, z, y) :- q(x, 1)")
    assert [where(p) for p in found] == [("unsafe_rule", 1, 6), ("unsafe_rule", 1, 9)]
    assert found[0].message == (
        "Variable y found in head but not in body, rule p(x, y, z, y) :- q(x, 1)"
    )
    assert found[1].message.startswith("Variable z found in head but not in body")


def test_negation_must_be_bound() -> None:
    p = only("p(x) :- q(x, y),\n    not r(y, z)")
    assert where(p) == ("unsafe_rule", 2, 5)
    assert p.message == (
        "Could not reorder rule p(x) :- q(x, y), not r(y, z).  "
        "Unsafe lits: not r(y, z) (vars {'z'})"
    )


def test_builtin_inputs_must_be_bound() -> None:
    p = only("p(x) :- q(x, 1), builtin:plus(x, w, v), lt(u, x)")
    assert where(p) == ("unsafe_rule", 1, 18)
    assert p.message == (
        "Could not reorder rule p(x) :- q(x, 1), builtin:plus(x, w, v), lt(u, x).  "
        "Unsafe lits: builtin:plus(x, w, v) (vars {'w'}); lt(u, x) (vars {'u'})"
    )


def test_builtin_outputs_bind_in_any_order() -> None:
    text = "p(z) :- lt(y, 10), builtin:mul(y, 2, z), plus(x, 1, y), q(x, 1), not r(z)"
    assert check(text) == parse_statement(text)


def test_body_order() -> None:
    rule = parse_statement("p(z) :- lt(y, 10), mul(y, 2, z), plus(x, 1, y), q(x, 1), not r(z)")
    assert isinstance(rule, Rule)
    assert body_order(rule) == [3, 2, 0, 1, 4]
    ordered = parse_statement("p(x) :- q(x, y), not r(y), lt(x, y)")
    assert isinstance(ordered, Rule)
    assert body_order(ordered) == [0, 1, 2]
    unsafe = parse_statement("p(x) :- q(x), not r(y)")
    assert isinstance(unsafe, Rule)
    assert body_order(unsafe) is None


def test_negated_builtin_needs_all_variables() -> None:
    p = only("p(x) :- q(x, 1), not plus(x, 1, y)")
    assert p.code == "unsafe_rule"
    assert p.message.endswith("Unsafe lits: not plus(x, 1, y) (vars {'y'})")


def test_special_tables_in_body() -> None:
    text = "p(x) :- q(x, 1), true, not false"
    assert check(text) == parse_statement(text)


# --------------------------------------------------------------------------- schema


def test_unknown_table_of_complete_schema() -> None:
    p = only("p(x) :- nova:images(x)")
    assert where(p) == ("unknown_table", 1, 9)
    assert p.message == "Literal nova:images(x) uses unknown table images from policy nova"


def test_too_wide_for_complete_schema() -> None:
    p = only("p(x) :- nova:flavors(x, 1, 2, 3, 4)")
    assert where(p) == ("arity_mismatch", 1, 9)
    assert p.message == (
        "Literal nova:flavors(x, 1, 2, 3, 4) contained 5 arguments but exactly "
        "4 arguments are permitted"
    )


def test_short_positional_list_is_padded() -> None:
    rule = check("p(x) :- nova:flavors(x, 2)")
    assert to_text(rule) == "p(x) :- nova:flavors(x, 2, _x1_2, _x1_3)"


def test_inferred_arity_in_body_and_head() -> None:
    found = problems("q(x) :- r(x, y), alice:q(y, x, 1)")
    assert [where(p) for p in found] == [("arity_mismatch", 1, 1), ("arity_mismatch", 1, 18)]
    assert (
        found[0].message
        == "Literal q(x) contained 1 arguments but exactly 2 arguments are permitted"
    )


def test_arity_consistent_within_rule() -> None:
    p = only("p(x) :- r(x), r(x, 1)")
    assert where(p) == ("arity_mismatch", 1, 15)
    assert (
        p.message == "Literal r(x, 1) contained 2 arguments but exactly 1 arguments are permitted"
    )
    p = only("r(x, y) :- s(x, y), r(x)")
    assert where(p) == ("arity_mismatch", 1, 21)


def test_builtin_arity() -> None:
    p = only("p(x) :- q(x, 1), builtin:lt(x)")
    assert where(p) == ("arity_mismatch", 1, 18)
    assert p.message == (
        "Literal builtin:lt(x) contained 1 arguments but exactly 2 arguments are permitted"
    )


def test_unknown_builtin() -> None:
    p = only("p(x) :- q(x, 1), builtin:nosuch(x)")
    assert where(p) == ("unknown_builtin", 1, 18)
    assert p.message == "Literal builtin:nosuch(x) uses unknown builtin nosuch"


def test_policy_not_created_yet_is_allowed_in_body() -> None:
    """Rules may be loaded before the datasource they read exists (as in the original)."""
    rule = check("p(x) :- q(x, 1), zed:r(x)")
    assert [lit.policy for lit in rule.body] == [None, "zed"]


def test_known_policies_in_body() -> None:
    text = "p(x) :- alice:q(x, 1), keystone:users(x, y), acts:a(x), builtin:gt(x, 0)"
    assert check(text) == parse_statement(text)


# --------------------------------------------------------------------------- heads and modals


def test_non_modal_head_with_policy() -> None:
    p = only("nova:p(x) :- q(x, 1)")
    assert where(p) == ("policy_prefix_error", 1, 1)
    assert p.message == (
        "Non-modal rule head nova:p(x) should not reference any policy: nova:p(x) :- q(x, 1)"
    )


def test_execute_head_may_name_a_service() -> None:
    text = 'execute[nova:servers.pause(x)] :- nova:servers(id=x, status="ACTIVE")'
    rule = check(text)
    assert rule.head == parse_statement(text).head  # type: ignore[union-attr]
    assert rule.body[0].args[3] == Constant("ACTIVE")


def test_only_execute_modal_in_heads() -> None:
    p = only("delete[p(x)] :- q(x, 1)")
    assert where(p) == ("modal_error", 1, 1)
    assert p.message == "Only 'execute' modal is allowed; found delete in head delete[p(x)]"


def test_no_modals_in_body() -> None:
    p = only("p(x) :- q(x, 1), execute[r(x)]")
    assert where(p) == ("modal_error", 1, 18)
    assert p.message == (
        "Modals not allowed in the rule body; found execute in body literal execute[r(x)]"
    )


def test_multiple_heads() -> None:
    found = problems("p(x), execute[r(x)] :- q(x, 1)")
    assert [where(p) for p in found] == [("non_formula", 1, 1), ("modal_error", 1, 7)]
    assert found[0].message == "Non-formula found: p(x), execute[r(x)] :- q(x, 1)"
    assert found[1].message == "May not have multiple rule heads with a modal: p(x), execute[r(x)]"


def test_negated_head_is_not_a_formula() -> None:
    p = only("not p(x) :- q(x, 1)")
    assert where(p) == ("non_formula", 1, 1)
    assert p.message == "Non-formula found: not p(x) :- q(x, 1)"


def test_head_with_builtin_name() -> None:
    p = only("plus(x, y, z) :- q(x, y), r(z)")
    assert where(p) == ("builtin_conflict", 1, 1)
    assert p.message == "Conflict with built-in tablename: plus"


def test_rule_reports_every_problem_in_check_order() -> None:
    found = problems("nova:p(x, w) :- q(x), not r(y), execute[s(x)], zed:t(x)")
    assert [p.code for p in found] == [
        "unsafe_rule",
        "unsafe_rule",
        "arity_mismatch",
        "policy_prefix_error",
        "modal_error",
    ]
    assert found[2].message.startswith("Literal q(x) contained 1 arguments")


# --------------------------------------------------------------------------- policy kinds


def test_action_policy_rules() -> None:
    for text in ("p+(x, y) :- q(x)", "nova:servers-(x) :- p(x)", 'action("p")', "q(x) :- r(x)"):
        stmt = parse_statement(text)
        assert check(text, policy="acts", kind="action") == stmt
    p = only("nova:p(x) :- q(x)", policy="acts", kind="action")
    assert where(p) == ("policy_prefix_error", 1, 1)
    p = only("p(x)", policy="acts", kind="action")
    assert where(p) == ("fact_not_ground", 1, 3)
    p = only("p(x), q(x) :- r(x)", policy="acts", kind="action")
    assert where(p) == ("non_formula", 1, 1)


def test_database_policy() -> None:
    assert check("p(1)", kind="database") == parse_statement("p(1)")
    p = only("p(x) :- q(x, 1)", kind="database")
    assert where(p) == ("non_atomic_formula", 1, 1)
    assert p.message == "Non-atomic formula is not permitted: p(x) :- q(x, 1)"
    assert where(only("p(x)", kind="database")) == ("fact_not_ground", 1, 3)
    negated = Rule((Literal("p", (Constant(1),), negated=True),))
    with pytest.raises(PolicyError) as info:
        check_rule(negated, kind="database")
    assert info.value.first.code == "non_atomic_formula"
    assert info.value.first.rule == "not p(1)"


def test_datasource_policy_takes_nothing() -> None:
    p = only("servers(1)", policy="nova", kind="datasource")
    assert where(p) == ("rules_not_permitted", 1, 1)
    assert p.message == "Policy nova is a datasource policy; rules and facts cannot be inserted"


def test_materialized_has_the_same_checks() -> None:
    assert where(only("p(x) :- q(y, 1)", kind="materialized")) == ("unsafe_rule", 1, 3)


def test_unknown_kind() -> None:
    with pytest.raises(KindNotSupported):
        check("p(1)", kind="z3")


# --------------------------------------------------------------------------- column references


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p(x) :- nova:flavors(id=x, ram=y)", "p(x) :- nova:flavors(x, _x1_1, _x1_2, y)"),
        ("p(x) :- nova:flavors(0=x, 1=y, 2=z, 3=w)", "p(x) :- nova:flavors(x, y, z, w)"),
        ("p(x) :- nova:flavors(id=x, 2=y)", "p(x) :- nova:flavors(x, _x1_1, y, _x1_3)"),
        (
            'p(x) :- q(x, 1), nova:flavors(id=3, name="m1")',
            'p(x) :- q(x, 1), nova:flavors(3, "m1", _x2_2, _x2_3)',
        ),
        ("p(x, y) :- nova:flavors(ram=y, id=x)", "p(x, y) :- nova:flavors(x, _x1_1, _x1_2, y)"),
        ("p(x, y) :- nova:flavors(x, vcpus=y)", "p(x, y) :- nova:flavors(x, _x1_1, y, _x1_3)"),
        ("p(x, y) :- nova:flavors(x, y, 3=z)", "p(x, y) :- nova:flavors(x, y, _x1_2, z)"),
        (
            "p(x) :- nova:flavors(id=x), nova:flavors(id=y, name=x)",
            "p(x) :- nova:flavors(x, _x1_1, _x1_2, _x1_3), nova:flavors(y, x, _x2_2, _x2_3)",
        ),
    ],
)
def test_column_references_are_eliminated(text: str, expected: str) -> None:
    rule = check(text)
    assert to_text(rule) == expected
    assert all(not lit.named for lit in rule.body)
    assert parse_statement(to_text(rule)) == rule


def test_fresh_variables_avoid_user_names() -> None:
    rule = check("p(_x1_1, __x0) :- nova:flavors(_x1_1, __x0)")
    assert to_text(rule) == ("p(_x1_1, __x0) :- nova:flavors(_x1_1, __x0, ___x1_2, ___x1_3)")
    assert parse_statement(to_text(rule)) == rule


def test_padding_keeps_locations() -> None:
    rule = check("p(x) :-\n  nova:flavors(id=x)")
    assert rule.body[0].loc == Location(2, 3)
    assert rule.loc == parse_statement("p(x) :-\n  nova:flavors(id=x)").loc


def test_references_need_a_datasource() -> None:
    p = only("p(x) :- q(id=x, 1=y)")
    assert where(p) == ("column_reference_error", 1, 9)
    assert p.message == (
        "Literal q(id=x, 1=y) uses column references, but 'alice' does not reference "
        "a datasource policy."
    )
    p = only("p(x) :- q(x, 1), acts:r(id=x)")
    assert p.message.endswith("but 'acts' does not reference a datasource policy.")


def test_references_need_a_known_schema() -> None:
    p = only("p(x) :- keystone:users(id=x)")
    assert where(p) == ("schema_unknown", 1, 9)
    assert (
        p.message == "Literal keystone:users(id=x) uses named arguments, but the schema is unknown."
    )


def test_references_to_unknown_table() -> None:
    p = only("p(x) :- nova:images(id=x)")
    assert where(p) == ("unknown_table", 1, 9)
    assert p.message == "Literal nova:images(id=x) uses unknown table images."


def test_unknown_column_name_and_index() -> None:
    found = problems("p(x) :- nova:flavors(id=x, disk=y, 7=z)")
    assert [where(p) for p in found] == [("unknown_column", 1, 33), ("unknown_column", 1, 38)]
    lit = "nova:flavors(id=x, disk=y, 7=z)"
    assert found[0].message == f"In literal {lit} column name disk does not exist"
    assert found[1].message == f"In literal {lit} column index 7 is too large"


def test_references_already_provided_by_position() -> None:
    found = problems("p(x) :- nova:flavors(x, y, id=z, 1=w)")
    lit = "nova:flavors(x, y, id=z, 1=w)"
    assert [where(p) for p in found] == [
        ("column_reference_error", 1, 31),
        ("column_reference_error", 1, 36),
    ]
    assert found[0].message == (
        f"In literal {lit} column name id references position 0, which is already provided "
        "by position."
    )
    assert found[1].message == f"In literal {lit} column index 1 is already provided by position."


def test_duplicate_references() -> None:
    cases = {
        "p(x) :- nova:flavors(id=x, id=y)": "two values for column name id were provided",
        "p(x) :- nova:flavors(2=x, 2=y)": "two values for column number 2 were provided",
        "p(x) :- nova:flavors(id=x, 0=y)": (
            "column index 0 references column id, which is also referenced by name."
        ),
        "p(x) :- nova:flavors(0=x, id=y)": (
            "column name id references position 0, which is also referenced by number."
        ),
    }
    for text, tail in cases.items():
        p = only(text)
        assert p.code == "column_reference_error"
        assert p.message.endswith(tail), p.message
        assert p.message.startswith("In literal nova:flavors(")


def test_negated_literal_needing_padding_is_unsafe() -> None:
    p = only("p(x) :- q(x, 1), not nova:flavors(id=x)")
    assert where(p) == ("unsafe_rule", 1, 18)
    assert p.message == (
        "Could not reorder rule p(x) :- q(x, 1), not nova:flavors(id=x).  "
        "Unsafe lits: not nova:flavors(x, _x2_1, _x2_2, _x2_3) (vars {'_x2_1', '_x2_2', '_x2_3'})"
    )
    text = "p(x) :- q(x, 1), not nova:flavors(id=x, name=1, vcpus=2, ram=3)"
    assert to_text(check(text)) == "p(x) :- q(x, 1), not nova:flavors(x, 1, 2, 3)"


# --------------------------------------------------------------------------- helpers and API


def test_is_builtin_literal() -> None:
    assert is_builtin_literal(parse_literal("lt(x, y)"))
    assert is_builtin_literal(parse_literal("builtin:plus(x, y, z)"))
    assert is_builtin_literal(parse_literal("not lt(x, y)"))
    assert not is_builtin_literal(parse_literal("nova:lt(x, y)"))
    assert not is_builtin_literal(parse_literal("builtin:nosuch(x)"))
    assert not is_builtin_literal(parse_literal("servers(x)"))


def test_problem_rule_defaults_to_printed_statement() -> None:
    rule = Rule((Literal("p", (Variable("x"),)),), (Literal("q", (Variable("y"), Constant(1))),))
    with pytest.raises(PolicyError) as info:
        check_rule(rule)
    problem = info.value.first
    assert problem.rule == "p(x) :- q(y, 1)"
    assert problem.policy == "alice"
    assert (problem.line, problem.column) == (None, None)
    assert problem.located() == problem.message


def test_location_falls_back_to_the_rule() -> None:
    rule = Rule(
        (Literal("p", (Variable("x"),)),),
        (Literal("q", (Variable("y"), Constant(1))),),
        loc=Location(4, 2),
    )
    with pytest.raises(PolicyError) as info:
        check_rule(rule)
    assert (info.value.first.line, info.value.first.column) == (4, 2)


def test_error_message_lists_every_problem_located() -> None:
    with pytest.raises(PolicyError) as info:
        check("p(x, y) :- q(z, 1)")
    assert str(info.value) == (
        "line:1,col:3 Variable x found in head but not in body, rule p(x, y) :- q(z, 1)\n"
        "line:1,col:6 Variable y found in head but not in body, rule p(x, y) :- q(z, 1)"
    )


def test_messages_show_what_the_user_wrote() -> None:
    found = problems("p(x, y) :- nova:flavors(id=x), not r(z), nova:servers(x, 1=w, 3=w)")
    assert [p.message for p in found] == [
        "Variable y found in head but not in body, rule "
        "p(x, y) :- nova:flavors(id=x), not r(z), nova:servers(x, 1=w, 3=w)",
        "Could not reorder rule p(x, y) :- nova:flavors(id=x), not r(z), "
        "nova:servers(x, 1=w, 3=w).  Unsafe lits: not r(z) (vars {'z'})",
    ]
