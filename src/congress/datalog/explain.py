"""Explanations: why a row holds (a proof tree), and why a row does not hold.

Imports: standard library and congress.datalog only.

No provenance is stored. To explain a row, each rule defining its table is re-run with the head
bound to the row (a ``bind`` plan, which yields the values of the body's variables), and every
body literal of a binding is explained in turn. A literal already on the path being explained is
not used again, so recursive rules give well-founded proofs; when one binding leads nowhere the
next is tried.

Why a row does not hold (``why_not``): every rule whose head unifies with the row is tried with
the head bound. Its body is evaluated literal by literal, in source order except that a negation
or a builtin waits until its arguments are bound; every way of satisfying the literals so far is
followed, and the deepest point reached is reported: the literals that held, the variable
bindings there, and the first literal that failed (no matching row, a negated row present, a
builtin that fails). When that literal is a positive literal over a derived table, why it has no
matching row is explained in turn, a bounded number of levels deep.

``Proof.as_json`` and ``WhyNot.as_json`` give the documented JSON (docs/explanations.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from congress.datalog import builtins as bi
from congress.datalog.ast import Aggregate, Constant, Literal, Row, Rule, Term, Variable
from congress.datalog.compiler import HEAD, CompiledRule, Item
from congress.datalog.maintain import Batch
from congress.datalog.printer import to_text
from congress.datalog.storage import Relation, key_of

if TYPE_CHECKING:
    from congress.datalog.runtime import Runtime

Key = tuple[str, str]
RuleId = Callable[[str, Rule], str | None]
"""``rule_id(policy, rule)``: the id a service knows a rule (or fact) of a policy by, or None."""

MAX_BINDINGS = 100_000
MAX_DEPTH = 200
MAX_AGGREGATE_MEMBERS = 20
"""How many bindings of an aggregate's body an explanation shows (``bindings_in_group``: all)."""
WHY_NOT_DEPTH = 2
"""How many levels a why-not explains a failed positive literal over a derived table."""
MAX_STEPS = 20_000
"""Partial bindings a why-not follows per rule before it reports the deepest point so far."""


def _values(lit: Literal) -> list[Any]:
    return [a.value for a in lit.args if isinstance(a, Constant)]


def _no_ids(policy: str, rule: Rule) -> str | None:
    return None


@dataclass(slots=True)
class Proof:
    """One node of a proof tree.

    ``kind``: ``fact`` (asserted in a policy), ``data`` (a datasource row), ``rule`` (derived by
    ``rule`` from ``children``, one per body literal, under ``bindings``), ``negation`` (the
    negated row is absent), ``builtin`` (a builtin test or computation that holds), ``true``,
    ``aggregate`` (an aggregate literal with its value; ``children``: a ``member`` for each of
    the first ``MAX_AGGREGATE_MEMBERS`` bindings of its body in the group, each with the proofs
    of the body's literals); any other kind is a body item this explainer does not look into
    (``text`` shows it).
    """

    literal: Literal
    policy: str
    kind: str
    rule: Rule | None = None
    children: list[Proof] = field(default_factory=list)
    bindings: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific fields of the JSON

    def as_dict(self) -> dict[str, Any]:
        """The compact form (``congress-policy eval --explain --json``)."""
        out: dict[str, Any] = {
            "literal": self.shown(),
            "policy": self.policy,
            "kind": self.kind,
        }
        if self.rule is not None:
            out["rule"] = to_text(self.rule)
        if self.children:
            out["children"] = [c.as_dict() for c in self.children]
        return out

    def shown(self) -> str:
        return self.text if self.text is not None else to_text(self.literal)

    def as_json(self, rule_id: RuleId | None = None) -> dict[str, Any]:
        """The documented JSON of the tree (docs/explanations.md, "The proof tree")."""
        ids = rule_id or _no_ids
        out: dict[str, Any] = {"literal": self.shown(), "policy": self.policy, "kind": self.kind}
        if self.text is None:
            out["table"] = self.literal.table
            out["row"] = _values(self.literal)
        if self.kind == "rule" and self.rule is not None:
            out["rule"] = to_text(self.rule)
            out["rule_id"] = ids(self.policy, self.rule)
            out["bindings"] = dict(sorted(self.bindings.items()))
            out["children"] = [c.as_json(ids) for c in self.children]
        elif self.kind == "fact":
            out["rule_id"] = ids(self.policy, Rule((self.literal,)))
        elif self.kind == "negation":
            out["absent"] = True
        elif self.kind == "builtin":
            out["negated"] = self.literal.negated
        elif self.kind in ("aggregate", "member"):
            out.update(self.extra)
            if self.kind == "member":
                out["bindings"] = dict(sorted(self.bindings.items()))
            out["children"] = [c.as_json(ids) for c in self.children]
        return out

    def lines(self, indent: int = 0) -> list[str]:
        """The tree as indented text, one literal per line."""
        note = f"   [{self.kind}]" if self.kind != "rule" else ""
        out = ["  " * indent + f"{self.policy}:{self.shown()}{note}"]
        for c in self.children:
            out.extend(c.lines(indent + 1))
        return out


