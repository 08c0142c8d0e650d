"""Incremental maintenance: a batch of changes in, the exact change of every relation out.

Imports: standard library and congress.datalog only.

The ``Engine`` owns every relation and the compiled rules that define them (action policies
aside). A ``Batch`` collects changes to asserted rows (data and facts) and rule contributions,
then ``run`` walks the components of the dependency graph in topological order:

- a non-recursive component (one relation) is maintained by *counting*: for each rule, one delta
  term per changed body literal (that literal reads the delta, literals earlier in the chosen
  order read the new state, later ones the old state through ``OldView``), summed into support
  counts; rows whose count leaves or reaches zero are the relation's delta. Literals over
  relations that were empty before the batch are ordered last, so that a bulk load collapses to
  one full evaluation of the rule instead of a pile of cancelling terms.
- a recursive component is maintained by delete-and-rederive: over-delete everything with a
  derivation through a removed row, remove it, re-derive what still has a derivation (head-bound
  plans), then insert semi-naively (only the newest rows drive each round).

Every relation's net change lands in ``Batch.deltas`` (inserted, deleted), which is what
consumers (monitoring, execute triggers, the caller) read; nothing re-queries a table to find out
what changed. When ``Batch.undo`` is on, the old count of every touched row is recorded first so
``rollback`` restores the state exactly (used by simulate and by budgets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from congress.datalog.aggregate import AggregateRule, fold
from congress.datalog.ast import Row, Value
from congress.datalog.batch import Batch, Budget
from congress.datalog.compiler import CompiledRule, Plan
from congress.datalog.graph import Components, Edge, Key
from congress.datalog.recursive import maintain_recursive
from congress.datalog.storage import OldView, Relation, key_of

Unit = CompiledRule | AggregateRule
"""What the engine links: a rule, or the keeper of an aggregate's values (``aggregate``)."""

__all__ = ["Batch", "Budget", "Engine"]


