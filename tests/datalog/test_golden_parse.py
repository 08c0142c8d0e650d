"""Golden files of the parser: ``golden/parse/*.dl``.

``neg_*.dl`` must fail; their first line is ``# expect: CODE:LINE:COL``. Every other file must
parse, and ``NAME.expected`` holds ``to_text`` of each statement, one per line; the printed form
must also parse back to the same statements. Set ``CONGRESS_UPDATE_GOLDEN=1`` to rewrite the
``.expected`` files (then review the diff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse
from congress.datalog.printer import to_text

GOLDEN = Path(__file__).parent / "golden" / "parse"
POSITIVE = sorted(p for p in GOLDEN.glob("*.dl") if not p.name.startswith("neg_"))
NEGATIVE = sorted(GOLDEN.glob("neg_*.dl"))
EXPECT = re.compile(r"#\s*expect:\s*(\w+):(\d+):(\d+)\s*$")


def test_enough_cases() -> None:
    assert len(POSITIVE) >= 25
    assert len(NEGATIVE) >= 20


@pytest.mark.parametrize("path", POSITIVE, ids=lambda p: p.stem)
def test_positive(path: Path) -> None:
    statements = parse(path.read_text(encoding="utf-8"))
    printed = "".join(f"{to_text(s)}\n" for s in statements)
    expected_path = path.with_suffix(".expected")
    if os.environ.get("CONGRESS_UPDATE_GOLDEN") == "1":
        expected_path.write_text(printed, encoding="utf-8")
    assert printed == expected_path.read_text(encoding="utf-8")
    assert parse(printed) == statements


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_negative(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    match = EXPECT.match(text.splitlines()[0])
    assert match, f"{path.name} must start with '# expect: CODE:LINE:COL'"
    code, line, column = match.group(1), int(match.group(2)), int(match.group(3))
    with pytest.raises(PolicyError) as info:
        parse(text)
    problem = info.value.first
    assert (problem.code, problem.line, problem.column) == (code, line, column), problem.message
    assert f"at line {line}, column {column}:" in problem.message
