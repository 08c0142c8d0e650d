"""The history of watched tables: entries collapse on their key (also when written at the same
moment), the table as of a time, the changes in order without redundant repeats, retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from congress.db import api, errors
from congress.db.history import (
    DELETE,
    INSERT,
    NewHistoryEntry,
    canonical_json,
    history_key,
    row_hash,
)
from congress.db.models import TableHistoryRow

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(
    op: str,
    row: Sequence[Any],
    when: datetime,
    activation: str | None = None,
    *,
    table: str = "error",
    policy: str = "p",
    revision: int = 1,
    node: str | None = "n1",
) -> NewHistoryEntry:
    cause = activation or f"ds:t:e:{when.isoformat()}"
    return NewHistoryEntry(policy, table, op, row, cause, when, revision, node)


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(TableHistoryRow)).scalar_one()


def ops(changes: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    return [(c.op, c.row) for c in changes]


def test_the_key_digests_policy_table_op_row_and_activation() -> None:
    key = history_key("p", "error", "insert", (1, "a"), "ds:t:e:1")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == history_key("p", "error", "insert", [1, "a"], "ds:t:e:1")
    others = {
        history_key("q", "error", "insert", (1, "a"), "ds:t:e:1"),
        history_key("p", "warning", "insert", (1, "a"), "ds:t:e:1"),
        history_key("p", "error", "delete", (1, "a"), "ds:t:e:1"),
        history_key("p", "error", "insert", (2, "a"), "ds:t:e:1"),
        history_key("p", "error", "insert", (1, "a"), "ds:t:e:2"),
    }
    assert key not in others and len(others) == 5
    assert row_hash("p", "error", (1, "a")) == row_hash("p", "error", [1, "a"])
    assert row_hash("p", "error", (1, "a")) != row_hash("p", "warning", (1, "a"))
    assert canonical_json(["é", "\ud800"]) == '["\\u00e9","\\ud800"]'


def test_entries_of_one_change_collapse_on_their_key(engine: Engine) -> None:
    batch = [entry(INSERT, (1,), at(0), "a1"), entry(INSERT, (2,), at(0), "a1")]
    api.record_history(engine, batch)
    # another engine records the same change later, with its own time and node: skipped
    again = [
        NewHistoryEntry(e.policy, e.table, e.op, e.row, e.activation, at(5), 1, "n2") for e in batch
    ]
    api.record_history(engine, [*again, entry(INSERT, (3,), at(5), "a2")])
    assert count(engine) == 3
    changes = api.history_changes(engine, "p", "error", since=at(-1))
    assert ops(changes) == [(INSERT, [1]), (INSERT, [2]), (INSERT, [3])]
    assert [c.node_id for c in changes] == ["n1", "n1", "n1"]
    assert [c.created_at for c in changes] == [at(0), at(0), at(5)]
    assert [c.key for c in changes] == [
        history_key("p", "error", INSERT, [n], a) for n, a in ((1, "a1"), (2, "a1"), (3, "a2"))
    ]
    # the same row deleted, and inserted again by another cause: new entries
    api.record_history(engine, [entry(DELETE, (1,), at(6), "a3"), entry(INSERT, (1,), at(7))])
    assert count(engine) == 5
    api.record_history(engine, [])
    assert count(engine) == 5


def test_engines_writing_one_change_at_the_same_moment_leave_one_entry(
    engine: Engine, run_together: Callable[..., list[object]]
) -> None:
    rows = [entry(INSERT, (i, "x" * 10), at(0), "same") for i in range(200)]

    def write(node: str) -> Callable[[], object]:
        mine = [
            NewHistoryEntry(e.policy, e.table, e.op, e.row, e.activation, at(1), 1, node)
            for e in rows
        ]
        return lambda: api.record_history(engine, mine)

    assert run_together(write("n1"), write("n2"), write("n3")) == [None, None, None]
    assert count(engine) == 200
    assert len(api.history_as_of(engine, "p", "error", at(2))) == 200


def test_the_table_as_of_a_time(engine: Engine) -> None:
    api.record_history(
        engine,
        [
            entry(INSERT, ("vm1", 1), at(0)),
            entry(INSERT, ("vm2", 2.5), at(1)),
            entry(INSERT, ("vm1", 1), at(1), table="warning"),
            entry(INSERT, ("vm1", 1), at(1), policy="q"),
        ],
    )
    api.record_history(engine, [entry(DELETE, ("vm1", 1), at(2)), entry(INSERT, ("vm3", 3), at(2))])
    api.record_history(engine, [entry(INSERT, ("vm1", 1), at(3))])

    def as_of(when: datetime) -> list[list[Any]]:
        return api.history_as_of(engine, "p", "error", when)

    assert as_of(at(-1)) == []
    assert as_of(at(0)) == [["vm1", 1]]  # an entry at exactly that time counts
    assert as_of(at(0.5)) == [["vm1", 1]]
    assert as_of(at(1)) == [["vm1", 1], ["vm2", 2.5]]
    assert as_of(at(2)) == [["vm2", 2.5], ["vm3", 3]]
    assert as_of(at(2) - timedelta(microseconds=1)) == [["vm1", 1], ["vm2", 2.5]]
    assert as_of(at(3)) == [["vm1", 1], ["vm2", 2.5], ["vm3", 3]]
    assert as_of(at(3600)) == as_of(at(3))
    assert api.history_as_of(engine, "p", "warning", at(3)) == [["vm1", 1]]
    assert api.history_as_of(engine, "p", "nosuch", at(3)) == []


def test_counts_over_time_agree_with_the_table_as_of_each_time(engine: Engine) -> None:
    api.record_history(
        engine,
        [
            entry(INSERT, ("vm1", 1), at(0)),
            entry(INSERT, ("vm2", 2.5), at(1)),
            entry(INSERT, ("vm1", 1), at(1), table="warning"),
            entry(INSERT, ("vm1", 1), at(1), policy="q"),
        ],
    )
    api.record_history(engine, [entry(DELETE, ("vm1", 1), at(2)), entry(INSERT, ("vm3", 3), at(2))])
    # a repeat of the row's state (two nodes): counted once
    api.record_history(engine, [entry(INSERT, ("vm3", 3), at(2.5), "other")])
    api.record_history(engine, [entry(INSERT, ("vm1", 1), at(3))])
    times = [at(s) for s in (-1, 0, 0.5, 1, 2, 2.5, 2.75, 3, 3600)]
    expected = [len(api.history_as_of(engine, "p", "error", t)) for t in times]
    assert expected == [0, 1, 1, 2, 2, 2, 2, 3, 3]
    assert api.history_counts(engine, "p", "error", times) == expected
    assert api.history_counts(engine, "p", "error", times[3:5]) == expected[3:5]
    assert api.history_counts(engine, "p", "error", [at(1)]) == [2]
    assert api.history_counts(engine, "p", "warning", [at(0), at(1)]) == [0, 1]
    assert api.history_counts(engine, "p", "error", []) == []


def test_rows_keep_their_values(engine: Engine) -> None:
    """JSON types, non-ASCII text, and strings no database takes as they are (a NUL, a lone
    surrogate: a driver may read them from a service) come back exactly."""
    rows = [
        ("été 🚀", 0, -1.5),
        ("nul\x00byte", 10**15, 1e-300),
        ("lone \ud800 surrogate", 2, 0.1),
        ("x" * 5000, 3, 3.0),
    ]
    api.record_history(engine, [entry(INSERT, row, at(i)) for i, row in enumerate(rows)])
    got = api.history_as_of(engine, "p", "error", at(10))
    assert sorted(map(tuple, got), key=repr) == sorted(rows, key=repr)
    assert [tuple(c.row) for c in api.history_changes(engine, "p", "error", since=T0)] == rows


def test_changes_in_order_without_redundant_repeats(engine: Engine) -> None:
    api.record_history(
        engine,
        [
            entry(INSERT, (1,), at(0), revision=1),
            entry(INSERT, (2,), at(1), revision=2),
            entry(INSERT, (1,), at(1), "again", revision=2),  # a repeat: (1) is there
            entry(DELETE, (1,), at(2), revision=3),
            entry(DELETE, (1,), at(2), "reconciled", revision=3),  # a repeat
            entry(INSERT, (9,), at(2), table="warning"),
            entry(INSERT, (1,), at(3), revision=4),
            entry(DELETE, (2,), at(4), revision=5),
        ],
    )
    everything = api.history_changes(engine, "p", "error", since=at(-10))
    assert ops(everything) == [
        (INSERT, [1]),
        (INSERT, [2]),
        (DELETE, [1]),
        (INSERT, [1]),
        (DELETE, [2]),
    ]
    assert [c.revision for c in everything] == [1, 2, 3, 4, 5]
    assert [c.created_at for c in everything] == [at(0), at(1), at(2), at(3), at(4)]
    assert all(c.policy == "p" and c.table == "error" for c in everything)
    # since is included, until excluded; a repeat is judged by the state before since too
    window = api.history_changes(engine, "p", "error", since=at(1), until=at(4))
    assert ops(window) == [(INSERT, [2]), (DELETE, [1]), (INSERT, [1])]
    assert ops(api.history_changes(engine, "p", "error", since=at(0.5), until=at(2))) == [
        (INSERT, [2])
    ]
    assert ops(api.history_changes(engine, "p", "error", since=at(-10), limit=2)) == [
        (INSERT, [1]),
        (INSERT, [2]),
    ]
    assert api.history_changes(engine, "p", "error", since=at(-10), limit=0) == []
    assert api.history_changes(engine, "p", "error", since=at(5)) == []
    assert ops(api.history_changes(engine, "p", "warning", since=T0)) == [(INSERT, [9])]


def test_changes_page_through_many_repeats(engine: Engine) -> None:
    """Repeats do not eat into the limit: more entries are read until it is reached."""
    entries = [entry(INSERT, (0,), at(0))]
    entries += [entry(INSERT, (0,), at(0.001 * i), f"dup{i}") for i in range(1, 250)]
    entries += [entry(DELETE, (0,), at(1)), entry(INSERT, (1,), at(2))]
    api.record_history(engine, entries)
    got = api.history_changes(engine, "p", "error", since=T0, limit=3)
    assert ops(got) == [(INSERT, [0]), (DELETE, [0]), (INSERT, [1])]
    assert ops(api.history_changes(engine, "p", "error", since=at(0.5), limit=1)) == [(DELETE, [0])]


def test_latest_entries_and_tables(engine: Engine) -> None:
    api.record_history(
        engine,
        [
            entry(INSERT, (1,), at(0)),
            entry(INSERT, (2,), at(0)),
            entry(INSERT, (3,), at(0), table="warning", policy="q"),
        ],
    )
    api.record_history(engine, [entry(DELETE, (1,), at(1))])
    latest = {tuple(e.row): e.op for e in api.history_latest(engine, "p", "error")}
    assert latest == {(1,): DELETE, (2,): INSERT}
    assert api.history_tables(engine) == [("p", "error"), ("q", "warning")]
    assert api.history_latest(engine, "p", "nosuch") == []


def test_retention_keeps_what_answers_as_of_the_cutoff(engine: Engine) -> None:
    api.record_history(
        engine,
        [
            entry(INSERT, ("gone",), at(0)),
            entry(INSERT, ("stays",), at(0)),
            entry(INSERT, ("back",), at(0)),
            entry(INSERT, ("late",), at(0)),
        ],
    )
    api.record_history(
        engine,
        [
            entry(DELETE, ("gone",), at(1)),
            entry(DELETE, ("back",), at(1)),
            entry(INSERT, ("stays",), at(1), "repeat"),
        ],
    )
    api.record_history(engine, [entry(INSERT, ("back",), at(2)), entry(DELETE, ("late",), at(20))])
    cutoff = at(10)
    before = {t: api.history_as_of(engine, "p", "error", at(t)) for t in (10, 15, 20, 30)}
    assert before[10] == [["back"], ["late"], ["stays"]]
    # deleted: gone's two, back's first two, stays' first (its repeat is its latest)
    assert api.prune_history(engine, cutoff) == 5
    assert count(engine) == 4
    assert {t: api.history_as_of(engine, "p", "error", at(t)) for t in before} == before
    assert ops(api.history_changes(engine, "p", "error", since=T0)) == [
        (INSERT, ["late"]),
        (INSERT, ["stays"]),
        (INSERT, ["back"]),
        (DELETE, ["late"]),
    ]
    assert api.prune_history(engine, cutoff) == 0
    # in steps: as many as asked each time
    api.record_history(engine, [entry(DELETE, ("stays",), at(11))])
    api.record_history(engine, [entry(INSERT, ("x", i), at(12)) for i in range(5)])
    api.record_history(engine, [entry(DELETE, ("x", i), at(13)) for i in range(5)])
    assert api.prune_history(engine, at(100), limit=4) == 4
    assert api.prune_history(engine, at(100), limit=100) == 10
    assert api.prune_history(engine, at(100), limit=100) == 0
    assert api.history_as_of(engine, "p", "error", at(100)) == [["back"]]


def test_invalid_entries_are_refused(engine: Engine) -> None:
    with pytest.raises(errors.InvalidValue):
        api.record_history(engine, [entry("update", (1,), at(0))])
    with pytest.raises(errors.InvalidValue):
        api.record_history(engine, [entry(INSERT, (1,), at(0), table="t" * 256)])
    with pytest.raises(errors.InvalidValue):
        api.record_history(engine, [entry(INSERT, (1,), at(0), node="n" * 256)])
    assert count(engine) == 0
