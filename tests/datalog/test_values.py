"""Driver values become row values as in the original Congress (spec README, Values)."""

from __future__ import annotations

from congress.datalog.values import normalize_row, normalize_value


def test_numbers_and_strings_stay_what_they_are() -> None:
    assert normalize_value(2) == 2 and isinstance(normalize_value(2), int)
    assert normalize_value(2.5) == 2.5
    assert normalize_value("2") == "2"
    assert normalize_value("ünïcödé ☁") == "ünïcödé ☁"


def test_booleans_and_nulls_become_strings() -> None:
    assert normalize_value(True) == "True"
    assert normalize_value(False) == "False"
    assert normalize_value(None) == "None"


def test_structures_become_canonical_json() -> None:
    assert normalize_value({"b": 1, "a": [True, None]}) == '{"a": [true, null], "b": 1}'
    assert normalize_value(["é"]) == '["é"]'


def test_rows_are_tuples_of_normalised_values() -> None:
    assert normalize_row([1, None, True, "x"]) == (1, "None", "True", "x")
    assert normalize_row(v for v in (False,)) == ("False",)
