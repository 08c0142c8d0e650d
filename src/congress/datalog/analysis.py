"""Static checks of a rule or fact about to be inserted into a policy, and safe body ordering.

Imports: standard library and congress.datalog only.

``check_statement`` validates one statement for a policy of a given kind and returns it with
column references eliminated and positional lists padded (see ``colrefs``), or raises a
``PolicyError`` carrying every problem found. Checks and messages follow the original Congress
(``compile.fact_errors`` / ``compile.rule_errors`` and the theories' ``update_would_cause_errors``):

- every kind but ``database``: a statement with several heads or a negated head is a
  ``non_formula`` (the other checks still run, so every problem is reported);
- ``nonrecursive`` / ``materialized``: fact checks or rule checks (below);
- ``action``: fact checks for facts; rules only may not prefix a non-update head with a policy;
- ``database``: ground atoms only (``non_atomic_formula``), then the fact checks;
- ``datasource``: nothing may be inserted (``rules_not_permitted``).

Rule checks run on the rule after column elimination, in the original's order: head safety, body
safety, schema (unknown policy or builtin, unknown table, widths), head policy prefix, modals and
builtin names in heads. Problems are ordered by check, then by position in the rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from congress.datalog import builtins
from congress.datalog import names as project_names
from congress.datalog.ast import Aggregate, Literal, Location, Rule, Variable, flatten
from congress.datalog.colrefs import Issue, eliminate_rule, first_loc, fresh_prefix
from congress.datalog.errors import KindNotSupported, PolicyError, Problem
from congress.datalog.printer import to_text

KINDS = ("nonrecursive", "materialized", "action", "database", "datasource")
SPECIAL_TABLES = ("true", "false")
"""Tables that always / never hold; valid in bodies without arguments or policy."""

PERMITTED_MODALS = ("execute",)


class SchemaView(Protocol):
    """What the checks need to know about the policies of the runtime."""

    def policy_kind(self, policy: str) -> str | None:
        """The kind of ``policy``; None when there is no such policy."""

    def complete_columns(self, policy: str, table: str) -> Sequence[str] | None:
        """For a policy with a complete schema: the columns of ``table``, None if unknown there."""

    def has_complete_schema(self, policy: str) -> bool:
        """True for a policy whose schema lists every table (a datasource with a known schema)."""

    def known_arity(self, policy: str, table: str) -> int | None:
        """The arity inferred for ``table`` of a user policy from its first use; None if unknown."""


# --------------------------------------------------------------------------- literal helpers


def is_builtin_literal(lit: Literal) -> bool:
    """True for ``builtin:name(...)`` and bare builtin names (no modal), whatever the width."""
    return (
        lit.modal is None
        and lit.aggregate is None
        and builtins.lookup(lit.table, lit.policy) is not None
    )


def is_special_literal(lit: Literal) -> bool:
    """True for ``true`` and ``false`` without arguments or policy."""
    return lit.policy is None and lit.table in SPECIAL_TABLES and not lit.args and not lit.named


# --------------------------------------------------------------------------- aggregates


def aggregate_groups(rule: Rule, index: int) -> tuple[tuple[str, ...], bool]:
    """The group variables of the aggregate literal ``rule.body[index]``, and whether it
    answers for groups with no rows (docs/adr/0009-aggregates.md).

    A variable of the aggregate's body is a *group* variable when it also occurs in the head,
    in a literal outside every aggregate, or as another aggregate's result; any other is local
    to the aggregate. The groups are *given* when the literals outside every aggregate bind
    all the group variables (then ``count`` and ``sum`` answer 0 for an empty group);
    otherwise the aggregate enumerates the groups its body produces.
    """
    lit = rule.body[index]
    agg = lit.aggregate
    assert agg is not None
    outside = {v.name for h in rule.head for v in h.variables()}
    for i, other in enumerate(rule.body):
        if other.aggregate is None:
            outside.update(v.name for v in other.variables())
        elif i != index:
            outside.update(t.name for t in other.args if isinstance(t, Variable))
    inner = _names([v for b in agg.body for v in b.variables()])
    groups = tuple(n for n in inner if n in outside)
    plain = [b for b in rule.body if b.aggregate is None]
    bound = _Ordering(plain).run().bound
    return groups, all(g in bound for g in groups)


def _aggregate_needs(rule: Rule) -> dict[int, set[str]]:
    """What each aggregate literal of ``rule`` needs bound before it: its groups when given."""
    out: dict[int, set[str]] = {}
    for i, lit in enumerate(rule.body):
        if lit.aggregate is not None:
            groups, given = aggregate_groups(rule, i)
            out[i] = set(groups) if given else set()
    return out


def _qualified(lit: Literal) -> str:
    return f"{lit.policy}:{lit.table}" if lit.policy else lit.table


def _names(variables: Sequence[Variable]) -> list[str]:
    """Variable names in order of first occurrence."""
    return list(dict.fromkeys(v.name for v in variables))


# --------------------------------------------------------------------------- body order


def _needs(lit: Literal) -> set[str]:
    """Variables that must be bound before ``lit`` can be evaluated."""
    if lit.negated:
        return set(_names(lit.variables()))
    if is_builtin_literal(lit):
        b = builtins.lookup(lit.table, lit.policy)
        assert b is not None
        return {t.name for t in lit.args[: b.num_inputs] if isinstance(t, Variable)}
    return set()


@dataclass
class _Ordering:
    """A stable safe order of a body: literals are placed as soon as what they need is bound.

    ``aggregates`` gives what each aggregate literal needs (``_aggregate_needs``); placing one
    binds its result and its body's variables (its local variables occur nowhere else).
    """

    body: Sequence[Literal]
    aggregates: dict[int, set[str]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)
    pending: list[int] = field(default_factory=list)

    def needs(self, index: int) -> set[str]:
        if index in self.aggregates:
            return self.aggregates[index]
        return _needs(self.body[index])

    def run(self) -> _Ordering:
        for index in range(len(self.body)):
            if self.needs(index) <= self.bound:
                self._place(index)
                self._flush()
            else:
                self.pending.append(index)
        return self

    def _place(self, index: int) -> None:
        lit = self.body[index]
        self.order.append(index)
        if not lit.negated:
            self.bound.update(v.name for v in lit.variables())

    def _flush(self) -> None:
        ready = self._next_ready()
        while ready is not None:
            self.pending.remove(ready)
            self._place(ready)
            ready = self._next_ready()

    def _next_ready(self) -> int | None:
        return next((i for i in self.pending if self.needs(i) <= self.bound), None)

    def unsafe(self) -> list[tuple[int, list[str]]]:
        """Each literal that could not be placed, with its needed variables that stay unbound."""
        out = []
        for index in self.pending:
            lit = self.body[index]
            needed = self.needs(index)
            out.append((index, [n for n in _names(lit.variables()) if n in needed - self.bound]))
        return out


def body_order(rule: Rule) -> list[int] | None:
    """A safe evaluation order of ``rule.body`` (indexes), or None when the body is unsafe.

    Positive non-builtin literals keep their order; a builtin is placed as soon as its inputs are
    bound and a negated literal as soon as all its variables are bound (the original's stable
    ``reorder_for_safety``).
    """
    ordering = _Ordering(rule.body, _aggregate_needs(rule)).run()
    return None if ordering.pending else ordering.order


# --------------------------------------------------------------------------- checking context


@dataclass
class _Context:
    """The policy being changed, and how to print what the user wrote.

    Checks run on the rule after column elimination, but messages show the user's literals and
    rule: ``show`` maps a literal of the eliminated rule back to the literal it came from.
    """

    policy: str
    kind: str
    schema: SchemaView
    rule_text: str = ""
    originals: dict[int, Literal] = field(default_factory=dict)

    def kind_of(self, policy: str) -> str | None:
        return self.kind if policy == self.policy else self.schema.policy_kind(policy)

    def show(self, lit: Literal, *, naming: Sequence[str] = ()) -> str:
        """The user's form of ``lit``, or ``lit`` itself when it alone shows all of ``naming``."""
        original = self.originals.get(id(lit), lit)
        written = {v.name for v in original.variables()}
        return to_text(lit if any(n not in written for n in naming) else original)

    def remember(self, original: Rule, rule: Rule) -> None:
        self.rule_text = to_text(original)
        pairs = zip((*rule.head, *rule.body), (*original.head, *original.body), strict=True)
        self.originals = {id(new): old for new, old in pairs}


