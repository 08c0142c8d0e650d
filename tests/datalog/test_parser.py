"""Unit tests of the lexer, parser and printer of the policy language."""

from __future__ import annotations

from typing import Any

import pytest

from congress.datalog.ast import Constant, Event, Literal, Location, Rule, Term, Value, Variable
from congress.datalog.errors import PolicyError
from congress.datalog.lexer import tokenize
from congress.datalog.parser import parse, parse_literal, parse_query, parse_statement
from congress.datalog.printer import format_rule, quote_string, string_representable, to_text

V = Variable
C = Constant


def lit(table: str, *args: Term | Value, **kwargs: Any) -> Literal:
    terms = tuple(a if isinstance(a, V | C) else C(a) for a in args)
    return Literal(table, terms, **kwargs)


def fact(table: str, *args: Term | Value, **kwargs: Any) -> Rule:
    return Rule((lit(table, *args, **kwargs),))


def error_of(text: str) -> tuple[str, int | None, int | None, str]:
    with pytest.raises(PolicyError) as info:
        parse(text)
    problem = info.value.first
    return problem.code, problem.line, problem.column, problem.message


# -- facts, rules and atoms ---------------------------------------------------------------------


def test_empty_program() -> None:
    assert parse("") == []
    assert parse("  \n// only a comment\n/* and another */ # and a third") == []


def test_fact_and_rule() -> None:
    assert parse("p(1)") == [fact("p", 1)]
    assert parse("p(x) :- q(x), r(x, 2)") == [
        Rule((lit("p", V("x")),), (lit("q", V("x")), lit("r", V("x"), 2)))
    ]


def test_zero_arity_with_and_without_parentheses() -> None:
    assert parse_statement("p") == parse_statement("p()") == fact("p")
    assert parse_statement("p :- q()") == Rule((lit("p"),), (lit("q"),))


def test_several_heads_parse() -> None:
    rule = parse_statement("p(x), q(x) :- r(x)")
    assert isinstance(rule, Rule)
    assert rule.head == (lit("p", V("x")), lit("q", V("x")))
    assert not rule.is_fact


def test_true_and_false_are_ordinary_tables() -> None:
    assert parse_statement("p :- true, not false") == Rule(
        (lit("p"),), (lit("true"), lit("false", negated=True))
    )


def test_dotted_identifiers() -> None:
    assert parse_literal("servers.pause(x.y, ._z)") == lit("servers.pause", V("x.y"), V("._z"))
    assert parse_literal("a.5(b..c)") == lit("a.5", V("b..c"))


def test_policy_prefix() -> None:
    assert parse_literal("nova:servers(x)") == lit("servers", V("x"), policy="nova")
    assert parse_literal("a:b:c(1)") == lit("b:c", 1, policy="a")
    assert parse_literal("a : b") == lit("b", policy="a")


def test_update_tables() -> None:
    assert parse_literal("p+(x)") == lit("p+", V("x"))
    assert parse_literal("p-(x)") == lit("p-", V("x"))
    assert parse_literal("nova:p-") == lit("p-", policy="nova")
    assert parse_literal("p+").is_update


def test_sign_must_touch_the_table_name() -> None:
    assert error_of("p +(x)")[1:3] == (1, 3)
    assert error_of("p(x) :- +q(x)")[1:3] == (1, 9)


def test_identifiers_in_term_position_are_variables() -> None:
    got = parse_literal("p(True, False, None, insert, delete, execute, notx)")
    names = ("True", "False", "None", "insert", "delete", "execute", "notx")
    assert got.args == tuple(V(n) for n in names)


def test_keywords_are_names_unless_followed_by_bracket() -> None:
    assert parse_statement("insert(1)") == fact("insert", 1)
    assert parse_statement("execute :- delete") == Rule((lit("execute"),), (lit("delete"),))


# -- negation and modals ------------------------------------------------------------------------


@pytest.mark.parametrize("neg", ["not ", "NOT ", "!", "! "])
def test_negation_spellings(neg: str) -> None:
    rule = parse_statement(f"p(x) :- q(x), {neg}r(x)")
    assert isinstance(rule, Rule)
    assert rule.body[1] == lit("r", V("x"), negated=True)


