"""Aggregates: ``v = op{x | body}`` kept up to date group by group.

Imports: standard library and congress.datalog only.

A rule with aggregate literals is compiled into three kinds of parts (docs/adr/0009-aggregates.md):

- for each aggregate, a hidden *input* relation ``{op#id:in}`` holding the distinct bindings of
  its body's variables, group variables first, derived by an ordinary hidden rule;
- an ``AggregateRule`` that keeps the hidden *output* relation ``{op#id}``: one row
  ``(group..., value)`` per group with at least one binding;
- the user's rule, which reads the output relation in place of the aggregate literal.

The output relation depends on its input non-monotonically (like a negation), so the input is
always complete, in a lower stratum, before a value is computed, and an aggregate can never be
part of a recursive cycle.

``AggregateRule`` keeps per group the multiplicity of each value of the aggregated column and
an exact running sum, so one changed binding costs O(1) (``min`` and ``max`` look over the
group's distinct values only when the current extreme leaves). The group states are a cache of
the input relation: a full evaluation folds each group in one pass (``fold``) and keeps no
state; a group's state is built from the input relation the first time the group changes, and
every state is dropped when a transaction is rolled back, so they never disagree with the
relations they summarise.

Values: ``count`` counts the distinct values of the term; ``sum`` and ``avg`` take one value per
binding and skip values that are not finite numbers (``avg`` of no number has no value); ``min``
and ``max`` order numbers before strings. Sums are exact (``Fraction``), so every engine reaches
the same float whatever the order of the changes.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from congress.datalog.ast import Row, Value

Key = tuple[str, str]

HIDDEN_PREFIX = "{"
"""The first character of every hidden relation's table name (no user table can have it)."""

ZERO_OPS = ("count", "sum")
"""The operators that answer for an empty group (0) when the groups are given."""


def is_hidden(table: str) -> bool:
    """True for the tables of aggregates' hidden relations."""
    return table.startswith(HIDDEN_PREFIX)


def _number(v: Value) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return v
    return None


def order_key(v: Value) -> tuple[int, Any]:
    """How ``min`` and ``max`` order values: numbers (by value) before strings."""
    n = _number(v)
    if n is not None:
        return (0, n)
    return (1, str(v))


def fold(op: str, values: list[Value]) -> Value | None:
    """``op`` over the values of one group's bindings (one value per binding), None when it
    has no value: what a ``GroupState`` holding them answers, computed in one pass."""
    if op == "count":
        return len(set(values))
    if op in ("min", "max"):
        if not values:
            return None
        pick = min if op == "min" else max
        return pick(values, key=order_key)
    isum = 0
    fsum: Fraction | None = None
    numbers = 0
    for v in values:
        num = _number(v)
        if num is None:
            continue
        numbers += 1
        if isinstance(num, int):
            isum += num
        else:
            fsum = Fraction(num) if fsum is None else fsum + Fraction(num)
    if op == "sum":
        return isum if fsum is None else float(fsum + isum)
    if not numbers:
        return None
    return float((Fraction(isum) + (fsum or 0)) / numbers)


class GroupState:
    """The bindings of one group: value multiplicities and an exact numeric sum."""

    __slots__ = ("bindings", "extreme", "floats", "fsum", "isum", "numbers", "op", "values")

    def __init__(self, op: str) -> None:
        self.op = op
        self.bindings = 0
        self.values: dict[Value, int] = {}
        self.numbers = 0
        self.isum = 0
        self.floats = 0  # how many of the numbers are floats: a sum of ints stays an int
        self.fsum: Fraction | None = None
        self.extreme: Value | None = None

    def add(self, v: Value, sign: int) -> None:
        self.bindings += sign
        n = self.values.get(v, 0) + sign
        if n:
            self.values[v] = n
        else:
            del self.values[v]
            if v == self.extreme:
                self.extreme = None  # found again on demand, over the distinct values
        if sign > 0 and n == 1 and self.extreme is not None:
            k, e = order_key(v), order_key(self.extreme)
            if (k < e) if self.op == "min" else (k > e):
                self.extreme = v
        num = _number(v)
        if num is not None:
            self.numbers += sign
            if isinstance(num, int):
                self.isum += sign * num
            else:
                self.floats += sign
                f = Fraction(num) * sign
                self.fsum = f if self.fsum is None else self.fsum + f
                if not self.floats:
                    self.fsum = None

    def value(self) -> Value | None:
        """The aggregate over this group, or None when it has none."""
        op = self.op
        if op == "count":
            return len(self.values)
        if op == "sum":
            if self.fsum is None:
                return self.isum
            return float(self.fsum + self.isum)
        if op == "avg":
            if not self.numbers:
                return None
            total = Fraction(self.isum) + (self.fsum or 0)
            return float(total / self.numbers)
        if not self.values:
            return None
        if self.extreme is None:
            pick = min if op == "min" else max
            self.extreme = pick(self.values, key=order_key)
        return self.extreme


class AggregateRule:
    """Keeps ``head_key`` (rows ``group... + (value,)``) from ``source`` (rows ``group... +
    locals``): ``op`` of column ``column`` of the source, per value of its first ``groups``
    columns. ``given``: the reading rule supplies the groups, so the relation also stands for
    the value of every empty group (0 for ``count`` and ``sum``; see ``ZERO_OPS``)."""

    def __init__(
        self,
        head_key: Key,
        source: Key,
        op: str,
        groups: int,
        column: int,
        given: bool,
        text: str,
    ) -> None:
        self.head_key = head_key
        self.policy = head_key[0]
        self.source = source
        self.op = op
        self.groups = groups
        self.column = column
        self.given = given
        self.zero: Value | None = 0 if given and op in ZERO_OPS else None
        self.text = text  # the aggregate literal as written, for messages and explanations
        self.states: dict[tuple[Value, ...], GroupState] = {}

    def __repr__(self) -> str:
        return f"AggregateRule({self.policy}:{self.text})"

    def reads(self) -> list[tuple[int, Key, bool]]:
        """Like ``CompiledRule.reads``: the source, non-monotonic (stratified like a negation)."""
        return [(0, self.source, True)]

    def state(self, group: tuple[Value, ...], rows: Any) -> GroupState:
        """The state of ``group``, built from its source ``rows`` when not cached."""
        st = self.states.get(group)
        if st is None:
            st = self.states[group] = GroupState(self.op)
            c = self.column
            for row in rows:
                st.add(row[c], 1)
        return st

    def output(self, group: tuple[Value, ...], st: GroupState | None) -> Row | None:
        """The output row of a group, None when it has no value (or no bindings)."""
        if st is None or not st.bindings:
            return None
        v = st.value()
        return None if v is None else (*group, v)

    def forget(self) -> None:
        """Drop every cached group state (after a rollback)."""
        self.states.clear()