def check_statement(
    stmt: Rule, *, policy: str, kind: str, schema: SchemaView, text: str | None = None
) -> Rule:
    """Validate ``stmt`` for insertion into ``policy`` (of kind ``kind``).

    Returns the statement with column references eliminated and positional lists padded; raises
    ``PolicyError`` with every problem found (``rule`` is ``text`` or the printed statement).
    """
    if kind not in KINDS:
        raise KindNotSupported(f"Unknown kind of policy: {kind}")
    ctx = _Context(policy, kind, schema)
    rule, issues = _check(stmt, ctx)
    if issues:
        rule_text = text if text is not None else to_text(stmt)
        loc = stmt.loc
        raise PolicyError([_problem(issue, loc, policy, rule_text) for issue in issues])
    return rule


def _problem(issue: Issue, fallback: Location | None, policy: str, rule_text: str) -> Problem:
    loc = first_loc(issue.loc, fallback)
    line = loc.line if loc is not None else None
    column = loc.column if loc is not None else None
    return Problem(issue.code, issue.message, line, column, policy, rule_text)


def in_project(lit: Literal, policy: str) -> tuple[Literal, list[Issue]]:
    """``lit`` read from a rule (or query) of ``policy``: in a project's policy ``X@P`` a
    reference that names no project means the project's own (``ops:error`` reads
    ``ops@P:error``, ``nova:servers`` the project's view ``nova@P:servers``), and one naming
    another project is refused (``cross_project_reference``); in a global policy references
    stay as written (congress.datalog.names)."""
    project = project_names.project_of(policy)
    if project is None:
        return lit, []
    issues: list[Issue] = []
    agg = lit.aggregate
    if agg is not None:
        body: list[Literal] = []
        for inner in agg.body:
            scoped, found = in_project(inner, policy)
            body.append(scoped)
            issues.extend(found)
        agg = Aggregate(agg.op, agg.term, tuple(body), loc=agg.loc)
        lit = dataclasses.replace(lit, aggregate=agg)
    ref = lit.policy
    if ref is None or ref == "builtin" or is_builtin_literal(lit):
        return lit, issues
    base, other = project_names.split(ref)
    if other is None:
        return dataclasses.replace(lit, policy=project_names.scoped(base, project)), issues
    if other != project:
        message = (
            f"{ref}:{lit.table} names another project's policy: a project's rules read "
            "only its own policies and the datasources shared with it"
        )
        issues.append(Issue("cross_project_reference", message, lit.loc))
    return lit, issues


