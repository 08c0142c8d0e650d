"""Maintenance of recursive components: delete-and-rederive, then semi-naive insertion.

Imports: standard library and congress.datalog only.

For a strongly connected component of the dependency graph (relations defined through each
other), with set semantics:

1. over-delete: every member row with a derivation through a removed row (a deleted input, an
   inserted row of a negated input, a retracted fact or rule), to a fixpoint over the old state;
2. remove the over-deleted rows;
3. re-derive: the over-deleted rows that are still asserted facts or still have a derivation
   (rules driven by the candidate head rows, over the new state);
4. insert semi-naively: the re-derived rows, new facts and rows gained from the inputs seed the
   rounds; in each round only the rows new in the previous round drive the rules, and plans emit
   only rows not yet present.

The net change of each member (inserted minus over-deleted and back again) is recorded in the
batch. Invariant: after step 4 every member holds exactly the least fixpoint of its rules over
the new inputs (the oracle tests check it after every random change).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from congress.datalog.ast import Row
from congress.datalog.batch import Batch
from congress.datalog.compiler import HEAD, CompiledRule
from congress.datalog.graph import Key

if TYPE_CHECKING:
    from congress.datalog.maintain import Engine


def maintain_recursive(engine: Engine, batch: Batch, comp: tuple[Key, ...]) -> None:
    members = set(comp)
    rules = [cr for k in comp for cr in engine.rules.get(k, ())]
    if any(k in batch.rebuild for k in comp):
        _recompute(engine, batch, comp, members, rules)
        return
    deleted = _overdelete(engine, batch, comp, members, rules)
    for key, rows in deleted.items():
        rel = engine.rel(key)
        um = batch.undo_map(key)
        for r in rows:
            if um is not None:
                um.setdefault(r, 1)
            rel.remove(r)
    seeds = _rederive(engine, batch, deleted, rules)
    for key in comp:
        extra = batch.seeds_ins.pop(key, None)
        if extra:
            seeds.setdefault(key, set()).update(extra)
    _lower_terms(engine, batch, rules, members, seeds, inserting=True)
    added = _seminaive(engine, batch, seeds, members, rules)
    for key in comp:
        dels = deleted.get(key, set())
        ins = added.get(key, set())
        net_ins = ins - dels if dels else ins
        net_dels = dels - ins if ins else dels
        if net_ins or net_dels:
            batch.record(key, net_ins, net_dels)
            engine._mark_readers(batch, key)


def _recompute(
    engine: Engine,
    batch: Batch,
    comp: tuple[Key, ...],
    members: set[Key],
    rules: list[CompiledRule],
) -> None:
    """Recompute a recursive component from scratch (its structure changed)."""
    old = {key: engine._clear(batch, key) for key in comp}
    seeds: dict[Key, set[Row]] = {}
    for key in comp:
        seeds[key] = set(engine._asserted(key, old[key]))
        batch.seeds_ins.pop(key, None)
        batch.seeds_del.pop(key, None)
        batch.pending.pop(key, None)
    for cr in rules:
        seeds[cr.head_key].update(engine._full(batch, cr))
    _seminaive(engine, batch, seeds, members, rules)
    for key in comp:
        engine._record_diff(batch, key, old[key])


def _lower_terms(
    engine: Engine,
    batch: Batch,
    rules: list[CompiledRule],
    members: set[Key],
    into: dict[Key, set[Row]],
    *,
    inserting: bool,
) -> None:
    """Head rows gained (inserting) or possibly lost by changes of lower relations."""
    for cr in rules:
        for pos, key, neg in cr.reads():
            if key in members or key not in batch.deltas:
                continue
            ins, dels = batch.deltas[key]
            src = (dels if neg else ins) if inserting else (ins if neg else dels)
            if not src:
                continue
            out: dict[Row, int] = {}
            old = set() if inserting else {p for p, k, _ in cr.reads() if k in batch.deltas}
            old.discard(pos)
            engine._run_plan(batch, cr, cr.plan(pos), src, out, 1, old)
            into.setdefault(cr.head_key, set()).update(out)


def _overdelete(
    engine: Engine,
    batch: Batch,
    comp: tuple[Key, ...],
    members: set[Key],
    rules: list[CompiledRule],
) -> dict[Key, set[Row]]:
    cand: dict[Key, set[Row]] = {}
    for key in comp:
        s = batch.seeds_del.pop(key, None)
        if s:
            cand.setdefault(key, set()).update(s)
    _lower_terms(engine, batch, rules, members, cand, inserting=False)
    deleted: dict[Key, set[Row]] = {}
    frontier = _fresh(engine, cand, deleted)
    while frontier:
        for key, rows in frontier.items():
            deleted.setdefault(key, set()).update(rows)
        cand = {}
        for cr in rules:
            for pos, key, _ in cr.reads():
                drive = frontier.get(key)
                if drive:
                    out: dict[Row, int] = {}
                    old = {p for p, k, _ in cr.reads() if k in batch.deltas and k not in members}
                    engine._run_plan(batch, cr, cr.plan(pos), drive, out, 1, old)
                    cand.setdefault(cr.head_key, set()).update(out)
        frontier = _fresh(engine, cand, deleted)
    return deleted


def _fresh(
    engine: Engine, cand: dict[Key, set[Row]], seen: dict[Key, set[Row]]
) -> dict[Key, set[Row]]:
    out: dict[Key, set[Row]] = {}
    for key, rows in cand.items():
        present = engine.rel(key).rows
        done = seen.get(key, set())
        new = {r for r in rows if r in present and r not in done}
        if new:
            out[key] = new
    return out


def _rederive(
    engine: Engine, batch: Batch, deleted: dict[Key, set[Row]], rules: list[CompiledRule]
) -> dict[Key, set[Row]]:
    back: dict[Key, set[Row]] = {}
    for key, rows in deleted.items():
        facts = engine.rel(key).facts or set()
        keep = {r for r in rows if r in facts}
        rest = rows - keep
        if rest:
            for cr in rules:
                if cr.head_key == key:
                    out: dict[Row, int] = {}
                    engine._run_plan(batch, cr, cr.plan(HEAD), rest, out, 1, set())
                    keep.update(out)
        if keep:
            back[key] = keep
    return back


def _seminaive(
    engine: Engine,
    batch: Batch,
    seeds: dict[Key, set[Row]],
    members: set[Key],
    rules: list[CompiledRule],
) -> dict[Key, set[Row]]:
    """Insert ``seeds`` and everything they derive; only the newest rows drive each round."""
    added: dict[Key, set[Row]] = {}
    frontier: dict[Key, dict[Row, int]] = {}
    for key, rows in seeds.items():
        present = engine.rel(key).rows
        new = {r: 1 for r in rows if r not in present}
        if new:
            frontier[key] = new
    drivers = [(cr, pos, key) for cr in rules for pos, key, _ in cr.reads() if key in members]
    tick = batch.tick_fn()
    while frontier:
        for key, new in frontier.items():
            um = batch.undo_map(key)
            if um is not None:
                for r in new:
                    um.setdefault(r, 0)
            engine.rel(key).add_new(new)
            added.setdefault(key, set()).update(new)
            if batch.budget is not None:
                batch.budget.spend(len(new), key[0])
        nxt: dict[Key, dict[Row, int]] = {}
        for cr, pos, key in drivers:
            src = frontier.get(key)
            if src:
                out = nxt.setdefault(cr.head_key, {})
                plan = cr.plan(pos, "novel")
                acc = engine._accessors(batch, cr, plan, set())
                plan.fn(src, out, 1, acc, tick, engine.rel(cr.head_key).rows)
        frontier = {k: v for k, v in nxt.items() if v}
    return added
