"""Compile a checked rule into join plans: specialised Python functions over hash indexes.

Imports: standard library and congress.datalog only.

A ``CompiledRule`` knows its head relation and the relation each body literal reads. A *plan*
evaluates the rule body for one way of driving it:

- ``plan(None)``: the full rule, starting from the best literal;
- ``plan(i)``: driven by the rows of body position ``i`` (a delta of that relation, positive or
  negated literal alike), the rest joined to it;
- ``plan(HEAD)``: driven by candidate head rows (the rows to re-derive in delete-and-rederive).

Each plan is generated once as Python source and compiled. Its signature is
``fn(src, out, sign, A, tick, excl)``: ``src`` the driving rows (ignored for the full plan),
``out`` a dict that receives, by the plan's mode: ``count``: ``head_row -> count + sign`` per
derivation; ``novel``: ``head_row -> 1`` for head rows not in ``excl`` (semi-naive rounds want
only new rows); ``bind``: ``bindings -> 1``, the values of ``Plan.variables`` for each
derivation, stopping after ``sign`` of them (explanations want the body, not just the head);
``A`` the accessors in ``Plan.access`` order (for each: a row collection supporting ``in`` and
iteration, or an index supporting ``get(key, default)``), and ``tick(n)`` the budget callback,
called every ``TICK`` loop iterations with ``n`` the rows in ``out`` so far; it returns the next
quota or raises ``LimitExceeded``.

Join order: after the driver, filters first (builtins whose inputs are bound, negations whose
variables are bound), then the positive literal with the most bound columns (ties by source
order). Bound columns of a positive literal become the key of the index it is read through.
"""

from __future__ import annotations

import functools
import itertools
import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from congress.datalog import builtins as bi
from congress.datalog.aggregate import HIDDEN_PREFIX, ZERO_OPS, AggregateRule
from congress.datalog.analysis import aggregate_groups
from congress.datalog.ast import Constant, Literal, Rule, Term, Variable
from congress.datalog.printer import to_text

HEAD = -1
TICK = 2048
_HIDDEN_IDS = itertools.count(1)
_FAIL = object()

Key = tuple[str, str]

_INLINE = {"lt": "<", "lteq": "<=", "gt": ">", "gteq": ">="}


def execute_table(lit: Literal) -> str:
    """The table name under which rows of an ``execute[...]`` head are kept."""
    prefix = f"{lit.policy}:" if lit.policy else ""
    return f"execute[{prefix}{lit.table}]"


@dataclass(frozen=True, slots=True)
class Item:
    """One body literal, classified."""

    kind: str  # "pos", "neg", "builtin", "true", "false", "agg0" (an aggregate, groups given)
    args: tuple[Term, ...]
    key: Key | None = None
    builtin: bi.Builtin | None = None
    negated: bool = False  # for builtins: the test must fail


@dataclass(frozen=True, slots=True)
class Access:
    """What a plan reads at one step: a relation's rows (cols None) or its index on cols."""

    pos: int
    cols: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class Plan:
    fn: Callable[..., None]
    access: tuple[Access, ...]
    source: str
    variables: tuple[str, ...] = ()


def classify(lit: Literal, own_policy: str) -> Item:
    """Classify a body literal of a rule of ``own_policy``."""
    b = bi.lookup(lit.table, lit.policy)
    if b is not None:
        return Item("builtin", lit.args, builtin=b, negated=lit.negated)
    if lit.policy is None and not lit.args and lit.table in ("true", "false"):
        return Item("false" if lit.negated == (lit.table == "true") else "true", ())
    key = (lit.policy or own_policy, lit.table)
    return Item("neg" if lit.negated else "pos", lit.args, key=key)


def head_key(lit: Literal, own_policy: str) -> Key:
    """The relation a head writes: a prefixed update head (action policies only) keeps its
    prefix in the table name, so ``nova:p+`` and ``neutron:p+`` stay apart."""
    if lit.modal == "execute":
        return (own_policy, execute_table(lit))
    if lit.policy is not None:
        return (own_policy, f"{lit.policy}:{lit.table}")
    return (own_policy, lit.table)