def test_not_is_a_whole_word() -> None:
    assert parse_literal("nothing") == lit("nothing")
    assert parse_literal("not nothing") == lit("nothing", negated=True)


def test_execute_modal() -> None:
    rule = parse_statement("execute[nova:servers.pause(x)] :- p(x)")
    assert rule == Rule(
        (lit("servers.pause", V("x"), policy="nova", modal="execute"),), (lit("p", V("x")),)
    )


def test_modal_facts_and_bodies() -> None:
    assert parse_statement("insert[p(1)]") == fact("p", 1, modal="insert")
    assert parse_statement("delete [ p ]") == fact("p", modal="delete")
    assert parse_statement("insert[p(1)], q :- r") == Rule(
        (lit("p", 1, modal="insert"), lit("q")), (lit("r"),)
    )
    assert parse_statement("p :- not execute[q(1)]") == Rule(
        (lit("p"),), (lit("q", 1, modal="execute", negated=True),)
    )


def test_events() -> None:
    rule = Rule((lit("p", V("x")),), (lit("q", V("x")),))
    assert parse_statement("insert[p(x) :- q(x)]") == Event(rule, insert=True)
    assert parse_statement("delete[p(x) :- q(x)]") == Event(rule, insert=False)
    assert parse_statement("delete[p(x) :- q(x); 'alice']") == Event(rule, False, "alice")
    assert parse_statement('insert[p(x) :- q(x). "bob"]') == Event(rule, True, "bob")
    assert parse_statement("insert[p(x), r :- q(x), s]") == Event(
        Rule((lit("p", V("x")), lit("r")), (lit("q", V("x")), lit("s"))), True
    )
    assert parse_statement("insert[execute[p] :- q]") == Event(
        Rule((lit("p", modal="execute"),), (lit("q"),)), True
    )


def test_event_errors() -> None:
    assert error_of("insert[p(1), q(1)]")[1:] == (
        1,
        18,
        "Parse failure at line 1, column 18: expected ',' or ':-' but found ']'",
    )
    assert error_of("insert[not p(1)]")[1:3] == (1, 16)
    assert error_of("insert[p :- q;]")[1:3] == (1, 15)
    assert error_of("insert[p :- q; 'a'")[1:3] == (1, 19)
    assert error_of("execute[p :- q]")[1:3] == (1, 11)
    assert error_of("insert[insert[p :- q] :- r]")[1:3] == (1, 17)


# -- column references --------------------------------------------------------------------------


def test_column_references() -> None:
    got = parse_literal("nova:servers(x, id=y, 0=z, 0x2=3)")
    assert got == Literal(
        "servers", (V("x"),), "nova", named=(("id", V("y")), (0, V("z")), (2, C(3)))
    )
    assert to_text(got) == "nova:servers(x, id=y, 0=z, 2=3)"


def test_positional_after_named_is_an_error() -> None:
    code, line, column, message = error_of("p(x) :-\n  nova:servers(id=x, y)")
    assert (code, line, column) == ("policy_parse_error", 2, 22)
    assert message == (
        "Parse failure at line 2, column 22: "
        "Atom nova:servers has a positional parameter after a reference parameter"
    )


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("000", 0),
        ("42", 42),
        ("0x1F", 31),
        ("0XfF", 255),
        ("0o17", 15),
        ("0b101", 5),
        ("-5", -5),
        ("-0x10", -16),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e5", 1e5),
        ("1.5E-3", 1.5e-3),
        ("007.5", 7.5),
        ("-.5", -0.5),
        ("-2.5e+3", -2500.0),
        ("1.e2", 100.0),
    ],
)
def test_numbers(text: str, value: int | float) -> None:
    (arg,) = parse_literal(f"p({text})").args
    assert isinstance(arg, Constant)
    assert arg.value == value
    assert type(arg.value) is type(value)


def test_negative_number_after_separators() -> None:
    assert parse_literal("p(-1,-2, x=-3)") == Literal("p", (C(-1), C(-2)), named=(("x", C(-3)),))


