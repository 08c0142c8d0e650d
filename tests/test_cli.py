"""Tests of the ``congress-policy`` command line (congress.cmd.policy)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from congress.cmd.policy import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

EXAMPLE_ANSWERS = [
    'error("vm2", "server in ERROR state")',
    'error("vm3", "attached to a network of another project")',
]


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    data = {
        "nova": {
            "servers": {
                "columns": ["id", "status"],
                "rows": [["vm1", "ACTIVE"], ["vm2", "ERROR"], ["vm3", "ERROR"]],
            }
        },
        "flags": {"bad": [["vm3", True], ["vm1", None]]},
    }
    return {
        "policy": write(
            tmp_path / "alice.dl",
            '// alice\nerr(vm) :- nova:servers(id=vm, status="ERROR")\n'
            'ok(vm) :- err(vm), not flags:bad(vm, "True")\n',
        ),
        "data": write(tmp_path / "cloud.json", json.dumps(data)),
    }


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- eval --------------------------------------------------------------------------------------


def test_eval_prints_sorted_answers(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "err(x)"], capsys
    )
    assert (code, err) == (0, "")
    assert out == 'err("vm2")\nerr("vm3")\n'


def test_eval_booleans_and_nulls_become_strings(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "ok(x)"], capsys
    )
    assert code == 0
    assert out == 'ok("vm2")\n'
    code, out, _ = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "flags:bad(x, y)"], capsys
    )
    assert out == 'flags:bad("vm1", "None")\nflags:bad("vm3", "True")\n'


def test_eval_with_no_answers_prints_nothing(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["eval", files["policy"], "--data", files["data"], "--query", 'err("vm1")'], capsys
    )
    assert (code, out, err) == (0, "", "")


def test_eval_json(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "err(x)", "--json"], capsys
    )
    assert code == 0
    assert json.loads(out) == ['err("vm2")', 'err("vm3")']


def test_eval_explain(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "ok(x)", "--explain"],
        capsys,
    )
    assert code == 0
    assert out.splitlines() == [
        'alice:ok("vm2")',
        '  alice:err("vm2")',
        '    nova:servers("vm2", "ERROR")   [data]',
        '  flags:not bad("vm2", "True")   [negation]',
    ]


def test_eval_explain_json(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "eval",
            files["policy"],
            "--data",
            files["data"],
            "--query",
            'err("vm3")',
            "--explain",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "literal": 'err("vm3")',
            "policy": "alice",
            "kind": "rule",
            "rule": 'err(vm) :- nova:servers(vm, "ERROR")',
            "children": [{"literal": 'servers("vm3", "ERROR")', "policy": "nova", "kind": "data"}],
        }
    ]


def test_eval_kind_and_policy_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = write(
        tmp_path / "g.dl",
        "edge(1, 2) edge(2, 1)\npath(x, y) :- edge(x, y)\npath(x, z) :- edge(x, y), path(y, z)\n",
    )
    other = write(tmp_path / "other.dl", "loop(x) :- g:path(x, x)\n")
    code, out, err = run(
        ["eval", g, other, "--kind", "g=materialized", "--query", "path(1, y)"], capsys
    )
    assert (code, err) == (0, "")
    assert out == "path(1, 1)\npath(1, 2)\n"
    code, out, _ = run(
        [
            "eval",
            g,
            other,
            "--kind",
            "g=materialized",
            "--policy",
            "other",
            "--query",
            "loop(x)",
        ],
        capsys,
    )
    assert out == "loop(1)\nloop(2)\n"


def test_eval_recursion_needs_a_materialized_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    g = write(
        tmp_path / "g.dl",
        "edge(1, 2)\npath(x, y) :- edge(x, y)\npath(x, z) :- edge(x, y), path(y, z)\n",
    )
    code, out, err = run(["eval", g, "--query", "path(x, y)"], capsys)
    assert code == 1
    assert out == ""
    assert err == f"{g}:3:1: recursive_rules: Rules are recursive: g:path -> g:path\n"


def test_eval_policy_file_errors_with_locations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.dl", "p(1)\nq(x) :- r(y)\n\ns(x :- p(x)\n")
    code, out, err = run(["eval", bad, "--query", "p(x)"], capsys)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"{bad}:4:5: policy_parse_error: Parse failure at line 4, column 5: "
        "expected ')' or ',' but found ':-'",
    ]
    bad2 = write(tmp_path / "bad2.dl", "p(1)\nq(x) :- r(y)\nt(1, 2) t(3)\n")
    code, out, err = run(["eval", bad2, "--query", "p(x)"], capsys)
    assert code == 1
    assert err.splitlines() == [
        f"{bad2}:2:3: unsafe_rule: Variable x found in head but not in body, rule q(x) :- r(y)",
        f"{bad2}:3:9: arity_mismatch: Literal t(3) contained 1 arguments but exactly 2 "
        "arguments are permitted",
    ]


def test_eval_invalid_query(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "err(x) ok(x)"], capsys
    )
    assert code == 1
    assert out == ""
    assert err == (
        "<query>:1:1: invalid_query: "
        "A query must be exactly one literal or rule; found 2 statements\n"
    )


def test_eval_missing_file_and_no_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["eval", str(tmp_path / "nope.dl"), "--query", "p(x)"], capsys)
    assert code == 2
    assert err.startswith("congress-policy: ") and "nope.dl" in err
    code, _, err = run(["eval", "--query", "p(x)"], capsys)
    assert code == 2
    assert err == "congress-policy: no policy to query (give a FILE or --policy)\n"


def test_eval_without_a_query_prints_every_row_of_the_policy(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["eval", files["policy"], "--data", files["data"]], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == ['err("vm2")', 'err("vm3")', 'ok("vm2")']


def test_eval_format_json(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["eval", files["policy"], "--data", files["data"], "--query", "err(x)", "--format", "json"],
        capsys,
    )
    assert code == 0
    assert json.loads(out) == ['err("vm2")', 'err("vm3")']


def test_eval_bad_json_data_names_file_line_and_column(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.json", '{"nova": {"servers": [["vm1",]]}}')
    code, out, err = run(["eval", files["policy"], "--data", bad, "--query", "err(x)"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"congress-policy: {bad}:1:30: invalid JSON: ")
    shape = write(tmp_path / "shape.json", '{"nova": {"servers": {"rows": 3}}}')
    code, _, err = run(["eval", files["policy"], "--data", shape, "--query", "err(x)"], capsys)
    assert code == 2
    assert err == f"congress-policy: {shape}: nova:servers: rows must be a list of lists\n"


def test_eval_bad_kind_option(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["eval", files["policy"], "--kind", "alice", "--query", "p(x)"], capsys)
    assert code == 2
    assert err == "congress-policy: --kind alice: expected POLICY=KIND\n"


# -- the examples ------------------------------------------------------------------------------


def test_examples_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        [
            "eval",
            str(EXAMPLES / "classification.dl"),
            "--data",
            str(EXAMPLES / "cloud.json"),
            "--query",
            "error(vm, reason)",
        ],
        capsys,
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == EXAMPLE_ANSWERS


def test_examples_through_the_installed_command() -> None:
    exe = Path(sys.executable).parent / "congress-policy"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "congress.cmd.policy"]
    proc = subprocess.run(
        [
            *cmd,
            "eval",
            "examples/classification.dl",
            "--data",
            "examples/cloud.json",
            "--query",
            "error(vm, reason)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == EXAMPLE_ANSWERS


# -- test --------------------------------------------------------------------------------------

CASES = """
- name: cli_pass_query
  policies:
    - {name: alice}
  steps:
    - insert: {policy: alice, rules: "p(1) p(2) q(x) :- p(x), not r(x) r(2)"}
  query: {policy: alice, text: "q(x)"}
  expect: ["q(1)"]

