"""Inputs and contracts shared by the fuzz tests (hypothesis) and the atheris harness.

Imports: hypothesis, the standard library and ``congress.datalog``.

Inputs (texts)
- ``valid_programs()``: text written straight from the grammar (not through the printer), so
  the lexer sees every spelling: quote styles and prefixes, hex/octal/binary numbers, comments,
  terminators, ``!``/``not``/``NOT``, modals, events, column references, update tables;
- ``edgy_programs()``: the same with Unicode blanks and numbers past the limits of ``int`` and
  ``float`` mixed in; ``queries()``: single literals aimed at ``parse_literal``'s shortcut;
- ``mutated_programs()``: a valid or edgy program damaged by a few random edits (a slice deleted,
  duplicated or truncated, a token or a character inserted or replaced);
- ``token_soup()``: language tokens in random order, with and without blanks;
- ``deep_nesting()``: thousands of nested ``(`` / ``[`` / ``execute[`` / ``not`` openers.

Inputs (runtimes)
- ``runtimes()``: a ``Runtime`` with a few policies of random kinds, some with random complete
  schemas (datasources among them), some holding rows;
- ``statements()``: syntax trees aimed at the runtime's policies and tables, mostly well formed
  (one positive head, bound variables) so that analysis gets past its first checks.

Contracts (each raises ``AssertionError`` when broken, and lets any other exception through)
- ``check_parse_contract(text)``: every parsing entry point either returns or raises the parser's
  ``PolicyError`` (code ``policy_parse_error``) located inside the text, its message naming the
  same line and column; ``parse_literal``'s regular-expression shortcut and ``parse_ground``
  agree with the full parser;
- ``check_roundtrip(text)``: a text that parses, printed (``to_text`` and ``format_rule``),
  parses back to an equal tree;
- ``check_insert_contract(rt, policy, statements)``: ``Runtime.check`` and ``Runtime.insert``
  accept the statements or raise the engine's ``DatalogError`` with a documented code (the same
  one for both); a rejected insert, and any check, leaves the runtime as it was; an accepted
  insert undone by ``delete`` leaves it as it was too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable

from hypothesis import strategies as st

from congress.datalog.ast import (
    AGGREGATES,
    Aggregate,
    Constant,
    Literal,
    Row,
    Rule,
    Statement,
    Term,
    Variable,
)
from congress.datalog.errors import CODES, DatalogError, LimitExceeded, PolicyError
from congress.datalog.parser import (
    parse,
    parse_ground,
    parse_literal,
    parse_query,
    parse_statement,
)
from congress.datalog.printer import format_rule, to_text
from congress.datalog.runtime import KINDS, Limits, Runtime

NAMES = ("p", "q", "r", "x", "y", "z", "vm", "servers", "error", "t", "true", "false", "_")
"""Identifiers: few, so that rules share tables and variables."""

_ODD_NAMES = (".x", "a.5", "a_b.c", "insert", "delete", "execute", "notx", "True", "r", "b", "rb")
"""Identifiers that look like something else: keywords, string prefixes, dotted names."""

POLICIES = ("nova", "neutron", "alice", "action", "builtin")

BUILTIN_NAMES = ("lt", "equal", "plus", "concat", "float", "now", "nosuch")

TOKENS = (
    # identifiers and keywords
    *NAMES,
    "nova:servers",
    "builtin:lt",
    "a.b",
    ".x",
    "a.5",
    "insert",
    "delete",
    "execute",
    "not",
    "NOT",
    # numbers
    "0",
    "1",
    "-2",
    "007",
    "0x1F",
    "0o17",
    "0b101",
    "1.5",
    ".5",
    "1e5",
    "-2.5e+3",
    "1e400",
    "0x" + "f" * 4000,
    "9" * 5000,
    # strings
    '"a"',
    "'b'",
    '"""c\nd"""',
    "'''e'''",
    'r"\\d"',
    'b"x"',
    '"\\""',
    '"',
    "'",
    '"""',
    # punctuation
    ":-",
    ":",
    ",",
    "(",
    ")",
    "[",
    "]",
    "=",
    "{",
    "}",
    "|",
    "n = count{x | ",
    "sum{",
    "max",
    ";",
    ".",
    "..",
    "!",
    "+",
    "-",
    "\\",
    # blanks and comments
    " ",
    "\t",
    "\n",
    "\r\n",
    "\f",
    "// c\n",
    "# c\n",
    "/* c */",
    "/*",
    "*/",
    # characters the lexer does not take, Unicode spaces and separators among them
    "\u00e9",
    "\u2003",
    "\u00a0",
    "\u2028",
    "\x00",
    "\ud800",
    "@",
)


