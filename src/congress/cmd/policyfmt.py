"""``congress-policy fmt``: policy text in canonical form, comments kept.

Every statement is printed by ``congress.datalog.printer`` (a rule with a body as ``head :-``
and one indented body literal per line, ``format_rule``; a fact or an event on one line,
``to_text``), so the layout follows the printer whatever the language gains. Terminators
(``;``, ``.``) are dropped.

The parser drops comments, so they are recovered from the source: the text between two
consecutive tokens holds only blanks and comments. A comment on the line where a statement ends
stays at the end of that statement's last line; any other comment is attached to the statement
that follows it (or, after the last statement, to the end of the file); a comment inside a
statement (between two of its tokens) moves to the line before that statement. A blank line
separates two statements when either is a multi-line rule or when the source had one (several
blank lines become one); blank lines between comments and statements are kept the same way.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from congress.datalog.ast import Rule, Statement
from congress.datalog.errors import PolicyError, Problem
from congress.datalog.lexer import Token, tokenize
from congress.datalog.parser import parse
from congress.datalog.printer import format_rule, to_text

__all__ = ["FormatError", "format_text", "statement_text"]

# In the text between two tokens there are only blanks and comments (anything else would be a
# token), so this finds the comments exactly as the lexer skipped them, leftmost first.
_COMMENT = re.compile(r"//[^\n]*|#[^\n]*|/\*.*?\*/", re.DOTALL)


class FormatError(Exception):
    """The formatted text would not read back as the same statements (a printer limitation)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class _Comment:
    text: str
    first_line: int
    last_line: int


@dataclass
class _Group:
    """Leading comments, then (unless this is the end of the file) one statement."""

    comments: list[_Comment] = field(default_factory=list)
    statement: Statement | None = None
    first_line: int = 0  # of the statement
    last_line: int = 0
    trailing: str | None = None


def statement_text(statement: Statement) -> str:
    """The canonical text of one statement (possibly several lines)."""
    if isinstance(statement, Rule):
        return format_rule(statement)
    return to_text(statement)


def _end_line(token: Token) -> int:
    return token.line + token.text.count("\n")


def _comments(text: str, tokens: list[Token]) -> list[tuple[int, _Comment]]:
    """``(index of the token after it, comment)`` for every comment of ``text``."""
    out: list[tuple[int, _Comment]] = []
    prev_end = 0
    for index, token in enumerate(tokens):
        gap = text[prev_end : token.start]
        for m in _COMMENT.finditer(gap):
            start = prev_end + m.start()
            first = text.count("\n", 0, start) + 1
            body = m.group().rstrip()
            out.append((index, _Comment(body, first, first + body.count("\n"))))
        prev_end = token.end
    return out


def _groups(text: str) -> list[_Group]:
    tokens = tokenize(text)
    statements = parse(text)
    positions = [(t.line, t.column) for t in tokens]
    starts: list[int] = []
    for statement in statements:
        loc = statement.loc
        index = 0 if loc is None else bisect.bisect_left(positions, (loc.line, loc.column))
        starts.append(max(index, starts[-1] + 1 if starts else 0))
    bounds = [*starts, len(tokens) - 1]  # the last token is EOF
    groups = [_Group() for _ in statements] + [_Group()]
    for i, statement in enumerate(statements):
        g = groups[i]
        g.statement = statement
        g.first_line = tokens[bounds[i]].line
        g.last_line = _end_line(tokens[bounds[i + 1] - 1])
    for index, comment in _comments(text, tokens):
        # the statement the token after the comment belongs to (-1: none yet)
        owner = bisect.bisect_right(starts, index) - 1
        if owner >= 0 and starts[owner] < index < bounds[owner + 1]:
            line = groups[owner].first_line  # inside a statement: hoisted before it
            groups[owner].comments.append(_Comment(comment.text, line, line))
            continue
        nxt = owner if owner >= 0 and index == starts[owner] else owner + 1
        before = nxt - 1  # the statement that ends before the comment, if any
        if (
            before >= 0
            and comment.first_line == groups[before].last_line
            and comment.first_line == comment.last_line
            and groups[before].trailing is None
        ):
            groups[before].trailing = comment.text
        else:
            groups[nxt].comments.append(comment)
    return groups


def _lines(groups: list[_Group]) -> list[str]:
    out: list[str] = []
    prev_last = 0  # last source line of what was written last
    prev_multi = False
    for g in groups:
        items = [(c.first_line, c.last_line, c.text.split("\n")) for c in g.comments]
        multi = False
        if g.statement is not None:
            lines = statement_text(g.statement).split("\n")
            multi = len(lines) > 1
            if g.trailing is not None:
                lines[-1] += f"  {g.trailing}"
            items.append((g.first_line, g.last_line, lines))
        for n, (first, last, lines) in enumerate(items):
            if out and (first - prev_last > 1 or (n == 0 and (prev_multi or multi))):
                out.append("")
            out.extend(lines)
            prev_last = last
        if g.statement is not None:
            prev_multi = multi
    return out


def format_text(text: str) -> str:
    """``text`` in canonical form; raises ``PolicyError`` for text that does not parse and
    ``FormatError`` when the printed form would not read back as the same statements."""
    groups = _groups(text)
    lines = _lines(groups)
    result = "\n".join(lines) + "\n" if lines else ""
    original = [g.statement for g in groups if g.statement is not None]
    try:
        again = parse(result)
    except PolicyError as e:
        raise FormatError(_not_kept(original, 0, e.first.message)) from e
    for i, (a, b) in enumerate(zip(original, again, strict=False)):
        if a != b:
            raise FormatError(_not_kept(original, i, f"printed as {to_text(b)}"))
    if len(again) != len(original):
        raise FormatError(_not_kept(original, min(len(again), len(original) - 1), "lost"))
    return result


def _not_kept(statements: list[Statement], i: int, why: str) -> Problem:
    s = statements[i] if statements else None
    loc = s.loc if s is not None else None
    what = to_text(s) if s is not None else "the text"
    return Problem(
        "format_error",
        f"cannot print {what} so that it reads back the same ({why})",
        line=loc.line if loc else None,
        column=loc.column if loc else None,
    )