- name: cli_pass_error
  policies:
    - {name: alice}
  steps:
    - expect_error:
        insert: {policy: alice, rules: "p(x) :- q(y)"}
        code: unsafe_rule
        line: 1
        column: 3

- name: cli_fail_wrong_answer
  policies:
    - {name: alice}
  steps:
    - insert: {policy: alice, rules: "p(1)"}
  query: {policy: alice, text: "p(x)"}
  expect: ["p(2)"]
"""


def test_test_command_runs_conformance_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "cases.yaml", CASES)
    code, out, err = run(["test", path], capsys)
    assert code == 1
    assert err == ""
    assert out.splitlines() == [
        f"PASS {path}::cli_pass_query",
        f"PASS {path}::cli_pass_error",
        f"FAIL {path}::cli_fail_wrong_answer",
        "    FAIL  case: CaseFailure: query p(x) in alice: missing ['p(2)'], unexpected ['p(1)']",
        "2 passed, 1 failed in 1 file",
    ]


def test_test_command_quiet_and_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    passing = CASES.split("- name: cli_fail_wrong_answer")[0]
    write(folder / "sub" / "a.yaml", passing)
    write(folder / "ignored.txt", "not yaml")
    code, out, _ = run(["test", "-q", str(folder)], capsys)
    assert code == 0
    assert out.splitlines() == ["2 passed, 0 failed in 1 file"]


def test_test_command_on_the_conformance_suite(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["test", "-q", str(ROOT / "tests" / "conformance" / "cases")], capsys)
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert re.fullmatch(r"[0-9]{3,} passed, 0 failed in [0-9]+ files", lines[0]), out
    assert code == 0