def test_minus_before_a_variable_is_an_error() -> None:
    assert error_of("p(-x)")[1:3] == (1, 3)


@pytest.mark.parametrize(("text", "column"), [("p(007)", 3), ("p(1x)", 3), ("p(0x)", 3)])
def test_bad_numbers(text: str, column: int) -> None:
    _, line, col, message = error_of(text)
    assert (line, col) == (1, column)
    assert message.startswith(f"Lex failure at line 1, column {column}: invalid number literal")


def test_huge_decimal_is_a_lex_error() -> None:
    code, _, _, message = error_of("p(" + "1" * 5000 + ")")
    assert code == "policy_parse_error"
    assert "Lex failure" in message


# -- strings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"abc"', "abc"),
        ("'abc'", "abc"),
        ('""', ""),
        ("''", ""),
        ('"""a"b""c"""', 'a"b""c'),
        ("'''a'b\nc'''", "a'b\nc"),
        ('"""x\n y"""', "x\n y"),
        ('r"\\d"', "\\d"),
        ('R"x"', "x"),
        ('u"x"', "x"),
        ('U"x"', "x"),
        ('b"x"', "x"),
        ("B'x'", "x"),
        ('rb"x"', "x"),
        ('Br"x"', "x"),
        ("bR'''x'''", "x"),
        ('"a\\nb"', "a\\nb"),
        ('"say \\"hi\\""', 'say \\"hi\\"'),
        ("'it\\'s'", "it\\'s"),
        ('"\\\\"', "\\\\"),
        ('"a # not a comment // nor /* this */"', "a # not a comment // nor /* this */"),
        ('"ü ∀ 日本"', "ü ∀ 日本"),
    ],
)
def test_strings_are_raw(text: str, value: str) -> None:
    assert parse_literal(f"p({text})").args == (C(value),)


def test_prefix_letters_alone_are_identifiers() -> None:
    assert parse_literal("p(r, b, rb, u)").args == (V("r"), V("b"), V("rb"), V("u"))


@pytest.mark.parametrize(
    ("text", "line", "column", "what"),
    [
        ('p("abc)', 1, 3, "unterminated string"),
        ("p('abc\n')", 1, 3, "unterminated string"),
        ('p(1) :-\n  q("""abc)', 2, 5, "unterminated triple-quoted string"),
        ('p("a\\")', 1, 3, "unterminated string"),
    ],
)
def test_unterminated_strings(text: str, line: int, column: int, what: str) -> None:
    assert error_of(text)[1:] == (
        line,
        column,
        f"Lex failure at line {line}, column {column}: {what}",
    )


# -- comments, terminators, whitespace ----------------------------------------------------------


def test_comments() -> None:
    text = """
    // a comment
    p(1)  # another
    /* a block
       comment */ q(2) /* inline */ :- r(2) // trailing
    """
    assert parse(text) == [fact("p", 1), Rule((lit("q", 2),), (lit("r", 2),))]


def test_unterminated_block_comment() -> None:
    assert error_of("p(1)\n  /* open")[1:] == (
        2,
        3,
        "Lex failure at line 2, column 3: unterminated comment '/*'",
    )


def test_terminators() -> None:
    expected = [fact("p", 1), fact("q", 2), fact("r", 3)]
    assert parse("p(1); q(2). r(3)") == expected
    assert parse("p(1).q(2).r(3).") == expected
    assert parse("p(1)\nq(2)\nr(3);") == expected


def test_dot_after_identifier_is_a_terminator() -> None:
    assert parse("p. q :- r.") == [fact("p"), Rule((lit("q"),), (lit("r"),))]
    assert parse("p :- q.\nr") == [Rule((lit("p"),), (lit("q"),)), fact("r")]


def test_double_terminator_is_an_error() -> None:
    assert error_of("p(1);;")[1:3] == (1, 6)
    assert error_of("p(1)..")[1:3] == (1, 6)
    assert error_of("p :- q...")[1:] == (
        1,
        7,
        "Parse failure at line 1, column 7: expected a literal but found '...'",
    )


