"""The values the runtime hands out: results of changes, action requests, limits, policies.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from congress.datalog.ast import Row, Rule
from congress.datalog.compiler import CompiledRule
from congress.datalog.maintain import Batch


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A row newly derived in an ``execute[...]`` table: call ``service.action(*args)``."""

    policy: str
    service: str
    action: str
    args: Row


@dataclass(slots=True)
class BatchResult:
    """The net effect of one request: per (policy, table), rows inserted and rows deleted."""

    changes: dict[tuple[str, str], tuple[set[Row], set[Row]]] = field(default_factory=dict)
    actions: list[ActionRequest] = field(default_factory=list)
    inserted: list[Rule] = field(default_factory=list)
    deleted: list[Rule] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Limits:
    """Budgets per request: rows derived, seconds (on the injected timer), and the process's
    memory in bytes (as the injected ``memory`` function reports it)."""

    max_rows: int | None = None
    max_seconds: float | None = None
    max_memory: int | None = None

    def any(self) -> bool:
        return (
            self.max_rows is not None
            or self.max_seconds is not None
            or (self.max_memory is not None)
        )


@dataclass(frozen=True, slots=True)
class PolicyLimits:
    """One policy's own budgets, on top of the runtime's ``Limits`` (``Runtime.policy_limits``):
    the rows any one of its derived tables may hold, and the seconds one change may spend
    evaluating its rules. ``rows_label`` and ``seconds_label`` are what a ``LimitExceeded`` of
    these calls the limit, so that the caller can say where the limit came from."""

    max_table_rows: int | None = None
    max_seconds: float | None = None
    rows_label: str = "max_table_rows"
    seconds_label: str = "max_policy_seconds"

    def any(self) -> bool:
        return self.max_table_rows is not None or self.max_seconds is not None


@dataclass
class Policy:
    name: str
    kind: str
    abbreviation: str
    schema: dict[str, tuple[str, ...]] | None = None
    rules: dict[Rule, CompiledRule] = field(default_factory=dict)
    facts: dict[Rule, None] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # set while the policy is over its budget: its rules derive nothing

    @property
    def evaluated(self) -> bool:
        """Whether the engine evaluates this policy's rules (not action, not in error)."""
        return self.kind != "action" and self.error is None

    def mention(self, table: str, n: int) -> None:
        c = self.tables.get(table, 0) + n
        if c > 0:
            self.tables[table] = c
        else:
            self.tables.pop(table, None)


def merge(into: BatchResult, more: BatchResult) -> None:
    """Fold the net changes of a later result into an earlier one."""
    if not into.changes and not into.actions:
        into.changes = more.changes
        into.actions = more.actions
        return
    acc = Batch(deltas=into.changes)
    for key, (ins, dels) in more.changes.items():
        acc.record(key, set(ins), set(dels))
    seen = set(into.actions)
    into.actions.extend(a for a in more.actions if a not in seen)


def split_action(policy: str, table: str) -> tuple[str, str]:
    inner = table[len("execute[") : -1]
    if ":" in inner:
        service, action = inner.split(":", 1)
        return service, action
    return policy, inner
