"""Differential tests: the engine (``Runtime``) against the naive oracle on random programs.

A scenario (``programs.scenarios``) is a random stratified program plus a random sequence of
operations: data batches on the datasource policy ``ds`` (``Runtime.apply``) and insertions and
deletions of rules and facts in the user policies (``Runtime.insert`` / ``Runtime.delete``).
After *every* operation:

- for every table the program mentions (``Program.tables()``: base tables, heads, execute
  tables, tables read by bodies), ``rt.rows(policy, table)`` equals the oracle's rows; a table
  with no rows (no rule or fact inserted yet) reads as the empty set;
- ``BatchResult.changes`` is exactly the net difference between the oracle's states before and
  after, over *every* table: base tables named by the data batch, facts, derived tables and
  execute tables alike (keys follow ``naive``'s convention, e.g. ``("alpha",
  "execute[nova:servers.pause]")``). No entry has both sets empty; no other key (no internal
  helper table) appears. Net means: re-inserting a present row or deleting an absent one is no
  change, and a row both lost and regained within the batch is no change;
- ``BatchResult.actions`` lists one ``ActionRequest`` per row that newly appears in an execute
  table (service: the head's prefix, else the rule's policy).

Each test runs twice: against ``Runtime`` (the engine) and against ``NaiveRuntime`` below, a
stand-in built on the oracle that validates the harness and the generator themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import naive
import programs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from programs import DS, DataOp, Op, Program, RuleOp, State

from congress.datalog.ast import Row, Rule
from congress.datalog.printer import to_text
from congress.datalog.runtime import ActionRequest, BatchResult, Runtime

Key = tuple[str, str]
Changes = dict[Key, tuple[set[Row], set[Row]]]
Schema = Mapping[str, Sequence[str]]


def examples(n: int) -> settings:
    """``n`` examples per test; the environment variable ORACLE_EXAMPLES overrides every count
    (e.g. ORACLE_EXAMPLES=2000 for a long soak run)."""
    count = int(os.environ.get("ORACLE_EXAMPLES", n))
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class NaiveRuntime:
    """The slice of the ``Runtime`` API these tests use, recomputing everything with the oracle."""

    def __init__(self) -> None:
        self.rules: dict[str, list[Rule]] = {}
        self.data: dict[Key, set[Row]] = {}
        self.state: dict[Key, set[Row]] = {}

    def create_policy(
        self,
        name: str,
        kind: str = "nonrecursive",
        *,
        schema: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if kind == "datasource":
            self.data.update({(name, table): set() for table in schema or {}})
        else:
            self.rules[name] = []

    def insert(self, policy: str, rules: Iterable[Rule]) -> BatchResult:
        self.rules[policy] = self.rules[policy] + [r for r in rules if r not in self.rules[policy]]
        return self._recompute()

    def delete(self, policy: str, rules: Iterable[Rule]) -> BatchResult:
        gone = set(rules)
        self.rules[policy] = [r for r in self.rules[policy] if r not in gone]
        return self._recompute()

    def apply(self, changes: Mapping[Key, tuple[Iterable[Row], Iterable[Row]]]) -> BatchResult:
        for key, (inserts, deletes) in changes.items():
            self.data[key] = (self.data.get(key, set()) - set(deletes)) | set(inserts)
        return self._recompute()

    def rows(self, policy: str, table: str) -> set[Row]:
        return set(self.state.get((policy, table), set()))

    def _recompute(self) -> BatchResult:
        before, self.state = self.state, naive.evaluate(self.rules, self.data)
        changes = diff(before, self.state)
        return BatchResult(changes=changes, actions=actions_for(changes))


Factory = Callable[[], Any]
FACTORIES = [pytest.param(Runtime, id="engine"), pytest.param(NaiveRuntime, id="naive")]


# --------------------------------------------------------------------------- helpers


def diff(before: Mapping[Key, set[Row]], after: Mapping[Key, set[Row]]) -> Changes:
    """Per table (inserted, deleted), only for tables whose rows differ."""
    out: Changes = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, set()), after.get(key, set())
        if old != new:
            out[key] = (new - old, old - new)
    return out


def reported(result: BatchResult) -> Changes:
    """``result.changes`` as plain sets, checking that no entry is empty."""
    out: Changes = {}
    for key, (inserted, deleted) in result.changes.items():
        assert inserted or deleted, f"empty change entry for {key}"
        out[key] = (set(inserted), set(deleted))
    return out


def actions_for(changes: Changes) -> list[ActionRequest]:
    """An action per row newly in an execute table ``execute[svc:act]`` / ``execute[act]``."""
    out = []
    for (policy, table), (inserted, _) in changes.items():
        if table.startswith("execute[") and table.endswith("]"):
            service, colon, action = table[len("execute[") : -1].partition(":")
            if not colon:
                service, action = policy, service
            for row in inserted:
                out.append(ActionRequest(policy, service, action, row))
    return sorted(out, key=repr)


def build(factory: Factory, program: Program) -> Any:
    rt = factory()
    rt.create_policy(DS, "datasource", schema={t: list(c) for t, c in program.schema.items()})
    for policy, kind in program.kinds.items():
        rt.create_policy(policy, kind)
    return rt


def perform(rt: Any, op: Op) -> BatchResult:
    if isinstance(op, DataOp):
        batch = {(DS, t): (set(ins), set(dels)) for t, (ins, dels) in op.changes.items()}
        result = rt.apply(batch)
    elif op.insert:
        result = rt.insert(op.policy, list(op.rules))
    else:
        result = rt.delete(op.policy, list(op.rules))
    assert isinstance(result, BatchResult)
    return result


def snapshot(rt: Any, tables: Iterable[Key]) -> dict[Key, set[Row]]:
    return {key: set(rt.rows(*key)) for key in tables}


def expected_rows(oracle: Mapping[Key, set[Row]], tables: Iterable[Key]) -> dict[Key, set[Row]]:
    return {key: set(oracle.get(key, set())) for key in tables}


def mismatches(got: Mapping[Key, set[Row]], want: Mapping[Key, set[Row]]) -> dict[Key, Any]:
    """Per differing table: rows missing from ``got`` and rows it has in excess."""
    return {
        key: {"missing": want[key] - got[key], "extra": got[key] - want[key]}
        for key in want
        if got[key] != want[key]
    }


def describe(program: Program, ops: Sequence[Op] = ()) -> None:
    """Print the scenario as policy text when a test fails."""
    note(f"schema: {program.schema}  kinds: {program.kinds}")
    for policy, statements in program.statements.items():
        for r in statements:
            note(f"  {policy}: {to_text(r)}")
    for i, op in enumerate(ops):
        if isinstance(op, DataOp):
            note(f"op {i}: apply {op.changes}")
        else:
            verb = "insert" if op.insert else "delete"
            note(f"op {i}: {verb} {op.policy}: " + "; ".join(to_text(r) for r in op.rules))


def run(rt: Any, program: Program, ops: Sequence[Op], check_actions: bool = False) -> State:
    """Perform ``ops`` checking rows and changes after each; returns the final state."""
    tables = program.tables()
    state = State.empty(program)
    before = state.evaluate()
    for i, op in enumerate(ops):
        result = perform(rt, op)
        state.apply(op)
        after = state.evaluate()
        got = snapshot(rt, tables)
        assert mismatches(got, expected_rows(after, tables)) == {}, f"rows after op {i}"
        assert reported(result) == diff(before, after), f"changes of op {i}"
        if check_actions:
            assert sorted(result.actions, key=repr) == actions_for(diff(before, after))
        before = after
    return state


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("factory", FACTORIES)
@examples(300)
@given(scenario=programs.scenarios())
def test_rows_and_changes_agree_with_oracle_after_every_operation(
    factory: Factory, scenario: tuple[Program, list[Op]]
) -> None:
    program, ops = scenario
    describe(program, ops)
    run(build(factory, program), program, ops)


@pytest.mark.parametrize("factory", FACTORIES)
@examples(60)
@given(scenario=programs.scenarios())
def test_actions_are_the_new_execute_rows(
    factory: Factory, scenario: tuple[Program, list[Op]]
) -> None:
    program, ops = scenario
    describe(program, ops)
    run(build(factory, program), program, ops, check_actions=True)


@pytest.mark.parametrize("factory", FACTORIES)
@examples(120)
@given(data=st.data())
def test_insertion_order_of_rules_and_facts_does_not_matter(
    factory: Factory, data: st.DataObject
) -> None:
    program = data.draw(programs.programs())
    describe(program)
    statements = [(p, r) for p, rules in program.statements.items() for r in rules]
    batch = data.draw(programs.initial_data(program))
    state = State.empty(program)
    for p, r in statements:
        state.apply(RuleOp(True, p, (r,)))
    state.apply(batch)
    want = expected_rows(state.evaluate(), program.tables())
    for _ in range(2):
        order = data.draw(st.permutations(statements))
        data_at = data.draw(st.integers(0, len(order)))
        rt = build(factory, program)
        for i, (policy, r) in enumerate(order):
            if i == data_at:
                perform(rt, batch)
            perform(rt, RuleOp(True, policy, (r,)))
        if data_at == len(order):
            perform(rt, batch)
        assert mismatches(snapshot(rt, program.tables()), want) == {}


@pytest.mark.parametrize("factory", FACTORIES)
@examples(150)
@given(data=st.data())
def test_inserting_then_deleting_a_statement_restores_the_state(
    factory: Factory, data: st.DataObject
) -> None:
    """Insert then delete an absent statement, or delete then re-insert a present one: the rows
    come back exactly, and the second batch's changes are the inverse of the first's."""
    program, ops = data.draw(programs.scenarios(max_ops=6))
    describe(program, ops)
    rt = build(factory, program)
    state = run(rt, program, ops)
    tables = program.tables()
    candidates = [(p, r) for p, rules in program.statements.items() for r in rules]
    policy, statement = data.draw(st.sampled_from(candidates))
    present = statement in state.rules[policy]
    note(f"{'delete then insert' if present else 'insert then delete'} {policy}: {statement}")
    first, second = RuleOp(not present, policy, (statement,)), RuleOp(present, policy, (statement,))
    start = snapshot(rt, tables)
    there = perform(rt, first)
    middle = snapshot(rt, tables)
    state.apply(first)
    assert mismatches(middle, expected_rows(state.evaluate(), tables)) == {}
    back = perform(rt, second)
    assert mismatches(snapshot(rt, tables), start) == {}
    assert reported(there) == diff(start, middle)
    assert reported(back) == diff(middle, start)