def in_project_or_raise(lit: Literal, policy: str) -> Literal:
    """``in_project`` for a query's (or a simulation's) literal: ``PolicyError`` (code
    ``cross_project_reference``) where it names another project."""
    scoped, issues = in_project(lit, policy)
    if issues:
        loc = issues[0].loc
        raise PolicyError(
            [
                Problem(
                    issues[0].code,
                    issues[0].message,
                    None if loc is None else loc.line,
                    None if loc is None else loc.column,
                    policy,
                )
            ]
        )
    return scoped


def _in_project(stmt: Rule, policy: str) -> tuple[Rule, list[Issue]]:
    """``in_project`` for each body literal of a rule (heads name the policy's own tables)."""
    if project_names.project_of(policy) is None:
        return stmt, []
    issues: list[Issue] = []
    body: list[Literal] = []
    for lit in stmt.body:
        scoped, found = in_project(lit, policy)
        body.append(scoped)
        issues.extend(found)
    return Rule(stmt.head, tuple(body), loc=stmt.loc), issues


def _check(stmt: Rule, ctx: _Context) -> tuple[Rule, list[Issue]]:
    where = first_loc(stmt.loc, stmt.head[0].loc if stmt.head else None)
    stmt, scope_issues = _in_project(stmt, ctx.policy)
    if scope_issues:
        return stmt, scope_issues
    if ctx.kind == "datasource":
        message = f"Policy {ctx.policy} is a datasource policy; rules and facts cannot be inserted"
        return stmt, [Issue("rules_not_permitted", message, where)]
    if ctx.kind == "database" and not _is_atom(stmt):
        message = f"Non-atomic formula is not permitted: {to_text(stmt)}"
        return stmt, [Issue("non_atomic_formula", message, where)]
    issues: list[Issue] = []
    if len(stmt.head) != 1 or any(h.negated for h in stmt.head):
        issues.append(Issue("non_formula", f"Non-formula found: {to_text(stmt)}", where))
    issues.extend(_aggregate_placement(stmt, ctx))
    rule, found = eliminate_rule(
        stmt, policy=ctx.policy, kind_of=ctx.kind_of, schema=ctx.schema, eligible=_paddable
    )
    rule = _eliminate_aggregates(rule, stmt, ctx, found)
    ctx.remember(stmt, rule)
    issues.extend(found)
    issues.extend(_kind_checks(rule, ctx))
    return rule, issues