def test_leading_dots_start_identifiers() -> None:
    assert parse("p(1)...x") == [fact("p", 1), fact("..x")]
    assert parse("..x(1)") == [fact("..x", 1)]


@pytest.mark.parametrize("text", ["." * 200_000, "a" + "." * 200_000, "p(1)" + "." * 200_000])
def test_long_dot_runs_lex_in_linear_time(text: str) -> None:
    with pytest.raises(PolicyError):
        parse(text)


# -- locations ----------------------------------------------------------------------------------


def test_locations_on_every_node() -> None:
    (rule,) = parse("\n  p(x, 1) :-\n    not q(x)")
    assert isinstance(rule, Rule)
    assert rule.loc == Location(2, 3)
    head, body = rule.head[0], rule.body[0]
    assert head.loc == Location(2, 3)
    assert head.args[0].loc == Location(2, 5)
    assert head.args[1].loc == Location(2, 8)
    assert body.loc == Location(3, 5)
    assert body.args[0].loc == Location(3, 11)


def test_event_and_modal_locations() -> None:
    event = parse_statement("  insert[p :- q]")
    assert isinstance(event, Event)
    assert event.loc == Location(1, 3)
    assert event.formula.loc == Location(1, 10)
    modal = parse_statement("delete[p]")
    assert isinstance(modal, Rule)
    assert modal.loc == modal.head[0].loc == Location(1, 1)


def test_locations_after_multiline_tokens() -> None:
    (rule,) = parse("p('''a\nbc''', x)")
    assert isinstance(rule, Rule)
    assert rule.head[0].args[1].loc == Location(2, 8)


def test_token_positions() -> None:
    tokens = tokenize("p(x)\n\t:- q")
    assert [(t.kind, t.line, t.column) for t in tokens] == [
        ("ID", 1, 1),
        ("(", 1, 2),
        ("ID", 1, 3),
        (")", 1, 4),
        (":-", 2, 2),
        ("ID", 2, 5),
        ("EOF", 2, 6),
    ]


# -- syntax errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("p(x", 1, 4, "expected ')' or ',' but found end of input"),
        ("p(x) :-\n  q(x\n  :- r", 3, 3, "expected ')' or ',' but found ':-'"),
        ("p(x) :- ", 1, 9, "expected a literal but found end of input"),
        ("not p(1)", 1, 9, "expected ',' or ':-' but found end of input"),
        ("p(1), q(2)", 1, 11, "expected ',' or ':-' but found end of input"),
        ("p(x,)", 1, 5, "expected a term but found ')'"),
        ("p(x y)", 1, 5, "expected ')' or ',' but found 'y'"),
        ("nova:(x)", 1, 6, "expected a table name but found '('"),
        ("not not p", 1, 5, "expected a table name but found 'not'"),
        ("(x)", 1, 1, "expected a literal but found '('"),
        ("p(not)", 1, 3, "expected a term but found 'not'"),
        ("execute[p", 1, 10, "expected ']' but found end of input"),
        ("p :- q, ", 1, 9, "expected a literal but found end of input"),
        ("p(1) = 2", 1, 6, "expected a literal but found '='"),
        ("p :- 'x'", 1, 6, "expected a literal but found ''x''"),
    ],
)
def test_syntax_errors(text: str, line: int, column: int, message: str) -> None:
    code, got_line, got_column, got_message = error_of(text)
    assert code == "policy_parse_error"
    assert (got_line, got_column) == (line, column)
    assert got_message == f"Parse failure at line {line}, column {column}: {message}"


def test_unexpected_character() -> None:
    assert error_of("p(1)\nq(@)")[1:] == (
        2,
        3,
        "Lex failure at line 2, column 3: unexpected character '@'",
    )


def test_error_carries_a_problem() -> None:
    with pytest.raises(PolicyError) as info:
        parse("p(")
    assert info.value.code == "policy_parse_error"
    # the message already names the place, so ``located`` does not say it twice
    assert info.value.first.located() == (
        "Parse failure at line 1, column 3: expected a term but found end of input"
    )
    assert (info.value.first.line, info.value.first.column) == (1, 3)