class CompiledRule:
    """A rule of one policy, ready to evaluate; plans are generated on first use."""

    def __init__(
        self,
        rule: Rule,
        policy: str,
        clock: Callable[[], Any],
    ) -> None:
        self.rule = rule
        self.policy = policy
        self.head = rule.head[0]
        self.head_key = head_key(self.head, policy)
        self.parts: tuple[CompiledRule | AggregateRule, ...] = ()
        # body position of each aggregate -> its hidden binding rule and its keeper
        self.aggregates: dict[int, tuple[CompiledRule, AggregateRule]] = {}
        self.items = tuple(self._classify(i, lit, clock) for i, lit in enumerate(rule.body))
        self.never = any(it.kind == "false" for it in self.items)
        self._clock = clock
        self._plans: dict[tuple[int | None, str], Plan] = {}

    def _classify(self, index: int, lit: Literal, clock: Callable[[], Any]) -> Item:
        agg = lit.aggregate
        if agg is None:
            return classify(lit, self.policy)
        # docs/adr/0009-aggregates.md: a hidden rule derives the bindings of the aggregate's
        # body, an AggregateRule keeps the values per group, and this rule reads those.
        groups, given = aggregate_groups(self.rule, index)
        inner = list(dict.fromkeys(v.name for b in agg.body for v in b.variables()))
        columns = [*groups, *(n for n in inner if n not in groups)]
        text = to_text(lit)
        # one name per compiled rule: a query or a simulation may compile a rule equal to
        # one already linked, and their hidden relations must not be shared
        out_table = f"{HIDDEN_PREFIX}{agg.op}#{next(_HIDDEN_IDS)}}}"
        in_table = f"{out_table}:in"
        in_rule = Rule((Literal(in_table, tuple(Variable(n) for n in columns)),), agg.body, lit.loc)
        in_cr = CompiledRule(in_rule, self.policy, clock)
        term = agg.term
        assert isinstance(term, Variable)
        out_key = (self.policy, out_table)
        aggregate = AggregateRule(
            out_key, in_cr.head_key, agg.op, len(groups), columns.index(term.name), given, text
        )
        self.parts = (*self.parts, in_cr, aggregate)
        self.aggregates[index] = (in_cr, aggregate)
        args = (*(Variable(g) for g in groups), *lit.args)
        kind = "agg0" if given and agg.op in ZERO_OPS else "pos"
        return Item(kind, args, key=out_key)

    def units(self) -> tuple[CompiledRule | AggregateRule, ...]:
        """What to link into the engine for this rule, in order: the hidden parts of its
        aggregates, then the rule itself."""
        return (*self.parts, self)

    def reads(self) -> list[tuple[int, Key, bool]]:
        """(position, relation, negated) for every body literal that reads a relation."""
        return [
            (i, it.key, it.kind == "neg")
            for i, it in enumerate(self.items)
            if it.key is not None and it.kind in ("pos", "neg", "agg0")
        ]

    def plan(self, driver: int | None, mode: str = "count") -> Plan:
        """The plan driven by ``driver``, emitting in ``mode`` (see the module docstring)."""
        p = self._plans.get((driver, mode))
        if p is None:
            p = _Generator(self, driver, mode).build()
            self._plans[(driver, mode)] = p
        return p


def _pyname(name: str, used: dict[str, str]) -> str:
    n = used.get(name)
    if n is None:
        base = "v_" + "".join(ch if ch.isalnum() else "_" for ch in name)
        n = base
        k = 0
        while n in used.values() or keyword.iskeyword(n):
            k += 1
            n = f"{base}_{k}"
        used[name] = n
    return n


