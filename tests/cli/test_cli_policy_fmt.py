"""``congress-policy fmt``: canonical form through the printer, comments kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from congress.cmd.policy import main
from congress.cmd.policyfmt import format_text
from congress.datalog.parser import parse

ROOT = Path(__file__).resolve().parents[2]

MESSY = """\
// header
// more

p(1) ; p(2).  // two facts
q(x) :- p(x),   # why
   not r(x)
/* block
   comment */
r('a')


s(x, y) :- q(x), /* inner */ nova:servers(id=x, name=y)
insert[p(3) :- q(3)]
// end
"""

CANONICAL = """\
// header
// more

p(1)
p(2)  // two facts

# why
q(x) :-
  p(x),
  not r(x)

/* block
   comment */
r("a")

/* inner */
s(x, y) :-
  q(x),
  nova:servers(id=x, name=y)

insert[p(3) :- q(3)]
// end
"""


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_canonical_form_keeps_comments_and_statements() -> None:
    assert format_text(MESSY) == CANONICAL
    assert parse(CANONICAL) == parse(MESSY)


def test_canonical_form_is_a_fixed_point() -> None:
    assert format_text(CANONICAL) == CANONICAL
    example = (ROOT / "examples" / "classification.dl").read_text()
    once = format_text(example)
    assert format_text(once) == once
    assert parse(once) == parse(example)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("\n\n", ""),
        ("// only a comment\n", "// only a comment\n"),
        ("p(1) // a\n\n\n// b\n", "p(1)  // a\n\n// b\n"),
        ("a(1)\n\n\n\nb(2)", "a(1)\n\nb(2)\n"),
        ("p(x):-q(x) p(1)", "p(x) :-\n  q(x)\n\np(1)\n"),
        ("p(1) /* a */ /* b */ q(2)", "p(1)  /* a */\n/* b */\nq(2)\n"),
    ],
)
def test_blank_lines_and_comment_placement(text: str, expected: str) -> None:
    assert format_text(text) == expected
    assert format_text(expected) == expected


def test_fmt_prints_the_canonical_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a.dl", MESSY)
    assert run(["fmt", path], capsys) == (0, CANONICAL, "")


def test_fmt_check_lists_unformatted_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy = write(tmp_path / "messy.dl", MESSY)
    tidy = write(tmp_path / "tidy.dl", CANONICAL)
    assert run(["fmt", "--check", tidy], capsys) == (0, "", "")
    assert run(["fmt", "--check", messy, tidy], capsys) == (1, f"{messy}: not formatted\n", "")
    assert Path(messy).read_text() == MESSY


def test_fmt_write_rewrites_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = write(tmp_path / "messy.dl", MESSY)
    tidy = write(tmp_path / "tidy.dl", CANONICAL)
    assert run(["fmt", "-w", messy, tidy], capsys) == (0, f"reformatted {messy}\n", "")
    assert Path(messy).read_text() == CANONICAL
    assert run(["fmt", "--check", messy], capsys) == (0, "", "")


def test_fmt_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a.dl", "p(x):-q(x)\n")
    code, out, _ = run(["fmt", "--diff", path], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"--- {path}",
        f"+++ {path} (formatted)",
        "@@ -1 +1,2 @@",
        "-p(x):-q(x)",
        "+p(x) :-",
        "+  q(x)",
    ]


def test_fmt_parse_errors_name_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.dl", "p(1)\n\nq(x :- p(x)\n")
    good = write(tmp_path / "good.dl", "p(1)\n")
    code, out, err = run(["fmt", "--check", bad, good], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"{bad}:3:5: policy_parse_error: Parse failure at line 3, column 5: "
        "expected ')' or ',' but found ':-'\n"
    )
    assert Path(bad).read_text() == "p(1)\n\nq(x :- p(x)\n"


def test_fmt_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("p(1);q(2)"))
    assert run(["fmt"], capsys) == (0, "p(1)\nq(2)\n", "")
    code, _, err = run(["fmt", "-w"], capsys)
    assert (code, err) == (2, "congress-policy: -w needs files, not standard input\n")


def test_fmt_modes_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a.dl", "p(1)\n")
    code, _, err = run(["fmt", "--check", "-w", path], capsys)
    assert (code, err) == (2, "congress-policy: give at most one of --check, -w and --diff\n")


def test_fmt_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["fmt", str(tmp_path / "nope.dl")], capsys)
    assert (code, err) == (2, f"congress-policy: {tmp_path}/nope.dl: No such file or directory\n")