# -- entry points -------------------------------------------------------------------------------


def test_parse_statement_wants_exactly_one() -> None:
    assert parse_statement("p(1);") == fact("p", 1)
    with pytest.raises(PolicyError, match="line 1, column 1: expected a literal but found end"):
        parse_statement("")
    with pytest.raises(PolicyError, match="column 6: expected end of input but found 'q'"):
        parse_statement("p(1) q(2)")


def test_parse_literal() -> None:
    assert parse_literal('error("vm1")') == lit("error", "vm1")
    assert parse_literal("not p(x).") == lit("p", V("x"), negated=True)
    assert parse_literal("execute[a:b(1)]") == lit("b", 1, policy="a", modal="execute")
    with pytest.raises(PolicyError, match="expected end of input but found ':-'"):
        parse_literal("p :- q")
    with pytest.raises(PolicyError, match="expected end of input but found ','"):
        parse_literal("p, q")


def test_parse_literal_is_cached() -> None:
    assert parse_literal('error("vm42")') is parse_literal('error("vm42")')


def test_parse_query() -> None:
    assert parse_query("p(x)") == lit("p", V("x"))
    assert parse_query("not p(x)") == lit("p", V("x"), negated=True)
    assert parse_query("p(x) :- q(x)") == Rule((lit("p", V("x")),), (lit("q", V("x")),))
    assert parse_query("insert[p(1)]") == lit("p", 1, modal="insert")
    with pytest.raises(PolicyError):
        parse_query("insert[p :- q]")
    with pytest.raises(PolicyError):
        parse_query("p q")
    with pytest.raises(PolicyError):
        parse_query("p, q")


# -- printer ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'p(x, "a", 1, 2.5) :- q(x), not r(x), builtin:lt(x, 3)',
        "execute[nova:servers.pause(x)] :- p(x)",
        "insert[p(x) :- q(x)]",
        'delete[p(1) :- true; "alice"]',
        "nova:servers(id=x, 0=y)",
        "p(-5, -2.5, 1e+16, 1.5e-07)",
        "a:b:c+(x) :- p-(x)",
        "insert[p(1)], q :- not delete[r]",
        "p",
    ],
)
def test_to_text_is_canonical(text: str) -> None:
    statement = parse_statement(text)
    assert to_text(statement) == text
    assert parse_statement(to_text(statement)) == statement


def test_to_text_of_literals_and_terms() -> None:
    assert to_text(lit("p", V("x"), negated=True, modal="execute")) == "not execute[p(x)]"
    assert to_text(V("x")) == "x"
    assert to_text(C(-0.0)) == "-0.0"
    assert to_text(C(0.1)) == "0.1"
    assert to_text(C(-7)) == "-7"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b', "'a\"b'"),
        ("a'b\"c", '"""a\'b"c"""'),
        ("line\nbreak", '"""line\nbreak"""'),
        ('ends with "', "'ends with \"'"),
        ('a"\'\nb"', "'''a\"'\nb\"'''"),
        ('a\\"b', '"a\\"b"'),
        ("", '""'),
    ],
)
def test_quote_style(value: str, quoted: str) -> None:
    assert quote_string(value) == quoted
    assert parse_literal(f"p({quoted})").args == (C(value),)


@pytest.mark.parametrize("value", ["trailing\\", "x\"\"\"'''\n", "'''\n\""])
def test_unrepresentable_strings(value: str) -> None:
    assert not string_representable(value)
    assert isinstance(quote_string(value), str)  # best effort, never raises


def test_format_rule() -> None:
    rule = parse_statement("p(x), q(x) :- r(x), not s(x), builtin:lt(x, 3)")
    assert isinstance(rule, Rule)
    assert format_rule(rule) == "p(x), q(x) :-\n  r(x),\n  not s(x),\n  builtin:lt(x, 3)"
    assert format_rule(fact("p", 1, "a")) == 'p(1, "a")'
    single = Rule((lit("p"),), (lit("q"),))
    assert format_rule(single) == "p :-\n  q"
