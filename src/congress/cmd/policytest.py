"""``congress-policy test``: policy test files (docs/policy-testing.md) run against the engine.

A test file is a YAML mapping naming the policies under test (files or inline rules), data
(JSON files in the shape ``congress-policy eval --data`` takes, or the same shape inline) and a
list of tests, each expecting rows of tables or queries, or an error. A YAML file holding a list
is a conformance file (tests/conformance/README.md) and runs through ``congress.cmd.conformance``,
so ``congress-policy test tests/conformance/cases`` keeps working. Every test runs in a fresh
``Runtime``: tests of a file never see each other's data or rules.

This module only loads and runs; ``congress.cmd.policy`` prints the reports.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from congress.cmd import conformance
from congress.datalog.ast import Constant, Literal, Row
from congress.datalog.errors import DatalogError, PolicyError
from congress.datalog.parser import parse_literal
from congress.datalog.printer import to_text
from congress.datalog.runtime import Runtime
from congress.datalog.values import normalize_row

__all__ = [
    "Check",
    "LoadError",
    "Origin",
    "Outcome",
    "TableData",
    "default_runtime",
    "describe_error",
    "find_test_files",
    "load_tables",
    "load_test_file",
    "parse_data",
    "read_json",
    "run_paths",
]

FILE_KEYS = {"doc", "policies", "data", "tests"}
POLICY_KEYS = {"file", "name", "kind", "rules"}
TEST_KEYS = {"name", "doc", "data", "rules", "expect", "expect_error"}
EXPECT_KEYS = {"table", "query", "policy", "rows", "contains", "excludes", "count"}
ERROR_KEYS = {"code", "line", "column", "file", "message"}
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


class LoadError(Exception):
    """A test file, policy file or data file that cannot be used as it is (not a test failure)."""


# -- data ----------------------------------------------------------------------------------------


@dataclass
class TableData:
    policy: str
    table: str
    columns: list[str] | None
    rows: list[Row]
    source: str


def read_json(path: str) -> Any:
    """A JSON file's value; a syntax error names ``path:line:column``."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise LoadError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    except OSError as e:
        raise LoadError(f"{path}: {e.strerror or e}") from None


def parse_data(doc: Any, source: str) -> list[TableData]:
    """``{policy: {table: [row...] | {"columns": [...], "rows": [row...]}}}`` as tables."""
    if not isinstance(doc, dict):
        raise LoadError(f"{source}: data must be an object of policies, got {_kind(doc)}")
    out: list[TableData] = []
    for policy, tables in doc.items():
        if not isinstance(tables, dict):
            raise LoadError(
                f"{source}: {policy}: expected an object of tables, got {_kind(tables)}"
            )
        for table, spec in tables.items():
            where = f"{source}: {policy}:{table}"
            columns: list[str] | None = None
            if isinstance(spec, dict):
                unknown = set(spec) - {"columns", "rows"}
                if unknown:
                    raise LoadError(f"{where}: unknown keys {sorted(unknown)}")
                cols = spec.get("columns")
                if cols is not None:
                    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
                        raise LoadError(f"{where}: columns must be a list of names")
                    columns = list(cols)
                rows = spec.get("rows", [])
            else:
                rows = spec
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise LoadError(f"{where}: rows must be a list of lists")
            out.append(
                TableData(str(policy), str(table), columns, [normalize_row(r) for r in rows], where)
            )
    return out


def load_tables(rt: Runtime, tables: Sequence[TableData], defined: set[str]) -> None:
    """Put the rows into ``rt`` in one batch. A policy that is not in ``defined`` becomes a
    datasource policy whose schema is the tables given (columns ``col0``... when not named)."""
    named: dict[tuple[str, str], list[str]] = {}
    widths: dict[tuple[str, str], int] = {}
    changes: dict[tuple[str, str], tuple[list[Row], list[Row]]] = {}
    for t in tables:
        key = (t.policy, t.table)
        if t.columns is not None:
            known = named.setdefault(key, t.columns)
            if known != t.columns:
                raise LoadError(f"{t.source}: columns {t.columns} differ from {known} given before")
        if t.rows:
            widths.setdefault(key, len(t.rows[0]))
        changes.setdefault(key, ([], []))[0].extend(t.rows)
    schemas: dict[str, dict[str, list[str]]] = {}
    for policy, table in changes:
        cols = named.get((policy, table))
        if cols is None:
            cols = [f"col{i}" for i in range(widths.get((policy, table), 0))]
        schemas.setdefault(policy, {})[table] = cols
    for policy, schema in schemas.items():
        if policy in defined:
            continue
        if rt.policy_exists(policy):
            rt.set_schema(policy, schema)
        else:
            rt.create_policy(policy, "datasource", schema=schema)
    rt.apply(changes)


