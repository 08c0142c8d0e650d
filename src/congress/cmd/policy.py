"""``congress-policy``: the policy engine alone, offline: evaluate, test and format policies.

    congress-policy eval FILE... [--data JSON]... [--query Q] [--policy P] [--kind P=KIND]...
                         [--explain] [--format text|json]
    congress-policy test PATH... [-v | -q] [--run REGEX] [--format text|json|junit]
                         [--output FILE]
    congress-policy fmt [FILE...] [--check | -w | --diff]
    congress-policy export DIR [--policy NAME]... [--os-endpoint URL] [--os-token T] ...
    congress-policy apply DIR [--policy NAME]... [--prune] [--recreate] [--dry-run [--exit-code]]
                          [--os-endpoint URL] [--os-token T] ...

``eval``: each FILE holds the rules and facts of one policy named after the file (``alice.dl``
is policy ``alice``; kind ``nonrecursive`` unless ``--kind alice=materialized``). Each
``--data`` file is JSON: ``{"nova": {"servers": [["vm1", "ACTIVE"], ...]}}`` or, to name the
columns, ``{"nova": {"servers": {"columns": ["id", "status"], "rows": [...]}}}``; a policy named
there and not by a FILE becomes a datasource policy with that schema (columns ``col0``... when
not named). The query is answered in ``--policy`` (default: the first FILE's policy); a prefixed
query (``nova:servers(x, y)``) reads that policy. Without ``--query``, every row of every table
of that policy is printed.

``test``: runs policy test files (docs/policy-testing.md) and conformance files
(tests/conformance/README.md). Exit status 0 when every test passes, 1 when one fails, 2 when
the arguments or a test file are wrong.

``fmt``: prints policy files in canonical form (congress.cmd.policyfmt); ``--check`` lists the
files that are not and exits 1, ``-w`` rewrites them.

``export`` and ``apply``: the live policies of a server to and from a folder of YAML files, one
policy a file (congress.cmd.policysync, docs/policy-as-code.md); the API's address and
credentials as the ``openstack`` client takes them (congress.cmd.apiclient).

Problems in input name ``file:line:column``; there is no traceback for bad input.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, TextIO

from congress.cmd import policyfmt, policysync
from congress.cmd.policytest import (
    LoadError,
    Outcome,
    default_runtime,
    describe_error,
    load_tables,
    parse_data,
    read_json,
    read_text,
    run_paths,
)
from congress.datalog.ast import Constant, Literal
from congress.datalog.errors import DatalogError, PolicyError
from congress.datalog.printer import to_text
from congress.datalog.runtime import Runtime


class UsageError(Exception):
    """Bad arguments or input files: exit status 2."""


# -- eval ----------------------------------------------------------------------------------------


def _kinds(specs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, kind = spec.partition("=")
        if not sep or not name or not kind:
            raise UsageError(f"--kind {spec}: expected POLICY=KIND")
        out[name] = kind
    return out


def _all_rows(rt: Runtime, policy: str) -> list[Literal]:
    out: list[Literal] = []
    for table in rt.tables(policy):
        out.extend(
            Literal(table, tuple(Constant(v) for v in row)) for row in rt.rows(policy, table)
        )
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    rt = default_runtime()
    kinds = _kinds(args.kind)
    names: list[str] = []
    texts: list[str] = []
    for path in args.files:
        names.append(os.path.splitext(os.path.basename(path))[0])
        texts.append(read_text(path))
    tables = []
    for path in args.data:
        tables.extend(parse_data(read_json(path), path))
    for name in names:
        rt.create_policy(name, kinds.get(name, "nonrecursive"))
    try:
        load_tables(rt, tables, set(names))
    except PolicyError as e:
        print(describe_error(e, " ".join(args.data) or "<data>"), file=sys.stderr)
        return 1
    files = dict(zip(names, args.files, strict=True))
    failed = False
    for path, name, text in zip(args.files, names, texts, strict=True):
        try:
            rt.insert(name, text)
        except PolicyError as e:
            failed = True
            for p in e.problems:
                where = files.get(p.policy or name, path)
                loc = f":{p.line}:{p.column or 0}" if p.line is not None else ""
                print(f"{where}{loc}: {p.code}: {p.message}", file=sys.stderr)
    if failed:
        return 1
    policy = args.policy or (names[0] if names else None)
    if policy is None:
        raise UsageError("no policy to query (give a FILE or --policy)")
    as_json = args.json or args.format == "json"
    if args.query is None:
        if args.explain:
            raise UsageError("--explain needs a --query")
        answers = _all_rows(rt, policy)
    else:
        try:
            answers = rt.select(policy, args.query)
            proofs = rt.explain(policy, args.query) if args.explain else []
        except PolicyError as e:
            print(describe_error(e, "<query>"), file=sys.stderr)
            return 1
        if args.explain:
            if as_json:
                print(json.dumps([p.as_dict() for p in proofs], indent=1))
            else:
                for proof in proofs:
                    print("\n".join(proof.lines()))
            return 0
    printed = sorted((to_text(a) for a in answers), key=lambda t: (t.split("(", 1)[0], t))
    if as_json:
        print(json.dumps(printed))
    else:
        for t in printed:
            print(t)
    return 0


# -- test ----------------------------------------------------------------------------------------


def _test_id(o: Outcome) -> str:
    return f"{o.file}::{o.name}" if o.name else o.file


def _text_lines(o: Outcome, verbosity: int) -> list[str]:
    if o.status == "error":
        return [f"ERROR {o.message}"]
    if o.status == "pass":
        if verbosity < 0:
            return []
        head = f"PASS {_test_id(o)}"
    else:
        head = f"FAIL {_test_id(o)}"
    if verbosity > 0:
        head += f" ({o.seconds * 1000:.1f} ms)"
    lines = [head]
    for c in o.checks:
        if c.ok:
            if verbosity > 0:
                lines.append(f"    ok    {c.what}")
            continue
        lines.append(f"    FAIL  {c.what}: {c.message}")
        if c.missing or c.unexpected:
            lines.append("          (- expected but missing, + present but not expected)")
        lines.extend(f"          - {r}" for r in c.missing)
        lines.extend(f"          + {r}" for r in c.unexpected)
    return lines


def _summary(outcomes: list[Outcome]) -> tuple[int, int, int, int]:
    passed = sum(o.status == "pass" for o in outcomes)
    failed = sum(o.status == "fail" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    files = len({o.file for o in outcomes})
    return passed, failed, errors, files


def _summary_line(outcomes: list[Outcome]) -> str:
    passed, failed, errors, files = _summary(outcomes)
    text = f"{passed} passed, {failed} failed"
    if errors:
        text += f", {errors} {'error' if errors == 1 else 'errors'}"
    return f"{text} in {files} {'file' if files == 1 else 'files'}"


def _failure_text(o: Outcome) -> str:
    return "\n".join(_text_lines(o, 0)[1:]).replace("\n          ", "\n  ").strip()


def _junit(outcomes: list[Outcome]) -> str:
    passed, failed, errors, _ = _summary(outcomes)
    root = ET.Element(
        "testsuites",
        name="congress-policy test",
        tests=str(passed + failed + errors),
        failures=str(failed),
        errors=str(errors),
        time=f"{sum(o.seconds for o in outcomes):.3f}",
    )
    suites: dict[str, list[Outcome]] = {}
    for o in outcomes:
        suites.setdefault(o.file, []).append(o)
    for file, items in suites.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(items)),
            failures=str(sum(o.status == "fail" for o in items)),
            errors=str(sum(o.status == "error" for o in items)),
            time=f"{sum(o.seconds for o in items):.3f}",
        )
        for o in items:
            case = ET.SubElement(
                suite, "testcase", classname=file, name=o.name or "(file)", time=f"{o.seconds:.3f}"
            )
            if o.status == "error":
                ET.SubElement(case, "error", message=o.message.split("\n")[0]).text = o.message
            elif o.status == "fail":
                first = o.failures[0] if o.failures else None
                message = f"{first.what}: {first.message}" if first else "failed"
                ET.SubElement(case, "failure", message=message).text = _failure_text(o)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _json_report(outcomes: list[Outcome]) -> str:
    passed, failed, errors, files = _summary(outcomes)
    tests: list[dict[str, Any]] = []
    for o in outcomes:
        item: dict[str, Any] = {
            "file": o.file,
            "name": o.name,
            "status": o.status,
            "seconds": round(o.seconds, 6),
        }
        if o.status == "error":
            item["message"] = o.message
        else:
            item["checks"] = [
                {
                    "what": c.what,
                    "ok": c.ok,
                    **({"message": c.message} if c.message else {}),
                    **({"missing": c.missing} if c.missing else {}),
                    **({"unexpected": c.unexpected} if c.unexpected else {}),
                }
                for c in o.checks
            ]
        tests.append(item)
    summary = {"passed": passed, "failed": failed, "errors": errors, "files": files}
    return json.dumps({"summary": summary, "tests": tests}, indent=1) + "\n"


def cmd_test(args: argparse.Namespace) -> int:
    try:
        pattern = re.compile(args.run) if args.run is not None else None
    except re.error as e:
        raise UsageError(f"--run {args.run}: invalid regular expression: {e}") from None
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    # text on stdout, unless --output takes the text report; with --output and JSON or JUnit,
    # the text report still goes to stdout for the CI log
    text_out: TextIO | None = sys.stdout if (args.format == "text") != bool(args.output) else None
    outcomes: list[Outcome] = []
    keep = (lambda name: pattern.search(name) is not None) if pattern else (lambda name: True)
    try:
        for o in run_paths(args.paths, keep):
            outcomes.append(o)
            if text_out is not None:
                for line in _text_lines(o, verbosity):
                    print(line, file=text_out, flush=True)
    except LoadError as e:
        raise UsageError(str(e)) from None
    if not outcomes:
        what = f" matching --run {args.run}" if args.run is not None else ""
        raise UsageError(f"no tests{what} in {' '.join(args.paths)}")
    if text_out is not None:
        print(_summary_line(outcomes), file=text_out)
    if args.format != "text" or args.output:
        if args.format == "junit":
            report = _junit(outcomes)
        elif args.format == "json":
            report = _json_report(outcomes)
        else:
            report = "".join(
                line + "\n" for o in outcomes for line in _text_lines(o, verbosity)
            ) + (_summary_line(outcomes) + "\n")
        if args.output:
            try:
                with open(args.output, "w", encoding="utf-8") as f:
                    f.write(report)
            except OSError as e:
                raise UsageError(f"{args.output}: {e.strerror or e}") from None
        else:
            sys.stdout.write(report)
    _, failed, errors, _ = _summary(outcomes)
    return 2 if errors else 1 if failed else 0


# -- fmt -----------------------------------------------------------------------------------------


def cmd_fmt(args: argparse.Namespace) -> int:
    modes = sum(bool(x) for x in (args.check, args.write, args.diff))
    if modes > 1:
        raise UsageError("give at most one of --check, -w and --diff")
    paths = args.files or ["-"]
    if args.write and "-" in paths:
        raise UsageError("-w needs files, not standard input")
    status = 0
    for path in paths:
        name = "<stdin>" if path == "-" else path
        text = sys.stdin.read() if path == "-" else read_text(path)
        try:
            formatted = policyfmt.format_text(text)
        except PolicyError as e:
            print(describe_error(e, name), file=sys.stderr)
            status = 2
            continue
        except policyfmt.FormatError as e:
            p = e.problem
            print(f"{name}:{p.line or 0}:{p.column or 0}: {p.message}", file=sys.stderr)
            status = 2
            continue
        if args.check:
            if formatted != text:
                print(f"{name}: not formatted")
                status = max(status, 1)
        elif args.diff:
            if formatted != text:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        name,
                        f"{name} (formatted)",
                    )
                )
                status = max(status, 1)
        elif args.write:
            if formatted != text:
                try:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(formatted)
                except OSError as e:
                    raise UsageError(f"{path}: {e.strerror or e}") from None
                print(f"reformatted {name}")
        else:
            sys.stdout.write(formatted)
    return status


# -- main ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="congress-policy", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="evaluate policy files over JSON data and print the answers")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--data", action="append", default=[], metavar="JSON")
    ev.add_argument("--query", metavar="Q", help="one literal or rule (default: every row)")
    ev.add_argument("--policy", metavar="P")
    ev.add_argument("--kind", action="append", default=[], metavar="P=KIND")
    ev.add_argument("--explain", action="store_true", help="print why each answer holds")
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--json", action="store_true", help="the same as --format json")
    ev.set_defaults(func=cmd_eval)
    te = sub.add_parser("test", help="run policy test files and conformance files")
    te.add_argument("paths", nargs="+", metavar="PATH", help="test files or folders of them")
    out = te.add_mutually_exclusive_group()
    out.add_argument("-v", "--verbose", action="store_true", help="each check and its time")
    out.add_argument("-q", "--quiet", action="store_true", help="failures and the summary only")
    te.add_argument("--run", metavar="REGEX", help="only the tests whose name matches")
    te.add_argument("--format", choices=("text", "json", "junit"), default="text")
    te.add_argument("--output", metavar="FILE", help="write the report there, not to stdout")
    te.set_defaults(func=cmd_test)
    fm = sub.add_parser("fmt", help="print policy files in canonical form")
    fm.add_argument("files", nargs="*", metavar="FILE", help="policy files ('-': stdin)")
    fm.add_argument("--check", action="store_true", help="list files not formatted; exit 1")
    fm.add_argument("-w", "--write", action="store_true", help="rewrite the files in place")
    fm.add_argument("--diff", action="store_true", help="print what would change; exit 1")
    fm.set_defaults(func=cmd_fmt)
    policysync.add_parsers(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (UsageError, LoadError) as e:  # bad arguments, or an input file not usable
        print(f"congress-policy: {e}", file=sys.stderr)
        return 2
    except DatalogError as e:
        print(f"congress-policy: {e.code}: {e.message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
