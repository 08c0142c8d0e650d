"""Explanations: why a row holds, as a proof tree through rules, negation and other policies.

Imports: standard library and congress.datalog only.

No provenance is stored. To explain a row, each rule defining its table is re-run with the head
bound to the row (a ``bind`` plan, which yields the values of the body's variables), and every
body literal of a binding is explained in turn. A literal already on the path being explained is
not used again, so recursive rules give well-founded proofs; when one binding leads nowhere the
next is tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from congress.datalog.ast import Constant, Literal, Row, Rule, Term, Variable
from congress.datalog.compiler import HEAD, CompiledRule
from congress.datalog.maintain import Batch
from congress.datalog.printer import to_text

if TYPE_CHECKING:
    from congress.datalog.runtime import Runtime

Key = tuple[str, str]
MAX_BINDINGS = 100_000
MAX_DEPTH = 200


@dataclass(slots=True)
class Proof:
    """One node of a proof tree.

    ``kind``: ``fact`` (asserted in a policy), ``data`` (a datasource row), ``rule`` (derived by
    ``rule`` from ``children``), ``negation`` (the negated row is absent), ``builtin`` (a builtin
    test or computation that holds), ``true``.
    """

    literal: Literal
    policy: str
    kind: str
    rule: Rule | None = None
    children: list[Proof] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "literal": to_text(self.literal),
            "policy": self.policy,
            "kind": self.kind,
        }
        if self.rule is not None:
            out["rule"] = to_text(self.rule)
        if self.children:
            out["children"] = [c.as_dict() for c in self.children]
        return out

    def lines(self, indent: int = 0) -> list[str]:
        """The tree as indented text, one literal per line."""
        note = f"   [{self.kind}]" if self.kind != "rule" else ""
        out = ["  " * indent + f"{self.policy}:{to_text(self.literal)}{note}"]
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
                return Proof(lit, cr.policy, "rule", cr.rule, children)
        return None

    def _body(
        self, cr: CompiledRule, binding: dict[str, Any], path: set[tuple[Key, Row]], depth: int
    ) -> list[Proof] | None:
        children: list[Proof] = []
        for src, item in zip(cr.rule.body, cr.items, strict=True):
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
            else:
                assert item.key is not None
                sub = self.prove(item.key[0], plain, path, depth + 1)
                if sub is None:
                    return None
                children.append(sub)
        return children


def _subst(t: Term, binding: dict[str, Any]) -> Term:
    if isinstance(t, Variable) and t.name in binding:
        return Constant(binding[t.name])
    return t
