"""The multi-policy runtime: the public face of the engine.

Imports: standard library and congress.datalog only.

A ``Runtime`` holds policies of the kinds in ``KINDS``. Rules and facts go in through ``insert``
and ``delete`` (text or parsed statements, all or nothing: every statement is checked, and the
dependency graph with the new rules, before anything changes); data of datasource tables through
``apply``. Every change returns a ``BatchResult`` with the net change of every table it touched
and the ``execute[...]`` rows that newly appeared, as ``ActionRequest``s (edge-triggered: a row
that stays does not request again).

Queries (``select``, ``select_rows``) read the maintained tables through indexes; ``simulate``
applies a sequence of updates and actions, answers the query and rolls everything back.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from congress.datalog import analysis, names
from congress.datalog.aggregate import is_hidden
from congress.datalog.ast import Constant, Literal, Row, Rule, Statement
from congress.datalog.compiler import CompiledRule, head_key
from congress.datalog.errors import (
    DatalogError,
    KindNotSupported,
    LimitExceeded,
    PolicyError,
    PolicyExists,
    PolicyNotFound,
    Problem,
    policy_error,
)
from congress.datalog.explain import WHY_NOT_DEPTH, Proof, WhyNot, explain, why_not
from congress.datalog.graph import Components, Key
from congress.datalog.maintain import Engine
from congress.datalog.model import (
    ActionRequest,
    BatchResult,
    Limits,
    Policy,
    PolicyLimits,
    merge,
)
from congress.datalog.parser import parse, parse_ground
from congress.datalog.printer import to_text
from congress.datalog.query import (
    as_literal,
    instance,
    match,
    parse_query_text,
    positional,
    select_rule,
)
from congress.datalog.simulate import (
    ImpactResult,
    SimulateResult,
    action_policy_rows,
    impact,
    impact_tables,
    simulate,
)
from congress.datalog.storage import Relation
from congress.datalog.txn import Txn, gc_paused

__all__ = [
    "KINDS",
    "ActionRequest",
    "BatchResult",
    "ImpactResult",
    "Limits",
    "PolicyLimits",
    "Proof",
    "Runtime",
    "SimulateResult",
    "WhyNot",
    "parse_query_text",
]

_NAME = re.compile(r"[a-zA-Z_.][a-zA-Z0-9_.]*(?:@" + names.PROJECT_PATTERN + ")?")
KINDS = ("nonrecursive", "materialized", "action", "database", "datasource")
RECURSIVE_KINDS = ("materialized",)


def _default_clock() -> datetime.datetime:
    raise RuntimeError("no clock was injected into the Runtime")


class Runtime:
    """Policies, their rules and data, kept evaluated incrementally.

    ``clock`` gives the time for the ``now`` builtin (without one, ``now`` fails); ``timer``
    (monotonic seconds), ``memory`` (the process's resident bytes) and ``limits`` bound the
    work of one request (``docs/language.md``, Budgets).

    The runtime is not thread-safe: the service that owns it serialises calls, with one
    exception. While a change evaluates, ``pause_hook`` (when set) is called every ``TICK`` rows
    scanned; while it runs, other threads may call the read methods ``rows``, ``count``,
    ``select_rows`` (a literal), ``tables``, ``rules``, ``policy_names``, ``policy_exists``,
    ``kind`` and ``policy_error``, which then answer the state before the change, exactly
    (from the undo records of the change so far).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
        timer: Callable[[], float] | None = None,
        limits: Limits | None = None,
        memory: Callable[[], int] | None = None,
    ) -> None:
        self._clock = clock or _default_clock
        self._timer = timer
        self._memory = memory
        self.pause_hook: Callable[[], None] | None = None
        self._paused: Txn | None = None  # the change a pause_hook call interrupted
        self.on_limit: Callable[[LimitExceeded], None] | None = None  # after one was undone
        self.limits = limits or Limits()
        # a policy's own limits over ``limits`` (None: none): the rows one of its derived
        # tables may hold, the seconds one change may spend on it (``PolicyLimits``)
        self.policy_limits: Callable[[str], PolicyLimits | None] | None = None
        self._policies: dict[str, Policy] = {}
        self._engine = Engine(self._clock)
        self._arity: dict[Key, list[int]] = {}

    # -- policies ------------------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        kind: str = "nonrecursive",
        *,
        abbreviation: str | None = None,
        schema: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if kind == "z3":
            raise KindNotSupported("Policy kind z3 is not supported")
        if kind not in KINDS:
            raise KindNotSupported(f"Unknown kind of policy: {kind}")
        if name in self._policies:
            raise PolicyExists(name)
        if name == "builtin" or not _NAME.fullmatch(name):
            raise policy_error(
                "invalid_policy_name",
                f"Invalid policy name {name!r}: a name is an identifier "
                "([a-zA-Z_.][a-zA-Z0-9_.]*) other than 'builtin'",
            )
        cols = None if schema is None else {t: tuple(c) for t, c in schema.items()}
        self._policies[name] = Policy(name, kind, abbreviation or name[:5], cols)

    def delete_policy(self, name: str) -> BatchResult:
        """Delete a policy: its rules and facts, and its data (readers in other policies see the
        rows go); tables that other policies' rules still read stay, empty."""
        pol = self._policy(name)
        result = BatchResult()
        if pol.rules or pol.facts:
            result = self.delete(name, list(pol.rules) + list(pol.facts))
        engine = self._engine
        data: dict[Key, tuple[list[Row], list[Row]]] = {
            key: ([], list(rel.rows))
            for key, rel in engine.relations.items()
            if key[0] == name and rel.rows
        }
        if data:
            merge(result, self.apply(data))
        for key in [k for k in engine.relations if k[0] == name and k not in engine.readers]:
            del engine.relations[key]
        engine.comps = engine.components_with()
        del self._policies[name]
        return result

    def set_schema(self, name: str, schema: Mapping[str, Sequence[str]]) -> None:
        self._policy(name).schema = {t: tuple(c) for t, c in schema.items()}

    def policy_names(self) -> list[str]:
        return list(self._policies)

    def policy_exists(self, name: str) -> bool:
        return name in self._policies

    def kind(self, name: str) -> str:
        return self._policy(name).kind

    def abbreviation(self, name: str) -> str:
        return self._policy(name).abbreviation

    def rules(self, name: str) -> list[Rule]:
        """Rules and facts of a policy (facts inserted as statements, not data)."""
        pol = self._policy(name)
        return list(pol.rules) + list(pol.facts)

    def tables(self, name: str) -> list[str]:
        """Tables the policy's rules and facts mention, and tables holding its data."""
        pol = self._policy(name)
        names = set(pol.tables)
        names.update(
            k[1]
            for k in list(self._engine.relations)
            if k[0] == name and not is_hidden(k[1]) and self._current(k)
        )
        if pol.schema:
            names.update(pol.schema)
        return sorted(names)

    def _txn(self, *, undo: bool = False) -> Txn:
        """A transaction under this runtime's limits."""
        pause = self._pause if self.pause_hook is not None else None
        return Txn(
            self._engine,
            self.limits,
            self._timer,
            undo=undo,
            memory=self._memory,
            pause=pause,
            policy_limits=self.policy_limits,
        )

    def _pause(self, txn: Txn) -> None:
        """A running change reached a pause point: let the hook serve reads meanwhile."""
        hook = self.pause_hook
        if hook is None or self._paused is not None:
            return
        self._paused = txn
        try:
            hook()
        finally:
            self._paused = None

    def _current(self, key: Key) -> Mapping[Row, int] | set[Row]:
        """The rows of a relation, as they were before the change a pause interrupted."""
        rel = self._engine.relations.get(key)
        now: Mapping[Row, int] = rel.rows if rel is not None else {}
        txn = self._paused
        if txn is None:
            return now
        before: dict[Row, int] = {}
        for batch in txn.batches:  # the first record of a row holds its count before
            for row, n in batch.old_counts.get(key, {}).items():
                before.setdefault(row, n)
        if not before:
            return now
        out = {r for r in now if r not in before}
        out.update(r for r, n in before.items() if n > 0)
        return out

    def _policy(self, name: str) -> Policy:
        pol = self._policies.get(name)
        if pol is None:
            raise PolicyNotFound(name)
        return pol

    # -- SchemaView for analysis ---------------------------------------------------------
    def _schema_policy(self, name: str) -> Policy | None:
        """The policy whose kind and schema ``name`` has: itself, or for a project's view of a
        datasource not made yet (``nova@project``), the datasource (congress.datalog.names)."""
        pol = self._policies.get(name)
        if pol is None and names.SEPARATOR in name:
            base = self._policies.get(names.base_of(name))
            if base is not None and base.kind == "datasource":
                return base
        return pol

    def policy_kind(self, policy: str) -> str | None:
        pol = self._schema_policy(policy)
        return None if pol is None else pol.kind

    def complete_columns(self, policy: str, table: str) -> Sequence[str] | None:
        pol = self._schema_policy(policy)
        if pol is None or pol.schema is None:
            return None
        return pol.schema.get(table)

    def has_complete_schema(self, policy: str) -> bool:
        pol = self._schema_policy(policy)
        return pol is not None and pol.schema is not None

    def known_arity(self, policy: str, table: str) -> int | None:
        ref = self._arity.get((policy, table))
        if ref is not None:
            return ref[0]
        rel = self._engine.relations.get((policy, table))
        if rel is not None and rel.rows:
            return len(next(iter(rel.rows)))
        return None

    def _ref_arities(self, policy: str, rule: Rule, n: int) -> None:
        lits = [(head_key(h, policy), h) for h in rule.head]
        lits += [((b.policy or policy, b.table), b) for b in rule.body_literals()]
        for key, lit in lits:
            if analysis.is_builtin_literal(lit) or analysis.is_special_literal(lit):
                continue
            ref = self._arity.get(key)
            if ref is None:
                if n > 0:
                    self._arity[key] = [len(lit.args), n]
                continue
            ref[1] += n
            if ref[1] <= 0:
                del self._arity[key]

    # -- rules and facts -----------------------------------------------------------------
    def insert(self, policy: str, rules: str | Iterable[Statement]) -> BatchResult:
        """Insert rules and facts; all or nothing. Statements already present are skipped."""
        pol = self._policy(policy)
        checked = self._check_all(pol, rules)
        new = [r for r in dict.fromkeys(checked) if r not in pol.rules and r not in pol.facts]
        for r in new:
            self._ref_arities(policy, r, 1)
        try:
            compiled = self._compile(pol, [r for r in new if not r.is_fact])
            if pol.kind != "action":
                self._check_graph(compiled)
            return self._change(pol, new, [], compiled)
        except DatalogError:
            for r in new:
                self._ref_arities(policy, r, -1)
            raise

    def check(self, policy: str, rules: str | Iterable[Statement]) -> list[Rule]:
        """The checked form of each statement, as ``insert`` would take it, changing nothing.

        Raises what ``insert`` would raise for bad statements (every problem) and for rules that
        would make the dependency graph recursive where that is not allowed. A service calls it
        before writing a rule to its database, then inserts the returned rules.
        """
        pol = self._policy(policy)
        checked = self._check_all(pol, rules)
        new = [r for r in dict.fromkeys(checked) if r not in pol.rules and r not in pol.facts]
        if pol.kind != "action":
            self._check_graph(self._compile(pol, [r for r in new if not r.is_fact]))
        return checked

    def delete(self, policy: str, rules: str | Iterable[Statement]) -> BatchResult:
        """Delete rules and facts; statements not present are ignored."""
        pol = self._policy(policy)
        stmts = parse(rules) if isinstance(rules, str) else list(rules)
        gone: list[Rule] = []
        for s in stmts:
            if not isinstance(s, Rule):
                continue
            r = s if (s in pol.rules or s in pol.facts) else self._checked_form(pol, s)
            if r is not None and (r in pol.rules or r in pol.facts) and r not in gone:
                gone.append(r)
        result = self._change(pol, [], gone, [])
        if pol.error is not None and gone:
            merge(result, self._enable(pol))
        return result

    def _checked_form(self, pol: Policy, s: Rule) -> Rule | None:
        try:
            return analysis.check_statement(s, policy=pol.name, kind=pol.kind, schema=self)
        except DatalogError:
            return None

    def _check_all(self, pol: Policy, rules: str | Iterable[Statement]) -> list[Rule]:
        stmts = parse(rules) if isinstance(rules, str) else list(rules)
        out: list[Rule] = []
        problems: list[Problem] = []
        added: list[Rule] = []
        for s in stmts:
            if not isinstance(s, Rule):
                problems.append(
                    Problem("non_formula", f"Non-formula found: {to_text(s)}", policy=pol.name)
                )
                continue
            try:
                r = analysis.check_statement(s, policy=pol.name, kind=pol.kind, schema=self)
            except PolicyError as e:
                problems.extend(e.problems)
                continue
            out.append(r)
            if r not in pol.rules and r not in pol.facts:
                self._ref_arities(pol.name, r, 1)
                added.append(r)
        for r in added:
            self._ref_arities(pol.name, r, -1)
        if problems:
            raise PolicyError(problems)
        return out

    def _compile(self, pol: Policy, rules: list[Rule]) -> list[CompiledRule]:
        return [CompiledRule(r, pol.name, self._clock) for r in rules]

    def _check_graph(self, compiled: list[CompiledRule]) -> None:
        """Reject recursion where a policy kind forbids it, and recursion through negation."""
        if not compiled:
            return
        parked = [cr for p in self._policies.values() if p.error for cr in p.rules.values()]
        comps: Components = self._engine.components_with(extra=compiled + parked)
        for comp in comps.recursive_components():
            members = set(comp)
            # blame the first new rule that closes the cycle (its text, line and column)
            closing = [
                cr
                for cr in compiled
                if cr.head_key in members and any(k in members for _, k, _ in cr.reads())
            ]
            culprit = closing[0] if closing else compiled[0]
            where = culprit.rule.loc
            line, column = (where.line, where.column) if where else (None, None)
            rule = to_text(culprit.rule)
            bad = [k for k in comp if self.policy_kind(k[0]) not in RECURSIVE_KINDS]
            cycle = _cycle_text(comps.cycle_of(comp))
            if bad:
                raise policy_error(
                    "recursive_rules",
                    f"Rules are recursive: {cycle}",
                    policy=culprit.policy,
                    rule=rule,
                    line=line,
                    column=column,
                )
            neg = comps.negative_cycle(comp)
            if neg is not None:
                through = "an aggregate" if any(is_hidden(t) for _, t in neg) else "negation"
                raise policy_error(
                    "unstratifiable",
                    f"Rules are recursive through {through} and cannot be stratified: "
                    f"{_cycle_text(neg)}",
                    policy=culprit.policy,
                    rule=rule,
                    line=line,
                    column=column,
                )

    def _change(
        self, pol: Policy, add: list[Rule], remove: list[Rule], compiled: list[CompiledRule]
    ) -> BatchResult:
        try:
            with gc_paused():
                return self._change_txn(pol, add, remove, compiled)
        except LimitExceeded as e:
            self._limit_hit(e)
            raise

    def _limit_hit(self, err: LimitExceeded) -> None:
        """An evaluation over a limit was undone. Its traceback goes: the frames of the
        evaluation hold the huge intermediate tables it had built, and a caller that keeps the
        error in a reference cycle (``except ... as e: raise Other from e``) would keep them
        until a full garbage collection. A bare ``raise`` after this starts a new traceback."""
        err.__traceback__ = None
        if self.on_limit is not None:
            self.on_limit(err)

    def _change_txn(
        self, pol: Policy, add: list[Rule], remove: list[Rule], compiled: list[CompiledRule]
    ) -> BatchResult:
        txn = self._txn()
        by_rule = {cr.rule: cr for cr in compiled}
        try:
            fact_ins: dict[Key, list[Row]] = {}
            fact_del: dict[Key, list[Row]] = {}
            for r in remove:
                if r.is_fact:
                    fact_del.setdefault(_fact_key(pol.name, r), []).append(_fact_row(r))
            for r in add:
                if r.is_fact:
                    fact_ins.setdefault(_fact_key(pol.name, r), []).append(_fact_row(r))
            if fact_ins or fact_del:
                batch = txn.batch()
                for key in set(fact_ins) | set(fact_del):
                    self._engine.assert_rows(
                        batch, key, fact_ins.get(key, ()), fact_del.get(key, ())
                    )
                txn.run(batch)
            for r in remove:
                if not r.is_fact and pol.evaluated:
                    txn.remove_rule(pol.rules[r])
            for r in add:
                if not r.is_fact and pol.evaluated:
                    txn.add_rule(by_rule[r])
        except LimitExceeded:
            txn.rollback()
            raise
        for r in remove:
            self._forget(pol, r)
        for r in add:
            self._remember(pol, r, by_rule.get(r))
        result = txn.result()
        result.inserted = add
        result.deleted = remove
        return result

    def _remember(self, pol: Policy, r: Rule, cr: CompiledRule | None) -> None:
        if r.is_fact:
            pol.facts[r] = None
        else:
            assert cr is not None
            pol.rules[r] = cr
        for table in _mentioned(r):
            pol.mention(table, 1)

    def _forget(self, pol: Policy, r: Rule) -> None:
        if r.is_fact:
            del pol.facts[r]
        else:
            del pol.rules[r]
        self._ref_arities(pol.name, r, -1)
        for table in _mentioned(r):
            pol.mention(table, -1)

    # -- data ----------------------------------------------------------------------------
    def apply(
        self, changes: Mapping[tuple[str, str], tuple[Iterable[Any], Iterable[Any]]]
    ) -> BatchResult:
        """Apply one batch of data {(policy, table): (inserts, deletes)}, set semantics."""
        prepared = []
        for (policy, table), (ins, dels) in changes.items():
            pol = self._policy(policy)
            width = self._width(pol, table)
            prepared.append(((policy, table), _rows(ins, width, table), _rows(dels, width, table)))
        result = BatchResult()
        with gc_paused():
            while True:
                txn = self._txn()
                try:
                    batch = txn.batch()
                    for key, ins_rows, del_rows in prepared:
                        self._engine.assert_rows(batch, key, ins_rows, del_rows)
                    txn.run(batch)
                except LimitExceeded as e:
                    txn.rollback()
                    self._limit_hit(e)
                    culprit = self._policies.get(e.policy or "")
                    if culprit is None or culprit.error is not None or not culprit.rules:
                        raise
                    # the batch is applied to every other policy; this one enters an error state
                    merge(result, self._disable(culprit, e.message))
                    continue
                merge(result, txn.result())
                break
            if any(dels for _, _, dels in prepared):
                for pol in list(self._policies.values()):
                    if pol.error is not None:
                        merge(result, self._enable(pol))
        return result

    def policy_error(self, name: str) -> str | None:
        """Why a policy is in an error state (its derived tables empty), or None."""
        return self._policy(name).error

    def retry_errors(self) -> BatchResult:
        """Try again to bring every policy in an error state out of it (its limits, say
        ``policy_limits``, may have risen); those still over their limits stay in it."""
        result = BatchResult()
        with gc_paused():
            for pol in list(self._policies.values()):
                if pol.error is not None:
                    merge(result, self._enable(pol))
        return result

    def _disable(self, pol: Policy, message: str) -> BatchResult:
        """Put a policy in an error state: its rules stay but derive nothing."""
        pol.error = message
        txn = Txn(self._engine)
        for cr in pol.rules.values():
            txn.remove_rule(cr)
        return txn.result()

    def _enable(self, pol: Policy) -> BatchResult:
        """Try to bring a policy out of its error state; it stays there if still over budget."""
        txn = self._txn()
        try:
            for cr in pol.rules.values():
                txn.add_rule(cr)
        except LimitExceeded as e:
            txn.rollback()
            self._limit_hit(e)
            pol.error = e.message
            return BatchResult()
        pol.error = None
        return txn.result()

    def replace_table(self, policy: str, table: str, rows: Iterable[Any]) -> BatchResult:
        """Make a table's asserted rows exactly ``rows`` (a snapshot)."""
        pol = self._policy(policy)
        new = set(_rows(rows, self._width(pol, table), table))
        rel = self._engine.relations.get((policy, table))
        current: set[Row] = set()
        if rel is not None:
            current = set(rel.facts) if rel.facts is not None else set(rel.rows)
        return self.apply({(policy, table): (new - current, current - new)})

    def _width(self, pol: Policy, table: str) -> int | None:
        if pol.schema is not None:
            cols = pol.schema.get(table)
            if cols is None:
                raise policy_error(
                    "unknown_table",
                    f"Table {table} is not in the schema of {pol.name}",
                    policy=pol.name,
                )
            return len(cols)
        return self.known_arity(pol.name, table)

    # -- queries -------------------------------------------------------------------------
    def rows(self, policy: str, table: str) -> set[Row]:
        """Every row of a table (a copy)."""
        self._policy(policy)
        return set(self._current((policy, table)))

    def count(self, policy: str, table: str) -> int:
        """How many rows a table holds (the size of ``rows``, without copying them)."""
        self._policy(policy)
        return len(self._current((policy, table)))

    def select_rows(self, policy: str, query: str | Literal) -> list[Row]:
        """Rows of the queried table that match the query's constants and repeated variables."""
        if isinstance(query, str):
            ground = parse_ground(query)
            if ground is not None and self._paused is None:
                rel = self._engine.relations.get((policy, ground[0]))
                if rel is not None or policy in self._policies:
                    return [ground[1]] if rel is not None and ground[1] in rel.rows else []
        return self._select_rows(policy, as_literal(query))

    def _select_rows(self, policy: str, lit: Literal) -> list[Row]:
        if not lit.modal:
            lit = analysis.in_project_or_raise(lit, policy)
        key = head_key(lit, policy) if lit.modal else (lit.policy or policy, lit.table)
        pol = self._policy(key[0])
        if lit.named:
            lit = positional(self, policy, lit)
        rel = self._engine.relations.get(key)
        if self._paused is not None:  # a read during a pause: the rows before the change
            rel = Relation(key)
            rel.add_new(dict.fromkeys(self._current(key), 1))
        if pol.kind == "action" and not lit.modal:
            derived = action_policy_rows(self, key[0], key[1])
            if derived is not None:
                rel = Relation(key)
                rel.add_new(dict.fromkeys(derived, 1))
        if rel is None or not rel.rows:
            return []
        return match(rel, lit)

    def select(self, policy: str, query: str | Literal | Rule) -> list[Literal]:
        """Ground instances of the query that hold."""
        q = parse_query_text(query) if isinstance(query, str) else query
        if isinstance(q, Rule):
            body = tuple(analysis.in_project_or_raise(lit, policy) for lit in q.body)
            return select_rule(self, policy, Rule(q.head, body, loc=q.loc))
        if q.named:
            q = positional(self, policy, q)
        return [instance(q, r) for r in self.select_rows(policy, q)]

    def simulate(
        self,
        policy: str,
        query: str | Literal,
        sequence: str | Iterable[Statement],
        action_policy: str | None = "action",
        *,
        delta: bool = False,
        trace: bool = False,
    ) -> SimulateResult:
        """Answers of ``query`` after applying ``sequence``; the state is left unchanged."""
        try:
            return simulate(self, policy, query, sequence, action_policy, delta=delta, trace=trace)
        except LimitExceeded as e:
            self._limit_hit(e)
            raise

    def explain(self, policy: str, query: str | Literal) -> list[Proof]:
        """A proof tree for every answer of the query (why each row holds)."""
        return [
            p for lit in self.select(policy, as_literal(query)) if (p := explain(self, policy, lit))
        ]

    def explain_row(self, policy: str, table: str, row: Sequence[Any]) -> Proof | None:
        """Why a row of a table holds (a proof tree), or None when it does not hold."""
        self._policy(policy)
        return explain(self, policy, Literal(table, tuple(Constant(v) for v in row)))

    def why_not(
        self, policy: str, table: str, row: Sequence[Any], depth: int = WHY_NOT_DEPTH
    ) -> WhyNot:
        """Why a row of a table does not hold: each rule that could derive it, and the first
        body literal that failed, with the bindings there (``congress.datalog.explain``)."""
        self._policy(policy)
        return why_not(self, policy, Literal(table, tuple(Constant(v) for v in row)), depth)

    def impact_tables(
        self, policy: str, add: Sequence[Rule], tables: Sequence[str] | None
    ) -> tuple[list[str], list[str]]:
        """The tables ``impact`` compares, and those of ``tables`` the policy does not have
        (``add``: checked rules, whose tables count)."""
        self._policy(policy)
        return impact_tables(self, policy, add, tables)

    def impact(
        self,
        policy: str,
        add: str | Iterable[Statement] = (),
        delete: Iterable[Rule] = (),
        tables: Sequence[str] | None = None,
        query: str | Literal | None = None,
        sequence: str | Iterable[Statement] = (),
        action_policy: str | None = "action",
        *,
        delta: bool = False,
        trace: bool = False,
    ) -> ImpactResult:
        """The rows of ``tables`` (default: ``error`` and ``warning``) that would appear and
        disappear if ``add`` were inserted and ``delete`` deleted (then ``sequence`` applied);
        the state is left unchanged (``congress.datalog.simulate.impact``)."""
        try:
            return impact(
                self,
                policy,
                add,
                delete,
                tables,
                query,
                sequence,
                action_policy,
                delta=delta,
                trace=trace,
            )
        except LimitExceeded as e:
            self._limit_hit(e)
            raise