# --------------------------------------------------------------------------- valid programs

_BLANKS = (" ", "", "  ", "\n", "\t", " /* c */ ", " // c\n", " # c\n", "\r\n", "\f")
EDGE_BLANKS = ("\u2003", "\u00a0", "\x1c", "\x85", "\u2028", "\u3000")
"""Blanks that Python's ``str.isspace`` and ``\\s`` take, but the lexer does not."""
EDGE_NUMBERS = (
    "1e400",
    "-1e400",
    "1e-400",
    "9" * 4300,
    "9" * 4301,
    "-" + "1" * 5000,
    "0x" + "f" * 3600,
    "0b" + "1" * 15000,
    "0o" + "7" * 5000,
    "1" * 400 + ".5",
)
"""Numbers at and past the limits of ``int`` and ``float``."""

_IDENTIFIERS = st.sampled_from(NAMES + _ODD_NAMES)
_NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 4096).flatmap(lambda n: st.sampled_from((hex(n), oct(n), bin(n)))),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(("1.", ".5", "1e5", "-.5", "1.e2", "-0", "00")),
)
_PLAIN = st.text(st.sampled_from("ab #/*:-().,;\u00e9"), max_size=6)
_STRINGS = st.one_of(
    _PLAIN.map(lambda s: f'"{s}"'),
    _PLAIN.map(lambda s: f"'{s}'"),
    _PLAIN.map(lambda s: f'r"{s}"'),
    _PLAIN.map(lambda s: f'"""{s}\n{s}"""'),
    st.sampled_from(('"a\\"b"', "'it\\'s'", '""', "u'x'", 'b"\\\\"')),
)
_KEYS = st.sampled_from(("id", "status", "name", "0", "1", "5"))
_SEPARATORS = (",", ", ", " , ", ",\n")
_SIGNS = st.sampled_from(("", "", "", "+", "-"))
_POLICY = st.none() | st.sampled_from(POLICIES)
_BUILTINS = st.sampled_from(BUILTIN_NAMES)
_NEGATIONS = st.sampled_from(("", "", "", "not ", "NOT ", "!"))
_MODALS = st.sampled_from(("execute", "insert", "delete"))
_TARGETS = st.sampled_from(("", "; 'alice'", '. "nova"'))
_TERMINATORS = st.sampled_from(("", ";", ".", " ."))


def _programs(*, edgy: bool) -> st.SearchStrategy[str]:
    """Programs from the grammar; ``edgy`` mixes in ``EDGE_BLANKS`` and ``EDGE_NUMBERS``."""
    blanks = st.sampled_from(_BLANKS)
    numbers = _NUMBERS
    if edgy:  # placeholders: program() keeps one of them (so the rest can still parse)
        blanks = blanks | st.just(_BLANK_MARK)
        numbers = numbers | st.just(_NUMBER_MARK)
    terms = st.one_of(_IDENTIFIERS, numbers, _STRINGS)
    term_lists = st.lists(st.tuples(blanks, terms, blanks).map("".join), max_size=3)
    named_lists = st.lists(st.tuples(_KEYS, terms), max_size=2)
    separators = st.sampled_from(_SEPARATORS)

    @st.composite
    def atom(draw: st.DrawFn) -> str:
        policy = draw(_POLICY)
        table = draw(_BUILTINS) if policy == "builtin" else draw(_IDENTIFIERS) + draw(_SIGNS)
        name = table if policy is None else f"{policy}:{table}"
        if draw(st.integers(0, 3)) == 0:
            return name
        items = draw(term_lists) + [f"{k}={v}" for k, v in draw(named_lists)]
        return f"{name}({draw(separators).join(items)})"

    atoms = atom()

    @st.composite
    def literal(draw: st.DrawFn) -> str:
        text = draw(atoms)
        if draw(st.integers(0, 5)) == 0:
            text = f"{draw(_MODALS)}[{text}]"
        return draw(_NEGATIONS) + text

    literals = literal()
    heads = st.lists(literals, min_size=1, max_size=2).map(", ".join)
    bodies = st.lists(literals, min_size=1, max_size=3).map(", ".join)
    rules = st.tuples(heads, blanks, bodies).map(lambda t: f"{t[0]}{t[1]}:-{t[1]}{t[2]}")

    @st.composite
    def statement(draw: st.DrawFn) -> str:
        shape = draw(st.integers(0, 7))
        if shape == 0:
            keyword = "insert" if draw(st.booleans()) else "delete"
            return f"{keyword}[{draw(rules)}{draw(_TARGETS)}]"
        return draw(atoms) if shape < 3 else draw(rules)  # a fact is one positive literal

    statements = statement()

    @st.composite
    def program(draw: st.DrawFn) -> str:
        parts: list[str] = [draw(blanks)]
        for text in draw(st.lists(statements, max_size=4)):
            parts.append(text + draw(_TERMINATORS) + draw(blanks) + "\n")
        return _one_edge(draw, "".join(parts)) if edgy else "".join(parts)

    return program()


