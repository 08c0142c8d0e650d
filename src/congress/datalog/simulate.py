"""``simulate``: answer a query as it would be after a sequence of updates and actions.

Imports: standard library and congress.datalog only.

The sequence is applied as ordinary batches inside one transaction that records the old count of
every row it touches; after the query is answered the transaction is rolled back, so the state
afterwards is identical to the state before (a property test checks it).

Sequence elements (reference section 2.11):
- an update ``p+(args)`` / ``p-(args)`` inserts or deletes a row of ``p`` in the simulated policy
  (or in the policy its prefix names); a rule with an update head (``p+(x) :- q(x)``) applies
  every instance its body derives in the simulated policy;
- an action invocation ``a(args)`` (or a rule with head ``a(...)`` whose body binds it), where
  ``action("a")`` is a fact of the action policy: the action policy's rules are evaluated with
  the invocation in table ``a`` and the simulated policy's tables visible, and their update heads
  (``p+``, ``p-``; insert wins over delete) are applied;
- anything else is refused with ``invalid_sequence``.

``impact`` answers "if these rules were added to a policy and those deleted (then, optionally,
this sequence applied), which rows of these tables would appear and disappear?" the same way:
the rule changes are batches of one transaction, checked as ``Runtime.insert`` checks them
(every problem, then the dependency graph after the deletions), and rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from congress.datalog import analysis
from congress.datalog.ast import Constant, Literal, Row, Rule, Statement
from congress.datalog.compiler import CompiledRule, head_key
from congress.datalog.errors import PolicyError, policy_error
from congress.datalog.graph import Key
from congress.datalog.maintain import Batch
from congress.datalog.parser import parse
from congress.datalog.printer import to_text
from congress.datalog.query import parse_query_text
from congress.datalog.storage import Relation
from congress.datalog.txn import Txn, gc_paused

if TYPE_CHECKING:
    from congress.datalog.runtime import Runtime

MAX_ACTION_ROUNDS = 100


@dataclass(slots=True)
class SimulateResult:
    answers: list[Literal]
    trace: str | None = None


def simulate(
    rt: Runtime,
    policy: str,
    query: str | Literal,
    sequence: str | Iterable[Statement],
    action_policy: str | None = "action",
    *,
    delta: bool = False,
    trace: bool = False,
) -> SimulateResult:
    """Answers of ``query`` after ``sequence``; the runtime's state is left unchanged."""

    rt._policy(policy)
    q = parse_query_text(query) if isinstance(query, str) else query
    if not isinstance(q, Literal):
        raise policy_error("invalid_query", "Query must be a single literal")
    steps = parse(sequence) if isinstance(sequence, str) else list(sequence)
    lines: list[str] = []
    before = set(rt.select_rows(policy, q)) if delta else set()
    txn = rt._txn(undo=True)
    with gc_paused():
        try:
            for step in steps:
                _apply_step(rt, txn, policy, action_policy, step, lines)
            after = set(rt.select_rows(policy, q))
        finally:
            txn.rollback()
    answers = _answers(q, before, after, delta)
    if trace:
        lines.append(f"Query {to_text(q)}: {len(answers)} answer(s)")
    return SimulateResult(answers, "\n".join(lines) if trace else None)


IMPACT_TABLES = ("error", "warning")
"""The tables an impact compares when none are named (those of them the policy has)."""


@dataclass(slots=True)
class ImpactResult:
    """Per table compared: the rows that would appear and the rows that would disappear
    (each sorted); the query's answers after the change (when a query was given); the trace."""

    changes: dict[str, tuple[list[Row], list[Row]]] = field(default_factory=dict)
    answers: list[Literal] | None = None
    trace: str | None = None


