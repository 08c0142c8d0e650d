"""A batch of changes on its way through the engine, and the budget it runs under.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from congress.datalog.ast import Row
from congress.datalog.compiler import TICK
from congress.datalog.errors import LimitExceeded
from congress.datalog.graph import Key


@dataclass
class Budget:
    """Limits on one request: rows derived per policy, and a deadline on an injected timer.

    ``policy`` is the policy whose component is being evaluated, so that a limit exceeded is
    blamed on it. The row limit is deterministic (every engine given the same batch agrees);
    the deadline is not, and guards requests rather than data batches.
    """

    max_rows: int | None = None
    max_seconds: float | None = None
    timer: Callable[[], float] | None = None
    policy: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    deadline: float | None = None

    def start(self) -> None:
        self.rows = {}
        if self.max_seconds is not None and self.timer is not None:
            self.deadline = self.timer() + self.max_seconds

    def tick(self) -> int:
        if self.deadline is not None and self.timer is not None and self.timer() > self.deadline:
            raise LimitExceeded("max_seconds", self.max_seconds or 0, self.policy)
        return TICK

    def spend(self, n: int, policy: str) -> None:
        total = self.rows[policy] = self.rows.get(policy, 0) + n
        if self.max_rows is not None and total > self.max_rows:
            raise LimitExceeded("max_rows", self.max_rows, policy)


def _no_limit() -> int:
    return 1 << 40


@dataclass
class Batch:
    """Changes waiting to be propagated, and the net changes propagated so far."""

    undo: bool = False
    budget: Budget | None = None
    deltas: dict[Key, tuple[set[Row], set[Row]]] = field(default_factory=dict)
    pending: dict[Key, dict[Row, int]] = field(default_factory=dict)
    seeds_ins: dict[Key, set[Row]] = field(default_factory=dict)
    seeds_del: dict[Key, set[Row]] = field(default_factory=dict)
    old_counts: dict[Key, dict[Row, int]] = field(default_factory=dict)
    old_facts: list[tuple[Key, Row, bool]] = field(default_factory=list)
    dirty: set[Key] = field(default_factory=set)
    rebuild: set[Key] = field(default_factory=set)

    def tick_fn(self) -> Callable[[], int]:
        return self.budget.tick if self.budget is not None else _no_limit

    def record(self, key: Key, ins: set[Row], dels: set[Row]) -> None:
        """Fold a net change into the batch's deltas."""
        if not ins and not dels:
            return
        prev = self.deltas.get(key)
        if prev is None:
            self.deltas[key] = (ins, dels)
            return
        pins, pdels = prev
        for r in dels:
            if r in pins:
                pins.discard(r)
            else:
                pdels.add(r)
        for r in ins:
            if r in pdels:
                pdels.discard(r)
            else:
                pins.add(r)
        if not pins and not pdels:
            del self.deltas[key]

    def undo_map(self, key: Key) -> dict[Row, int] | None:
        """Where to record old counts of ``key``'s rows, or None when undo is off."""
        if not self.undo:
            return None
        return self.old_counts.setdefault(key, {})