def _kind(value: Any) -> str:
    names = {"dict": "a mapping", "list": "a list", "str": "a string", "NoneType": "nothing"}
    name: str = type(value).__name__
    return names.get(name, name)


# -- test files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a policy text comes from: a policy file, or a scalar of a YAML test file.

    ``line``/``column`` say where the text's first character is in ``path`` (1-based); ``block``
    says the text is a literal block (``|``) whose lines all start at ``column``. A location in
    the text maps to one in the file when that is certain (a literal block, or a one-line
    scalar), else it is reported relative to the text, after ``label``.
    """

    path: str
    label: str = ""
    line: int = 1
    column: int = 1
    block: bool = False
    known: bool = True

    def locate(self, line: int, column: int) -> tuple[int, int] | None:
        if not self.label:
            return line, column
        if not self.known:
            return None
        if self.block:
            return self.line + line - 1, self.column + column - 1
        if line == 1:
            return self.line, self.column + column - 1
        return None

    def __str__(self) -> str:
        return f"{self.path} ({self.label})" if self.label else self.path


def _origin(
    root: yaml.Node | None, lines: list[str], path: str, keys: tuple[Any, ...], label: str
) -> Origin:
    """The origin of the scalar at ``keys`` in the composed YAML document ``root``."""
    node = root
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            node = None
    if not isinstance(node, yaml.ScalarNode):
        return Origin(path, label, known=False)
    start, end = node.start_mark, node.end_mark
    if node.style == "|":
        for n in range(start.line + 1, min(end.line + 1, len(lines))):
            text = lines[n]
            if text.strip():
                indent = len(text) - len(text.lstrip(" "))
                return Origin(path, label, start.line + 2, indent + 1, block=True)
        return Origin(path, label, known=False)
    if node.style in (None, '"', "'") and start.line == end.line:
        quote = 0 if node.style is None else 1
        return Origin(path, label, start.line + 1, start.column + 1 + quote)
    return Origin(path, label, known=False)


@dataclass
class PolicySpec:
    name: str
    kind: str
    text: str
    source: Origin


@dataclass
class Expectation:
    what: str  # "table alice:error" or "query error(x) in alice"
    policy: str
    table: str | None
    query: str | None
    label: str  # the table name rows are printed with
    rows: set[Row] | None
    contains: set[Row]
    excludes: set[Row]
    count: int | None
    origin: Origin


@dataclass
class ErrorSpec:
    code: str | None
    line: int | None
    column: int | None
    file: str | None
    message: str | None


@dataclass
class PolicyTest:
    name: str
    data: list[TableData]
    rules: list[tuple[str, str, Origin]]  # (policy, text, where it is written)
    expect: list[Expectation]
    expect_error: ErrorSpec | None


@dataclass
class PolicyTestFile:
    path: str
    policies: list[PolicySpec]
    data: list[TableData]
    tests: list[PolicyTest]


def find_test_files(paths: Sequence[str]) -> list[str]:
    """The YAML files named, and those under the folders named (recursively, sorted)."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found: list[str] = []
            for root, dirs, files in os.walk(p):
                dirs.sort()
                found.extend(
                    os.path.join(root, f) for f in sorted(files) if f.endswith((".yaml", ".yml"))
                )
            if not found:
                raise LoadError(f"{p}: no test files (*.yaml, *.yml) in this folder")
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            raise LoadError(f"{p}: no such file or folder")
    return out