def explain(rt: Runtime, policy: str, literal: Literal) -> Proof | None:
    """A proof that the ground ``literal`` holds in ``policy``, or None if it does not hold."""
    return _Explainer(rt).prove(literal.policy or policy, literal, set(), 0)


class _Explainer:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.engine = rt._engine
        self.proved: dict[tuple[Key, Row], Proof] = {}  # proofs found so far (always valid)

    def prove(
        self, policy: str, lit: Literal, path: set[tuple[Key, Row]], depth: int
    ) -> Proof | None:
        key = (policy, lit.table)
        row = tuple(a.value for a in lit.args if isinstance(a, Constant))
        if len(row) != len(lit.args):
            raise ValueError(f"explain needs a ground literal, got {to_text(lit)}")
        plain = Literal(lit.table, lit.args)
        rel = self.engine.relations.get(key)
        if rel is None or row not in rel.rows:
            return None
        asserted = rel.facts if rel.facts is not None else rel.rows
        if row in asserted:
            kind = "data" if self.rt.kind(policy) == "datasource" else "fact"
            return Proof(plain, policy, kind)
        known = self.proved.get((key, row))
        if known is not None:
            return known
        if depth > MAX_DEPTH or (key, row) in path:
            return None
        path.add((key, row))
        try:
            for cr in self.engine.rules.get(key, ()):
                proof = self._by_rule(cr, plain, row, path, depth)
                if proof is not None:
                    self.proved[(key, row)] = proof
                    return proof
        finally:
            path.discard((key, row))
        return None

    def _by_rule(
        self, cr: CompiledRule, lit: Literal, row: Row, path: set[tuple[Key, Row]], depth: int
    ) -> Proof | None:
        plan = cr.plan(HEAD, "bind")
        out: dict[tuple[Any, ...], int] = {}
        acc = self.engine._accessors(Batch(), cr, plan, set())
        plan.fn([row], out, MAX_BINDINGS, acc, Batch().tick_fn())
        for values in out:
            binding = dict(zip(plan.variables, values, strict=True))
            children = self._body(cr, binding, path, depth)
            if children is not None:
                return Proof(lit, cr.policy, "rule", cr.rule, children, binding)
        return None

    def _body(
        self, cr: CompiledRule, binding: dict[str, Any], path: set[tuple[Key, Row]], depth: int
    ) -> list[Proof] | None:
        children: list[Proof] = []
        for pos, (src, item) in enumerate(zip(cr.rule.body, cr.items, strict=True)):
            if not isinstance(src, Literal):  # a body item of a kind added later: opaque
                children.append(_opaque(src, cr.policy, item))
                continue
            if src.aggregate is not None:
                children.append(self._aggregate(cr, pos, item, binding, path, depth))
                continue
            ground = Literal(src.table, tuple(_subst(a, binding) for a in src.args), src.policy)
            plain = Literal(src.table, ground.args)
            if item.kind in ("builtin", "true"):
                shown = Literal(src.table, ground.args, src.policy, negated=src.negated)
                children.append(Proof(shown, cr.policy, item.kind))
            elif item.kind == "neg":
                assert item.key is not None
                children.append(
                    Proof(Literal(src.table, ground.args, negated=True), item.key[0], "negation")
                )
            elif item.kind == "pos":
                assert item.key is not None
                sub = self.prove(item.key[0], plain, path, depth + 1)
                if sub is None:
                    return None
                children.append(sub)
            else:
                children.append(_opaque(ground, cr.policy, item))
        return children

    def _aggregate(
        self,
        cr: CompiledRule,
        pos: int,
        item: Item,
        binding: dict[str, Any],
        path: set[tuple[Key, Row]],
        depth: int,
    ) -> Proof:
        """The node of the aggregate at body position ``pos``, which held under ``binding``:
        its value, its group and the bindings of its body in the group."""
        src = cr.rule.body[pos]
        in_cr, ag = cr.aggregates[pos]
        group = tuple(_value(a, binding) for a in item.args[:-1])
        value = _value(item.args[-1], binding)
        rel = self.engine.relations.get(in_cr.head_key)
        rows: list[Row] = []
        if rel is not None and rel.rows:
            cols = tuple(range(ag.groups))
            rows = sorted(rel.index(cols).get(key_of(group, cols), ()), key=repr)
        names = [a.name for a in in_cr.head.args if isinstance(a, Variable)]
        members = []
        for row in rows[:MAX_AGGREGATE_MEMBERS]:
            inner = dict(zip(names, row, strict=True))
            kids = self._body(in_cr, inner, path, depth + 1)
            if kids is not None:
                text = ", ".join(to_text(_ground(b, inner)) for b in in_cr.rule.body)
                members.append(
                    Proof(Literal("member"), cr.policy, "member", None, kids, inner, text)
                )
        groups = [a.name for a in item.args[:-1] if isinstance(a, Variable)]
        extra = {
            "op": ag.op,
            "value": value,
            "group": dict(zip(groups, group, strict=True)),
            "bindings_in_group": len(rows),
        }
        ground = _ground(src, binding)
        return Proof(ground, cr.policy, "aggregate", None, members, {}, to_text(ground), extra)


