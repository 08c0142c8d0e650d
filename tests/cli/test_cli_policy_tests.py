"""``congress-policy test`` on policy test files (docs/policy-testing.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from congress.cmd.policy import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "policy-tests"

POLICY = """\
// servers in ERROR
error(vm) :-
  nova:servers(id=vm, status="ERROR")
"""

DATA = {"nova": {"servers": {"columns": ["id", "status"], "rows": [["vm1", "ACTIVE"]]}}}


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A folder with a policy file, a data file and a test file using both."""
    write(tmp_path / "alice.dl", POLICY)
    write(tmp_path / "cloud.json", json.dumps(DATA))
    return tmp_path


def make_test_file(suite: Path, body: str, name: str = "alice_test.yaml") -> str:
    header = "policies: [alice.dl]\ndata: cloud.json\n"
    return write(suite / name, header + body)


# -- the example the docs show ---------------------------------------------------------------

EXAMPLE_OUTPUT = [
    f"PASS {EXAMPLE}/capacity_test.yaml::an_empty_hypervisor_counts_zero",
    f"PASS {EXAMPLE}/capacity_test.yaml::two_servers_of_the_same_flavor_both_count",
    f"PASS {EXAMPLE}/capacity_test.yaml::a_new_server_is_counted",
    f"PASS {EXAMPLE}/capacity_test.yaml::an_aggregate_in_its_own_recursion_is_refused",
    f"PASS {EXAMPLE}/classification_test.yaml::reports_the_example_cloud",
    f"PASS {EXAMPLE}/classification_test.yaml::a_healthy_server_is_not_reported",
    f"PASS {EXAMPLE}/classification_test.yaml::a_server_can_be_reported_twice",
    f"PASS {EXAMPLE}/classification_test.yaml::rejects_an_unsafe_rule",
    f"PASS {EXAMPLE}/reachability_test.yaml::only_lab_is_isolated",
    f"PASS {EXAMPLE}/reachability_test.yaml::a_new_link_connects_lab",
    f"PASS {EXAMPLE}/reachability_test.yaml::recursion_through_negation_is_refused",
    "11 passed, 0 failed in 3 files",
]


def test_the_example_folder_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["test", str(EXAMPLE)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == EXAMPLE_OUTPUT


def test_the_example_policies_are_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["fmt", "--check", *map(str, sorted(EXAMPLE.glob("*.dl")))], capsys)
    assert (code, out, err) == (0, "", "")


def test_the_failing_example_of_the_docs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/policy-testing.md shows this run: the example with a wrong expectation."""
    copy = tmp_path / "policy-tests"
    shutil.copytree(EXAMPLE, copy)
    shutil.copy(ROOT / "examples" / "classification.dl", tmp_path)
    shutil.copy(ROOT / "examples" / "cloud.json", tmp_path)
    test = copy / "classification_test.yaml"
    test.write_text(test.read_text().replace('["vm2", "server in ERROR state"]', '["vm1", "x"]'))
    code, out, err = run(["test", str(test)], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines()[:5] == [
        f"FAIL {test}::reports_the_example_cloud",
        "    FAIL  table classification:error: rows differ",
        "          (- expected but missing, + present but not expected)",
        '          - error("vm1", "x")',
        '          + error("vm2", "server in ERROR state")',
    ]
    assert out.splitlines()[-1] == "3 passed, 1 failed in 1 file"


def test_through_the_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "congress-policy"
    assert exe.exists(), "the package is installed in the test environment"
    report = tmp_path / "report.xml"
    proc = subprocess.run(
        [str(exe), "test", "examples/policy-tests", "--format", "junit", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        line.replace(f"{EXAMPLE}/", "examples/policy-tests/") for line in EXAMPLE_OUTPUT
    ]
    root = ET.parse(report).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "11",
        "0",
        "0",
    )
    broken = write(tmp_path / "broken_test.yaml", "tests: nothing\n")
    proc = subprocess.run(
        [str(exe), "test", broken], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        f"ERROR {broken}: tests must be a non-empty list",
        "0 passed, 0 failed, 1 error in 1 file",
    ]


# -- expectations ------------------------------------------------------------------------------


def test_exact_rows_contains_excludes_and_count(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_test_file(
        suite,
        """
