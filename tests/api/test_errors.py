"""The error body and the mapping of engine errors to the original's codes (reference 3.4)."""

from __future__ import annotations

import pytest

from congress.api.errors import CODES, api_error, from_datalog
from congress.datalog.errors import PolicyError
from congress.datalog.runtime import Limits, Runtime


def test_codes_are_the_originals() -> None:
    assert {n: (c.number, c.status) for n, c in CODES.items()} == {
        "unknown": (1000, 400),
        "add_item_id": (1001, 400),
        "rule_syntax": (1002, 400),
        "multiple_rules": (1003, 400),
        "incomplete_simulate_args": (1004, 400),
        "simulate_without_policy": (1005, 400),
        "sequence_syntax": (1006, 400),
        "simulate_error": (1007, 500),
        "rule_already_exists": (1008, 409),
        "schema_get_item_id": (1009, 400),
        "policy_name_must_be_provided": (1010, 400),
        "no_policy_update_owner": (1012, 400),
        "no_policy_update_kind": (1013, 400),
        "failed_to_create_policy": (1014, 500),
        "policy_id_must_not_be_provided": (1015, 400),
        "execute_error": (1016, 500),
        "service_action_syntax": (1017, 400),
        "execute_action_args_syntax": (1018, 400),
        "rule_not_permitted": (1019, 400),
        "policy_not_exist": (1020, 404),
        "policy_rule_insertion_failure": (1021, 400),
        "policy_abbreviation_error": (1022, 400),
    }


def test_body_shape_and_message_format() -> None:
    err = api_error("rule_already_exists", "p(1)")
    assert err.status == 409
    assert err.body() == {
        "error": {
            "message": "Rule already exists::p(1)",
            "error_code": 1008,
            "error_data": None,
        }
    }


def test_parse_error_is_rule_syntax_with_line_and_column() -> None:
    rt = Runtime()
    rt.create_policy("a")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(x) :- q(x)\nr(x) :- ,")
    err = from_datalog(e.value)
    assert (err.status, err.error_code) == (400, 1002)
    assert err.message.startswith("Syntax error for rule::Parse failure at line 2, column 9")
    assert err.error_data["code"] == "policy_parse_error"
    assert (err.error_data["line"], err.error_data["column"]) == (2, 9)
    assert len(err.error_data["errors"]) == 1


def test_every_problem_is_listed() -> None:
    rt = Runtime()
    rt.create_policy("a")
    with pytest.raises(PolicyError) as e:
        rt.insert("a", "p(x) :- q(y)\ns(z) :- not t(z)")
    data = from_datalog(e.value).error_data
    assert [p["code"] for p in data["errors"]] == ["unsafe_rule", "unsafe_rule"]
    assert [p["line"] for p in data["errors"]] == [1, 2]
    assert data["code"] == "unsafe_rule" and data["line"] == 1


def test_other_engine_errors() -> None:
    rt = Runtime(limits=Limits(max_rows=1))
    with pytest.raises(Exception) as e:
        rt.select("nosuch", "p(x)")
    err = from_datalog(e.value)  # type: ignore[arg-type]
    assert (err.status, err.error_code) == (404, 1020)
    rt.create_policy("a")
    rt.insert("a", "p(1) p(2)")
    with pytest.raises(Exception) as e:
        rt.insert("a", "q(x, y) :- p(x), p(y)")
    err = from_datalog(e.value)  # type: ignore[arg-type]
    assert err.status == 400
    assert err.error_data["code"] == "limit_exceeded"
    assert err.error_data["limit"] == "max_derived_rows"  # the option that sets it
    rt.create_policy("ds", "datasource", schema={"t": ["c"]})
    with pytest.raises(PolicyError) as e:
        rt.insert("ds", "t(1)")
    err = from_datalog(e.value)
    assert (err.status, err.error_code) == (400, 1019)