def _value(t: Term, binding: dict[str, Any]) -> Any:
    return t.value if isinstance(t, Constant) else binding.get(t.name)


def _opaque(src: object, policy: str, item: Item) -> Proof:
    """A node for a body item this explainer does not look into: its text and kind."""
    if isinstance(src, Literal):
        return Proof(src, policy, item.kind)
    try:
        text = to_text(src)  # type: ignore[arg-type]
    except Exception:
        text = str(src)
    return Proof(Literal(item.kind), policy, item.kind, text=text)


def _subst(t: Term, binding: dict[str, Any]) -> Term:
    if isinstance(t, Variable) and t.name in binding:
        return Constant(binding[t.name])
    return t


# -- why not -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Failure:
    """The body literal at which an attempt stopped, under the bindings reached there.

    ``kind``: ``positive``, ``negation``, ``builtin``, ``false`` or the kind of a body item this
    explainer does not evaluate; ``reason``: ``no_match`` (no row of ``policy``'s table matches
    ``literal``), ``present`` (the negated row ``present`` holds), ``builtin_false``, ``false``,
    ``not_explained``, and for an aggregate (kind ``aggregate``) ``aggregate_differs`` (its
    value, ``actual``, is not the one required; None: the group has no value) or ``no_group``
    (no group of it matches). ``why_not``: for ``no_match`` over a derived table, why no row
    matches.
    """

    position: int
    literal: Literal
    policy: str
    kind: str
    reason: str
    present: Row | None = None
    why_not: WhyNot | None = None
    text: str | None = None
    actual: Any = None  # for aggregate_differs: the aggregate's value (None: it has none)

    def as_json(self, rule_id: RuleId) -> dict[str, Any]:
        shown = self.text if self.text is not None else to_text(self.literal)
        out: dict[str, Any] = {
            "position": self.position,
            "literal": shown,
            "policy": self.policy,
            "kind": self.kind,
            "reason": self.reason,
        }
        if self.present is not None:
            out["present"] = list(self.present)
        if self.reason == "aggregate_differs":
            out["value"] = self.actual
        if self.why_not is not None:
            out["why_not"] = self.why_not.as_json(rule_id)
        return out


@dataclass(slots=True)
class Attempt:
    """One rule whose head unifies with the row, tried as far as it goes."""

    rule: Rule
    policy: str
    bindings: dict[str, Any]
    satisfied: list[tuple[int, Literal, str]]  # (body position, literal as it held, its policy)
    failed: Failure | None  # None: the body holds (the row is derived by this rule)
    complete: bool = True  # False: the search stopped at MAX_STEPS

    def as_json(self, rule_id: RuleId) -> dict[str, Any]:
        return {
            "rule": to_text(self.rule),
            "rule_id": rule_id(self.policy, self.rule),
            "policy": self.policy,
            "bindings": dict(sorted(self.bindings.items())),
            "satisfied": [
                {"position": pos, "literal": to_text(lit), "policy": pol}
                for pos, lit, pol in self.satisfied
            ],
            "failed": None if self.failed is None else self.failed.as_json(rule_id),
            "complete": self.complete,
        }


@dataclass(slots=True)
class WhyNot:
    """Why no row of ``policy``'s table matches ``literal`` (a ground row, or a pattern): each
    rule that could derive one, and where it stopped."""

    literal: Literal
    policy: str
    rules: list[Attempt]

    def as_json(self, rule_id: RuleId | None = None) -> dict[str, Any]:
        ids = rule_id or _no_ids
        return {
            "literal": to_text(self.literal),
            "policy": self.policy,
            "table": self.literal.table,
            "rules": [a.as_json(ids) for a in self.rules],
        }