def _paddable(lit: Literal) -> bool:
    return lit.modal is None and lit.aggregate is None and not is_builtin_literal(lit)


def _aggregate_placement(stmt: Rule, ctx: _Context) -> Iterator[Issue]:
    """Aggregates only in rule bodies, only in policies whose rules are evaluated, not nested."""
    for head in stmt.head:
        if head.aggregate is not None:
            message = f"An aggregate may appear only in a rule body: {to_text(head)}"
            yield Issue("aggregate_error", message, head.loc)
    for lit in stmt.body:
        agg = lit.aggregate
        if agg is None:
            continue
        if ctx.kind in ("action", "database"):
            message = f"Aggregates are not permitted in {ctx.kind} policies: {to_text(lit)}"
            yield Issue("aggregate_error", message, lit.loc)
        for inner in agg.body:
            if inner.aggregate is not None:
                message = f"Aggregates cannot be nested: {to_text(inner)}"
                yield Issue("aggregate_error", message, inner.loc)


def _eliminate_aggregates(rule: Rule, stmt: Rule, ctx: _Context, issues: list[Issue]) -> Rule:
    """``rule`` with the column references in the bodies of its aggregates eliminated too."""
    if all(lit.aggregate is None for lit in rule.body):
        return rule
    prefix = fresh_prefix(stmt)
    body = list(rule.body)
    for i, lit in enumerate(body):
        agg = lit.aggregate
        if agg is None:
            continue
        inner, found = eliminate_rule(
            Rule((), agg.body),
            policy=ctx.policy,
            kind_of=ctx.kind_of,
            schema=ctx.schema,
            eligible=_paddable,
            prefix=f"{prefix}a{i}_",
        )
        issues.extend(found)
        new_agg = dataclasses.replace(agg, body=inner.body)
        body[i] = dataclasses.replace(lit, aggregate=new_agg)
    return dataclasses.replace(rule, body=tuple(body))