_BLANK_MARK = "\x00b\x00"
_NUMBER_MARK = "\x00n\x00"


def _one_edge(draw: st.DrawFn, text: str) -> str:
    """``text`` with one placeholder made an edge blank or number, the others plain ones."""
    marks = [(text.find(m), m) for m in (_BLANK_MARK, _NUMBER_MARK) if m in text]
    if marks:
        index = draw(st.sampled_from(sorted(marks)))[0]
        mark = text[index : index + len(_BLANK_MARK)]
        edge = EDGE_BLANKS if mark == _BLANK_MARK else EDGE_NUMBERS
        text = text[:index] + draw(st.sampled_from(edge)) + text[index + len(mark) :]
    return text.replace(_BLANK_MARK, " ").replace(_NUMBER_MARK, "1")


_VALID = _programs(edgy=False)
_EDGY = _programs(edgy=True)


def valid_programs() -> st.SearchStrategy[str]:
    """A program written from the grammar: it always parses (analysis may still reject it)."""
    return _VALID


def edgy_programs() -> st.SearchStrategy[str]:
    """Programs from the grammar with Unicode blanks and numbers past the limits mixed in."""
    return _EDGY


@st.composite
def _query(draw: st.DrawFn) -> str:
    blanks = st.sampled_from(("", " ", "\t", *EDGE_BLANKS))
    terms = st.one_of(
        st.sampled_from(("x", "y", "_", "not", '"a"', '""', "0", "-1", "12", "1.5", "0x1")),
        st.sampled_from(EDGE_NUMBERS),
    )
    args = draw(st.lists(st.tuples(blanks, terms, blanks).map("".join), max_size=3))
    name = draw(st.sampled_from(("p", "error", "not", "insert", "nova:servers")))
    return f"{draw(blanks)}{name}({','.join(args)}){draw(blanks)}"


def queries() -> st.SearchStrategy[str]:
    """Single literals of the shape that ``parse_literal``'s shortcut and ``parse_ground`` take,
    with Unicode blanks and numbers past the limits mixed in."""
    return _query()


# --------------------------------------------------------------------------- damaged programs


@st.composite
def _mutate(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 12)))
        op = draw(st.integers(0, 5))
        if op == 0:
            text = text[:i] + text[j:]  # delete a slice
        elif op == 1:
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]  # insert a token
        elif op == 2:
            text = text[:i] + draw(st.characters()) + text[i + 1 :]  # replace a character
        elif op == 3:
            text = text[:i]  # truncate
        elif op == 4:
            text = text[:j] + text[i:j] + text[j:]  # duplicate a slice
        else:
            text = text[:i] + draw(st.text(max_size=3)) + text[i:]  # insert random characters
    return text


def mutated_programs() -> st.SearchStrategy[str]:
    return st.one_of(valid_programs(), edgy_programs()).flatmap(_mutate)


def token_soup() -> st.SearchStrategy[str]:
    token = st.sampled_from(TOKENS)
    return st.lists(st.tuples(token, st.sampled_from(("", " "))), max_size=30).map(
        lambda pairs: "".join(t + s for t, s in pairs)
    )