tests:
  - name: all_pass
    data: {nova: {servers: [["vm2", "ERROR"], ["vm3", "ERROR"]]}}
    expect:
      - {table: error, rows: [["vm2"], 'error("vm3")']}
      - {table: alice:error, contains: [["vm3"]], excludes: [["vm1"]], count: 2}
      - {query: 'error("vm2")', rows: [["vm2"]]}
      - {table: nova:servers, count: 3}
  - name: all_fail
    data: {nova: {servers: [["vm2", "ERROR"]]}}
    expect:
      - {table: error, rows: [["vm1"]]}
      - {table: error, contains: [["vm3"]]}
      - {table: error, excludes: [["vm2"], ["vm9"]]}
      - {table: error, count: 0}
      - {table: errors, rows: []}
""",
    )
    code, out, err = run(["test", path], capsys)
    assert (code, err) == (1, "")
    legend = "          (- expected but missing, + present but not expected)"
    assert out.splitlines() == [
        f"PASS {path}::all_pass",
        f"FAIL {path}::all_fail",
        "    FAIL  table alice:error: rows differ",
        legend,
        '          - error("vm1")',
        '          + error("vm2")',
        "    FAIL  table alice:error: rows missing",
        legend,
        '          - error("vm3")',
        "    FAIL  table alice:error: excluded rows present",
        legend,
        '          + error("vm2")',
        "    FAIL  table alice:error: expected 0 rows, found 1",
        legend,
        '          + error("vm2")',
        "    FAIL  table alice:errors: policy alice has no table errors",
        "1 passed, 1 failed in 1 file",
    ]


def test_verbose_lists_each_check(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_test_file(
        suite,
        "tests:\n  - name: t\n    expect:\n      - {table: error, rows: []}\n"
        "      - {query: 'nova:servers(x, y)', count: 1}\n",
    )
    code, out, _ = run(["test", "-v", path], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"PASS {path}::t (") and lines[0].endswith(" ms)")
    assert lines[1:] == [
        "    ok    table alice:error",
        "    ok    query nova:servers(x, y) in alice",
        "1 passed, 0 failed in 1 file",
    ]


def test_quiet_prints_failures_only(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_test_file(
        suite,
        "tests:\n  - {name: good, expect: [{table: error, count: 0}]}\n"
        "  - {name: bad, expect: [{table: error, count: 1}]}\n",
    )
    code, out, _ = run(["test", "-q", path], capsys)
    assert code == 1
    assert out.splitlines()[0] == f"FAIL {path}::bad"
    assert out.splitlines()[-1] == "1 passed, 1 failed in 1 file"
    assert "good" not in out


def test_run_filters_by_name(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_test_file(
        suite,
        "tests:\n  - {name: keep_me, expect: [{table: error, count: 0}]}\n"
        "  - {name: drop_me, expect: [{table: error, count: 5}]}\n",
    )
    code, out, _ = run(["test", "--run", "^keep", path], capsys)
    assert code == 0
    assert out.splitlines() == [f"PASS {path}::keep_me", "1 passed, 0 failed in 1 file"]
    code, out, err = run(["test", "--run", "nothing", path], capsys)
    assert (code, out) == (2, "")
    assert err == f"congress-policy: no tests matching --run nothing in {path}\n"
    code, _, err = run(["test", "--run", "(", path], capsys)
    assert code == 2
    assert err.startswith("congress-policy: --run (: invalid regular expression: ")


# -- expected errors ---------------------------------------------------------------------------


def test_expected_errors(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_test_file(
        suite,
        """
tests:
  - name: unsafe_in_block
    rules: |
      ok(x) :- error(x)
      bad(x) :- error(y)
    expect_error: {code: unsafe_rule, line: 2, file: alice_test.yaml}
  - name: parse_error_single_line
    rules: "p(1) q("
    expect_error: {code: policy_parse_error, line: 1, column: 8, message: "a term"}
  - name: wrong_code
    rules: "p(x) :- q(y)"
    expect_error: {code: arity_mismatch}
  - name: no_error
    rules: "p(1)"
    expect_error: {code: unsafe_rule}
  - name: unexpected_error
    rules: {alice: "p(x) :- q(y)"}
    expect: [{table: error, count: 0}]
  - name: bad_query
    expect: [{query: "p(x) q(x)", count: 0}]
