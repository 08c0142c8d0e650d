"""Tests of relations (congress.datalog.storage): rows, support counts, indexes, old views."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datalog.ast import Row
from congress.datalog.storage import OldView, Relation, key_of

PATTERNS: tuple[tuple[int, ...], ...] = ((0,), (1,), (2,), (0, 1), (2, 0), (0, 1, 2))


def recomputed(rows: Any, cols: tuple[int, ...]) -> dict[Any, set[Row]]:
    """The index on ``cols`` computed from scratch."""
    out: dict[Any, set[Row]] = {}
    for r in rows:
        k = r[cols[0]] if len(cols) == 1 else tuple(r[c] for c in cols)
        out.setdefault(k, set()).add(r)
    return out


def assert_indexes_exact(rel: Relation) -> None:
    """Every index already built, and every index built now, matches the rows."""
    for cols, idx in rel._indexes.items():
        assert idx == recomputed(rel.rows, cols), cols
        assert all(idx.values()), "an index keeps no empty buckets"
    for cols in PATTERNS:
        assert rel.index(cols) == recomputed(rel.rows, cols), cols


def make(rows: dict[Row, int] | None = None, *, indexed: bool = True) -> Relation:
    rel = Relation(("p", "t"))
    for r, n in (rows or {}).items():
        rel.add(r, n)
    if indexed:
        for cols in PATTERNS:
            rel.index(cols)
    return rel


# -- key_of and lazily built indexes ---------------------------------------------------------


def test_key_of_is_the_value_for_one_column_and_a_tuple_otherwise() -> None:
    row = ("a", 1, 2.5)
    assert key_of(row, (1,)) == 1
    assert key_of(row, (2, 0)) == (2.5, "a")
    assert key_of(row, (0, 1, 2)) == ("a", 1, 2.5)


def test_index_is_built_on_first_use_and_then_reused() -> None:
    rel = make({("a", 1, "x"): 1, ("b", 1, "y"): 1, ("a", 2, "z"): 1}, indexed=False)
    assert rel._indexes == {}
    idx = rel.index((1,))
    assert idx == {1: {("a", 1, "x"), ("b", 1, "y")}, 2: {("a", 2, "z")}}
    assert rel.index((1,)) is idx
    assert rel.index((0, 2)) == {
        ("a", "x"): {("a", 1, "x")},
        ("b", "y"): {("b", 1, "y")},
        ("a", "z"): {("a", 2, "z")},
    }
    assert set(rel._indexes) == {(1,), (0, 2)}


def test_len_and_repr() -> None:
    rel = make({(1, 2, 3): 1, (4, 5, 6): 2})
    assert len(rel) == 2
    assert repr(rel) == "Relation(p:t, 2 rows)"


# -- add / remove -----------------------------------------------------------------------------


def test_add_and_remove_keep_indexes_exact() -> None:
    rel = make({(1, "a", 0): 1, (2, "a", 0): 1, (3, "b", 1): 1})
    rel.add((4, "b", 0), 3)
    assert rel.rows[(4, "b", 0)] == 3
    assert rel.index((1,))["b"] == {(3, "b", 1), (4, "b", 0)}
    assert_indexes_exact(rel)
    rel.remove((3, "b", 1))
    assert rel.index((1,))["b"] == {(4, "b", 0)}
    assert 1 not in rel.index((2,))  # the bucket emptied is dropped
    assert_indexes_exact(rel)
    rel.remove((4, "b", 0))
    assert "b" not in rel.index((1,))
    assert_indexes_exact(rel)
    assert set(rel.rows) == {(1, "a", 0), (2, "a", 0)}


def test_add_many_returns_only_the_new_rows_once_in_order() -> None:
    rel = make({(1, 1, 1): 1, (2, 2, 2): 1, (3, 3, 3): 1, (4, 4, 4): 1})
    got = rel.add_many([(5, 5, 5), (1, 1, 1), (5, 5, 5), (6, 5, 0)])
    assert got == [(5, 5, 5), (6, 5, 0)]
    assert rel.rows[(5, 5, 5)] == 1 and rel.rows[(1, 1, 1)] == 1
    assert len(rel) == 6
    assert rel.index((1,))[5] == {(5, 5, 5), (6, 5, 0)}
    assert_indexes_exact(rel)


def test_add_many_into_an_empty_relation() -> None:
    rel = make()
    got = rel.add_many([(1, 2, 3), (1, 2, 3), (4, 5, 6)])
    assert got == [(1, 2, 3), (4, 5, 6)]
    assert rel.rows == {(1, 2, 3): 1, (4, 5, 6): 1}
    assert_indexes_exact(rel)


def test_add_many_of_many_rows_into_a_small_relation() -> None:
    rel = make({(0, 0, 0): 1})
    got = rel.add_many([(i, i % 2, 0) for i in range(10)])
    assert got == [(i, i % 2, 0) for i in range(1, 10)]
    assert len(rel) == 10
    assert_indexes_exact(rel)


def test_remove_many_returns_only_the_rows_present() -> None:
    rel = make({(1, 1, 1): 1, (2, 2, 2): 4, (3, 3, 3): 1})
    got = rel.remove_many([(2, 2, 2), (9, 9, 9), (2, 2, 2), (1, 1, 1)])
    assert got == [(2, 2, 2), (1, 1, 1)]
    assert rel.rows == {(3, 3, 3): 1}
    assert_indexes_exact(rel)


def test_add_new_inserts_with_the_given_counts() -> None:
    rel = make({(i, 0, 0): 1 for i in range(6)})
    rel.add_new({(10, 1, 1): 2, (11, 1, 2): 5})
    assert rel.rows[(10, 1, 1)] == 2 and rel.rows[(11, 1, 2)] == 5
    assert rel.index((1,))[1] == {(10, 1, 1), (11, 1, 2)}
    assert_indexes_exact(rel)
    rel.add_new({(20 + i, 3, 3): 1 for i in range(20)})  # many: indexes rebuilt lazily
    assert len(rel) == 28
    assert_indexes_exact(rel)


# -- apply_counts / set_count ------------------------------------------------------------------


def test_apply_counts_returns_rows_that_appeared_and_disappeared() -> None:
    rel = make({("a", 0, 0): 1, ("b", 0, 0): 2, ("c", 0, 0): 1, ("d", 0, 0): 1})
    undo: dict[Row, int] = {}
    ins, dels = rel.apply_counts(
        {
            ("a", 0, 0): -1,  # disappears
            ("b", 0, 0): -1,  # stays, count 1
            ("c", 0, 0): +2,  # stays, count 3
            ("e", 1, 0): +1,  # appears
            ("f", 1, 0): 0,  # no change at all
            ("g", 1, 0): +2,  # appears with count 2
        },
        undo,
    )
    assert ins == {("e", 1, 0), ("g", 1, 0)}
    assert dels == {("a", 0, 0)}
    assert rel.rows == {
        ("b", 0, 0): 1,
        ("c", 0, 0): 3,
        ("d", 0, 0): 1,
        ("e", 1, 0): 1,
        ("g", 1, 0): 2,
    }
    assert undo == {("a", 0, 0): 1, ("b", 0, 0): 2, ("c", 0, 0): 1, ("e", 1, 0): 0, ("g", 1, 0): 0}
    assert_indexes_exact(rel)


def test_apply_counts_undo_keeps_the_first_old_count() -> None:
    rel = make({("a", 0, 0): 1})
    undo: dict[Row, int] = {}
    rel.apply_counts({("a", 0, 0): 2, ("b", 0, 0): 1}, undo)
    rel.apply_counts({("a", 0, 0): -3, ("b", 0, 0): 1}, undo)
    assert rel.rows == {("b", 0, 0): 2}
    assert undo == {("a", 0, 0): 1, ("b", 0, 0): 0}
    for r, n in undo.items():
        rel.set_count(r, n)
    assert rel.rows == {("a", 0, 0): 1}
    assert_indexes_exact(rel)


def test_apply_counts_without_undo_and_with_no_change() -> None:
    rel = make({("a", 0, 0): 1})
    assert rel.apply_counts({("a", 0, 0): 0}, None) == (set(), set())
    assert rel.apply_counts({("a", 0, 0): 1}, None) == (set(), set())
    assert rel.rows == {("a", 0, 0): 2}


def test_apply_counts_refuses_negative_support_for_an_absent_row() -> None:
    rel = make({("a", 0, 0): 1})
    with pytest.raises(AssertionError, match="negative support -1"):
        rel.apply_counts({("z", 0, 0): -1}, None)


def test_set_count_inserts_updates_and_removes() -> None:
    rel = make({("a", 1, 0): 1})
    rel.set_count(("b", 1, 0), 3)
    assert rel.rows == {("a", 1, 0): 1, ("b", 1, 0): 3}
    rel.set_count(("b", 1, 0), 2)
    assert rel.rows[("b", 1, 0)] == 2
    rel.set_count(("a", 1, 0), 0)
    rel.set_count(("zz", 1, 0), 0)  # absent and zero: nothing
    assert rel.rows == {("b", 1, 0): 2}
    assert rel.index((1,)) == {1: {("b", 1, 0)}}
    assert_indexes_exact(rel)


# -- random operations against a model -------------------------------------------------------

VALUES = st.sampled_from([0, 1, 2, "a", "b"])
ROWS = st.tuples(VALUES, VALUES, VALUES)

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), ROWS, st.integers(1, 3)),
        st.tuples(st.just("remove"), ROWS),
        st.tuples(st.just("add_many"), st.lists(ROWS, max_size=8)),
        st.tuples(st.just("remove_many"), st.lists(ROWS, max_size=8)),
        st.tuples(st.just("add_new"), st.dictionaries(ROWS, st.integers(1, 3), max_size=6)),
        st.tuples(st.just("apply"), st.dictionaries(ROWS, st.integers(-3, 3), max_size=8)),
        st.tuples(st.just("set"), ROWS, st.integers(0, 3)),
        st.tuples(st.just("index"), st.sampled_from(PATTERNS)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.dictionaries(ROWS, st.integers(1, 3), max_size=10), indexed=st.booleans(), ops=OPS
)
def test_random_operations_keep_rows_counts_and_indexes_exact(
    initial: dict[Row, int], indexed: bool, ops: list[Any]
) -> None:
    rel = make(dict(initial), indexed=indexed)
    model = dict(initial)
    undo: dict[Row, int] = {}
    start = dict(model)
    for op in ops:
        name = op[0]
        if name == "add":
            _, row, n = op
            if row not in model:
                rel.add(row, n)
                model[row] = n
        elif name == "remove":
            if op[1] in model:
                rel.remove(op[1])
                del model[op[1]]
        elif name == "add_many":
            want = [r for r in dict.fromkeys(op[1]) if r not in model]
            assert rel.add_many(op[1]) == want
            model.update(dict.fromkeys(want, 1))
        elif name == "remove_many":
            want = [r for r in dict.fromkeys(op[1]) if r in model]
            assert rel.remove_many(op[1]) == want
            for r in want:
                del model[r]
        elif name == "add_new":
            fresh = {r: n for r, n in op[1].items() if r not in model}
            rel.add_new(fresh)
            model.update(fresh)
        elif name == "apply":
            # keep supports non-negative: a decrement never exceeds the current count
            acc = {r: max(d, -model.get(r, 0)) for r, d in op[1].items()}
            before = dict(model)
            want_undo = dict(undo)
            for r, d in acc.items():
                if d:
                    want_undo.setdefault(r, before.get(r, 0))
                model[r] = model.get(r, 0) + d
                if model[r] == 0:
                    del model[r]
            ins, dels = rel.apply_counts(acc, undo)
            assert ins == set(model) - set(before)
            assert dels == set(before) - set(model)
            assert undo == want_undo
        elif name == "set":
            _, row, n = op
            rel.set_count(row, n)
            if n:
                model[row] = n
            else:
                model.pop(row, None)
        else:
            rel.index(op[1])
        assert rel.rows == model
        assert_indexes_exact(rel)
    if all(op[0] in ("apply", "index") for op in ops):
        # rolling back what apply_counts recorded restores the initial state exactly
        for r, n in undo.items():
            rel.set_count(r, n)
        assert rel.rows == start
        assert_indexes_exact(rel)


@settings(max_examples=100, deadline=None)
@given(
    initial=st.dictionaries(ROWS, st.integers(1, 3), max_size=10),
    steps=st.lists(st.dictionaries(ROWS, st.integers(-3, 3), max_size=8), max_size=5),
)
def test_apply_counts_undo_rolls_back_exactly(
    initial: dict[Row, int], steps: list[dict[Row, int]]
) -> None:
    rel = make(dict(initial))
    undo: dict[Row, int] = {}
    for acc in steps:
        rel.apply_counts({r: max(d, -rel.rows.get(r, 0)) for r, d in acc.items()}, undo)
        assert_indexes_exact(rel)
    for r, n in undo.items():
        rel.set_count(r, n)
    assert rel.rows == initial
    assert_indexes_exact(rel)


# -- OldView -----------------------------------------------------------------------------------


def test_old_view_shows_new_minus_inserted_plus_deleted() -> None:
    rel = make({("a", 1, 0): 1, ("b", 1, 0): 1, ("c", 2, 0): 1})
    ins = {("c", 2, 0)}
    dels = {("d", 1, 0), ("e", 3, 0)}
    view = OldView(rel, ins, dels)
    old = {("a", 1, 0), ("b", 1, 0), ("d", 1, 0), ("e", 3, 0)}
    assert ("a", 1, 0) in view
    assert ("d", 1, 0) in view
    assert ("c", 2, 0) not in view
    assert ("z", 1, 0) not in view
    assert sorted(view, key=repr) == sorted(old, key=repr)
    assert len(view) == 4
    idx = view.index((1,))
    assert sorted(idx.get(1), key=repr) == [("a", 1, 0), ("b", 1, 0), ("d", 1, 0)]
    assert idx.get(2, ()) == ()  # only an inserted row has it
    assert idx.get(2) is None
    assert idx.get(3, ()) == [("e", 3, 0)]
    assert idx.get(99, "none") == "none"
    two = view.index((0, 1))
    assert two.get(("d", 1)) == [("d", 1, 0)]
    assert two.get(("c", 2)) is None
    # the relation itself is untouched
    assert set(rel.rows) == {("a", 1, 0), ("b", 1, 0), ("c", 2, 0)}


@settings(max_examples=100, deadline=None)
@given(
    old=st.sets(ROWS, max_size=10),
    new=st.sets(ROWS, max_size=10),
    cols=st.sampled_from(PATTERNS),
)
def test_old_view_equals_the_old_state(old: set[Row], new: set[Row], cols: tuple[int, ...]) -> None:
    rel = make(dict.fromkeys(new, 1))
    view = OldView(rel, new - old, old - new)
    assert set(view) == old
    assert len(list(view)) == len(old) == len(view)
    for r in old | new:
        assert (r in view) == (r in old)
    idx = view.index(cols)
    want = recomputed(old, cols)
    for k in set(want) | set(recomputed(new, cols)):
        got = idx.get(k, None)
        if k in want:
            assert got is not None and sorted(got, key=repr) == sorted(want[k], key=repr)
        else:
            assert got is None
