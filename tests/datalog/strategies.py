"""Hypothesis strategies for random, *printable* syntax trees of the policy language.

Imports: hypothesis, ``congress.datalog.ast`` and ``congress.datalog.printer``.

Every tree drawn here is representable: ``parse_statement(to_text(s)) == s``. Hence:

- identifiers match the lexer's ID (``[a-zA-Z_.][a-zA-Z0-9_.]*`` with a letter or underscore and
  no trailing dot) and are never ``not``/``NOT``; keywords ``insert``/``delete``/``execute`` do
  occur as plain names (they are keywords only before ``[``);
- a table keeps colons (``b:c``) only when it has a policy; update tables end in ``+``/``-``;
- strings pass ``printer.string_representable`` (quotes, backslashes and newlines do occur);
- floats are finite; ints may be negative; column numbers are not;
- a fact has one positive head and no body; an event's rule always has a body.

Public: ``identifiers()``, ``variables()``, ``constants()``, ``terms()``, ``literals()``,
``rules()``, ``facts()``, ``events()``, ``statements()``, ``programs()``.
"""

from __future__ import annotations

from hypothesis import strategies as st

from congress.datalog.ast import MODALS, Constant, Event, Literal, Rule, Statement, Term, Variable
from congress.datalog.printer import string_representable

COMMON_NAMES = (
    "x",
    "y",
    "p",
    "q",
    "r",
    "b",
    "u",
    "rb",
    "true",
    "false",
    "True",
    "None",
    "nova",
    "servers.pause",
    "insert",
    "delete",
    "execute",
    "notx",
    "_",
    ".x",
    "a.5",
    "builtin",
)
_TRICKY_CHARS = "\"'\\\n #/*:-()[],.;=!+ab"


_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_MIDDLE = _FIRST + "0123456789."


@st.composite
def _random_identifier(draw: st.DrawFn) -> str:
    dot = draw(st.sampled_from(("", "", "", ".")))
    middle = draw(st.text(st.sampled_from(_MIDDLE), max_size=5))
    last = draw(st.sampled_from(_MIDDLE.rstrip(".")))
    return dot + draw(st.sampled_from(_FIRST)) + middle + last


def identifiers() -> st.SearchStrategy[str]:
    """Names the lexer reads as one ID token (never ``not``/``NOT``)."""
    return st.one_of(st.sampled_from(COMMON_NAMES), _random_identifier()).filter(
        lambda name: name not in ("not", "NOT")
    )


def strings() -> st.SearchStrategy[str]:
    """String values that some quote style writes so that they read back unchanged."""
    alphabet = st.one_of(st.sampled_from(_TRICKY_CHARS), st.characters())
    return st.text(alphabet, max_size=12).filter(string_representable)


def variables() -> st.SearchStrategy[Variable]:
    return st.builds(Variable, identifiers())


def constants() -> st.SearchStrategy[Constant]:
    values = st.one_of(
        strings(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    return st.builds(Constant, values)


def terms() -> st.SearchStrategy[Term]:
    return st.one_of(variables(), constants())


@st.composite
def _tables(draw: st.DrawFn, with_policy: bool) -> str:
    parts = draw(st.lists(identifiers(), min_size=1, max_size=3 if with_policy else 1))
    suffix = draw(st.sampled_from(("", "", "", "+", "-")))
    return ":".join(parts) + suffix


@st.composite
def literals(
    draw: st.DrawFn,
    *,
    negation: bool = True,
    modal: bool = True,
    named: bool = True,
    policy: bool = True,
    ground: bool = False,
) -> Literal:
    """Literals; the flags allow negation, modals, column references, a policy, variables."""
    policy_name = draw(st.none() | identifiers()) if policy else None
    table = draw(_tables(policy_name is not None))
    args_strategy = constants() if ground else terms()
    args = tuple(draw(st.lists(args_strategy, max_size=3)))
    named_args: tuple[tuple[str | int, Term], ...] = ()
    if named:
        keys = st.one_of(identifiers(), st.integers(min_value=0, max_value=20))
        pairs = st.lists(st.tuples(keys, args_strategy), max_size=2)
        named_args = tuple(draw(pairs))
    modal_name = draw(st.none() | st.sampled_from(MODALS)) if modal else None
    negated = draw(st.booleans()) if negation else False
    return Literal(table, args, policy_name, modal_name, negated, named_args)


def _literal_lists(min_size: int) -> st.SearchStrategy[tuple[Literal, ...]]:
    return st.lists(literals(), min_size=min_size, max_size=3).map(tuple)


def rules() -> st.SearchStrategy[Rule]:
    """Rules with a body (1-2 heads, which may be negated or modal, as the grammar allows)."""
    heads = st.lists(literals(), min_size=1, max_size=2).map(tuple)
    return st.builds(Rule, heads, _literal_lists(1))


def facts(*, ground: bool = True) -> st.SearchStrategy[Rule]:
    """Facts: one positive head (ground unless ``ground=False``), no body."""
    head = literals(negation=False, named=not ground, ground=ground)
    return head.map(lambda lit: Rule((lit,)))


def events() -> st.SearchStrategy[Event]:
    return st.builds(Event, rules(), st.booleans(), st.none() | strings())


def statements() -> st.SearchStrategy[Statement]:
    return st.one_of(rules(), facts(), facts(ground=False), events())


def programs() -> st.SearchStrategy[list[Statement]]:
    return st.lists(statements(), max_size=5)
