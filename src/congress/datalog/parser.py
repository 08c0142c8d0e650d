"""The recursive-descent parser of the Congress policy language: text to ``congress.datalog.ast``.

Imports: standard library and congress.datalog.ast/errors only (plus the sibling lexer module).

Grammar (reference section 2.2)::

    prog      := statement* EOF
    statement := formula (';' | '.')?
    formula   := rule | fact | event
    event     := ('insert' | 'delete') '[' rule ((';' | '.') STRING)? ']'
    rule      := literal (',' literal)* ':-' literal (',' literal)*
    fact      := atom                                 # one positive literal, no body
    literal   := NEG? atom | aggregate
    aggregate := ID '=' AGG '{' term '|' literal (',' literal)* '}'   # AGG: count sum min max avg
    atom      := modal '[' relation ']' | relation
    relation  := ID (':' ID)* SIGN? ('(' params? ')')?  # SIGN directly after the last ID
    params    := param (',' param)*;  param := term | (ID | INT) '=' term
    term      := INT | FLOAT | STRING | ID            # an ID is a variable

``insert[p(1)]`` (no ``:-`` inside) is a modal fact; with ``:-`` it is an event. Every error is a
``PolicyError`` with code ``policy_parse_error`` located at the offending token.
"""

from __future__ import annotations

import functools
import re

from congress.datalog.ast import (
    AGGREGATES,
    Aggregate,
    Constant,
    Event,
    Literal,
    Location,
    Rule,
    Statement,
    Term,
    Variable,
)
from congress.datalog.errors import PolicyError, policy_error
from congress.datalog.lexer import Token, describe, tokenize

__all__ = ["parse", "parse_ground", "parse_literal", "parse_query", "parse_statement"]

_TERMINATORS = (";", ".")
_CONSTANT_KINDS = ("INT", "FLOAT", "STRING")


def _loc(token: Token) -> Location:
    return Location(token.line, token.column)


def _join(expected: tuple[str, ...]) -> str:
    if len(expected) == 1:
        return expected[0]
    return ", ".join(expected[:-1]) + " or " + expected[-1]