def why_not(rt: Runtime, policy: str, literal: Literal, depth: int = WHY_NOT_DEPTH) -> WhyNot:
    """Why ``literal`` (ground, or a pattern whose variables are distinct) does not hold."""
    return _WhyNot(rt).explain(
        literal.policy or policy, Literal(literal.table, literal.args), depth
    )


class _WhyNot:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.engine = rt._engine

    def explain(self, policy: str, lit: Literal, depth: int) -> WhyNot:
        attempts: list[Attempt] = []
        for cr in self.engine.rules.get((policy, lit.table), ()):
            binding = _unify(cr.head.args, lit.args, {})
            if binding is not None:
                attempts.append(self._attempt(cr, binding, depth))
        return WhyNot(lit, policy, attempts)

    def _attempt(self, cr: CompiledRule, head: dict[str, Any], depth: int) -> Attempt:
        body = cr.rule.body
        best: list[Any] = [-1, None, head, []]  # depth, failure, bindings, satisfied
        steps = [0]

        def go(
            todo: list[int], binding: dict[str, Any], held: list[tuple[int, Literal, str]]
        ) -> bool:
            if not todo:
                return True
            pos = next((i for i in todo if self._ready(cr, i, binding)), todo[0])
            rest = [i for i in todo if i != pos]
            src, item = body[pos], cr.items[pos]
            found, failure = self._solve(cr, pos, src, item, binding)
            if failure is not None:
                if len(held) > best[0]:
                    best[:] = [len(held), failure, binding, held]
                return False
            for ext in found:
                steps[0] += 1
                if steps[0] > MAX_STEPS:
                    return False
                shown = _ground(src, ext) if isinstance(src, Literal) else src
                policy = item.key[0] if item.key is not None else cr.policy
                if go(rest, ext, [*held, (pos, shown, policy)]):
                    best[:] = [len(body), None, ext, [*held, (pos, shown, policy)]]
                    return True
            return False

        go(list(range(len(body))), head, [])
        _, failure, bindings, held = best
        if failure is not None and failure.reason == "no_match" and depth > 0:
            failure.why_not = self._deeper(failure, depth - 1)
        return Attempt(
            cr.rule, cr.policy, dict(bindings), sorted(held), failure, steps[0] <= MAX_STEPS
        )

    def _deeper(self, failure: Failure, depth: int) -> WhyNot | None:
        key = (failure.policy, failure.literal.table)
        names = [a.name for a in failure.literal.args if isinstance(a, Variable)]
        if key not in self.engine.rules or len(names) != len(set(names)):
            return None
        return self.explain(key[0], failure.literal, depth)

    def _solve_aggregate(
        self, cr: CompiledRule, pos: int, src: Literal, item: Item, binding: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], Failure | None]:
        """An aggregate: its value for the bound group (0 for an empty given group of ``count``
        and ``sum``), or the groups it has; else why it does not match."""
        assert item.key is not None
        rel = self.engine.relations.get(item.key)
        _, ag = cr.aggregates[pos]
        if item.kind == "agg0":
            group = tuple(_value(a, binding) for a in item.args[:-1])
            cols = tuple(range(len(group)))
            found = [] if rel is None else list(rel.index(cols).get(key_of(group, cols), ()))
            actual = found[0][-1] if found else ag.zero
            ext = _unify(item.args, (*group, actual), binding)
            if ext is not None:
                return [ext], None
            text = to_text(_ground(src, binding))
            failure = Failure(pos, src, cr.policy, "aggregate", "aggregate_differs", text=text)
            failure.actual = actual
            return [], failure
        found_ext = _lookup(rel, item, binding)
        if found_ext:
            return found_ext, None
        text = to_text(_ground(src, binding))
        return [], Failure(pos, src, cr.policy, "aggregate", "no_group", text=text)

    @staticmethod
    def _ready(cr: CompiledRule, pos: int, binding: dict[str, Any]) -> bool:
        def bound(args: Iterable[Term]) -> bool:
            return all(isinstance(a, Constant) or a.name in binding for a in args)

        item = cr.items[pos]
        if item.kind == "neg":
            return bound(item.args)
        if pos in cr.aggregates and cr.aggregates[pos][1].given:  # a lookup per group
            return bound(item.args[:-1])
        if item.kind == "builtin":
            assert item.builtin is not None
            return bound(item.args if item.negated else item.args[: item.builtin.num_inputs])
        return True

    def _solve(
        self, cr: CompiledRule, pos: int, src: object, item: Item, binding: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], Failure | None]:
        """The extensions of ``binding`` that satisfy body item ``pos``, or why there are none."""
        if isinstance(src, Literal) and src.aggregate is not None:
            return self._solve_aggregate(cr, pos, src, item, binding)
        if not isinstance(src, Literal) or item.kind not in ("pos", "neg", "builtin", "true"):
            if item.kind == "false":
                return [], Failure(pos, Literal("false"), cr.policy, "false", "false")
            text = to_text(src) if isinstance(src, Literal) else _opaque(src, cr.policy, item).text
            return [], Failure(
                pos, Literal(item.kind), cr.policy, item.kind, "not_explained", text=text
            )
        ground = _ground(src, binding)
        if item.kind == "true":
            return [binding], None
        if item.kind == "builtin":
            b = item.builtin
            assert b is not None
            args: list[Any] = [
                binding.get(a.name) if isinstance(a, Variable) else a.value for a in item.args
            ]
            outputs = bi.call(b, args[: b.num_inputs], self.rt._clock)
            if item.negated:
                if outputs is None or tuple(outputs) != tuple(args[b.num_inputs :]):
                    return [binding], None
                return [], Failure(pos, ground, cr.policy, "builtin", "builtin_false")
            ext = None if outputs is None else _unify(item.args[b.num_inputs :], outputs, binding)
            if ext is None:
                return [], Failure(pos, ground, cr.policy, "builtin", "builtin_false")
            return [ext], None
        assert item.key is not None
        rel = self.engine.relations.get(item.key)
        plain = Literal(src.table, ground.args)
        if item.kind == "neg":
            row = tuple(_values(ground))
            if rel is not None and row in rel.rows:
                shown = Literal(src.table, ground.args, negated=True)
                return [], Failure(pos, shown, item.key[0], "negation", "present", present=row)
            return [binding], None
        found: list[dict[str, Any]] = []
        if rel is not None and rel.rows:
            cols = tuple(i for i, a in enumerate(ground.args) if isinstance(a, Constant))
            if len(cols) == len(ground.args):
                rows: Iterable[Row] = [r for r in [tuple(_values(ground))] if r in rel.rows]
            elif cols:
                vals = tuple(_values(ground))
                rows = rel.index(cols).get(vals[0] if len(vals) == 1 else vals, ())
            else:
                rows = rel.rows
            for row in sorted(rows, key=repr):
                ext = _unify(item.args, row, binding)
                if ext is not None:
                    found.append(ext)
        if not found:
            return [], Failure(pos, plain, item.key[0], "positive", "no_match")
        return found, None


