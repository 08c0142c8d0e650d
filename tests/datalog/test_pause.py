"""Reads during a pause of a running change answer the state before the change, exactly.

The services let reads in while a long evaluation runs (``Runtime.pause_hook``, called every
``TICK`` rows scanned). Here ``TICK`` is 1, so a change pauses at every loop iteration, and at
each pause the hook reads every table and compares it with the state before the change, on the
random programs and changes of the oracle tests (rules added and deleted, recursion, negation,
data inserted and deleted, changes refused by a budget).
"""

from __future__ import annotations

import programs
import pytest
from hypothesis import given
from programs import DS, Op, Program
from test_engine_oracle import build, examples, perform, snapshot

from congress.datalog import batch as batch_module
from congress.datalog.ast import Row
from congress.datalog.errors import LimitExceeded
from congress.datalog.runtime import Limits, Runtime

Key = tuple[str, str]


@pytest.fixture(autouse=True)
def tick_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "TICK", 1)


def paused_runtime(max_rows: int | None = None) -> Runtime:
    return Runtime(limits=Limits(max_rows=max_rows))


def watch(rt: Runtime, tables: list[Key]) -> tuple[list[int], dict[str, object]]:
    """Make every pause compare the tables with ``expected['rows']``; count the pauses."""
    pauses: list[int] = []
    expected: dict[str, object] = {}

    def hook() -> None:
        pauses.append(1)
        got = snapshot(rt, tables)
        assert got == expected["rows"], "a read during a pause saw the change in progress"
        assert rt.tables(DS) == expected["ds_tables"]
        rows: dict[Key, set[Row]] = expected["rows"]  # type: ignore[assignment]
        for (policy, table), want in rows.items():
            assert rt.count(policy, table) == len(want)
            if want and "[" not in table:  # every row through a literal with variables
                args = ", ".join(f"x{i}" for i in range(len(next(iter(want)))))
                assert set(rt.select_rows(policy, f"{table}({args})")) == want

    rt.pause_hook = hook
    return pauses, expected


@examples(150)
@given(scenario=programs.scenarios())
def test_reads_in_a_pause_see_the_state_before_the_change(
    scenario: tuple[Program, list[Op]],
) -> None:
    program, ops = scenario
    rt = build(lambda: paused_runtime(max_rows=40), program)
    tables = sorted(program.tables())
    _, expected = watch(rt, tables)
    for op in ops:
        expected["rows"] = snapshot(rt, tables)
        expected["ds_tables"] = rt.tables(DS)
        try:
            perform(rt, op)
        except LimitExceeded:
            assert snapshot(rt, tables) == expected["rows"]  # refused: nothing changed


def test_a_long_change_pauses_and_reads_see_the_old_rows() -> None:
    rt = Runtime()
    rt.create_policy("ds", "datasource", schema={"a": ["x"], "b": ["y"]})
    rt.create_policy("p")
    rt.apply({("ds", "a"): ([(i,) for i in range(30)], []), ("ds", "b"): ([(1,), (2,)], [])})
    rt.insert("p", "old(x) :- ds:a(x)")
    seen: list[tuple[set[object], set[object], list[str]]] = []

    def hook() -> None:
        seen.append((rt.rows("p", "pair"), rt.rows("ds", "a"), rt.tables("p")))

    rt.pause_hook = hook
    rt.insert("p", "pair(x, y) :- ds:a(x), ds:b(y)")
    assert len(seen) > 30
    assert all(pair == set() and len(a) == 30 and t == ["old"] for pair, a, t in seen)
    assert len(rt.rows("p", "pair")) == 60
    seen.clear()
    rt.apply({("ds", "a"): ([], [(i,) for i in range(10)])})
    assert seen and all(len(pair) == 60 and len(a) == 30 for pair, a, _ in seen)
    assert len(rt.rows("p", "pair")) == 40 and len(rt.rows("ds", "a")) == 20