""",
    )
    code, out, err = run(["test", path], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"PASS {path}::unsafe_in_block",
        f"PASS {path}::parse_error_single_line",
        f"FAIL {path}::wrong_code",
        f"    FAIL  an error arity_mismatch: got a different error: {path}:14:15: unsafe_rule: "
        "Variable x found in head but not in body, rule p(x) :- q(y) "
        "(test wrong_code, rules of alice, line 1, column 3)",
        f"FAIL {path}::no_error",
        "    FAIL  an error unsafe_rule: expected an error unsafe_rule, but there was none",
        f"FAIL {path}::unexpected_error",
        f"    FAIL  no error: unexpected error: {path}:20:23: unsafe_rule: "
        "Variable x found in head but not in body, rule p(x) :- q(y) "
        "(test unexpected_error, rules of alice, line 1, column 3)",
        f"FAIL {path}::bad_query",
        f"    FAIL  no error: unexpected error: {path}:23:23: "
        "invalid_query: A query must be exactly one literal or rule; found 2 statements "
        "(test bad_query, query, line 1, column 1)",
        "2 passed, 4 failed in 1 file",
    ]


def test_errors_in_a_policy_file_name_the_file(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(suite / "alice.dl", POLICY + "\nwarning(x) :-\n  error(y)\n")
    path = make_test_file(
        suite,
        "tests:\n  - {name: loads, expect: [{table: error, count: 0}]}\n"
        "  - {name: refused, expect_error: {file: alice.dl, line: 5, code: unsafe_rule}}\n",
    )
    code, out, _ = run(["test", path], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"FAIL {path}::loads",
        f"    FAIL  no error: unexpected error: {suite}/alice.dl:5:9: unsafe_rule: "
        "Variable x found in head but not in body, rule warning(x) :- error(y)",
        f"PASS {path}::refused",
        "1 passed, 1 failed in 1 file",
    ]


def test_inline_policies_kinds_and_several_rule_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "graph_test.yaml",
        """
policies:
  - name: graph
    kind: materialized
    rules: |
      path(x, y) :- edge(x, y)
      path(x, z) :- edge(x, y), path(y, z)
  - {name: check, rules: "loop(x) :- graph:path(x, x)"}
data:
  - {graph: {edge: [[1, 2]]}}
tests:
  - name: no_loop
    expect: [{table: check:loop, rows: []}, {table: path, rows: [[1, 2]]}]
  - name: a_loop
    rules: {graph: "edge(2, 1)", check: "self(x) :- loop(x)"}
    expect:
      - {policy: check, table: self, rows: [[1], [2]]}
      - {query: "path(x, 1)", rows: ['path(1, 1)', 'path(2, 1)']}
