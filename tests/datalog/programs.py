"""Hypothesis strategies: random stratified programs, and random sequences of operations on them.

Imports: hypothesis, ``congress.datalog.ast`` and the oracle (``naive``) for table keys.

A generated ``Program`` has:

- one ``datasource`` policy ``ds`` with 1-3 base tables ``b0``, ``b1``, ... of arity 1-3; each
  column holds ints 0..4 or strings "a".."c" (small domains, so joins and constants hit);
- 1-2 user policies (``alpha``, then ``beta``), each ``nonrecursive`` or ``materialized``, whose
  tables are made in *groups*, in order. A rule whose head is in group g reads base tables and
  tables of earlier groups (of its own or an earlier policy) and, only when g is a recursive group
  of a materialized policy, tables of g itself (self recursion, transitive closure, mutual
  recursion). Negation reads only base tables and earlier groups. Hence *every subset* of the
  rules is stratified, recursion stays inside one materialized policy, and policies reference
  only earlier policies;
- a pool of rules and facts per policy: the statements operations insert and delete. Facts may
  also target derived tables (a row then has two reasons to hold);
- sometimes an ``execute[...]`` rule per policy (a sink: nothing reads it).

Every rule is safe: all variables of negated literals and of builtin inputs occur in positive
table literals; head variables occur there too or are the output of ``plus``. Builtins:
``lt``/``gt``/``equal``/``lteq`` anywhere (bare or ``builtin:``), ``plus`` only outside
recursive groups (so derived values stay finite). Mixed-type inputs make a builtin raise, which
means it fails. Body literals are shuffled: the engine must order them for safety itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import naive
from hypothesis import strategies as st

from congress.datalog.ast import (
    AGGREGATES,
    Aggregate,
    Constant,
    Literal,
    Row,
    Rule,
    Term,
    Value,
    Variable,
)

Key = tuple[str, str]
DS = "ds"
POLICY_NAMES = ("alpha", "beta")
TABLE_NAMES = ("p", "q", "r", "s", "t", "u", "v", "w", "m", "n", "o", "k")
VARS = ("x", "y", "z", "w", "v")
OUTPUT_VAR = "o"
INTS = (0, 1, 2, 3, 4)
STRS = ("a", "b", "c")
COMPARISONS = ("lt", "gt", "equal", "lteq")


@dataclass(frozen=True)
class Program:
    schema: dict[str, tuple[str, ...]]
    """Base tables of ``ds``: column names."""
    column_types: dict[str, tuple[str, ...]]
    """Base tables of ``ds``: "int" or "str" per column."""
    kinds: dict[str, str]
    """User policies in creation order (a policy reads only itself and earlier ones)."""
    statements: dict[str, tuple[Rule, ...]]
    """Per user policy, every rule and fact operations may insert (no duplicates)."""

    def tables(self) -> list[Key]:
        """Every table the program mentions: base tables, heads (execute tables included) and
        tables read by bodies."""
        keys = {(DS, table) for table in self.schema}
        for policy, rules in self.statements.items():
            for rule in rules:
                keys.update(naive.head_key(policy, head) for head in rule.head)
                for lit in rule.body_literals():
                    key = naive.body_key(policy, lit)
                    if key is not None:
                        keys.add(key)
        return sorted(keys)


@dataclass(frozen=True)
class DataOp:
    """``Runtime.apply`` on ``ds``: per base table (inserts, deletes), disjoint. Inserts may
    already be present and deletes may be absent: only the net change counts."""

    changes: dict[str, tuple[frozenset[Row], frozenset[Row]]]


@dataclass(frozen=True)
class RuleOp:
    """``Runtime.insert`` (rules absent before) or ``Runtime.delete`` (rules present before)."""

    insert: bool
    policy: str
    rules: tuple[Rule, ...]


Op = DataOp | RuleOp


@dataclass
class State:
    """What a runtime should hold after some operations; ``evaluate`` asks the oracle."""

    rules: dict[str, list[Rule]]
    data: dict[str, set[Row]]

    @classmethod
    def empty(cls, program: Program) -> State:
        return cls({p: [] for p in program.kinds}, {t: set() for t in program.schema})

    def apply(self, op: Op) -> None:
        if isinstance(op, DataOp):
            for table, (inserts, deletes) in op.changes.items():
                self.data[table] = (self.data[table] | inserts) - deletes
        elif op.insert:
            assert not set(op.rules) & set(self.rules[op.policy])
            self.rules[op.policy].extend(op.rules)
        else:
            assert set(op.rules) <= set(self.rules[op.policy])
            self.rules[op.policy] = [r for r in self.rules[op.policy] if r not in op.rules]

    def evaluate(self) -> dict[Key, set[Row]]:
        return naive.evaluate(self.rules, {(DS, t): rows for t, rows in self.data.items()})


# --------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class _Table:
    policy: str
    name: str
    types: tuple[str | None, ...]
    """Column types of base tables; None (any) for derived tables."""

    @property
    def arity(self) -> int:
        return len(self.types)


@dataclass
class _Group:
    policy: str
    tables: list[_Table]
    recursive: bool
    derived: bool
    """False for a group of fact-only tables."""
    rules: list[Rule] = field(default_factory=list)


def _const(draw: st.DrawFn, typ: str | None) -> Constant:
    if typ is None:
        typ = draw(st.sampled_from(("int", "str")))
    values: tuple[Value, ...] = INTS if typ == "int" else STRS
    return Constant(draw(st.sampled_from(values)))


def _var_or_const(draw: st.DrawFn, variables: list[str], typ: str | None) -> Term:
    """A variable from ``variables`` (mostly), else a constant."""
    if variables and draw(st.integers(0, 4)) < 4:
        return Variable(draw(st.sampled_from(variables)))
    return _const(draw, typ)


def _positive_arg(
    draw: st.DrawFn, bound: list[str], typ: str | None, names: tuple[str, ...] = VARS
) -> Term:
    """A constant (20%), a variable already used (30%: a join) or a fresh variable among
    ``names``; a fresh variable is appended to ``bound``."""
    choice = draw(st.integers(0, 9))
    fresh = [v for v in names if v not in bound]
    if choice < 2:
        return _const(draw, typ)
    if (choice < 5 and bound) or not fresh:
        return Variable(draw(st.sampled_from(bound)))
    bound.append(fresh[0])
    return Variable(fresh[0])


def _literal(table: _Table, policy: str, args: list[Term], negated: bool = False) -> Literal:
    prefix = None if table.policy == policy else table.policy
    return Literal(table.name, tuple(args), policy=prefix, negated=negated)


def _rule(
    draw: st.DrawFn,
    head: Literal,
    policy: str,
    positive: list[_Table],
    negative: list[_Table],
    group: list[_Table],
    outputs_ok: bool,
) -> Rule:
    body: list[Literal] = []
    bound: list[str] = []
    for _ in range(draw(st.integers(1, 2))):
        own = bool(group) and draw(st.booleans())
        table = draw(st.sampled_from(group if own else positive))
        args = [_positive_arg(draw, bound, typ) for typ in table.types]
        body.append(_literal(table, policy, args))
    if negative and len(body) < 3 and draw(st.integers(0, 2)) == 0:
        table = draw(st.sampled_from(negative))
        args = [_var_or_const(draw, bound, typ) for typ in table.types]
        body.append(_literal(table, policy, args, negated=True))
    head_vars = list(bound)
    if len(body) < 3 and draw(st.integers(0, 2)) == 0:
        body.append(_builtin(draw, bound, outputs_ok, head_vars))
    if draw(st.integers(0, 9)) == 0:
        body.append(Literal("true"))
    body = draw(st.permutations(body))
    head_args = tuple(_var_or_const(draw, head_vars, None) for _ in head.args)
    return Rule((Literal(head.table, head_args, head.policy, head.modal),), tuple(body))


AGGREGATE_VARS = ("a", "b", "c")
OUTER_VARS = ("g", "h")
RESULT_VAR = "n"


def _aggregate_rule(draw: st.DrawFn, head: Literal, policy: str, positive: list[_Table]) -> Rule:
    """``head :- [outer,] n = op{x | body} [, comparison]``: the aggregate's body reads earlier
    tables; its group variables are bound by an outer literal (groups given, so empty groups
    count 0), or only reach the head (groups enumerated)."""
    inner: list[Literal] = []
    bound: list[str] = []
    for _ in range(draw(st.integers(1, 2))):
        table = draw(st.sampled_from(positive))
        args = [_positive_arg(draw, bound, typ, AGGREGATE_VARS) for typ in table.types]
        inner.append(_literal(table, policy, args))
    if not bound:  # the aggregated term must be a variable of the body
        table = draw(st.sampled_from(positive))
        args = [_positive_arg(draw, bound, typ, AGGREGATE_VARS) for typ in table.types]
        args[0] = Variable(AGGREGATE_VARS[0])
        bound.append(AGGREGATE_VARS[0])
        inner.append(_literal(table, policy, args))
    if draw(st.integers(0, 3)) == 0:
        table = draw(st.sampled_from(positive))
        args = [_var_or_const(draw, bound, typ) for typ in table.types]
        inner.append(_literal(table, policy, args, negated=True))
    if draw(st.integers(0, 3)) == 0:
        pair = [_var_or_const(draw, bound, None) for _ in range(2)]
        inner.append(Literal(draw(st.sampled_from(COMPARISONS)), tuple(pair)))
    op = draw(st.sampled_from(AGGREGATES))
    term = Variable(draw(st.sampled_from(bound)))
    least = 0 if draw(st.integers(0, 3)) == 0 else 1
    groups = draw(st.lists(st.sampled_from(bound), min_size=least, max_size=2, unique=True))
    body: list[Literal] = []
    head_vars = [*groups, RESULT_VAR]
    given = draw(st.booleans())
    if groups and given:  # an outer literal gives the groups
        candidates = [t for t in positive if t.arity >= len(groups)]
        if candidates:
            table = draw(st.sampled_from(candidates))
            args: list[Term] = [Variable(g) for g in groups]
            for i, typ in enumerate(table.types[len(groups) :]):
                args.append(Variable(OUTER_VARS[i]) if draw(st.booleans()) else _const(draw, typ))
            order = draw(st.permutations(range(len(args))))
            outer = [args[i] for i in order]
            body.append(_literal(table, policy, outer))
            head_vars += [t.name for t in outer if isinstance(t, Variable) and t.name in OUTER_VARS]
    elif not groups and draw(st.booleans()):
        table = draw(st.sampled_from(positive))
        outer_args: list[Term] = [
            Variable(OUTER_VARS[0]),
            *(_const(draw, t) for t in table.types[1:]),
        ]
        body.append(_literal(table, policy, outer_args))
        head_vars.append(OUTER_VARS[0])
    agg = Aggregate(op, term, tuple(inner))
    body.append(Literal(op, (Variable(RESULT_VAR),), aggregate=agg))
    if draw(st.integers(0, 2)) == 0:
        other = _const(draw, "int")
        body.append(Literal(draw(st.sampled_from(COMPARISONS)), (Variable(RESULT_VAR), other)))
    body = draw(st.permutations(body))
    head_args = tuple(_var_or_const(draw, head_vars, None) for _ in head.args)
    if groups and not given:  # the groups reach the head (else they would be local)
        head_args = tuple(Variable(v) for v in [*groups, RESULT_VAR][: len(head.args)])
        head_args += tuple(Variable(RESULT_VAR) for _ in head.args[len(head_args) :])
    return Rule((Literal(head.table, head_args, head.policy, head.modal),), tuple(body))


def _builtin(draw: st.DrawFn, bound: list[str], outputs_ok: bool, head_vars: list[str]) -> Literal:
    """A comparison, or ``plus`` whose output is a new variable (usable by the head only), a
    bound variable or a constant."""
    prefix = draw(st.sampled_from((None, "builtin")))
    inputs = [_var_or_const(draw, bound, None) for _ in range(2)]
    if not outputs_ok or draw(st.booleans()):
        return Literal(draw(st.sampled_from(COMPARISONS)), tuple(inputs), policy=prefix)
    if draw(st.booleans()):
        output: Term = Variable(OUTPUT_VAR)
        head_vars.append(OUTPUT_VAR)
    else:
        output = _var_or_const(draw, bound, None)
    return Literal("plus", (*inputs, output), policy=prefix)


def _table_literal(table: _Table) -> Literal:
    """A head pattern: table name and arity (arguments are placeholders)."""
    return Literal(table.name, tuple(Constant(0) for _ in table.types))


def _closure_rules(draw: st.DrawFn, table: _Table, edge: _Table, policy: str) -> list[Rule]:
    """``t(x,y) :- e(x,y)`` and ``t(x,z) :- e(x,y), t(y,z)`` (or ``t(x,y), t(y,z)``)."""
    x, y, z = Variable("x"), Variable("y"), Variable("z")
    first = (
        _literal(edge, policy, [x, y]) if draw(st.booleans()) else _literal(table, policy, [x, y])
    )
    return [
        Rule((Literal(table.name, (x, y)),), (_literal(edge, policy, [x, y]),)),
        Rule((Literal(table.name, (x, z)),), (first, _literal(table, policy, [y, z]))),
    ]


def _groups(draw: st.DrawFn, kinds: dict[str, str]) -> list[_Group]:
    """Per policy: maybe a fact-only group, then 1-3 groups of derived tables (recursive groups of
    1-3 tables only in materialized policies)."""
    groups: list[_Group] = []
    for policy, kind in kinds.items():
        names = list(TABLE_NAMES)
        fact_only = draw(st.booleans())
        for i in range(draw(st.integers(1, 3)) + fact_only):
            recursive = i >= fact_only and kind == "materialized" and draw(st.booleans())
            tables = []
            for _ in range(draw(st.integers(1, 3)) if recursive else 1):
                tables.append(_Table(policy, names.pop(0), (None,) * draw(st.integers(1, 2))))
            groups.append(_Group(policy, tables, recursive=recursive, derived=i >= fact_only))
    return groups


def _facts(draw: st.DrawFn, table: _Table, low: int, high: int) -> list[Rule]:
    count = draw(st.integers(low, high))
    heads = [
        Literal(table.name, tuple(_const(draw, None) for _ in table.types)) for _ in range(count)
    ]
    return [Rule((head,)) for head in heads]


@st.composite
def programs(draw: st.DrawFn) -> Program:
    """A random stratified program (see the module docstring)."""
    base: list[_Table] = []
    for i in range(draw(st.integers(1, 3))):
        types = draw(st.lists(st.sampled_from(("int", "str")), min_size=1, max_size=3))
        base.append(_Table(DS, f"b{i}", tuple(types)))
    policies = POLICY_NAMES[: draw(st.integers(1, 2))]
    kinds = {p: draw(st.sampled_from(("nonrecursive", "materialized"))) for p in policies}
    groups = _groups(draw, kinds)
    statements: dict[str, list[Rule]] = {p: [] for p in policies}
    for i, group in enumerate(groups):
        earlier = [t for g in groups[:i] for t in g.tables]
        own = group.tables if group.recursive else []
        for table in group.tables:
            stmts = statements[group.policy]
            if not group.derived:
                stmts += _facts(draw, table, 1, 4)
                continue
            edges = [t for t in base + earlier if t.arity == 2]
            if group.recursive and table.arity == 2 and edges and draw(st.booleans()):
                stmts += _closure_rules(draw, table, draw(st.sampled_from(edges)), table.policy)
            if not group.recursive and base + earlier and draw(st.integers(0, 2)) == 0:
                stmts.append(
                    _aggregate_rule(draw, _table_literal(table), group.policy, base + earlier)
                )
            for _ in range(draw(st.integers(1, 2))):
                head = _table_literal(table)
                stmts.append(
                    _rule(
                        draw,
                        head,
                        group.policy,
                        base + earlier,
                        base + earlier,
                        own,
                        outputs_ok=not group.recursive,
                    )
                )
            if draw(st.integers(0, 3)) == 0:
                stmts += _facts(draw, table, 1, 2)
    for policy in policies:
        if draw(st.booleans()):
            statements[policy] += _execute_rules(draw, policy, base, groups)
    unique = {p: tuple(dict.fromkeys(rules)) for p, rules in statements.items()}
    return Program(
        schema={t.name: tuple(f"c{j}" for j in range(t.arity)) for t in base},
        column_types={t.name: tuple(str(typ) for typ in t.types) for t in base},
        kinds=kinds,
        statements=unique,
    )


def _execute_rules(
    draw: st.DrawFn, policy: str, base: list[_Table], groups: list[_Group]
) -> list[Rule]:
    """Rules deriving ``execute[nova:servers.pause(...)]`` or ``execute[act(...)]``."""
    order = list(dict.fromkeys(g.policy for g in groups))
    visible = base + [
        t for g in groups if order.index(g.policy) <= order.index(policy) for t in g.tables
    ]
    service = draw(st.sampled_from((None, "nova")))
    action = "servers.pause" if service else "act"
    arity = draw(st.integers(1, 2))
    head = Literal(
        action, tuple(Constant(0) for _ in range(arity)), policy=service, modal="execute"
    )
    return [
        _rule(draw, head, policy, visible, visible, [], outputs_ok=True)
        for _ in range(draw(st.integers(1, 2)))
    ]


# --------------------------------------------------------------------------- operations


def _row(table: str, program: Program) -> st.SearchStrategy[Row]:
    parts = [st.sampled_from(INTS if typ == "int" else STRS) for typ in program.column_types[table]]
    return st.tuples(*parts)


def data_op(draw: st.DrawFn, program: Program, state: State, deletes: bool = True) -> DataOp:
    changes: dict[str, tuple[frozenset[Row], frozenset[Row]]] = {}
    tables = draw(st.lists(st.sampled_from(sorted(program.schema)), min_size=1, unique=True))
    for table in tables:
        inserts = set(draw(st.lists(_row(table, program), max_size=6)))
        gone: set[Row] = set()
        present = sorted(state.data[table], key=repr)
        if deletes and present:
            gone |= set(draw(st.lists(st.sampled_from(present), max_size=3)))
        if deletes and draw(st.integers(0, 3)) == 0:
            gone.add(draw(_row(table, program)))
        changes[table] = (frozenset(inserts - gone), frozenset(gone))
    return DataOp(changes)


@st.composite
def initial_data(draw: st.DrawFn, program: Program) -> DataOp:
    """A data batch of inserts only."""
    return data_op(draw, program, State.empty(program), deletes=False)


def rule_op(draw: st.DrawFn, program: Program, state: State, insert: bool) -> RuleOp | None:
    """Insert 1-6 statements absent from ``state``, or delete 1-3 present ones (None if none)."""
    if insert:
        pools = {
            p: [r for r in program.statements[p] if r not in state.rules[p]] for p in program.kinds
        }
    else:
        pools = {p: list(state.rules[p]) for p in program.kinds}
    candidates = [p for p, pool in pools.items() if pool]
    if not candidates:
        return None
    policy = draw(st.sampled_from(candidates))
    size = 6 if insert else 3
    chosen = draw(st.lists(st.sampled_from(pools[policy]), min_size=1, max_size=size, unique=True))
    return RuleOp(insert, policy, tuple(chosen))


def operation(draw: st.DrawFn, program: Program, state: State) -> Op:
    kind = draw(st.sampled_from(("data", "insert", "data", "insert", "delete")))
    if kind != "data":
        op = rule_op(draw, program, state, insert=kind == "insert")
        if op is not None:
            return op
    return data_op(draw, program, state)


@st.composite
def operations(draw: st.DrawFn, program: Program, max_ops: int = 10) -> list[Op]:
    """A sequence of operations valid from the empty state (policies created, nothing else)."""
    state = State.empty(program)
    ops: list[Op] = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = operation(draw, program, state)
        state.apply(op)
        ops.append(op)
    return ops


@st.composite
def scenarios(draw: st.DrawFn, max_ops: int = 12) -> tuple[Program, list[Op]]:
    program = draw(programs())
    return program, draw(operations(program, max_ops))
