"""Run YAML conformance cases (tests/conformance/README.md) against the engine in process.

The runner talks to a ``Runtime`` only through its public API, the way a REST runner will talk
to a server, so the same files check both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from congress.datalog.ast import Constant, Literal
from congress.datalog.errors import DatalogError, PolicyError
from congress.datalog.parser import parse_literal
from congress.datalog.printer import to_text
from congress.datalog.runtime import BatchResult, Runtime
from congress.datalog.values import normalize_row

CASE_KEYS = {"name", "doc", "policies", "data", "steps", "query", "expect", "queries"}
STEP_OPS = ("insert", "delete", "data", "simulate", "create_policy", "delete_policy")


class CaseFailure(AssertionError):
    """A case did not behave as its file says."""


def load_cases(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        cases = yaml.safe_load(f) or []
    if not isinstance(cases, list):
        raise ValueError(f"{path}: expected a list of cases")
    for case in cases:
        unknown = set(case) - CASE_KEYS
        if unknown:
            raise ValueError(f"{path}: case {case.get('name')}: unknown keys {sorted(unknown)}")
    return cases


def case_files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(
                os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith((".yaml", ".yml"))
            )
        else:
            out.append(p)
    return out


def run_paths(paths: list[str], factory: Callable[[], Runtime]) -> Iterator[tuple[str, str | None]]:
    """(case name, None or what went wrong) for every case under ``paths``."""
    for path in case_files(paths):
        for case in load_cases(path):
            try:
                run_case(case, factory())
            except (CaseFailure, DatalogError, ValueError, KeyError, TypeError) as e:
                yield case["name"], f"{type(e).__name__}: {e}"
            else:
                yield case["name"], None


def run_case(case: dict[str, Any], rt: Runtime) -> None:
    for spec in case.get("policies", []):
        _create(rt, spec)
    if case.get("data"):
        rt.apply(_data_changes(case["data"], initial=True))
    for step in case.get("steps", []):
        _step(rt, step)
    if "query" in case:
        _check_query(rt, case["query"]["policy"], case["query"]["text"], case["expect"])
    for q in case.get("queries", []):
        _check_query(rt, q["policy"], q["text"], q["expect"])


def _create(rt: Runtime, spec: dict[str, Any]) -> None:
    rt.create_policy(spec["name"], spec.get("kind", "nonrecursive"), schema=spec.get("schema"))


def _data_changes(doc: dict[str, Any], *, initial: bool) -> dict[Any, Any]:
    changes: dict[Any, Any] = {}
    for policy, tables in doc.items():
        for table, spec in tables.items():
            if initial:
                ins, dels = spec, []
            else:
                ins, dels = spec.get("insert", []), spec.get("delete", [])
            changes[(policy, table)] = (
                [normalize_row(r) for r in ins],
                [normalize_row(r) for r in dels],
            )
    return changes


def _perform(rt: Runtime, op: str, arg: Any) -> tuple[BatchResult | None, list[Literal] | None]:
    if op == "insert":
        return rt.insert(arg["policy"], arg["rules"]), None
    if op == "delete":
        return rt.delete(arg["policy"], arg["rules"]), None
    if op == "data":
        return rt.apply(_data_changes(arg, initial=False)), None
    if op == "create_policy":
        _create(rt, arg)
        return None, None
    if op == "delete_policy":
        return rt.delete_policy(arg["name"]), None
    if op == "simulate":
        res = rt.simulate(
            arg["policy"],
            arg["query"],
            arg.get("sequence") or "",
            arg.get("action_policy"),
            delta=bool(arg.get("delta", False)),
        )
        return None, res.answers
    if op == "query":
        return None, rt.select(arg["policy"], arg["text"])
    raise ValueError(f"unknown step operation {op!r}")


def _step(rt: Runtime, step: dict[str, Any]) -> None:
    if "expect_error" in step:
        _expect_error(rt, step["expect_error"])
        return
    ops = [k for k in step if k in STEP_OPS]
    if len(ops) != 1:
        raise ValueError(f"a step needs exactly one operation: {step}")
    before = _snapshot(rt) if ops[0] == "simulate" else None
    result, answers = _perform(rt, ops[0], step[ops[0]])
    if ops[0] == "simulate":
        _compare(answers or [], step.get("expect", []), f"simulate {step['simulate']['query']}")
        if _snapshot(rt) != before:
            raise CaseFailure("simulate changed the state")
    if "expect_actions" in step:
        got = [
            Literal(a.action, tuple(Constant(v) for v in a.args), a.service)
            for a in (result.actions if result else [])
        ]
        _compare(got, step["expect_actions"], "actions")


def _expect_error(rt: Runtime, spec: dict[str, Any]) -> None:
    ops = [k for k in spec if k in (*STEP_OPS, "query")]
    if len(ops) != 1:
        raise ValueError(f"expect_error needs exactly one operation: {spec}")
    before = _snapshot(rt)
    try:
        _perform(rt, ops[0], spec[ops[0]])
    except DatalogError as e:
        code = e.code
        line = column = None
        if isinstance(e, PolicyError):
            line, column = e.first.line, e.first.column
        if code != spec["code"]:
            raise CaseFailure(f"expected error {spec['code']}, got {code}: {e}") from e
        for key, got in (("line", line), ("column", column)):
            if key in spec and spec[key] != got:
                raise CaseFailure(f"expected {key} {spec[key]}, got {got}: {e}") from e
    else:
        raise CaseFailure(f"expected error {spec['code']}, but {ops[0]} succeeded")
    if ops[0] != "delete_policy" and _snapshot(rt) != before:
        raise CaseFailure(f"the failed {ops[0]} changed the state")


def _snapshot(rt: Runtime) -> dict[tuple[str, str], frozenset[Any]]:
    return {(p, t): frozenset(rt.rows(p, t)) for p in rt.policy_names() for t in rt.tables(p)}


def _check_query(rt: Runtime, policy: str, text: str, expect: list[str]) -> None:
    _compare(rt.select(policy, text), expect, f"query {text} in {policy}")


def _norm(lit: Literal) -> Literal:
    return Literal(lit.table, lit.args, lit.policy, lit.modal, lit.negated)


def _compare(got: list[Literal], expect: list[str], what: str) -> None:
    want = {_norm(parse_literal(e)) for e in expect}
    have = {_norm(g) for g in got}
    if want != have:
        missing = sorted(to_text(x) for x in want - have)
        extra = sorted(to_text(x) for x in have - want)
        raise CaseFailure(f"{what}: missing {missing}, unexpected {extra}")