class _Parser:
    """Cursor over the token list; one method per grammar rule."""

    __slots__ = ("pos", "tokens")

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    # -- token helpers ------------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "EOF":
            self.pos += 1
        return token

    def accept(self, kind: str) -> Token | None:
        if self.tokens[self.pos].kind == kind:
            return self.advance()
        return None

    def expect(self, kind: str, description: str | None = None) -> Token:
        if self.tokens[self.pos].kind == kind:
            return self.advance()
        raise self.error(description or f"'{kind}'")

    def error(self, *expected: str, token: Token | None = None, message: str = "") -> PolicyError:
        token = token or self.peek()
        what = message or f"expected {_join(expected)} but found {describe(token)}"
        return policy_error(
            "policy_parse_error",
            f"Parse failure at line {token.line}, column {token.column}: {what}",
            line=token.line,
            column=token.column,
        )

    def expect_end(self) -> None:
        if self.peek().kind != "EOF":
            raise self.error("end of input")

    def accept_terminator(self) -> None:
        if self.peek().kind in _TERMINATORS:
            self.advance()

    # -- statements ---------------------------------------------------------------------------

    def program(self) -> list[Statement]:
        statements: list[Statement] = []
        while self.peek().kind != "EOF":
            statements.append(self.statement())
        return statements

    def statement(self) -> Statement:
        first = self.peek()
        formula: Statement
        if first.kind == "KEYWORD" and first.value in ("insert", "delete"):
            formula = self.event_or_modal(first)
        else:
            formula = self.formula(self.literal())
        self.accept_terminator()
        return formula

    def formula(self, first: Literal) -> Rule:
        """The rest of a rule or fact whose first head literal is ``first``."""
        heads = self.literals_after(first)
        if self.accept(":-"):
            return Rule(heads, self.literal_list(), loc=first.loc)
        if len(heads) == 1 and not first.negated:
            return Rule((first,), loc=first.loc)
        raise self.error("','", "':-'")

    def event_or_modal(self, keyword: Token) -> Statement:
        """``insert[...]`` / ``delete[...]`` at the start of a statement."""
        self.advance()
        self.expect("[")
        first = self.literal()
        if self.peek().kind == "]" and not first.negated and first.modal is None:
            self.advance()
            modal = Literal(
                first.table,
                first.args,
                first.policy,
                str(keyword.value),
                named=first.named,
                loc=_loc(keyword),
            )
            return self.formula(modal)
        heads = self.literals_after(first)
        if not self.accept(":-"):
            raise self.error("','", "':-'")
        rule = Rule(heads, self.literal_list(), loc=first.loc)
        target: str | None = None
        if self.peek().kind in _TERMINATORS:
            self.advance()
            target = str(self.expect("STRING", "a string naming the target policy").value)
        self.expect("]", "']'" if target is not None else "',', ';', '.' or ']'")
        return Event(rule, keyword.value == "insert", target, loc=_loc(keyword))

    def literal_list(self) -> tuple[Literal, ...]:
        return self.literals_after(self.literal())

    def literals_after(self, first: Literal) -> tuple[Literal, ...]:
        """``first`` and the literals of ``(',' literal)*`` that follow it."""
        literals = [first]
        while self.accept(","):
            literals.append(self.literal())
        return tuple(literals)

    # -- literals -----------------------------------------------------------------------------

    def literal(self) -> Literal:
        first = self.peek()
        if first.kind not in ("ID", "NEG", "KEYWORD"):
            raise self.error("a literal")
        negated = self.accept("NEG") is not None
        if self.peek().kind == "ID" and self.tokens[self.pos + 1].kind == "=":
            if negated:
                raise self.error(message="An aggregate literal cannot be negated")
            return self.aggregate()
        modal: str | None = None
        if self.peek().kind == "KEYWORD":
            modal = str(self.advance().value)
            self.expect("[")
        policy, table, name = self.relation()
        args, named = self.parameters(name)
        if modal is not None:
            self.expect("]")
        return Literal(table, args, policy, modal, negated, named, loc=_loc(first))

    def aggregate(self) -> Literal:
        """``v = op{term | literal, ...}`` (the cursor is on ``v``)."""
        first = self.advance()
        result = Variable(str(first.value), loc=_loc(first))
        equals = self.advance()
        op = self.peek()
        if op.kind != "ID" or op.value not in AGGREGATES or self.tokens[self.pos + 1].kind != "{":
            message = (
                f"'=' outside parentheses only starts an aggregate such as "
                f"{first.value} = count{{x | p(x)}} ({_join(AGGREGATES)}); "
                "to compare values use equal(x, y)"
            )
            raise self.error(token=equals, message=message)
        self.advance()
        self.expect("{")
        term = self.term()
        self.expect("|")
        body = self.literal_list()
        self.expect("}", "',' or '}'")
        agg = Aggregate(str(op.value), term, body, loc=_loc(op))
        return Literal(str(op.value), (result,), loc=_loc(first), aggregate=agg)

    def relation(self) -> tuple[str | None, str, str]:
        """``(policy, table, written name)`` of ``ID (':' ID)* SIGN?``."""
        token = self.peek()
        if token.kind != "ID":
            raise self.error("a table name")
        self.advance()
        parts = [str(token.value)]
        scope = self.peek()
        if scope.kind == "SCOPE" and scope.start == token.end:
            self.advance()  # a project's policy: name@project:table
            parts[0] += str(scope.value)
            if self.peek().kind != ":":
                raise self.error("':' and a table name after a project's policy")
        while self.accept(":"):
            parts.append(str(self.expect("ID", "a table name").value))
        last = self.tokens[self.pos - 1]
        sign = self.peek()
        table = ":".join(parts[1:]) if len(parts) > 1 else parts[0]
        if sign.kind in ("+", "-") and sign.start == last.end:
            self.advance()
            table += sign.text
        policy = parts[0] if len(parts) > 1 else None
        name = f"{policy}:{table}" if policy is not None else table
        return policy, table, name

    def parameters(self, name: str) -> tuple[tuple[Term, ...], tuple[tuple[str | int, Term], ...]]:
        if not self.accept("("):
            return (), ()
        args: list[Term] = []
        named: list[tuple[str | int, Term]] = []
        if self.accept(")"):
            return (), ()
        while True:
            self.parameter(name, args, named)
            if self.accept(")"):
                return tuple(args), tuple(named)
            self.expect(",", "')' or ','")

    def parameter(self, name: str, args: list[Term], named: list[tuple[str | int, Term]]) -> None:
        token = self.peek()
        following = self.tokens[self.pos + 1] if token.kind != "EOF" else token
        if token.kind in ("ID", "INT") and following.kind == "=":
            self.pos += 2
            key = token.value if isinstance(token.value, int) else str(token.value)
            named.append((key, self.term()))
            return
        if named:
            message = f"Atom {name} has a positional parameter after a reference parameter"
            raise self.error(token=token, message=message)
        args.append(self.term())

    def term(self) -> Term:
        token = self.peek()
        if token.kind in _CONSTANT_KINDS:
            self.advance()
            return Constant(token.value, loc=_loc(token))
        if token.kind == "ID":
            self.advance()
            return Variable(str(token.value), loc=_loc(token))
        raise self.error("a term")