""",
    )
    code, out, _ = run(["test", path], capsys)
    assert code == 0, out
    assert out.splitlines()[-1] == "2 passed, 0 failed in 1 file"


# -- reports -----------------------------------------------------------------------------------


def failing(suite: Path) -> str:
    return make_test_file(
        suite,
        "tests:\n  - {name: good, expect: [{table: error, count: 0}]}\n"
        "  - {name: bad, expect: [{table: nova:servers, rows: [['vm9', 'ERROR']]}]}\n",
    )


def test_junit_report(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = failing(suite)
    code, out, _ = run(["test", "--format", "junit", path], capsys)
    assert code == 1
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    root = ET.fromstring(out)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    (suite_el,) = root
    assert suite_el.get("name") == path
    good, bad = suite_el
    assert (good.get("name"), list(good)) == ("good", [])
    (failure,) = bad
    assert failure.tag == "failure"
    assert failure.get("message") == "table nova:servers: rows differ"
    assert failure.text is not None and '- nova:servers("vm9", "ERROR")' in failure.text
    assert '+ nova:servers("vm1", "ACTIVE")' in failure.text


def test_junit_to_a_file_keeps_the_text_on_stdout(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = failing(suite)
    report = tmp_path / "out" / "junit.xml"
    report.parent.mkdir()
    code, out, _ = run(["test", "--format", "junit", "--output", str(report), path], capsys)
    assert code == 1
    assert out.splitlines()[0] == f"PASS {path}::good"
    assert out.splitlines()[-1] == "1 passed, 1 failed in 1 file"
    assert ET.parse(report).getroot().get("failures") == "1"


def test_json_report(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["test", "--format", "json", failing(suite)], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["summary"] == {"passed": 1, "failed": 1, "errors": 0, "files": 1}
    assert [(t["name"], t["status"]) for t in doc["tests"]] == [("good", "pass"), ("bad", "fail")]
    assert doc["tests"][1]["checks"] == [
        {
            "what": "table nova:servers",
            "ok": False,
            "message": "rows differ",
            "missing": ['nova:servers("vm9", "ERROR")'],
            "unexpected": ['nova:servers("vm1", "ACTIVE")'],
        }
    ]


# -- bad test files and arguments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tests: [{name: t, expect: [{table: error, count: 0}]}]\nextra: 1\n", "unknown keys"),
        ("tests: [{name: t}]\n", "test t: give either expect or expect_error"),
        ("tests: [{name: t, expect: [{table: error}]}]\n", "give rows, contains, excludes or"),
        ("tests: [{name: t, expect: [{table: e, rows: ['p(1)']}]}]\n", "'p(1)' is not a row of e"),
        ("tests: [{name: 'a b', expect: []}]\n", "tests[0]: name must be"),
        ("tests: [{name: t, expect_error: {}}]\n", "give code, line, column, file or message"),
    ],
)
def test_invalid_test_files_are_errors(
    suite: Path, body: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_test_file(suite, body)
    code, out, _ = run(["test", path], capsys)
    assert code == 2
    first, summary = out.splitlines()
    assert first.startswith(f"ERROR {path}: ") and message in first, first
    assert summary == "0 passed, 0 failed, 1 error in 1 file"


def test_invalid_yaml_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "x_test.yaml", "tests:\n  - name: [unclosed\n")
    code, out, _ = run(["test", path], capsys)
    assert code == 2
    assert out.splitlines()[0].startswith(f"ERROR {path}:3:1: invalid YAML: ")


def test_missing_policy_and_data_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a_test.yaml", "policies: [nope.dl]\ntests: [{name: t, expect: []}]\n")
    code, out, _ = run(["test", path], capsys)
    assert code == 2
    assert out.splitlines()[0] == f"ERROR {tmp_path}/nope.dl: No such file or directory"
    write(tmp_path / "p.dl", "p(1)\n")
    write(tmp_path / "d.json", "{\n  nope\n}")
    path = write(tmp_path / "a_test.yaml", "policies: [p.dl]\ndata: [d.json]\ntests: [{name: t}]\n")
    code, out, _ = run(["test", path], capsys)
    assert code == 2
    assert out.splitlines()[0].startswith(f"ERROR {tmp_path}/d.json:2:3: invalid JSON: ")


def test_missing_paths_and_empty_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["test", str(tmp_path / "nope")], capsys)
    assert (code, out) == (2, "")
    assert err == f"congress-policy: {tmp_path}/nope: no such file or folder\n"
    code, _, err = run(["test", str(tmp_path)], capsys)
    assert code == 2
    assert err == f"congress-policy: {tmp_path}: no test files (*.yaml, *.yml) in this folder\n"
    with pytest.raises(SystemExit) as e:
        main(["test", "-v", "-q", str(tmp_path)])
    assert e.value.code == 2


# -- the docs ----------------------------------------------------------------------------------


def test_the_docs_show_the_example_and_its_output() -> None:
    docs = (ROOT / "docs" / "policy-testing.md").read_text()
    example = (EXAMPLE / "classification_test.yaml").read_text()
    assert example[example.index("doc:") :] in docs
    passing = "\n".join(line.replace(f"{ROOT}/", "") for line in EXAMPLE_OUTPUT)
    assert f"$ congress-policy test examples/policy-tests\n{passing}\n$ echo $?\n0\n" in docs
    assert (
        "    FAIL  table classification:error: rows differ\n"
        "          (- expected but missing, + present but not expected)\n"
        '          - error("vm1", "server in ERROR state")\n'
        '          + error("vm2", "server in ERROR state")\n'
    ) in docs


def test_data_of_a_test_must_agree_with_the_file_data(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_test_file(
        suite,
        """
tests:
  - name: other_columns
    data: {nova: {servers: {columns: [name, state], rows: []}}}
    expect: [{table: error, count: 0}]
  - name: wider_rows
    data: {nova: {servers: [["vm2", "ERROR", "extra"]]}}
    expect: [{table: error, count: 0}]
  - name: more_rows
    data: {nova: {servers: [["vm2", "ERROR"]]}, neutron: {ports: []}}
    expect: [{table: error, rows: [[vm2]]}, {table: neutron:ports, count: 0}]
""",
    )
    code, out, _ = run(["test", path], capsys)
    assert code == 2
    assert out.splitlines() == [
        f"ERROR {path}: test other_columns: data: nova:servers: columns ['name', 'state'] "
        "differ from ['id', 'status'] given before",
        f"FAIL {path}::wider_rows",
        f"    FAIL  no error: unexpected error: {path} (data): arity_mismatch: "
        "Row ['vm2', 'ERROR', 'extra'] of table servers has 3 columns; 2 expected",
        f"PASS {path}::more_rows",
        "1 passed, 1 failed, 1 error in 1 file",
    ]