def _check_keys(spec: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise LoadError(f"{where}: expected a mapping, got {_kind(spec)}")
    unknown = set(spec) - allowed
    if unknown:
        raise LoadError(f"{where}: unknown keys {sorted(map(str, unknown))}")
    return spec


def _relative(base: str, path: str) -> str:
    return os.path.normpath(os.path.join(os.path.dirname(base), path))


def read_text(path: str) -> str:
    """A text file's content; an unreadable or non-UTF-8 file is a ``LoadError``."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise LoadError(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise LoadError(f"{path}: not UTF-8 text ({e.reason})") from None


def _policies(path: str, spec: Any, where_is: _Locator) -> list[PolicySpec]:
    if spec is None:
        return []
    single = not isinstance(spec, list)
    if single:
        spec = [spec]
    out: list[PolicySpec] = []
    for i, item in enumerate(spec):
        where = f"{path}: policies[{i}]"
        if isinstance(item, str):
            item = {"file": item}
        item = _check_keys(item, POLICY_KEYS, where)
        if ("file" in item) == ("rules" in item):
            raise LoadError(f"{where}: give either file or rules")
        source: Origin
        if "file" in item:
            file = _relative(path, str(item["file"]))
            text = read_text(file)
            name = str(item.get("name") or os.path.splitext(os.path.basename(file))[0])
            source = Origin(file)
        else:
            if "name" not in item:
                raise LoadError(f"{where}: inline rules need a name")
            name = str(item["name"])
            text = str(item["rules"])
            keys = ("policies", "rules") if single else ("policies", i, "rules")
            source = where_is(keys, f"rules of policy {name}")
        if any(p.name == name for p in out):
            raise LoadError(f"{where}: policy {name} is given twice")
        out.append(PolicySpec(name, str(item.get("kind", "nonrecursive")), text, source))
    return out


def _data(path: str, spec: Any, where: str) -> list[TableData]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out: list[TableData] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            source = _relative(path, item)
            out.extend(parse_data(read_json(source), source))
        else:
            out.extend(parse_data(item, f"{where} data[{i}]" if isinstance(spec, list) else where))
    return out


def _row(entry: Any, table: str, where: str) -> Row:
    if isinstance(entry, list):
        return normalize_row(entry)
    if isinstance(entry, str):
        try:
            lit = parse_literal(entry)
        except PolicyError as e:
            raise LoadError(f"{where}: {entry!r}: {e.first.message}") from None
        if lit.table != table.rsplit(":", 1)[-1] or lit.negated or lit.modal or lit.named:
            raise LoadError(f"{where}: {entry!r} is not a row of {table}")
        if not all(isinstance(a, Constant) for a in lit.args):
            raise LoadError(f"{where}: {entry!r} is not ground")
        return tuple(a.value for a in lit.args if isinstance(a, Constant))
    raise LoadError(f"{where}: a row is a list of values or a literal, got {_kind(entry)}")


def _expectation(spec: Any, where: str, default: str | None, origin: Origin) -> Expectation:
    spec = _check_keys(spec, EXPECT_KEYS, where)
    if ("table" in spec) == ("query" in spec):
        raise LoadError(f"{where}: give either table or query")
    if not {"rows", "contains", "excludes", "count"} & set(spec):
        raise LoadError(f"{where}: give rows, contains, excludes or count")
    policy = spec.get("policy", default)
    table: str | None = None
    query: str | None = None
    if "table" in spec:
        table = str(spec["table"])
        label = table
        if ":" in table and "policy" not in spec:
            policy, table = table.split(":", 1)
        if policy is None:
            raise LoadError(f"{where}: no policy: name one with policy or policy:table")
        what = f"table {policy}:{table}"
    else:
        query = str(spec["query"])
        if policy is None:
            raise LoadError(f"{where}: no policy to query: name one with policy")
        try:
            label = parse_literal(query).table
        except PolicyError:
            label = query.split("(", 1)[0].strip()  # a rule query: its head's table
        what = f"query {query} in {policy}"

    def rows(key: str) -> list[Row]:
        value = spec.get(key, [])
        if not isinstance(value, list):
            raise LoadError(f"{where}: {key} must be a list of rows")
        return [_row(e, label, f"{where} {key}") for e in value]

    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise LoadError(f"{where}: count must be a number of rows")
    return Expectation(
        what,
        str(policy),
        table,
        query,
        label,
        set(rows("rows")) if "rows" in spec else None,
        set(rows("contains")),
        set(rows("excludes")),
        count,
        origin,
    )


def _error_spec(spec: Any, where: str) -> ErrorSpec:
    spec = _check_keys(spec, ERROR_KEYS, where)
    if not spec:
        raise LoadError(f"{where}: give code, line, column, file or message")
    for key in ("line", "column"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool)):
            raise LoadError(f"{where}: {key} must be a number")
    return ErrorSpec(
        None if spec.get("code") is None else str(spec["code"]),
        spec.get("line"),
        spec.get("column"),
        None if spec.get("file") is None else str(spec["file"]),
        None if spec.get("message") is None else str(spec["message"]),
    )


_Locator = Callable[[tuple[Any, ...], str], Origin]


def load_test_file(
    path: str, doc: dict[str, Any], where_is: _Locator | None = None
) -> PolicyTestFile:
    """The test file ``path`` whose YAML value is ``doc``; ``where_is(keys, label)`` says where
    the scalar at ``keys`` is written (for the locations of errors in inline rules)."""
    if where_is is None:
        where_is = lambda keys, label: Origin(path, label, known=False)  # noqa: E731
    doc = _check_keys(doc, FILE_KEYS, path)
    policies = _policies(path, doc.get("policies"), where_is)
    default = policies[0].name if policies else None
    data = _data(path, doc.get("data"), f"{path}: data")
    tests_spec = doc.get("tests")
    if not isinstance(tests_spec, list) or not tests_spec:
        raise LoadError(f"{path}: tests must be a non-empty list")
    tests: list[PolicyTest] = []
    for i, t in enumerate(tests_spec):
        t = _check_keys(t, TEST_KEYS, f"{path}: tests[{i}]")
        name = t.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise LoadError(f"{path}: tests[{i}]: name must be letters, digits, _ . or -")
        where = f"{path}: test {name}"
        if any(x.name == name for x in tests):
            raise LoadError(f"{where}: the name is used twice")
        if ("expect" in t) == ("expect_error" in t):
            raise LoadError(f"{where}: give either expect or expect_error")
        rules: list[tuple[str, str, Origin]] = []
        spec_rules = t.get("rules")
        if isinstance(spec_rules, str):
            if default is None:
                raise LoadError(f"{where}: rules need a policy: write {{policy: rules}}")
            origin = where_is(("tests", i, "rules"), f"test {name}, rules of {default}")
            rules.append((default, spec_rules, origin))
        elif spec_rules is not None:
            if not isinstance(spec_rules, dict):
                raise LoadError(f"{where}: rules must be text or a mapping of policy to text")
            for policy, text in spec_rules.items():
                label = f"test {name}, rules of {policy}"
                origin = where_is(("tests", i, "rules", policy), label)
                rules.append((str(policy), str(text), origin))
        expect: list[Expectation] = []
        if "expect" in t:
            items = t["expect"]
            if not isinstance(items, list) or not items:
                raise LoadError(f"{where}: expect must be a non-empty list")
            expect = [
                _expectation(
                    e,
                    f"{where}: expect[{j}]",
                    default,
                    where_is(("tests", i, "expect", j, "query"), f"test {name}, query"),
                )
                for j, e in enumerate(items)
            ]
        error = None
        if "expect_error" in t:
            error = _error_spec(t["expect_error"], f"{where}: expect_error")
        tests.append(
            PolicyTest(name, _data(path, t.get("data"), f"{where}: data"), rules, expect, error)
        )
    return PolicyTestFile(path, policies, data, tests)


# -- running -------------------------------------------------------------------------------------


@dataclass
class Check:
    """One expectation's result; ``missing``/``unexpected`` are rows printed as literals."""

    what: str
    ok: bool
    message: str = ""
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """One test: ``status`` is ``pass``, ``fail``, or ``error`` (the file could not be used)."""

    file: str
    name: str
    status: str
    seconds: float = 0.0
    checks: list[Check] = field(default_factory=list)
    message: str = ""

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class _Raised(Exception):
    def __init__(self, error: DatalogError, source: Origin) -> None:
        super().__init__(str(error))
        self.error = error
        self.source = source


def describe_error(error: DatalogError, source: str | Origin | None) -> str:
    """``file:line:column: code: message``, each problem of a PolicyError on its own line; for
    inline rules the location in the rules text follows in parentheses."""
    origin = Origin(source) if isinstance(source, str) else source
    if not isinstance(error, PolicyError):
        prefix = f"{origin}: " if origin else ""
        return f"{prefix}{error.code}: {error.message}"
    lines = []
    for p in error.problems:
        where = str(origin) if origin else "<input>"
        note = ""
        if p.line is not None and origin is not None:
            at = origin.locate(p.line, p.column or 1)
            if at is not None:
                where = f"{origin.path}:{at[0]}:{at[1]}"
                if origin.label:
                    note = f" ({origin.label}, line {p.line}, column {p.column})"
            else:
                where = f"{origin}:{p.line}:{p.column or 0}"
        elif p.line is not None:
            where += f":{p.line}:{p.column or 0}"
        lines.append(f"{where}: {p.code}: {p.message}{note}")
    return "\n".join(lines)


def _rows_text(label: str, rows: set[Row]) -> list[str]:
    policy, _, table = label.rpartition(":")
    return sorted(
        to_text(Literal(table, tuple(Constant(v) for v in r), policy or None)) for r in rows
    )


def _check(rt: Runtime, e: Expectation) -> Check:
    if e.table is not None:
        if e.table not in rt.tables(e.policy):
            return Check(e.what, False, f"policy {e.policy} has no table {e.table}")
        have = rt.rows(e.policy, e.table)
    else:
        assert e.query is not None
        have = {
            tuple(a.value for a in lit.args if isinstance(a, Constant))
            for lit in rt.select(e.policy, e.query)
        }
    missing: set[Row] = set()
    unexpected: set[Row] = set()
    problems: list[str] = []
    if e.rows is not None:
        missing |= e.rows - have
        unexpected |= have - e.rows
        if missing or unexpected:
            problems.append("rows differ")
    if e.contains - have:
        missing |= e.contains - have
        problems.append("rows missing")
    if e.excludes & have:
        unexpected |= e.excludes & have
        problems.append("excluded rows present")
    if e.count is not None and len(have) != e.count:
        problems.append(f"expected {e.count} rows, found {len(have)}")
        if not unexpected and not missing:
            unexpected = have
    return Check(
        e.what,
        not problems,
        "; ".join(problems),
        _rows_text(e.label, missing),
        _rows_text(e.label, unexpected),
    )


def _matches(spec: ErrorSpec, error: DatalogError, source: Origin) -> bool:
    if spec.file is not None and spec.file not in (source.path, os.path.basename(source.path)):
        return False
    problems: list[tuple[str, int | None, int | None, str]]
    if isinstance(error, PolicyError):
        problems = [(p.code, p.line, p.column, p.message) for p in error.problems]
    else:
        problems = [(error.code, None, None, error.message)]
    return any(
        (spec.code is None or spec.code == code)
        and (spec.line is None or spec.line == line)
        and (spec.column is None or spec.column == column)
        and (spec.message is None or spec.message in message)
        for code, line, column, message in problems
    )


def _expected_error_text(spec: ErrorSpec) -> str:
    parts = ["an error"]
    if spec.code is not None:
        parts.append(spec.code)
    if spec.file is not None:
        parts.append(f"in {spec.file}")
    at = []
    if spec.line is not None:
        at.append(f"line {spec.line}")
    if spec.column is not None:
        at.append(f"column {spec.column}")
    if at:
        parts.append("at " + ", ".join(at))
    if spec.message is not None:
        parts.append(f"saying {spec.message!r}")
    return " ".join(parts)


def _setup(rt: Runtime, tf: PolicyTestFile, test: PolicyTest) -> None:
    for p in tf.policies:
        try:
            rt.create_policy(p.name, p.kind)
        except DatalogError as e:
            raise _Raised(e, p.source) from e
    try:
        load_tables(rt, [*tf.data, *test.data], {p.name for p in tf.policies})
    except DatalogError as e:
        raise _Raised(e, Origin(tf.path, "data", known=False)) from e
    for policy, text, source in [(p.name, p.text, p.source) for p in tf.policies] + test.rules:
        try:
            rt.insert(policy, text)
        except DatalogError as e:
            raise _Raised(e, source) from e


def run_test(tf: PolicyTestFile, test: PolicyTest, factory: Callable[[], Runtime]) -> Outcome:
    start = time.perf_counter()
    out = Outcome(tf.path, test.name, "pass")
    rt = factory()
    try:
        _setup(rt, tf, test)
        for e in test.expect:
            try:
                out.checks.append(_check(rt, e))
            except DatalogError as err:
                raise _Raised(err, e.origin) from err
    except LoadError as e:
        out.status = "error"
        out.message = str(e)
        out.seconds = time.perf_counter() - start
        return out
    except _Raised as r:
        spec = test.expect_error
        if spec is None:
            text = describe_error(r.error, r.source).replace("\n", "\n  ")
            out.checks.append(Check("no error", False, f"unexpected error: {text}"))
        elif _matches(spec, r.error, r.source):
            out.checks.append(Check(_expected_error_text(spec), True))
        else:
            text = describe_error(r.error, r.source).replace("\n", "\n  ")
            out.checks.append(
                Check(_expected_error_text(spec), False, f"got a different error: {text}")
            )
    else:
        if test.expect_error is not None:
            out.checks.append(
                Check(
                    _expected_error_text(test.expect_error),
                    False,
                    f"expected {_expected_error_text(test.expect_error)}, but there was none",
                )
            )
    out.status = "fail" if out.failures else "pass"
    out.seconds = time.perf_counter() - start
    return out


def _conformance(
    path: str, keep: Callable[[str], bool], factory: Callable[[], Runtime]
) -> Iterator[Outcome]:
    try:
        cases = conformance.load_cases(path)
    except ValueError as e:
        raise LoadError(str(e)) from None
    for case in cases:
        name = str(case.get("name"))
        if not keep(name):
            continue
        start = time.perf_counter()
        out = Outcome(path, name, "pass")
        try:
            conformance.run_case(case, factory())
        except (conformance.CaseFailure, DatalogError, ValueError, KeyError, TypeError) as e:
            out.status = "fail"
            out.checks.append(Check("case", False, f"{type(e).__name__}: {e}"))
        out.seconds = time.perf_counter() - start
        yield out


def default_runtime() -> Runtime:
    return Runtime(clock=datetime.datetime.now, timer=time.monotonic)


def run_paths(
    paths: Sequence[str],
    keep: Callable[[str], bool] = lambda name: True,
    factory: Callable[[], Runtime] = default_runtime,
) -> Iterator[Outcome]:
    """An ``Outcome`` per test under ``paths`` whose name ``keep`` accepts, in order; a file
    that cannot be used gives one outcome with status ``error``. Raises ``LoadError`` for paths
    that do not exist."""
    for path in find_test_files(paths):
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            doc = yaml.safe_load(source)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
            problem = getattr(e, "problem", None) or str(e)
            yield Outcome(path, "", "error", message=f"{where}: invalid YAML: {problem}")
            continue
        except (OSError, UnicodeDecodeError) as e:
            yield Outcome(path, "", "error", message=f"{path}: {e}")
            continue
        try:
            if isinstance(doc, list):
                yield from _conformance(path, keep, factory)
                continue
            if not isinstance(doc, dict):
                raise LoadError(f"{path}: a test file is a mapping with tests, got {_kind(doc)}")
            root = yaml.compose(source, Loader=yaml.SafeLoader)
            lines = source.split("\n")
            tf = load_test_file(path, doc, functools.partial(_origin, root, lines, path))
        except LoadError as e:
            yield Outcome(path, "", "error", message=str(e))
            continue
        for test in tf.tests:
            if keep(test.name):
                yield run_test(tf, test, factory)