class _Generator:
    """Writes the source of one plan."""

    def __init__(self, crule: CompiledRule, driver: int | None, mode: str) -> None:
        self.c = crule
        self.driver = driver
        self.mode = mode
        self.lines: list[str] = []
        self.names: dict[str, str] = {}
        self.bound: set[str] = set()
        self.access: list[Access] = []
        self.consts: dict[str, Any] = {}
        self.tmp = itertools.count()
        self.depth = 1
        self.variables: tuple[str, ...] = ()
        # each loop: (line index of its ``for``, depth, target, iterable), outermost first
        self.loops: list[tuple[int, int, str, str]] = []

    # -- helpers -------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def var(self, v: Variable) -> str:
        return _pyname(v.name, self.names)

    def const(self, value: Any) -> str:
        if isinstance(value, str | int) or (isinstance(value, float) and value == value):
            r = repr(value)
            if "inf" not in r:
                return r
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        return name

    def expr(self, t: Term) -> str:
        if isinstance(t, Variable):
            return self.var(t)
        return self.const(t.value)

    def is_bound(self, t: Term) -> bool:
        return isinstance(t, Constant) or t.name in self.bound

    def tuple_expr(self, args: Sequence[Term]) -> str:
        if len(args) == 1:
            return f"({self.expr(args[0])},)"
        return "(" + ", ".join(self.expr(a) for a in args) + ")"

    def open_loop(self, target: str, iterable: str) -> None:
        """``for target in iterable:`` with a budget tick per iteration (see ``finish_loops``)."""
        self.loops.append((len(self.lines), self.depth, target, iterable))
        self.emit(f"for {target} in {iterable}:")
        self.depth += 1
        self.emit("t -= 1")
        self.emit("if not t:")
        self.emit("    t = tick(len(out))")

    def finish_loops(self) -> None:
        """Tick the innermost loop once per bucket instead of once per row.

        The innermost loop does O(1) work per row, so counting its bucket in one step before
        scanning it keeps "a tick every TICK iterations" while saving the per-row test.
        """
        if len(self.loops) < 2:
            return
        i, depth, target, iterable = self.loops[-1]
        pad = "    " * depth
        self.lines[i : i + 4] = [
            f"{pad}_b = {iterable}",
            f"{pad}t -= len(_b)",
            f"{pad}if t <= 0:",
            f"{pad}    t = tick(len(out))",
            f"{pad}for {target} in _b:",
        ]

    def open_if(self, cond: str) -> None:
        self.emit(f"if {cond}:")
        self.depth += 1

    def accessor(self, pos: int, cols: tuple[int, ...] | None) -> str:
        self.access.append(Access(pos, cols))
        return f"a{len(self.access) - 1}"

    # -- destructuring -------------------------------------------------------------------
    def unpack(self, args: Sequence[Term], skip: set[int]) -> tuple[str, list[str]]:
        """A for-target for ``args`` and its checks; columns in ``skip`` are known to match."""
        targets: list[str] = []
        checks: list[str] = []
        newly: set[str] = set()
        for i, t in enumerate(args):
            if i in skip:
                targets.append("_")
            elif isinstance(t, Variable) and t.name not in self.bound and t.name not in newly:
                targets.append(self.var(t))
                newly.add(t.name)
            else:
                tmp = f"_c{next(self.tmp)}"
                targets.append(tmp)
                checks.append(f"{tmp} == {self.expr(t)}")
        self.bound |= newly
        if not targets:
            return "()", checks
        if len(targets) == 1:
            return f"({targets[0]},)", checks
        return "(" + ", ".join(targets) + ")", checks

    # -- steps ---------------------------------------------------------------------------
    def step_source(self, args: Sequence[Term]) -> None:
        target, checks = self.unpack(args, set())
        self.open_loop(target, "src")
        if checks:
            self.open_if(" and ".join(checks))

    def step_positive(self, pos: int, it: Item) -> None:
        cols = tuple(i for i, a in enumerate(it.args) if self.is_bound(a))
        if len(cols) == len(it.args) and cols:
            acc = self.accessor(pos, None)
            self.open_if(f"{self.tuple_expr(it.args)} in {acc}")
            return
        if not cols:
            acc = self.accessor(pos, None)
            target, checks = self.unpack(it.args, set())
            self.open_loop(target, acc)
        else:
            acc = self.accessor(pos, cols)
            keyx = (
                self.expr(it.args[cols[0]])
                if len(cols) == 1
                else "(" + ", ".join(self.expr(it.args[c]) for c in cols) + ")"
            )
            target, checks = self.unpack(it.args, set(cols))
            self.open_loop(target, f"g{acc[1:]}({keyx}, ())")
        if checks:
            self.open_if(" and ".join(checks))

    def step_aggregate(self, pos: int, it: Item) -> None:
        """An aggregate whose groups are bound: its value, or 0 for a group with no rows."""
        groups = it.args[:-1]
        acc = self.accessor(pos, tuple(range(len(groups))))
        if len(groups) == 1:
            keyx = self.expr(groups[0])
        else:
            keyx = "(" + "".join(self.expr(g) + ", " for g in groups) + ")"
        bucket = f"_a{next(self.tmp)}"
        value = f"_v{next(self.tmp)}"
        self.emit(f"{bucket} = g{acc[1:]}({keyx}, None)")
        self.emit(f"{value} = next(iter({bucket}))[{len(groups)}] if {bucket} else 0")
        result = it.args[-1]
        if self.is_bound(result):
            self.open_if(f"{value} == {self.expr(result)}")
        else:
            assert isinstance(result, Variable)
            self.emit(f"{self.var(result)} = {value}")
            self.bound.add(result.name)

    def step_negative(self, pos: int, it: Item) -> None:
        acc = self.accessor(pos, None)
        self.open_if(f"{self.tuple_expr(it.args)} not in {acc}")

    def step_negated_builtin(self, it: Item) -> None:
        """``not f(inputs, outputs)``: every argument is bound; holds when f fails or differs."""
        b = it.builtin
        assert b is not None
        ins = [self.expr(a) for a in it.args[: b.num_inputs]]
        outs = [self.expr(a) for a in it.args[b.num_inputs :]]
        fname = f"_b_{b.name}"
        func = functools.partial(b.func, self.c._clock) if b.needs_clock else b.func
        self.consts[fname] = func
        ok = f"_ok{next(self.tmp)}"
        self.emit("try:")
        call = f"{fname}({', '.join(ins)})"
        if not outs:
            self.emit(f"    {ok} = bool({call})")
        elif len(outs) == 1:
            self.emit(f"    {ok} = {call} == {outs[0]}")
        else:
            self.emit(f"    {ok} = tuple({call}) == ({', '.join(outs)},)")
        self.emit("except Exception:")
        self.emit(f"    {ok} = False")
        self.open_if(f"not {ok}")

    def step_builtin(self, it: Item) -> None:
        if it.negated:
            self.step_negated_builtin(it)
            return
        b = it.builtin
        assert b is not None
        ins = [self.expr(a) for a in it.args[: b.num_inputs]]
        outs = it.args[b.num_inputs :]
        if b.name == "equal" and not outs:
            self.open_if(f"{ins[0]} == {ins[1]}")
            return
        res = f"_r{next(self.tmp)}"
        self.emit("try:")
        if b.name in _INLINE and not outs:
            self.emit(f"    {res} = {ins[0]} {_INLINE[b.name]} {ins[1]}")
        else:
            fname = f"_b_{b.name}"
            func = functools.partial(b.func, self.c._clock) if b.needs_clock else b.func
            self.consts[fname] = func
            self.emit(f"    {res} = {fname}({', '.join(ins)})")
        self.emit("except Exception:")
        self.emit(f"    {res} = _FAIL")
        if not outs:
            self.open_if(f"{res} is not _FAIL and {res}")
            return
        self.open_if(f"{res} is not _FAIL")
        if len(outs) == 1:
            t = outs[0]
            if self.is_bound(t):
                self.open_if(f"{res} == {self.expr(t)}")
            else:
                assert isinstance(t, Variable)
                self.emit(f"{self.var(t)} = {res}")
                self.bound.add(t.name)
            return
        target, checks = self.unpack(outs, set())
        self.emit(f"{target} = {res}")
        if checks:
            self.open_if(" and ".join(checks))

    # -- ordering ------------------------------------------------------------------------
    def ready(self, it: Item) -> bool:
        if it.kind == "neg":
            return all(self.is_bound(a) for a in it.args)
        if it.kind == "agg0":
            return all(self.is_bound(a) for a in it.args[:-1])
        if it.kind == "builtin":
            assert it.builtin is not None
            if it.negated:
                return all(self.is_bound(a) for a in it.args)
            return all(self.is_bound(a) for a in it.args[: it.builtin.num_inputs])
        return False

    def pick(self, todo: list[int]) -> int:
        items = self.c.items
        for i in todo:
            if self.ready(items[i]):
                return i
        best, score = -1, -1
        for i in todo:
            it = items[i]
            if it.kind != "pos":
                continue
            s = sum(1 for a in it.args if self.is_bound(a))
            if s == len(it.args):
                s = 1000
            if s > score:
                best, score = i, s
        if best < 0:
            raise ValueError(f"unsafe rule reached the compiler: {self.c.rule}")
        return best

    # -- assembly ------------------------------------------------------------------------
    def build(self) -> Plan:
        c = self.c
        todo = [i for i, it in enumerate(c.items) if it.kind in ("pos", "neg", "builtin", "agg0")]
        body: list[str] = []
        if c.never:
            self.emit("return")
        else:
            if self.driver == HEAD:
                self.step_source(c.head.args)
            elif self.driver is not None:
                self.step_source(c.items[self.driver].args)
                todo.remove(self.driver)
            while todo:
                i = self.pick(todo)
                todo.remove(i)
                it = c.items[i]
                if it.kind == "pos":
                    self.step_positive(i, it)
                elif it.kind == "neg":
                    self.step_negative(i, it)
                elif it.kind == "agg0":
                    self.step_aggregate(i, it)
                else:
                    self.step_builtin(it)
            for v in c.head.variables():
                if v.name not in self.bound:  # only action rules may leave one: skolemise
                    self.emit(f"{self.var(v)} = {self.const('_' + v.name)}")
                    self.bound.add(v.name)
            self.emit(f"k = {self.tuple_expr(c.head.args)}")
            if self.mode == "novel":
                self.emit("if k not in excl:")
                self.emit("    out[k] = 1")
            elif self.mode == "bind":
                names = sorted(self.bound)
                self.variables = tuple(names)
                vals = ", ".join(self.names[n] for n in names)
                self.emit(f"out[({vals}{',' if len(names) == 1 else ''})] = 1")
                self.emit("if len(out) >= sign:")
                self.emit("    return")
            else:
                self.emit("out[k] = oget(k, 0) + sign")
        names = [f"a{i}" for i in range(len(self.access))]
        body.append("def plan(src, out, sign, A, tick, excl=None):")
        if names:
            body.append(f"    {', '.join(names)}, = A")
        for i, acc in enumerate(self.access):
            if acc.cols is not None:
                body.append(f"    g{i} = a{i}.get")
        body.append("    oget = out.get")
        body.append("    t = tick(len(out))")
        self.finish_loops()
        source = "\n".join(body + self.lines) + "\n"
        ns: dict[str, Any] = {"_FAIL": _FAIL, **self.consts}
        # one filename for every plan: compile() keeps each distinct filename for good
        exec(compile(source, "<congress plan>", "exec"), ns)
        return Plan(ns["plan"], tuple(self.access), source, self.variables)