def _mentioned(r: Rule) -> list[str]:
    """The tables of its own policy that a rule or fact names (builtins and ``true``/``false``
    are not tables)."""
    return [
        lit.table
        for lit in (*r.head, *r.body_literals())
        if (lit.policy is None or lit.modal)
        and not analysis.is_builtin_literal(lit)
        and not analysis.is_special_literal(lit)
    ]


def _cycle_text(cycle: Iterable[Key]) -> str:
    """``p:a -> p:b -> p:a``, without the hidden relations of aggregates."""
    names = [f"{p}:{t}" for p, t in cycle if not is_hidden(t)]
    if len(names) == 1:
        names.append(names[0])
    return " -> ".join(names)


def _fact_key(policy: str, r: Rule) -> Key:
    return head_key(r.head[0], policy)


def _fact_row(r: Rule) -> Row:
    return tuple(a.value for a in r.head[0].args)  # type: ignore[union-attr]


def _rows(rows: Iterable[Any], width: int | None, table: str) -> list[Row]:
    out = [r if type(r) is tuple else tuple(r) for r in rows]
    if width is not None and set(map(len, out)) - {width}:
        for r in out:
            if len(r) != width:
                raise policy_error(
                    "arity_mismatch",
                    f"Row {list(r)!r} of table {table} has {len(r)} columns; {width} expected",
                )
    return out