def parse(text: str) -> list[Statement]:
    """Every statement of a program, in order; empty text gives ``[]``."""
    return _Parser(text).program()


def parse_statement(text: str) -> Statement:
    """Exactly one statement (rule, fact or event), with an optional terminator."""
    parser = _Parser(text)
    statement = parser.statement()
    parser.expect_end()
    return statement


def parse_literal(text: str) -> Literal:
    """Exactly one literal (possibly negated or modal, optional terminator), e.g. ``error("vm1")``.

    Results are cached (the tree is immutable, so sharing is safe).
    """
    return _parse_literal_cached(text)


# The commonest query shape, ``table(arg, ...)`` on one line with double-quoted strings free of
# backslashes, decimal integers and plain variables, is matched by one regular expression; any
# other text goes through the full parser (which gives the same tree for these, and the errors).
# re.ASCII: ``\s`` must be the lexer's whitespace only, not Unicode spaces such as U+2003.
# Integers of at most 18 digits only: longer ones take the full parser (and its digit limit).
_SIMPLE_ARG = (
    r'\s*(?:"[^"\\\n]*"|-?(?:0|[1-9][0-9]{0,17})(?![0-9.eExXoObB_])|[a-zA-Z_][a-zA-Z0-9_]*)\s*'
)
_SIMPLE = re.compile(
    r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\(((?:" + _SIMPLE_ARG + r",)*" + _SIMPLE_ARG + r")\)\s*\Z",
    re.ASCII,
)
_ARG = re.compile(r'\s*(?:"([^"\\\n]*)"|(-?[0-9]+)|([a-zA-Z_][a-zA-Z0-9_]*))\s*(?:,|\Z)', re.ASCII)
_KEYWORDS = ("not", "NOT", "insert", "delete", "execute")


def _simple_literal(text: str) -> Literal | None:
    m = _SIMPLE.match(text)
    if m is None or m.group(1) in _KEYWORDS or "\n" in text:
        return None
    args: list[Term] = []
    for a in _ARG.finditer(m.group(2)):
        col = m.start(2) + a.start() + len(a.group(0)) - len(a.group(0).lstrip()) + 1
        loc = Location(1, col)
        if a.group(1) is not None:
            args.append(Constant(a.group(1), loc=loc))
        elif a.group(2) is not None:
            args.append(Constant(int(a.group(2)), loc=loc))
        else:
            if a.group(3) in ("not", "NOT"):
                return None
            args.append(Variable(a.group(3), loc=loc))
    return Literal(m.group(1), tuple(args), loc=Location(1, m.start(1) + 1))


_GROUND_ARGS = re.compile(r'\s*(?:"([^"\\\n]*)"|(-?(?:0|[1-9][0-9]*)))\s*(,|\Z)', re.ASCII)


def parse_ground(text: str) -> tuple[str, tuple[str | int, ...]] | None:
    """``(table, row)`` for a ground query of the simple shape ``t("a", 1)``, else None.

    A shortcut for point queries (no tree is built); None means "use ``parse_literal``".
    """
    m = _SIMPLE.match(text)
    if m is None or m.group(1) in _KEYWORDS:
        return None
    row: list[str | int] = []
    pos = 0
    inner = m.group(2)
    for a in _GROUND_ARGS.finditer(inner):
        if a.start() != pos:
            return None
        pos = a.end()
        row.append(a.group(1) if a.group(1) is not None else int(a.group(2)))
    if pos != len(inner):
        return None
    return m.group(1), tuple(row)


@functools.lru_cache(maxsize=4096)
def _parse_literal_cached(text: str) -> Literal:
    simple = _simple_literal(text)
    if simple is not None:
        return simple
    parser = _Parser(text)
    literal = parser.literal()
    parser.accept_terminator()
    parser.expect_end()
    return literal


def parse_query(text: str) -> Literal | Rule:
    """One literal, or one rule (``head :- body``), optional terminator; a fact is its literal."""
    parser = _Parser(text)
    first = parser.literal()
    result: Literal | Rule = first
    if parser.peek().kind in (",", ":-"):
        result = parser.formula(first)
    parser.accept_terminator()
    parser.expect_end()
    return result
