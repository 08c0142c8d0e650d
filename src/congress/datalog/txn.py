"""Transactions: the batches of one request, run in turn, merged, and undone on failure.

Imports: standard library and congress.datalog only.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

from congress.datalog.aggregate import is_hidden
from congress.datalog.ast import Row
from congress.datalog.compiler import CompiledRule
from congress.datalog.maintain import Batch, Budget, Engine, Unit
from congress.datalog.model import (
    ActionRequest,
    BatchResult,
    Limits,
    PolicyLimits,
    split_action,
)

TENURE = 5_000
"""Objects a batch must allocate before they are tenured without a collection (``gc_paused``)."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector during a batch.

    A batch allocates containers (rows, index buckets, deltas) and creates no reference cycles.
    Letting the collector run every few hundred allocations traverses a growing heap again and
    again, and letting it run once afterwards traverses everything the batch made. So a batch
    runs with the collector off; if it allocated much, what it allocated is then moved to the
    oldest generation in one step (``freeze`` then ``unfreeze``: two list splices, no
    traversal), where only the rare full collections examine it, like any long-lived data. A
    batch that allocated little leaves it to the collector's usual small steps. In a process
    that keeps objects frozen (``gc.freeze``: the server freezes its long-lived data), the
    step is skipped: ``unfreeze`` would thaw them all.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] >= TENURE and not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        if was:
            gc.enable()


class Txn:
    """Batches of one request: run them in turn, merge their net changes, undo on failure."""

    def __init__(
        self,
        engine: Engine,
        limits: Limits | None = None,
        timer: Callable[[], float] | None = None,
        *,
        undo: bool = False,
        memory: Callable[[], int] | None = None,
        pause: Callable[[Txn], None] | None = None,
        policy_limits: Callable[[str], PolicyLimits | None] | None = None,
    ) -> None:
        self.engine = engine
        self.batches: list[Batch] = []
        self.budget: Budget | None = None
        if (limits is not None and limits.any()) or pause is not None or policy_limits:
            limits = limits or Limits()
            self.budget = Budget(limits.max_rows, limits.max_seconds, timer)
            self.budget.max_memory = limits.max_memory
            self.budget.memory = memory
            self.budget.policy_limits = policy_limits
            if pause is not None:
                self.budget.pause = lambda: pause(self)
            self.budget.start()
        self.undo = undo or self.budget is not None
        # rule links changed by batch i: (rule, added, the head's facts before), for undo
        self.rule_changes: dict[int, tuple[Unit, bool, set[Row] | None]] = {}

    def add_rule(self, cr: CompiledRule) -> None:
        """Link a rule (after the hidden parts of its aggregates) and propagate what it
        derives, a batch for each."""
        for unit in cr.units():
            self._rule_change(unit, True)

    def remove_rule(self, cr: CompiledRule) -> None:
        """Unlink a rule (then the hidden parts of its aggregates) and propagate what it no
        longer derives, a batch for each."""
        for unit in reversed(cr.units()):
            self._rule_change(unit, False)

    def _rule_change(self, cr: Unit, add: bool) -> None:
        facts = self.engine.rel(cr.head_key).facts
        batch = self.batch()
        self.rule_changes[len(self.batches) - 1] = (
            cr,
            add,
            set(facts) if facts is not None else None,
        )
        if add:
            self.engine.add_rule(batch, cr)
        else:
            self.engine.remove_rule(batch, cr)
        self.run(batch)
        if not add:
            self.engine.prune(_keys_of(cr))

    def batch(self) -> Batch:
        b = Batch(undo=self.undo, budget=self.budget)
        self.batches.append(b)
        return b

    def run(self, batch: Batch) -> None:
        self.engine.run(batch)
        budget = self.budget
        if budget is not None and budget.policy_limits is not None:
            self._check_tables(budget, batch)
        emptied = [k for k, (_, dels) in batch.deltas.items() if dels]
        if emptied:
            self.engine.prune(emptied)

    def _check_tables(self, budget: Budget, batch: Batch) -> None:
        """The derived tables the batch grew, against their policy's own row limit."""
        engine = self.engine
        for key, (ins, _) in batch.deltas.items():
            if ins and key in engine.rules and not is_hidden(key[1]):
                budget.check_table(key, len(engine.relations[key].rows))

    def rollback(self) -> None:
        """Undo every batch, rule links included, in reverse order (needs ``undo``)."""
        engine = self.engine
        for i in reversed(range(len(self.batches))):
            engine.rollback(self.batches[i])
            change = self.rule_changes.get(i)
            if change is not None:
                cr, added, facts = change
                if added:
                    engine._unlink(cr)
                else:
                    engine._link(cr)
                engine.rel(cr.head_key).facts = facts
                if added:
                    engine.prune(_keys_of(cr))
        if self.rule_changes:
            engine.comps = engine.components_with()
            engine.forget_aggregates()

    def result(self) -> BatchResult:
        if len(self.batches) == 1:
            deltas = self.batches[0].deltas
        else:
            merged = Batch()
            for b in self.batches:
                for key, (ins, dels) in b.deltas.items():
                    merged.record(key, set(ins), set(dels))
            deltas = merged.deltas
        if any(is_hidden(table) for _, table in deltas):
            deltas = {k: v for k, v in deltas.items() if not is_hidden(k[1])}
        res = BatchResult(changes=deltas)
        for (policy, table), (ins, _) in deltas.items():
            if table.startswith("execute[") and ins:
                service, action = split_action(policy, table)
                res.actions.extend(ActionRequest(policy, service, action, r) for r in ins)
        return res


def _keys_of(cr: Unit) -> list[tuple[str, str]]:
    """The relations a rule defines or reads."""
    return [cr.head_key, *(key for _, key, _ in cr.reads())]
