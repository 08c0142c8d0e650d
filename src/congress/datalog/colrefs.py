"""Column references and padding: ``nova:servers(id=x)`` becomes a positional literal.

Imports: standard library and congress.datalog only.

Column references (``p(name=t)`` or ``p(3=t)``) are allowed only on tables of a policy with a
complete schema (a datasource policy whose schema is known). They are resolved against that
schema and replaced by positional arguments; positions nobody gave are filled with fresh
variables. Plain positional literals on a complete-schema table that give fewer arguments than the
table has are padded the same way.

Fresh variables are named ``<prefix><rank>_<column>``: ``rank`` is the literal's index in the rule
(heads first, then the body) and ``prefix`` (``_x``, ``__x``, ...) is chosen so that no variable of
the rule starts with it, so fresh names never clash with the user's and stay valid identifiers.
Padding variables are ordinary variables: a negated literal that needs padding is unsafe, as in
the original Congress.

Errors are returned as ``Issue`` values (code, message, location); ``analysis`` turns them into
``Problem`` values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from congress.datalog.ast import Literal, Location, Rule, Term, Variable
from congress.datalog.printer import to_text

if TYPE_CHECKING:
    from congress.datalog.analysis import SchemaView

KindOf = Callable[[str], str | None]
"""The kind of a policy by name, None when no such policy exists."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found by a check, before it is tied to a policy and a rule text."""

    code: str
    message: str
    loc: Location | None = None


def first_loc(*locs: Location | None) -> Location | None:
    """The first known location among ``locs``."""
    return next((loc for loc in locs if loc is not None), None)


def fresh_prefix(rule: Rule) -> str:
    """A variable-name prefix that no variable of ``rule`` starts with."""
    names = {v.name for lit in (*rule.head, *rule.body) for v in lit.variables()}
    prefix = "_x"
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    return prefix


def eliminate_rule(
    rule: Rule,
    *,
    policy: str,
    kind_of: KindOf,
    schema: SchemaView,
    eligible: Callable[[Literal], bool],
    prefix: str | None = None,
) -> tuple[Rule, list[Issue]]:
    """``rule`` with column references eliminated and positional lists padded, plus the issues.

    ``eligible`` tells which body literals may be padded positionally (not builtins, not
    modals); heads never are. Literals with column references are always resolved; one whose
    references cannot be resolved is kept unchanged (with its ``named`` arguments). Fresh
    variables start with ``prefix`` (default: one no variable of ``rule`` starts with).
    """
    prefix = prefix if prefix is not None else fresh_prefix(rule)
    issues: list[Issue] = []
    literals = [*rule.head, *rule.body]
    out: list[Literal] = []
    for rank, lit in enumerate(literals):
        target = lit.policy or policy
        may_pad = rank >= len(rule.head) and eligible(lit)
        new, found = _eliminate(lit, target, kind_of, schema, may_pad, prefix + f"{rank}_")
        out.append(new)
        issues.extend(found)
    heads = tuple(out[: len(rule.head)])
    body = tuple(out[len(rule.head) :])
    return dataclasses.replace(rule, head=heads, body=body), issues


def _eliminate(
    lit: Literal, target: str, kind_of: KindOf, schema: SchemaView, eligible: bool, stem: str
) -> tuple[Literal, list[Issue]]:
    if lit.named:
        columns, issues = _columns_for_references(lit, target, kind_of, schema)
        if columns is None:
            return lit, issues
        positions, issues = resolve(lit, columns)
        if issues:
            return lit, issues
        return pad(lit, positions, len(columns), stem), []
    if not eligible or not schema.has_complete_schema(target):
        return lit, []
    columns = schema.complete_columns(target, lit.table)
    if columns is None or len(lit.args) >= len(columns):
        return lit, []
    return pad(lit, {}, len(columns), stem), []


def _columns_for_references(
    lit: Literal, target: str, kind_of: KindOf, schema: SchemaView
) -> tuple[Sequence[str] | None, list[Issue]]:
    """The columns that ``lit``'s references resolve against, or the reason there are none."""
    text = to_text(lit)
    if schema.has_complete_schema(target):
        columns = schema.complete_columns(target, lit.table)
        if columns is None:
            message = f"Literal {text} uses unknown table {lit.table}."
            return None, [Issue("unknown_table", message, lit.loc)]
        return columns, []
    if kind_of(target) in (None, "datasource"):
        message = f"Literal {text} uses named arguments, but the schema is unknown."
        return None, [Issue("schema_unknown", message, lit.loc)]
    message = (
        f"Literal {text} uses column references, but '{target}' does not reference "
        "a datasource policy."
    )
    return None, [Issue("column_reference_error", message, lit.loc)]


def resolve(lit: Literal, columns: Sequence[str]) -> tuple[dict[int, Term], list[Issue]]:
    """Map each column reference of ``lit`` to its position, reporting every conflict."""
    text = to_text(lit)
    positions: dict[int, Term] = {}
    given_by: dict[int, str | int] = {}
    issues: list[Issue] = []
    for key, term in lit.named:
        loc = first_loc(term.loc, lit.loc)
        problem = _reference_problem(text, key, columns, len(lit.args), given_by)
        if problem is not None:
            issues.append(Issue(problem[0], problem[1], loc))
            continue
        index = _index_of(key, columns)
        assert index is not None
        positions[index] = term
        given_by[index] = key
    return positions, issues


def _index_of(key: str | int, columns: Sequence[str]) -> int | None:
    if isinstance(key, int):
        return key if 0 <= key < len(columns) else None
    return columns.index(key) if key in columns else None


def _reference_problem(
    text: str,
    key: str | int,
    columns: Sequence[str],
    positional: int,
    given_by: dict[int, str | int],
) -> tuple[str, str] | None:
    """The (code, message) of what is wrong with one reference, or None."""
    index = _index_of(key, columns)
    if isinstance(key, int):
        what = f"column index {key}"
        if index is None:
            return "unknown_column", f"In literal {text} {what} is too large"
        if index < positional:
            return (
                "column_reference_error",
                f"In literal {text} {what} is already provided by position.",
            )
    else:
        what = f"column name {key}"
        if index is None:
            return "unknown_column", f"In literal {text} {what} does not exist"
        if index < positional:
            return (
                "column_reference_error",
                f"In literal {text} {what} references position {index}, "
                "which is already provided by position.",
            )
    if index not in given_by:
        return None
    return "column_reference_error", _duplicate_message(text, key, index, given_by[index], columns)


def _duplicate_message(
    text: str, key: str | int, index: int, earlier: str | int, columns: Sequence[str]
) -> str:
    if isinstance(key, int) and isinstance(earlier, int):
        return f"In literal {text} two values for column number {key} were provided"
    if isinstance(key, str) and isinstance(earlier, str):
        return f"In literal {text} two values for column name {key} were provided"
    if isinstance(key, int):
        return (
            f"In literal {text} column index {key} references column {columns[index]}, "
            "which is also referenced by name."
        )
    return (
        f"In literal {text} column name {key} references position {index}, "
        "which is also referenced by number."
    )


def pad(lit: Literal, positions: dict[int, Term], arity: int, stem: str) -> Literal:
    """``lit`` with positions ``len(args)..arity-1`` filled from ``positions`` or fresh variables.

    A fresh variable is named ``stem + str(position)``.
    """
    args = list(lit.args)
    for index in range(len(args), arity):
        term = positions.get(index)
        args.append(term if term is not None else Variable(f"{stem}{index}"))
    return dataclasses.replace(lit, args=tuple(args), named=())