class Engine:
    """All relations and rules of a runtime, kept up to date batch by batch."""

    def __init__(self, clock: Callable[[], Any]) -> None:
        self.clock = clock
        self.relations: dict[Key, Relation] = {}
        self.rules: dict[Key, list[CompiledRule]] = {}
        self.aggregates: dict[Key, AggregateRule] = {}  # by the relation each keeps
        self.readers: dict[Key, list[tuple[Unit, int]]] = {}
        self.comps = Components([], [])

    # -- structure -----------------------------------------------------------------------
    def rel(self, key: Key) -> Relation:
        r = self.relations.get(key)
        if r is None:
            r = self.relations[key] = Relation(key)
        return r

    def edges(self, extra: Iterable[CompiledRule] = (), without: Unit | None = None) -> list[Edge]:
        out: list[Edge] = []
        for rules in self.rules.values():
            for cr in rules:
                if cr is not without:
                    out.extend((k, cr.head_key, neg) for _, k, neg in cr.reads())
        for ag in self.aggregates.values():
            if ag is not without:
                out.extend((k, ag.head_key, neg) for _, k, neg in ag.reads())
        for rule in extra:
            for unit in rule.units():
                out.extend((k, unit.head_key, neg) for _, k, neg in unit.reads())
        return out

    def components_with(
        self, extra: Iterable[CompiledRule] = (), without: Unit | None = None
    ) -> Components:
        return Components(self.relations.keys(), self.edges(extra, without))

    def _link(self, cr: Unit) -> None:
        if isinstance(cr, AggregateRule):
            self.aggregates[cr.head_key] = cr
        else:
            self.rules.setdefault(cr.head_key, []).append(cr)
        self.rel(cr.head_key)
        for pos, key, _ in cr.reads():
            self.rel(key)
            self.readers.setdefault(key, []).append((cr, pos))

    def _unlink(self, cr: Unit) -> None:
        if isinstance(cr, AggregateRule):
            del self.aggregates[cr.head_key]
        else:
            self.rules[cr.head_key].remove(cr)
            if not self.rules[cr.head_key]:
                del self.rules[cr.head_key]
        for pos, key, _ in cr.reads():
            self.readers[key].remove((cr, pos))
            if not self.readers[key]:
                del self.readers[key]

    def prune(self, keys: Iterable[Key]) -> None:
        """Forget the relations among ``keys`` that nothing uses any more: no rows, no rule
        defines them, no rule reads them. Without this every table a rule ever derived (a
        rule added and deleted again, a table emptied by its datasource) would stay a node of
        the graph, and each rule change, which recomputes the components over all nodes, would
        cost more the longer the process runs. ``rel`` recreates a relation on demand, so a
        rollback after a prune restores the state exactly."""
        rels = self.relations
        for key in keys:
            rel = rels.get(key)
            if (
                rel is not None
                and not rel.rows
                and not rel.facts
                and key not in self.rules
                and key not in self.aggregates
                and key not in self.readers
            ):
                del rels[key]

    def is_recursive(self, key: Key) -> bool:
        i = self.comps.index.get(key)
        return i is not None and self.comps.is_recursive(i)

    # -- changes to asserted rows --------------------------------------------------------
    def assert_rows(self, batch: Batch, key: Key, ins: Iterable[Row], dels: Iterable[Row]) -> None:
        """Add/remove asserted rows (data or facts) of a relation, set semantics.

        A row both deleted and inserted by one batch is present afterwards (deletes first).
        """
        dels = list(dels)
        if dels:
            ins = ins if isinstance(ins, list | tuple | set) else list(ins)
            if ins:
                keep = set(ins)
                dels = [r for r in dels if r not in keep]
        rel = self.rel(key)
        if rel.facts is None:
            gone = rel.remove_many(dels)
            new = rel.add_many(ins)
            um = batch.undo_map(key)
            if um is not None:
                for r in gone:
                    um.setdefault(r, 1)
                for r in new:
                    um.setdefault(r, 0)
            batch.record(key, set(new), set(gone))
            self._mark_readers(batch, key)
            return
        facts = rel.facts
        recursive = self.is_recursive(key)
        for r in dict.fromkeys(dels):
            if r in facts:
                facts.discard(r)
                batch.old_facts.append((key, r, True))
                if recursive:
                    batch.seeds_del.setdefault(key, set()).add(r)
                else:
                    acc = batch.pending.setdefault(key, {})
                    acc[r] = acc.get(r, 0) - 1
        for r in dict.fromkeys(ins):
            if r not in facts:
                facts.add(r)
                batch.old_facts.append((key, r, False))
                if recursive:
                    batch.seeds_ins.setdefault(key, set()).add(r)
                else:
                    acc = batch.pending.setdefault(key, {})
                    acc[r] = acc.get(r, 0) + 1
        batch.dirty.add(key)

    def _mark_readers(self, batch: Batch, key: Key) -> None:
        for cr, _ in self.readers.get(key, ()):
            batch.dirty.add(cr.head_key)

    # -- rules ---------------------------------------------------------------------------
    def add_rule(self, batch: Batch, cr: Unit) -> None:
        """Link a rule (already checked, graph already validated) and queue its contribution."""
        old = self.comps
        self._link(cr)
        self._ensure_facts(cr.head_key)
        self.comps = self.components_with()
        changed = _changed_components(old, self.comps)
        if changed:
            for comp in changed:
                self._rebuild(batch, comp)
            return
        if isinstance(cr, AggregateRule):
            self._rebuild(batch, (cr.head_key,))
            return
        self._queue_rule(batch, cr, +1)

    def remove_rule(self, batch: Batch, cr: Unit) -> None:
        new = self.components_with(without=cr)
        changed = _changed_components(self.comps, new)
        if isinstance(cr, AggregateRule):
            self._unlink(cr)
            self.comps = new
            for comp in changed:
                self._rebuild(batch, comp)
            self._rebuild(batch, (cr.head_key,))
            return
        if not changed:
            self._queue_rule(batch, cr, -1)
            self._unlink(cr)
            self.comps = new
            return
        self._unlink(cr)
        self.comps = new
        for comp in changed:
            self._rebuild(batch, comp)
        if cr.head_key not in self.rules:
            self._rebuild(batch, (cr.head_key,))

    def _ensure_facts(self, key: Key) -> None:
        rel = self.rel(key)
        if rel.facts is None:
            rel.facts = set(rel.rows)

    def _release_facts(self, key: Key) -> None:
        """Once the last rule of a relation is gone its rows are its asserted facts again."""
        rel = self.relations.get(key)
        if rel is not None and key not in self.rules and rel.facts is not None:
            rel.facts = None

    def _queue_rule(self, batch: Batch, cr: CompiledRule, sign: int) -> None:
        key = cr.head_key
        if batch.budget is not None:  # the plan runs now, before ``run`` reaches the head
            batch.budget.policy = key[0]
            batch.budget.floor = len(self.rel(key).rows)
        out: dict[Row, int] = {}
        self._run_plan(batch, cr, cr.plan(None), (), out, 1, set())
        if self.is_recursive(key):
            target = batch.seeds_ins if sign > 0 else batch.seeds_del
            target.setdefault(key, set()).update(out)
        else:
            acc = batch.pending.setdefault(key, {})
            for r, n in out.items():
                acc[r] = acc.get(r, 0) + sign * n
        batch.dirty.add(key)

    def _rebuild(self, batch: Batch, comp: tuple[Key, ...]) -> None:
        """Mark a component whose structure changed for recomputation when its turn comes."""
        for key in comp:
            if key in self.rules:
                self._ensure_facts(key)
            batch.rebuild.add(key)
            batch.dirty.add(key)

    def _clear(self, batch: Batch, key: Key) -> dict[Row, int]:
        """Empty a relation being recomputed; returns its old rows and counts."""
        rel = self.rel(key)
        old = dict(rel.rows)
        um = batch.undo_map(key)
        for r, n in old.items():
            if um is not None:
                um.setdefault(r, n)
            rel.remove(r)
        return old

    def _full(self, batch: Batch, cr: CompiledRule) -> dict[Row, int]:
        out: dict[Row, int] = {}
        self._run_plan(batch, cr, cr.plan(None), (), out, 1, set())
        return out

    def _asserted(self, key: Key, old: dict[Row, int]) -> Iterable[Row]:
        facts = self.rel(key).facts
        return facts if facts is not None else old.keys()

    def _recount(self, batch: Batch, key: Key) -> None:
        """Recompute a counted relation from scratch (its structure changed)."""
        old = self._clear(batch, key)
        acc: dict[Row, int] = dict.fromkeys(self._asserted(key, old), 1)
        for cr in self.rules.get(key, ()):
            for r, n in self._full(batch, cr).items():
                acc[r] = acc.get(r, 0) + n
        batch.pending.pop(key, None)
        rel = self.rel(key)
        um = batch.undo_map(key)
        for r, n in acc.items():
            if n > 0:
                if um is not None:
                    um.setdefault(r, 0)  # a row new to the relation goes again on rollback
                rel.add(r, n)
        self._record_diff(batch, key, old)
        self._release_facts(key)

    def _record_diff(self, batch: Batch, key: Key, old: dict[Row, int]) -> None:
        now = self.rel(key).rows
        ins = {r for r in now if r not in old}
        dels = {r for r in old if r not in now}
        if ins or dels:
            batch.record(key, ins, dels)
            self._mark_readers(batch, key)

    # -- propagation ---------------------------------------------------------------------
    def run(self, batch: Batch) -> None:
        """Propagate everything queued in ``batch``, component by component."""
        if not batch.dirty:
            return
        start = min(self.comps.index.get(k, 0) for k in batch.dirty)
        for i in range(start, len(self.comps.order)):
            comp = self.comps.order[i]
            if not any(k in batch.dirty for k in comp):
                continue
            if batch.budget is not None:
                batch.budget.policy = comp[0][0]
                rels = self.relations
                batch.budget.floor = sum(len(rels[k].rows) for k in comp if k in rels)
            if self.comps.is_recursive(i):
                maintain_recursive(self, batch, comp)
            else:
                self._counted(batch, comp[0])

    def _counted(self, batch: Batch, key: Key) -> None:
        ag = self.aggregates.get(key)
        if ag is not None:
            self._aggregate(batch, key, ag)
            return
        if key in batch.rebuild:
            self._recount(batch, key)
            return
        acc = batch.pending.pop(key, {})
        for cr in self.rules.get(key, ()):
            self._delta_terms(batch, cr, acc)
        if not acc:
            return
        rel = self.rel(key)
        ins, dels = rel.apply_counts(acc, batch.undo_map(key))
        if batch.budget is not None:
            batch.budget.spend(len(ins), key[0])
        if ins or dels:
            batch.record(key, ins, dels)
            self._mark_readers(batch, key)
        self._release_facts(key)

    def _aggregate(self, batch: Batch, key: Key, ag: AggregateRule) -> None:
        """Bring an aggregate's values up to date with the changes of its source, group by
        group (all groups when its structure changed)."""
        rel = self.rel(key)
        src = self.rel(ag.source)
        cols = tuple(range(ag.groups))
        c = ag.column
        if key in batch.rebuild:
            ag.forget()
            old = self._clear(batch, key)
            by_group: dict[tuple[Value, ...], list[Value]] = {}
            n = ag.groups
            for row in src.rows:
                g = row[:n]
                values = by_group.get(g)
                if values is None:
                    by_group[g] = [row[c]]
                else:
                    values.append(row[c])
            op = ag.op
            outs: dict[Row, int] = {}
            for group, values in by_group.items():
                value = fold(op, values)
                if value is not None:
                    outs[(*group, value)] = 1
            um = batch.undo_map(key)
            if um is not None:
                for r in outs:
                    um.setdefault(r, 0)  # new rows go again on rollback
            rel.add_new(outs)
            now = rel.rows
            ins = {r for r in now if r not in old}
            dels = {r for r in old if r not in now}
        else:
            ins, dels = set(), set()
            changes: dict[tuple[Value, ...], list[tuple[Value, int]]] = {}
            src_ins, src_dels = batch.deltas.get(ag.source, ((), ()))
            for row in src_ins:
                changes.setdefault(row[: ag.groups], []).append((row[c], 1))
            for row in src_dels:
                changes.setdefault(row[: ag.groups], []).append((row[c], -1))
            out_index = rel.index(cols)
            um = batch.undo_map(key)
            for group, moves in changes.items():
                st = ag.states.get(group)
                if st is None:  # not cached: built from the source as it is now
                    st = ag.state(group, src.index(cols).get(key_of(group, cols), ()))
                else:
                    for value, sign in moves:
                        st.add(value, sign)
                new = ag.output(group, st)
                if not st.bindings:
                    del ag.states[group]
                before = out_index.get(key_of(group, cols))
                was = next(iter(before)) if before else None
                if _same(was, new):
                    continue
                if was is not None:
                    if um is not None:
                        um.setdefault(was, rel.rows[was])
                    rel.remove(was)
                    dels.add(was)
                if new is not None:
                    if um is not None:
                        um.setdefault(new, 0)
                    rel.add(new)
                    ins.add(new)
            common = ins & dels
            ins -= common
            dels -= common
        if ag.zero is not None:
            # the reading rule sees a value for every group: 0 where there are no rows
            n = ag.groups
            appeared = {r[:n] for r in ins}
            gone = {r[:n] for r in dels}
            zero = ag.zero
            for g in appeared - gone:
                dels.add((*g, zero))
            for g in gone - appeared:
                ins.add((*g, zero))
            common = ins & dels
            ins -= common
            dels -= common
        if ins or dels:
            batch.record(key, ins, dels)
            self._mark_readers(batch, key)

    def _changed_reads(self, batch: Batch, cr: CompiledRule) -> list[tuple[int, Key, bool]]:
        return [r for r in cr.reads() if r[1] in batch.deltas]

    def _empty_before(self, batch: Batch, key: Key) -> bool:
        ins, dels = batch.deltas[key]
        return not dels and len(self.relations[key].rows) == len(ins)

    def _delta_terms(self, batch: Batch, cr: CompiledRule, acc: dict[Row, int]) -> None:
        changed = self._changed_reads(batch, cr)
        if not changed:
            return
        back = [c for c in changed if not c[2] and self._empty_before(batch, c[1])]
        if back:
            # every term but the last is zero; the last reads the new state everywhere
            self._run_plan(batch, cr, cr.plan(None), (), acc, 1, set())
            return
        for t, (pos, key, neg) in enumerate(changed):
            later = {p for p, _, _ in changed[t + 1 :]}
            ins, dels = batch.deltas[key]
            plan = cr.plan(pos)
            sign = -1 if neg else 1
            if ins:
                self._run_plan(batch, cr, plan, ins, acc, sign, later)
            if dels:
                self._run_plan(batch, cr, plan, dels, acc, -sign, later)

    def _accessors(self, batch: Batch, cr: CompiledRule, plan: Plan, old: set[int]) -> list[Any]:
        out: list[Any] = []
        views: dict[Key, OldView] = {}
        for acc in plan.access:
            key = cr.items[acc.pos].key
            assert key is not None
            rel = self.rel(key)
            if acc.pos in old and key in batch.deltas:
                view = views.get(key)
                if view is None:
                    ins, dels = batch.deltas[key]
                    view = views[key] = OldView(rel, ins, dels)
                out.append(view if acc.cols is None else view.index(acc.cols))
            else:
                out.append(rel.rows if acc.cols is None else rel.index(acc.cols))
        return out

    def _run_plan(
        self,
        batch: Batch,
        cr: CompiledRule,
        plan: Plan,
        src: Iterable[Row],
        out: dict[Row, int],
        sign: int,
        old: set[int],
    ) -> None:
        plan.fn(src, out, sign, self._accessors(batch, cr, plan, old), batch.tick_fn())

    # -- undo ----------------------------------------------------------------------------
    def forget_aggregates(self) -> None:
        """Drop the cached group states of every aggregate (they are rebuilt on demand)."""
        for ag in self.aggregates.values():
            ag.forget()

    def rollback(self, batch: Batch) -> None:
        """Restore every relation touched by ``batch`` (which must have been run with undo)."""
        self.forget_aggregates()
        for key, rows in batch.old_counts.items():
            rel = self.rel(key)
            for r, n in rows.items():
                rel.set_count(r, n)
        for key, row, was in reversed(batch.old_facts):
            facts = self.rel(key).facts
            if facts is not None:
                if was:
                    facts.add(row)
                else:
                    facts.discard(row)


def _same(a: Row | None, b: Row | None) -> bool:
    """Equal rows with values of the same types (a sum going from 1 to 1.0 is a change)."""
    if a is None or b is None:
        return a is b
    return a == b and all(type(x) is type(y) for x, y in zip(a, b, strict=True))


def _changed_components(old: Components, new: Components) -> list[tuple[Key, ...]]:
    """Components of ``new`` whose membership or recursiveness differs from ``old``."""
    out = []
    for i, comp in enumerate(new.order):
        j = old.index.get(comp[0])
        if j is None:
            if new.is_recursive(i):
                out.append(comp)
            continue
        if old.order[j] != comp or old.is_recursive(j) != new.is_recursive(i):
            out.append(comp)
    return out
