"""The syntax tree of the Congress policy language.

Imports: standard library only.

Every node is an immutable, hashable dataclass. Source locations (``loc``) are carried for error
messages but take no part in equality or hashing, so a tree parsed from text equals the tree
parsed from its printed form.

Invariants
- ``Literal.table`` is the table name *without* the policy prefix; it keeps an update suffix
  (``p+`` / ``p-``) and any further colons (``a:b:c`` is policy ``a``, table ``b:c``).
- ``Literal.named`` holds column references (``p(id=x)`` / ``p(0=x)``) in source order; analysis
  eliminates them (padding with fresh variables), after which ``named`` is empty.
- A fact is a ``Rule`` with one head and an empty body.
- Constants are ``str``, ``int`` or ``float`` values; strings are kept exactly as written between
  the quotes (escapes are not interpreted, as in the original Congress).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Value = str | int | float
"""A value in a row: strings stay strings and numbers stay numbers."""

Row = tuple[Value, ...]

MODALS = ("execute", "insert", "delete")

AGGREGATES = ("count", "sum", "min", "max", "avg")
"""The aggregate operators of ``v = op{x | body}`` (docs/adr/0009-aggregates.md)."""


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    loc: Location | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Constant:
    value: Value
    loc: Location | None = field(default=None, compare=False, repr=False)


Term = Variable | Constant


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The right side of an aggregate literal ``v = op{term | body}``: ``op`` of ``term`` over
    the ways ``body`` holds, per group (the body's variables that occur outside it)."""

    op: str
    term: Term
    body: tuple[Literal, ...]
    loc: Location | None = field(default=None, compare=False, repr=False)

    def variables(self) -> list[Variable]:
        """The term's and the body's variables, in order (with repetitions)."""
        out = [self.term] if isinstance(self.term, Variable) else []
        for lit in self.body:
            out.extend(lit.variables())
        return out


@dataclass(frozen=True, slots=True)
class Literal:
    """An atom, possibly negated, possibly wrapped in a modal, possibly policy-qualified.

    An aggregate literal ``v = op{x | body}`` has ``table`` ``op``, ``args`` ``(v,)`` and
    ``aggregate`` set; it occurs only in rule bodies.
    """

    table: str
    args: tuple[Term, ...] = ()
    policy: str | None = None
    modal: str | None = None
    negated: bool = False
    named: tuple[tuple[str | int, Term], ...] = ()
    loc: Location | None = field(default=None, compare=False, repr=False)
    aggregate: Aggregate | None = None

    @property
    def is_update(self) -> bool:
        """True for update tables ``p+`` and ``p-``."""
        return self.table.endswith(("+", "-"))

    @property
    def arity(self) -> int:
        return len(self.args)

    def variables(self) -> list[Variable]:
        """Variables in argument order (with repetitions), named arguments included."""
        out = [t for t in self.args if isinstance(t, Variable)]
        out.extend(t for _, t in self.named if isinstance(t, Variable))
        if self.aggregate is not None:
            out.extend(self.aggregate.variables())
        return out

    def is_ground(self) -> bool:
        return not self.variables()


@dataclass(frozen=True, slots=True)
class Rule:
    """``head :- body``; a fact has one head and no body. Several heads parse but never validate."""

    head: tuple[Literal, ...]
    body: tuple[Literal, ...] = ()
    loc: Location | None = field(default=None, compare=False, repr=False)

    @property
    def is_fact(self) -> bool:
        return not self.body and len(self.head) == 1

    def body_literals(self) -> list[Literal]:
        """The literals that read tables or builtins: the body's, with each aggregate literal
        replaced by the literals of its body."""
        return flatten(self.body)


def flatten(body: tuple[Literal, ...]) -> list[Literal]:
    """``body`` with each aggregate literal replaced by the literals of its own body."""
    out: list[Literal] = []
    for lit in body:
        if lit.aggregate is None:
            out.append(lit)
        else:
            out.extend(flatten(lit.aggregate.body))
    return out


@dataclass(frozen=True, slots=True)
class Event:
    """``insert[rule]`` or ``delete[rule]``, optionally naming a target policy."""

    formula: Rule
    insert: bool
    target: str | None = None
    loc: Location | None = field(default=None, compare=False, repr=False)


Statement = Rule | Event
