"""The lexer of the Congress policy language: text to a list of ``Token`` with 1-based positions.

Imports: standard library and congress.datalog.ast/errors only.

The whole text is scanned by one compiled regular expression whose alternatives are tried in
order; a handful of ``*BAD*`` alternatives at the end turn malformed input into a located
``PolicyError`` (code ``policy_parse_error``, message ``Lex failure at line L, column C: ...``).

Token kinds
- ``ID``: ``[a-zA-Z_.][a-zA-Z0-9_.]*`` without trailing dots and with at least one letter or
  underscore, so ``p.`` is the table ``p`` and a terminator, while ``.5`` is a float and a lone
  ``.`` is a terminator. A ``.`` right after ``)`` or ``]`` is always a terminator (``p(1).q(2)``).
- ``NEG`` for ``not``, ``NOT`` and ``!``; ``KEYWORD`` for ``insert``/``delete``/``execute`` when
  followed (after optional blanks) by ``[`` -- otherwise they are ordinary identifiers.
- ``INT`` / ``FLOAT`` (value already converted; Python syntax; a ``-`` directly before a number
  belongs to it unless it directly follows an identifier, where it is an update suffix). An
  integer too long to print in decimal (``sys.get_int_max_str_digits``) and a float that
  overflows to infinity are lex errors: neither could be printed back as the same literal.
- ``STRING``: Python string literals with optional ``r/u/b/rb/br`` prefixes; the value is the raw
  text between the quotes (escapes are not interpreted, a backslash only protects the next
  character from ending the string).
- ``DOTS``: a run of dots not starting an identifier (never valid; one token keeps lexing linear).
- ``SCOPE``: ``@`` and a project id (``[A-Za-z0-9_-]+``), as in ``ops@<project>:error``, a
  project's policy (``congress.datalog.names``); the parser accepts it only right after the
  policy part of a table reference.
- punctuation, whose kind is its own text: ``:-`` ``:`` ``,`` ``(`` ``)`` ``[`` ``]`` ``{`` ``}``
  ``|`` ``=`` ``;`` ``.`` ``+`` ``-``; and ``EOF`` at the end.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from congress.datalog.errors import PolicyError, policy_error

KEYWORDS = ("insert", "delete", "execute")
NEGATIONS = ("not", "NOT")

_PREFIX = r"(?:[rR][bB]?|[bB][rR]?|[uU])?"
_NUM_SIGN = r"(?:(?<![a-zA-Z0-9_.])-)?"
_FLOAT = r"(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)"
_INT = r"(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[1-9][0-9]*|0+)"

ID_PATTERN = r"\.*[a-zA-Z_](?:[a-zA-Z0-9_.]*[a-zA-Z0-9_])?"
"""An identifier as this lexer reads it (the ID rule minus trailing dots)."""

_MASTER = re.compile(
    "|".join(
        (
            r"(?P<WS>[ \t\r\n\f\v]+)",
            r"(?P<COMMENT>//[^\n]*|\#[^\n]*|/\*.*?\*/)",
            r"(?P<BADCOMMENT>/\*)",
            rf"(?P<TSTRING>{_PREFIX}(?:\"\"\"(?:[^\"\\]|\\.|\"(?!\"\"))*\"\"\""
            rf"|'''(?:[^'\\]|\\.|'(?!''))*'''))",
            rf"(?P<BADTRIPLE>{_PREFIX}(?:\"\"\"|'''))",
            rf"(?P<SSTRING>{_PREFIX}(?:\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'))",
            rf"(?P<BADSTRING>{_PREFIX}[\"'])",
            r"(?P<CLOSEDOT>(?<=[)\]])\.)",
            r"(?P<DOTS>\.\.++(?![a-zA-Z_]))",
            rf"(?P<FLOAT>{_NUM_SIGN}{_FLOAT})",
            rf"(?P<INT>{_NUM_SIGN}{_INT})",
            r"(?P<KEYWORD>(?:insert|delete|execute)(?=[ \t\r\n]*\[))",
            rf"(?P<ID>{ID_PATTERN})",
            r"(?P<SCOPE>@[A-Za-z0-9_\-]+)",
            r"(?P<OP>:-|[:,()\[\]{}|=;.!+\-])",
            r"(?P<ERROR>.)",
        )
    ),
    re.DOTALL,
)

_NUMBER_TAIL = re.compile(r"[a-zA-Z0-9_.]+")
_LINE_BREAKING = frozenset(("WS", "COMMENT", "TSTRING", "SSTRING"))


class Token(NamedTuple):
    """One token: ``kind``, converted ``value``, source ``text``, position and offsets."""

    kind: str
    value: str | int | float
    text: str
    line: int
    column: int
    start: int
    end: int


def describe(token: Token) -> str:
    """How an error message names the token it found."""
    if token.kind == "EOF":
        return "end of input"
    text = token.text if len(token.text) <= 30 else token.text[:27] + "..."
    return f"'{text}'"


def _lex_error(message: str, line: int, column: int) -> PolicyError:
    return policy_error(
        "policy_parse_error",
        f"Lex failure at line {line}, column {column}: {message}",
        line=line,
        column=column,
    )


def _string_value(text: str, quote_len: int) -> str:
    body_start = 0
    while text[body_start] not in "'\"":
        body_start += 1
    return text[body_start + quote_len : len(text) - quote_len]


def _number(kind: str, text: str, source: str, end: int, line: int, column: int) -> int | float:
    tail = _NUMBER_TAIL.match(source, end)
    if tail is not None:
        bad = text + tail.group()
        raise _lex_error(f"invalid number literal '{bad}'", line, column)
    if kind == "FLOAT":
        number = float(text)
        if math.isinf(number):  # printed back it would read as the variable ``inf``
            raise _lex_error(f"number literal out of range '{_short(text)}'", line, column)
        return number
    try:
        value = int(text, 0)
        if len(text) > 20:
            str(value)  # hex, octal and binary escape int()'s digit limit, but not str()'s
    except ValueError:
        raise _lex_error(f"number literal too long '{text[:20]}...'", line, column) from None
    return value


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def _bad(kind: str, text: str, line: int, column: int) -> PolicyError:
    if kind == "ERROR":
        return _lex_error(f"unexpected character {text!r}", line, column)
    if kind == "BADCOMMENT":
        return _lex_error("unterminated comment '/*'", line, column)
    if kind == "BADTRIPLE":
        return _lex_error("unterminated triple-quoted string", line, column)
    return _lex_error("unterminated string", line, column)


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source`` followed by an ``EOF`` token; raises ``PolicyError`` on bad text."""
    tokens: list[Token] = []
    append = tokens.append
    line = 1
    line_start = 0
    for match in _MASTER.finditer(source):
        kind = match.lastgroup
        assert kind is not None
        start, end = match.span()
        text = match.group()
        column = start - line_start + 1
        if kind in _LINE_BREAKING:
            breaks = text.count("\n")
            if breaks:
                line += breaks
                line_start = source.rfind("\n", start, end) + 1
            if kind == "WS" or kind == "COMMENT":
                continue
            value: str | int | float = _string_value(text, 3 if kind == "TSTRING" else 1)
            kind = "STRING"
            append(Token(kind, value, text, line - breaks, column, start, end))
            continue
        if kind == "ID":
            append(
                Token("NEG" if text in NEGATIONS else "ID", text, text, line, column, start, end)
            )
        elif kind == "OP" or kind == "CLOSEDOT":
            append(Token("NEG" if text == "!" else text, text, text, line, column, start, end))
        elif kind == "INT" or kind == "FLOAT":
            value = _number(kind, text, source, end, line, column)
            append(Token(kind, value, text, line, column, start, end))
        elif kind == "KEYWORD" or kind == "DOTS" or kind == "SCOPE":
            append(Token(kind, text, text, line, column, start, end))
        else:
            raise _bad(kind, text, line, column)
    end = len(source)
    append(Token("EOF", "", "", line, end - line_start + 1, end, end))
    return tokens
