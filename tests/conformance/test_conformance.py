"""Every conformance case (tests/conformance/cases/*.yaml) against the engine in process."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

import pytest

from congress.cmd import conformance
from congress.datalog.runtime import Runtime

CASES = pathlib.Path(__file__).parent / "cases"


def _all_cases() -> list[Any]:
    out = []
    for path in conformance.case_files([str(CASES)]):
        for case in conformance.load_cases(path):
            out.append(pytest.param(case, id=case["name"]))
    return out


ALL = _all_cases()


def test_case_names_are_unique() -> None:
    names = [p.values[0]["name"] for p in ALL]
    assert len(names) == len(set(names))
    assert len(names) >= 150


@pytest.mark.parametrize("case", ALL)
def test_case(case: dict[str, Any]) -> None:
    rt = Runtime(clock=lambda: datetime.datetime(2026, 11, 25, 12, 0, 0))
    conformance.run_case(case, rt)


def test_runner_notices_a_wrong_answer() -> None:
    """The runner can fail: a case expecting the wrong rows is reported."""
    case = {
        "name": "wrong",
        "policies": [{"name": "a"}],
        "steps": [{"insert": {"policy": "a", "rules": "p(1)"}}],
        "query": {"policy": "a", "text": "p(x)"},
        "expect": ["p(2)"],
    }
    with pytest.raises(conformance.CaseFailure, match="missing"):
        conformance.run_case(case, Runtime())