OPENERS = ("(", "[", "p(", "execute[", "insert[", "not ", "!", "p(q(", "a:", "/*", '"')


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Many openers (and sometimes their closers) of one or several kinds."""
    depth = draw(st.integers(1000, 10_000))
    kinds = draw(st.lists(st.sampled_from(OPENERS), min_size=1, max_size=3))
    opened = "".join(kinds[i % len(kinds)] for i in range(depth))
    closers = draw(st.sampled_from(("", ")" * depth, "]" * depth, "x" + ")]" * depth)))
    return draw(st.sampled_from(("", "p :- ", "p(x) :- q(x), "))) + opened + closers


# --------------------------------------------------------------------------- contracts


def _line_count(text: str) -> int:
    return text.count("\n") + 1


def assert_located(error: PolicyError, text: str) -> None:
    """A parse error of ``text``: its code, and a line and column inside the text."""
    problem = error.first
    assert error.code == "policy_parse_error", error.code
    assert problem.code == "policy_parse_error", problem.code
    line, column = problem.line, problem.column
    assert line is not None and column is not None, problem
    lines = text.split("\n")
    assert 1 <= line <= len(lines), (line, _line_count(text))
    assert 1 <= column <= len(lines[line - 1]) + 1, (line, column, len(lines[line - 1]))
    assert f"line {line}, column {column}" in problem.message, problem.message


Outcome = tuple[str, object]


def _outcome(function: Callable[[str], object], text: str) -> Outcome:
    try:
        return ("ok", function(text))
    except PolicyError as error:
        assert_located(error, text)
        return ("error", (error.first.line, error.first.column))


def check_parse_contract(text: str) -> None:
    """Every entry point parses ``text`` or raises a located parse error, and they agree."""
    outcomes = {
        f.__name__: _outcome(f, text) for f in (parse, parse_statement, parse_query, parse_literal)
    }
    whole = outcomes["parse"]
    if outcomes["parse_statement"][0] == "ok":
        assert whole == ("ok", [outcomes["parse_statement"][1]])
    # parse_literal takes a regular-expression shortcut for simple text; parse_query always
    # runs the full parser: whenever either gives a literal, both give the same one
    literal, query = outcomes["parse_literal"], outcomes["parse_query"]
    if literal[0] == "ok" or isinstance(query[1], Literal):
        assert literal == query, (literal, query)
        _same_locations(literal[1], query[1])
    ground = parse_ground(text)
    if ground is not None:
        assert literal[0] == "ok", literal
        lit = literal[1]
        assert isinstance(lit, Literal)
        assert all(isinstance(a, Constant) for a in lit.args) and not lit.named
        assert lit.policy is None and lit.modal is None and not lit.negated
        assert (lit.table, tuple(a.value for a in lit.args if isinstance(a, Constant))) == ground


def _same_locations(a: object, b: object) -> None:
    assert isinstance(a, Literal) and isinstance(b, Literal)
    assert a.loc == b.loc
    assert [t.loc for t in a.args] == [t.loc for t in b.args]


def check_roundtrip(text: str) -> list[Statement] | None:
    """If ``text`` parses: printing it and parsing again gives an equal tree (returned)."""
    try:
        program = parse(text)
    except PolicyError:
        return None
    printed = "\n".join(to_text(s) for s in program)
    assert parse(printed) == program, printed
    for statement in program:
        assert parse_statement(to_text(statement)) == statement
        if isinstance(statement, Rule):
            assert parse_statement(format_rule(statement)) == statement
            for lit in (*statement.head, *statement.body):
                _check_literal_roundtrip(lit)
    return program


def _check_literal_roundtrip(lit: Literal) -> None:
    assert parse_literal(to_text(lit)) == lit
    for term in (*lit.args, *(t for _, t in lit.named)):
        (arg,) = parse_literal(f"p({to_text(term)})").args
        assert arg == term
        # equal trees with the same kind of value: 1 and 1.0 compare equal, but must not swap
        if isinstance(term, Constant):
            assert isinstance(arg, Constant) and type(arg.value) is type(term.value)
        else:
            assert isinstance(arg, Variable)


# --------------------------------------------------------------------------- runtimes

RT_POLICIES = ("p0", "p1", "p2", "nova")
RT_TABLES = ("t", "u", "servers", "true", "false", "lt", "execute[nova:t]")
RT_COLUMNS = ("id", "name", "status", "_x0_id", "x")
RT_VALUES: tuple[str | int | float, ...] = ("a", "b", "", 0, 1, 2, 1.5, "nan", "1e400")
BODY_TABLES = (
    "t",
    "u",
    "v",
    "t",
    "u",
    "servers",
    "lt",
    "plus",
    "float",
    "concat",
    "div",
    "now",
    "t+",
)
RT_KINDS = ("nonrecursive", "nonrecursive", "materialized", "materialized", *KINDS[2:])
_VALUES = st.sampled_from(RT_VALUES)
_VARIABLE_NAMES = st.sampled_from(("x", "y", "z", "_x0_id", "_x1_status"))
_RT_TERMS: st.SearchStrategy[Term] = st.one_of(_VARIABLE_NAMES.map(Variable), _VALUES.map(Constant))
_RT_NAMED = st.tuples(st.sampled_from(RT_COLUMNS) | st.integers(0, 4), _RT_TERMS)
_RT_ARGS = st.lists(_RT_TERMS, max_size=4).map(tuple)


def _clock() -> datetime.datetime:
    return datetime.datetime(2024, 1, 2, 3, 4, 5)


@st.composite
def _schema(draw: st.DrawFn) -> dict[str, list[str]]:
    tables = draw(st.lists(st.sampled_from(RT_TABLES), max_size=3, unique=True))
    columns = st.lists(st.sampled_from(RT_COLUMNS), max_size=4, unique=True)
    return {table: draw(columns) for table in tables}


@st.composite
def runtimes(draw: st.DrawFn) -> Runtime:
    """A runtime with 1-4 policies of random kinds; schemas and rows at random."""
    max_rows = draw(st.sampled_from((None, None, 2, 10)))
    rt = Runtime(clock=_clock, limits=Limits(max_rows=max_rows))
    count = draw(st.integers(1, len(RT_POLICIES)))
    for name in RT_POLICIES[:count]:
        kind = draw(st.sampled_from(RT_KINDS))
        # a complete schema makes every other table unknown: datasources mostly
        schema = draw(st.none() | _schema()) if kind == "datasource" else None
        if schema is None and draw(st.integers(0, 5)) == 0:
            schema = draw(_schema())
        rt.create_policy(name, kind, schema=schema)
        if kind == "datasource" and schema:
            for table, columns in schema.items():
                row = st.tuples(*(_VALUES for _ in columns))
                rt.apply({(name, table): (draw(st.lists(row, max_size=3)), [])})
    return rt


@st.composite
def _body_literal(draw: st.DrawFn) -> Literal:
    policy = draw(st.sampled_from((None,) * 6 + ("builtin", "zz", *RT_POLICIES)))
    table = draw(st.sampled_from(BODY_TABLES))
    named = ()
    if policy is not None and draw(st.booleans()):
        named = tuple(draw(st.lists(_RT_NAMED, max_size=2)))
    modal = draw(st.sampled_from((None,) * 8 + ("execute", "insert")))
    negated = draw(st.integers(0, 4)) == 0
    return Literal(table, draw(_RT_ARGS), policy, modal, negated, named)


@st.composite
def _aggregate(draw: st.DrawFn) -> Literal:
    """``n = op{term | body}`` over 1-2 random body literals (rarely nested, rarely with a
    result or term that breaks the rules)."""
    literal = st.one_of(_body_literal(), _body_literal(), _body_literal(), st.deferred(_aggregate))
    body = tuple(draw(st.lists(literal, min_size=1, max_size=2)))
    inner = [v for lit in body for v in lit.variables()]
    term = draw(st.sampled_from(inner)) if inner and draw(st.integers(0, 5)) else Variable("x")
    result = Variable(draw(st.sampled_from(("n", "n", "n", "x", "y"))))
    op = draw(st.sampled_from(AGGREGATES))
    return Literal(op, (result,), aggregate=Aggregate(op, term, body))


@st.composite
def _head(draw: st.DrawFn, bound: list[Variable]) -> Literal:
    """A head whose variables are among ``bound`` (so that most rules are safe)."""
    table = draw(st.sampled_from(("t", "u", "v", "w", "t+", "lt", "true")))
    terms = _VALUES.map(Constant) | st.sampled_from(bound) if bound else _VALUES.map(Constant)
    args = tuple(draw(st.lists(terms, max_size=3)))
    policy, modal = None, None
    if draw(st.integers(0, 5)) == 0:
        modal = "execute"
        policy = draw(st.sampled_from((None, "nova", "p0")))
    elif draw(st.integers(0, 9)) == 0:
        policy = draw(st.sampled_from(RT_POLICIES))
    return Literal(table, args, policy, modal)


@st.composite
def _well_formed(draw: st.DrawFn) -> Rule:
    body = tuple(draw(st.lists(_body_literal() | _aggregate(), max_size=4)))
    bound = [v for lit in body if not lit.negated for v in lit.variables()]
    return Rule((draw(_head(bound)),), body)


@st.composite
def _wild(draw: st.DrawFn) -> Rule:
    heads = tuple(draw(st.lists(_body_literal(), min_size=1, max_size=2)))
    return Rule(heads, tuple(draw(st.lists(_body_literal(), max_size=3))))


_PAIR_TABLES = st.sampled_from(("a", "b", "c", "d"))
_PAIR_TERMS = st.one_of(_VARIABLE_NAMES.map(Variable), st.sampled_from((1, 2, "a")).map(Constant))


@st.composite
def _clean(draw: st.DrawFn) -> Rule:
    """A safe rule over tables of two columns in the same policy: recursion, negation cycles."""
    positive = draw(st.lists(st.tuples(_PAIR_TABLES, _PAIR_TERMS, _PAIR_TERMS), max_size=3))
    body = [Literal(t, (a, b)) for t, a, b in positive]
    bound = [v for lit in body for v in lit.variables()]
    if bound and draw(st.booleans()):
        table = draw(_PAIR_TABLES)
        body.append(Literal(table, (draw(st.sampled_from(bound)), Constant(1)), negated=True))
    if bound and draw(st.integers(0, 3)) == 0:  # an aggregate: a cycle through it is refused
        term = draw(st.sampled_from(bound))
        inner = Literal(draw(_PAIR_TABLES), (term, Variable("agg_local")))
        op = draw(st.sampled_from(AGGREGATES))
        body.append(Literal(op, (Variable("n"),), aggregate=Aggregate(op, term, (inner,))))
        bound.append(Variable("n"))
    if not bound:
        ground = (draw(_PAIR_TERMS.filter(lambda t: isinstance(t, Constant))),) * 2
        return Rule((Literal(draw(_PAIR_TABLES), ground),))
    head_terms = st.sampled_from(bound) | st.just(Constant(2))
    head = Literal(draw(_PAIR_TABLES), (draw(head_terms), draw(head_terms)))
    return Rule((head,), tuple(body))


def statements() -> st.SearchStrategy[Rule]:
    """Rules and facts for ``runtimes()``: mostly well formed, some safe by construction (for
    the recursion and stratification checks), some anything."""
    return st.one_of(_well_formed(), _well_formed(), _clean(), _clean(), _wild())


Snapshot = dict[str, object]


def snapshot(rt: Runtime) -> Snapshot:
    """Everything the public API shows of each policy: rules, tables, rows, arities, errors."""
    out: Snapshot = {}
    for name in rt.policy_names():
        tables = rt.tables(name)
        rows: dict[str, set[Row]] = {t: rt.rows(name, t) for t in tables}
        arities = {t: rt.known_arity(name, t) for t in tables}
        out[name] = (rt.kind(name), rt.rules(name), tables, rows, arities, rt.policy_error(name))
    return out


def _same(a: Snapshot, b: Snapshot) -> bool:
    # repr: rows may hold NaN (a builtin's output), which is never equal to itself
    return a == b or repr(a) == repr(b)


def _code(error: DatalogError) -> str:
    assert error.code in CODES, error.code
    if isinstance(error, PolicyError):
        for problem in error.problems:
            assert problem.code in CODES, problem.code
    return error.code


def check_insert_contract(rt: Runtime, policy: str, stmts: str | Iterable[Statement]) -> str:
    """Check then insert ``stmts`` (then sometimes delete them); returns "ok" or the code."""
    if not isinstance(stmts, str):
        stmts = list(stmts)
    before = snapshot(rt)
    checked: str = "ok"
    try:
        rt.check(policy, stmts)
    except DatalogError as error:
        checked = _code(error)
    assert _same(snapshot(rt), before), "check changed the runtime"
    try:
        result = rt.insert(policy, stmts)
    except LimitExceeded as error:
        assert checked == "ok", checked  # the budget is spent on evaluation, after the checks
        _code(error)
        assert _same(snapshot(rt), before), "a rejected insert changed the runtime"
        return error.code
    except DatalogError as error:
        assert _code(error) == checked, (error.code, checked)
        assert _same(snapshot(rt), before), "a rejected insert changed the runtime"
        return error.code
    assert checked == "ok", f"check raised {checked} but insert accepted"
    if result.inserted:
        after = snapshot(rt)
        try:
            rt.delete(policy, result.inserted)
        except LimitExceeded:
            assert _same(snapshot(rt), after), "a rejected delete changed the runtime"
            return "ok"
        assert _same(snapshot(rt), before), "insert then delete did not restore the runtime"
        rt.insert(policy, result.inserted)
        assert _same(snapshot(rt), after), "inserting again gave another state"
    return "ok"