def _lookup(rel: Relation | None, item: Item, binding: dict[str, Any]) -> list[dict[str, Any]]:
    """The extensions of ``binding`` by the rows of ``rel`` that match ``item.args``."""
    if rel is None or not rel.rows:
        return []
    pattern = [
        _value(a, binding) if not isinstance(a, Variable) or a.name in binding else None
        for a in item.args
    ]
    cols = tuple(i for i, v in enumerate(pattern) if v is not None)
    if cols:
        vals = tuple(pattern[i] for i in cols)
        rows: Iterable[Row] = rel.index(cols).get(vals[0] if len(vals) == 1 else vals, ())
    else:
        rows = rel.rows
    found = []
    for row in sorted(rows, key=repr):
        ext = _unify(item.args, row, binding)
        if ext is not None:
            found.append(ext)
    return found


def _ground(lit: Literal, binding: dict[str, Any]) -> Literal:
    agg = lit.aggregate
    if agg is not None:  # the result and the group variables; local variables stay
        body = tuple(_ground(b, binding) for b in agg.body)
        new = Aggregate(agg.op, _subst(agg.term, binding), body, agg.loc)
        args = tuple(_subst(a, binding) for a in lit.args)
        return Literal(lit.table, args, lit.policy, aggregate=new)
    return Literal(
        lit.table, tuple(_subst(a, binding) for a in lit.args), lit.policy, negated=lit.negated
    )


def _unify(
    terms: tuple[Term, ...], values: Iterable[Any], binding: dict[str, Any]
) -> dict[str, Any] | None:
    """``binding`` extended so that ``terms`` equal ``values`` (a row, or terms of a pattern
    whose variables match anything), None when impossible."""
    vals = list(values)
    if len(vals) != len(terms):
        return None
    out = dict(binding)
    for t, v in zip(terms, vals, strict=True):
        if isinstance(v, Variable):
            continue
        value = v.value if isinstance(v, Constant) else v
        if isinstance(t, Constant):
            if t.value != value:
                return None
        elif t.name in out:
            if out[t.name] != value:
                return None
        else:
            out[t.name] = value
    return out