def _kind_checks(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    if not rule.body:
        for head in rule.head:
            yield from _fact_issues(head, ctx)
    elif ctx.kind == "action":
        yield from _head_prefix(rule, ctx, permit_updates=True)
    else:
        yield from _rule_issues(rule, ctx)


def _is_atom(stmt: Rule) -> bool:
    return not stmt.body and len(stmt.head) == 1 and not stmt.head[0].negated


# --------------------------------------------------------------------------- facts


def _fact_issues(atom: Literal, ctx: _Context) -> Iterator[Issue]:
    """The original's ``fact_errors``: ground, schema, no policy, no builtin name (+ modals)."""
    text = ctx.show(atom)
    variables = atom.variables()
    if variables:
        where = first_loc(variables[0].loc, atom.loc)
        yield Issue("fact_not_ground", f"Fact not ground: {text}", where)
    if atom.policy is None:
        yield from _width_issues(atom, ctx, {})
    else:
        message = f"Fact {text} should not reference any policy: {atom.policy}"
        yield Issue("policy_prefix_error", message, atom.loc)
    yield from _builtin_conflict(atom)
    yield from _head_modal(atom, ctx)


def _builtin_conflict(head: Literal) -> Iterator[Issue]:
    if builtins.is_builtin_name(head.table):
        message = f"Conflict with built-in tablename: {_qualified(head)}"
        yield Issue("builtin_conflict", message, head.loc)


def _head_modal(head: Literal, ctx: _Context) -> Iterator[Issue]:
    if head.modal is not None and head.modal.lower() not in PERMITTED_MODALS:
        message = f"Only 'execute' modal is allowed; found {head.modal} in head {ctx.show(head)}"
        yield Issue("modal_error", message, head.loc)


# --------------------------------------------------------------------------- rules


def _rule_issues(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    """The original's ``rule_errors`` plus unknown policies and builtins in the body."""
    yield from _head_safety(rule, ctx)
    yield from _body_safety(rule, ctx)
    yield from _aggregate_issues(rule, ctx)
    yield from _schema_issues(rule, ctx)
    yield from _head_prefix(rule, ctx, permit_updates=False)
    yield from _modal_issues(rule, ctx)
    for head in rule.head:
        yield from _builtin_conflict(head)


def _head_safety(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    body_vars = {v.name for lit in rule.body for v in lit.variables()}
    reported: set[str] = set()
    for head in rule.head:
        for var in head.variables():
            if var.name in body_vars or var.name in reported:
                continue
            reported.add(var.name)
            message = f"Variable {var.name} found in head but not in body, rule {ctx.rule_text}"
            yield Issue("unsafe_rule", message, first_loc(var.loc, head.loc))


def _body_safety(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    unsafe = _Ordering(rule.body, _aggregate_needs(rule)).run().unsafe()
    if unsafe:
        yield _unsafe_issue(f"rule {ctx.rule_text}", rule.body, unsafe, ctx, rule.loc)


def _unsafe_issue(
    what: str,
    body: Sequence[Literal],
    unsafe: list[tuple[int, list[str]]],
    ctx: _Context,
    fallback: Location | None,
) -> Issue:
    """``Could not reorder <what>.  Unsafe lits: ...``, at the first unsafe literal."""
    parts = []
    for index, names in unsafe:
        listed = ", ".join(repr(n) for n in names)
        parts.append(f"{ctx.show(body[index], naming=names)} (vars {{{listed}}})")
    message = f"Could not reorder {what}.  Unsafe lits: {'; '.join(parts)}"
    return Issue("unsafe_rule", message, first_loc(body[unsafe[0][0]].loc, fallback))


def _aggregate_issues(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    """Each aggregate: its term occurs in its body, its result does not, its body is safe."""
    for lit in rule.body:
        agg = lit.aggregate
        if agg is None:
            continue
        text = ctx.show(lit)
        inner = {v.name for b in agg.body for v in b.variables()}
        term = agg.term
        if not isinstance(term, Variable) or term.name not in inner:
            message = (
                f"The aggregated term {to_text(term)} must be a variable of the body of {text}"
            )
            yield Issue("aggregate_error", message, first_loc(term.loc, agg.loc))
        for result in lit.args:
            if isinstance(result, Variable) and result.name in inner:
                message = f"The result {result.name} of {text} also occurs in its body"
                yield Issue("aggregate_error", message, first_loc(result.loc, lit.loc))
        if any(b.aggregate is not None for b in agg.body):
            continue
        unsafe = _Ordering(agg.body).run().unsafe()
        if unsafe:
            yield _unsafe_issue(f"the body of {text}", agg.body, unsafe, ctx, lit.loc)


def _head_prefix(rule: Rule, ctx: _Context, *, permit_updates: bool) -> Iterator[Issue]:
    for head in rule.head:
        if head.policy is None or head.modal is not None:
            continue
        if permit_updates and head.is_update:
            continue
        message = (
            f"Non-modal rule head {ctx.show(head)} should not reference any policy: {ctx.rule_text}"
        )
        yield Issue("policy_prefix_error", message, head.loc)


def _modal_issues(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    for head in rule.head:
        yield from _head_modal(head, ctx)
    modal_heads = [h for h in rule.head if h.modal is not None]
    if modal_heads and len(rule.head) > 1:
        heads = ", ".join(ctx.show(h) for h in rule.head)
        message = f"May not have multiple rule heads with a modal: {heads}"
        yield Issue("modal_error", message, modal_heads[0].loc)
    for lit in flatten(rule.body):
        if lit.modal is not None:
            message = (
                f"Modals not allowed in the rule body; found {lit.modal} in body literal "
                f"{ctx.show(lit)}"
            )
            yield Issue("modal_error", message, lit.loc)


# --------------------------------------------------------------------------- schema


def _schema_issues(rule: Rule, ctx: _Context) -> Iterator[Issue]:
    seen: dict[tuple[str, str], int] = {}
    for head in rule.head:
        if head.modal is None and head.policy is None:
            yield from _width_issues(head, ctx, seen)
    for lit in flatten(rule.body):
        yield from _body_literal_issues(lit, ctx, seen)


def _body_literal_issues(
    lit: Literal, ctx: _Context, seen: dict[tuple[str, str], int]
) -> Iterator[Issue]:
    if lit.modal is not None or is_special_literal(lit):
        return
    if lit.policy == builtins.BUILTIN_POLICY or is_builtin_literal(lit):
        yield from _builtin_issues(lit, ctx)
        return
    # A policy that does not exist yet is allowed: rules may be loaded before the datasource
    # they read is created (as in the original); its tables are empty until then.
    yield from _width_issues(lit, ctx, seen)


def _builtin_issues(lit: Literal, ctx: _Context) -> Iterator[Issue]:
    b = builtins.lookup(lit.table, lit.policy)
    if b is None:
        message = f"Literal {ctx.show(lit)} uses unknown builtin {lit.table}"
        yield Issue("unknown_builtin", message, lit.loc)
    elif b.arity != len(lit.args) and not lit.named:
        yield _arity_issue(lit, b.arity, ctx)


def _arity_issue(lit: Literal, arity: int, ctx: _Context) -> Issue:
    message = (
        f"Literal {ctx.show(lit)} contained {len(lit.args)} arguments but exactly "
        f"{arity} arguments are permitted"
    )
    return Issue("arity_mismatch", message, lit.loc)


def _width_issues(lit: Literal, ctx: _Context, seen: dict[tuple[str, str], int]) -> Iterator[Issue]:
    """Unknown table of a complete schema, or a width other than the table's known arity.

    ``seen`` records the width of the first use, in this rule, of tables whose arity is unknown.
    Literals whose column references could not be resolved are skipped.
    """
    if lit.named:
        return
    target = lit.policy or ctx.policy
    if ctx.schema.has_complete_schema(target):
        columns = ctx.schema.complete_columns(target, lit.table)
        if columns is None:
            message = f"Literal {ctx.show(lit)} uses unknown table {lit.table} from policy {target}"
            yield Issue("unknown_table", message, lit.loc)
        elif len(lit.args) != len(columns):
            yield _arity_issue(lit, len(columns), ctx)
        return
    known = ctx.schema.known_arity(target, lit.table)
    if known is None:
        known = seen.setdefault((target, lit.table), len(lit.args))
    if len(lit.args) != known:
        yield _arity_issue(lit, known, ctx)