def impact_tables(
    rt: Runtime, policy: str, add: Sequence[Rule], tables: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The tables an impact compares, and those of ``tables`` the policy does not have: a
    table it has is one of ``Runtime.tables`` or one its rules, or the rules of ``add``,
    mention (``execute[...]`` tables included)."""
    known = set(rt.tables(policy))
    known.update(cr.head_key[1] for cr in rt._policy(policy).rules.values())
    for rule in add:
        for lit in (*rule.head, *rule.body):
            if lit.policy is None or lit.modal:
                known.add(lit.table)
        known.update(head_key(lit, policy)[1] for lit in rule.head)  # execute[...] tables
    if tables is None:
        return [t for t in IMPACT_TABLES if t in known], []
    wanted = list(dict.fromkeys(tables))
    return [t for t in wanted if t in known], [t for t in wanted if t not in known]


def impact(
    rt: Runtime,
    policy: str,
    add: str | Iterable[Statement],
    delete: Iterable[Rule],
    tables: Sequence[str] | None = None,
    query: str | Literal | None = None,
    sequence: str | Iterable[Statement] = (),
    action_policy: str | None = "action",
    *,
    delta: bool = False,
    trace: bool = False,
) -> ImpactResult:
    """The rows of ``tables`` (default ``IMPACT_TABLES``) of ``policy`` that would appear and
    disappear if the rules ``add`` were inserted and ``delete`` deleted, then ``sequence``
    applied; and the answers of ``query`` then. The runtime's state is left unchanged.

    ``add`` is checked as ``insert`` checks it (a ``PolicyError`` with every problem); rules of
    ``delete`` that the policy does not have are ignored; a table the policy does not have
    (nor the rules of ``add``) raises ``policy_error("unknown_table")``."""
    pol = rt._policy(policy)
    added = rt._check_all(pol, add)
    gone = [r for r in dict.fromkeys(delete) if r in pol.rules or r in pol.facts]
    q = parse_query_text(query) if isinstance(query, str) else query
    if q is not None and not isinstance(q, Literal):
        raise policy_error("invalid_query", "Query must be a single literal")
    steps = parse(sequence) if isinstance(sequence, str) else list(sequence)
    watched, unknown = impact_tables(rt, policy, added, tables)
    if unknown:
        raise policy_error(
            "unknown_table", f"Table {unknown[0]} does not exist in policy {policy}", policy=policy
        )
    before = {t: set(rt.rows(policy, t)) for t in watched}
    asked = set(rt.select_rows(policy, q)) if q is not None and delta else set()
    lines: list[str] = []
    txn = rt._txn(undo=True)
    with gc_paused():
        try:
            _change_policy(rt, txn, policy, added, gone, lines)
            for step in steps:
                _apply_step(rt, txn, policy, action_policy, step, lines)
            after = {t: set(rt.rows(policy, t)) for t in watched}
            answered = set(rt.select_rows(policy, q)) if q is not None else set()
        finally:
            txn.rollback()
    changes = {
        t: (sorted(after[t] - before[t], key=repr), sorted(before[t] - after[t], key=repr))
        for t in watched
    }
    answers = None if q is None else _answers(q, asked, answered, delta)
    if trace:
        for t, (ins, dels) in changes.items():
            lines.append(f"Table {policy}:{t}: +{len(ins)} -{len(dels)} row(s)")
        if q is not None and answers is not None:
            lines.append(f"Query {to_text(q)}: {len(answers)} answer(s)")
    return ImpactResult(changes, answers, "\n".join(lines) if trace else None)


def _change_policy(
    rt: Runtime, txn: Txn, policy: str, add: list[Rule], delete: list[Rule], lines: list[str]
) -> None:
    """Delete then insert rules and facts of ``policy`` within ``txn``, as ``Runtime.insert``
    and ``Runtime.delete`` would (the graph is checked after the deletions)."""
    pol = rt._policy(policy)
    present = (set(pol.rules) | set(pol.facts)) - set(delete)
    new = [r for r in dict.fromkeys(add) if r not in present]
    facts: dict[Key, tuple[list[Row], list[Row]]] = {}
    for r, ins in [*((r, False) for r in delete), *((r, True) for r in new)]:
        if r.is_fact:
            key = head_key(r.head[0], policy)
            row = tuple(a.value for a in r.head[0].args)  # type: ignore[union-attr]
            facts.setdefault(key, ([], []))[0 if ins else 1].append(row)
    if facts:
        batch = txn.batch()
        for key, (ins_rows, del_rows) in facts.items():
            rt._engine.assert_rows(batch, key, ins_rows, del_rows)
        txn.run(batch)
    for r in delete:
        lines.append(f"Rule deleted: {to_text(r)}")
        if not r.is_fact and pol.evaluated:
            txn.remove_rule(pol.rules[r])
    compiled = [CompiledRule(r, policy, rt._clock) for r in new if not r.is_fact]
    if pol.kind != "action":
        rt._check_graph(compiled)
    for r in new:
        lines.append(f"Rule inserted: {to_text(r)}")
    if pol.evaluated:
        for cr in compiled:
            txn.add_rule(cr)


def _answers(q: Literal, before: set[Row], after: set[Row], delta: bool) -> list[Literal]:
    def lit(table: str, row: Row) -> Literal:
        return Literal(table, tuple(Constant(v) for v in row), q.policy, q.modal)

    if not delta:
        return [lit(q.table, r) for r in sorted(after, key=repr)]
    gained = [lit(q.table + "+", r) for r in sorted(after - before, key=repr)]
    lost = [lit(q.table + "-", r) for r in sorted(before - after, key=repr)]
    return gained + lost


def _change_rule(rt: Runtime, txn: Txn, target: str, rule: Rule, add: bool) -> str:
    """Insert or delete a rule of ``target`` for the rest of the simulation."""
    pol = rt._policy(target)
    checked = analysis.check_statement(rule, policy=target, kind=pol.kind, schema=rt)
    # what the engine evaluates now, earlier steps of this simulation included
    head = CompiledRule(checked, target, rt._clock).head_key
    linked = next((cr for cr in rt._engine.rules.get(head, ()) if cr.rule == checked), None)
    if add:
        if linked is not None or not pol.evaluated:
            return "already present"
        cr = pol.rules.get(checked) or CompiledRule(checked, target, rt._clock)
        rt._check_graph([cr])
    else:
        if linked is None:
            return "not present"
        cr = linked
    if add:
        txn.add_rule(cr)
    else:
        txn.remove_rule(cr)
    return "inserted" if add else "deleted"


def _apply_step(
    rt: Runtime,
    txn: Txn,
    policy: str,
    action_policy: str | None,
    step: Statement,
    lines: list[str],
) -> None:
    if not isinstance(step, Rule) or len(step.head) != 1:
        raise _not_allowed(step)
    step = _in_project(policy, step)
    head = step.head[0]
    if head.is_update and not head.negated and step.body:
        # p+(x) :- q(x) inserts the rule p(x) :- q(x); p-(...) :- ... deletes it
        target = head.policy or policy
        rule = Rule((Literal(head.table[:-1], head.args),), step.body, step.loc)
        what = _change_rule(rt, txn, target, rule, head.table.endswith("+"))
        lines.append(f"Rule update {to_text(step)}: {what} in {target}")
        return
    if head.is_update and not head.negated:
        rows = _instances(rt, policy, step)
        target = head.policy or policy
        table = head.table[:-1]
        ins = rows if head.table.endswith("+") else []
        dels = rows if head.table.endswith("-") else []
        lines.append(f"Update {to_text(step)}: {len(rows)} row(s) of {target}:{table}")
        _write(rt, txn, {(target, table): (ins, dels)})
        return
    if action_policy is not None and _is_action(rt, action_policy, head):
        rows = _instances(rt, policy, step)
        for row in rows:
            _invoke(rt, txn, policy, action_policy, head, row, lines)
        return
    raise _not_allowed(step)


def _in_project(policy: str, step: Rule) -> Rule:
    """A step of a simulation in a project's policy reads and changes the project's own
    tables (``analysis.in_project``, heads too); naming another project raises."""
    head = tuple(analysis.in_project_or_raise(lit, policy) for lit in step.head)
    body = tuple(analysis.in_project_or_raise(lit, policy) for lit in step.body)
    return Rule(head, body, step.loc)


def _not_allowed(step: Statement) -> PolicyError:
    return policy_error(
        "invalid_sequence", f"Sequence contained non-action, non-update: {to_text(step)}"
    )


def _is_action(rt: Runtime, action_policy: str, head: Literal) -> bool:
    if not rt.policy_exists(action_policy) or head.policy is not None:
        return False
    return bool(rt.select_rows(action_policy, Literal("action", (Constant(head.table),))))


def _instances(rt: Runtime, policy: str, step: Rule) -> list[Row]:
    """Ground rows of the step's head: the head itself, or what its body derives in ``policy``."""
    head = step.head[0]
    if not step.body:
        if not head.is_ground():
            raise policy_error("invalid_sequence", f"Update not ground: {to_text(step)}")
        return [tuple(a.value for a in head.args)]  # type: ignore[union-attr]
    bare = Literal(head.table.rstrip("+-") + "__sim", head.args)
    rule = Rule((bare,), step.body, step.loc)
    return [tuple(a.value for a in lit.args) for lit in rt.select(policy, rule)]  # type: ignore[union-attr]


def _write(rt: Runtime, txn: Txn, changes: dict[Key, tuple[list[Row], list[Row]]]) -> None:
    batch = txn.batch()
    for key, (ins, dels) in changes.items():
        pol = rt._policy(key[0])
        width = rt._width(pol, key[1])
        for r in (*ins, *dels):
            if width is not None and len(r) != width:
                raise policy_error(
                    "arity_mismatch", f"Update of {key[0]}:{key[1]} with {len(r)} columns"
                )
        rt._engine.assert_rows(batch, key, ins, dels)
    txn.run(batch)


def _invoke(
    rt: Runtime,
    txn: Txn,
    policy: str,
    action_policy: str,
    head: Literal,
    row: Row,
    lines: list[str],
) -> None:
    """Evaluate the action policy for one invocation and apply the updates it describes."""
    scratch = _ActionScratch(rt, policy, action_policy, head.table, row)
    updates = scratch.run()
    invocation = to_text(Literal(head.table, tuple(Constant(v) for v in row)))
    changes: dict[Key, tuple[list[Row], list[Row]]] = {}
    for (target, table), (ins, dels) in updates.items():
        keep_dels = [r for r in dels if r not in ins]
        changes[(target, table)] = (sorted(ins, key=repr), keep_dels)
        lines.append(f"Action {invocation}: {target}:{table} +{len(ins)} -{len(keep_dels)} row(s)")
    if not changes:
        lines.append(f"Action {invocation}: no updates")
    _write(rt, txn, changes)


class _ActionScratch:
    """One-shot bottom-up evaluation of an action policy around one invocation."""

    def __init__(
        self, rt: Runtime, policy: str, action_policy: str, action: str | None, row: Row = ()
    ) -> None:
        self.rt = rt
        self.policy = policy
        self.action_policy = action_policy
        self.rules: list[CompiledRule] = list(rt._policy(action_policy).rules.values())
        self.derived = {cr.head_key for cr in self.rules}
        self.scratch: dict[Key, Relation] = {}
        for k in self.derived:
            rel = self.scratch[k] = Relation(k)
            facts = rt._engine.relations.get(k)  # the action policy's own facts of that table
            if facts is not None and facts.rows:
                rel.add_new(dict.fromkeys(facts.rows, 1))
        if action is not None:
            invoked = Relation((action_policy, action))
            invoked.add(row)
            self.scratch[(action_policy, action)] = invoked

    def relation(self, key: Key) -> Relation:
        rel = self.scratch.get(key)
        if rel is not None:
            return rel
        engine = self.rt._engine
        if key[0] == self.action_policy:
            own = engine.relations.get(key)
            if own is not None and own.rows:
                return own
            key = (self.policy, key[1])
        return engine.relations.get(key) or Relation(key)

    def run(self) -> dict[Key, tuple[set[Row], set[Row]]]:
        self.evaluate()
        return self._updates()

    def evaluate(self) -> None:
        """Evaluate the action policy's rules to a fixpoint into scratch relations."""
        for _ in range(MAX_ACTION_ROUNDS):
            grew = False
            for cr in self.rules:
                out: dict[Row, int] = {}
                plan = cr.plan(None)
                acc: list[Any] = []
                for a in plan.access:
                    key = cr.items[a.pos].key
                    assert key is not None
                    rel = self.relation(key)
                    acc.append(rel.rows if a.cols is None else rel.index(a.cols))
                plan.fn((), out, 1, acc, Batch().tick_fn())
                target = self.scratch[cr.head_key]
                new = {r: 1 for r in out if r not in target.rows}
                if new:
                    target.add_new(new)
                    grew = True
            if not grew:
                break

    def _updates(self) -> dict[Key, tuple[set[Row], set[Row]]]:
        out: dict[Key, tuple[set[Row], set[Row]]] = {}
        for cr in self.rules:
            head = cr.head
            if not head.is_update:
                continue
            target = (head.policy or self.policy, head.table[:-1])
            rows = set(self.scratch[cr.head_key].rows)
            ins, dels = out.setdefault(target, (set(), set()))
            (ins if head.table.endswith("+") else dels).update(rows)
        return out


def action_policy_rows(rt: Runtime, action_policy: str, table: str) -> set[Row] | None:
    """Rows of a table derived by an action policy's rules (evaluated on demand), or None when
    no rule of the policy defines the table."""
    scratch = _ActionScratch(rt, action_policy, action_policy, None)
    rel = scratch.scratch.get((action_policy, table))
    if rel is None:
        return None
    scratch.evaluate()
    return set(rel.rows)
