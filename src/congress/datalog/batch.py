"""A batch of changes on its way through the engine, and the budget it runs under.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from congress.datalog.ast import Row
from congress.datalog.compiler import TICK
from congress.datalog.errors import LimitExceeded
from congress.datalog.graph import Key

if TYPE_CHECKING:
    from congress.datalog.model import PolicyLimits

MEMORY_CHECK_SECONDS = 0.05
"""How often (on the budget's timer) a running evaluation reads the process's memory."""
MEMORY_MARGIN = 16 << 20
"""Growth (bytes) over the memory at the start of a request needed before it can be blamed."""


@dataclass
class Budget:
    """Limits on one request: rows derived per policy, a deadline on an injected timer, and
    the process's memory; and a hook that lets other work in while a long evaluation runs.

    ``policy`` is the policy whose component is being evaluated, so that a limit exceeded is
    blamed on it. The row limit is deterministic (every engine given the same batch agrees):
    it is checked on the rows a component adds, and also while a rule's plan runs, on the rows
    the plan has produced so far less ``floor`` (the rows the component held before), which
    can only exceed the limit when the finished plan would too; so a cross product of large
    tables is stopped long before it fills the memory, with the same answer. The deadline and
    the memory ceiling are not deterministic, and guard the requests and the process.

    ``pause`` is called at every tick (every ``TICK`` rows scanned): the services use it to
    answer reads while a write evaluates (see ``congress.services.gate``).

    ``policy_limits`` gives a policy's own limits (``PolicyLimits``, asked once per policy
    and request): the rows one of its derived tables may hold, checked while a plan runs as
    ``max_rows`` is (deterministic) and on each table a batch grew (``check_table``), and
    the seconds the request may spend evaluating it, charged at each tick to the policy being
    evaluated then.
    """

    max_rows: int | None = None
    max_seconds: float | None = None
    timer: Callable[[], float] | None = None
    policy: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    deadline: float | None = None
    floor: int = 0
    max_memory: int | None = None
    memory: Callable[[], int] | None = None
    pause: Callable[[], None] | None = None
    policy_limits: Callable[[str], PolicyLimits | None] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    _own: dict[str, PolicyLimits | None] = field(default_factory=dict)
    _last_tick: float = 0.0
    _memory_at_start: int = 0
    _next_memory_check: float = 0.0
    _ticks: int = 0

    def start(self) -> None:
        self.rows = {}
        self.seconds = {}
        now = self.timer() if self.timer is not None else 0.0
        self._last_tick = now
        if self.max_seconds is not None and self.timer is not None:
            self.deadline = now + self.max_seconds
        if self.max_memory is not None and self.memory is not None:
            self._memory_at_start = self.memory()
            self._next_memory_check = now + MEMORY_CHECK_SECONDS

    def tick(self, produced: int = 0) -> int:
        """Called every ``TICK`` rows scanned, with the size of the plan's output so far."""
        if self.max_rows is not None and produced - self.floor > self.max_rows - self.rows.get(
            self.policy or "", 0
        ):
            raise LimitExceeded("max_rows", self.max_rows, self.policy)
        timer = self.timer
        now = timer() if timer is not None else 0.0
        if self.deadline is not None and now > self.deadline:
            raise LimitExceeded("max_seconds", self.max_seconds or 0, self.policy)
        if self.policy_limits is not None:
            self._own_limits(produced, now)
        if self.max_memory is not None and self.memory is not None:
            self._ticks += 1
            due = now >= self._next_memory_check if timer is not None else not self._ticks % 64
            if due:
                self._next_memory_check = now + MEMORY_CHECK_SECONDS
                used = self.memory()
                if used > self.max_memory and used > self._memory_at_start + MEMORY_MARGIN:
                    raise LimitExceeded("max_memory", self.max_memory, self.policy)
        if self.pause is not None:
            self.pause()
        return TICK

    def spend(self, n: int, policy: str) -> None:
        total = self.rows[policy] = self.rows.get(policy, 0) + n
        if self.max_rows is not None and total > self.max_rows:
            raise LimitExceeded("max_rows", self.max_rows, policy)

    def limits_of(self, policy: str) -> PolicyLimits | None:
        """``policy``'s own limits (None: none), asked once per request."""
        if self.policy_limits is None:
            return None
        if policy not in self._own:
            found = self.policy_limits(policy)
            self._own[policy] = found if found is not None and found.any() else None
        return self._own[policy]

    def _own_limits(self, produced: int, now: float) -> None:
        """At a tick: the plan's output against the policy's table limit, and the time since
        the last tick charged to the policy."""
        policy = self.policy or ""
        own = self.limits_of(policy)
        elapsed = now - self._last_tick
        self._last_tick = now
        if own is None:
            return
        if own.max_table_rows is not None and produced - self.floor > own.max_table_rows:
            raise LimitExceeded(own.rows_label, own.max_table_rows, policy)
        if own.max_seconds is not None and self.timer is not None:
            spent = self.seconds[policy] = self.seconds.get(policy, 0.0) + elapsed
            if spent > own.max_seconds:
                raise LimitExceeded(own.seconds_label, own.max_seconds, policy)

    def check_table(self, key: Key, size: int) -> None:
        """A derived table of ``key[0]`` holds ``size`` rows now: over its own limit?"""
        own = self.limits_of(key[0])
        if own is not None and own.max_table_rows is not None and size > own.max_table_rows:
            raise LimitExceeded(own.rows_label, own.max_table_rows, key[0])


def _no_limit(produced: int = 0) -> int:
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

    def tick_fn(self) -> Callable[[int], int]:
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
