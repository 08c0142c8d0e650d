"""``congress-policy``: evaluate policies offline, and run conformance cases.

    congress-policy eval FILE... [--data JSON]... --query Q [--policy P] [--kind P=KIND]...
                         [--explain] [--json]
    congress-policy test CASES...  (YAML conformance files or folders of them)

Each FILE holds the rules and facts of one policy named after the file (``alice.dl`` is policy
``alice``; kind ``nonrecursive`` unless ``--kind alice=materialized``). Each ``--data`` file is
JSON: ``{"nova": {"servers": [["vm1", "ACTIVE"], ...]}}`` or, to name the columns,
``{"nova": {"servers": {"columns": ["id", "status"], "rows": [...]}}}``; a policy named there
and not by a FILE becomes a datasource policy with that schema (columns ``col0``... when not
named). The query is answered in ``--policy`` (default: the first FILE's policy); a prefixed
query (``nova:servers(x, y)``) reads that policy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from congress.datalog.errors import DatalogError, PolicyError
from congress.datalog.printer import to_text
from congress.datalog.runtime import Runtime
from congress.datalog.values import normalize_row


def _runtime() -> Runtime:
    return Runtime(clock=datetime.datetime.now, timer=time.monotonic)


def _load_data(rt: Runtime, paths: Sequence[str], defined: set[str]) -> None:
    changes: dict[tuple[str, str], tuple[list[Any], list[Any]]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected an object of policies")
        for policy, tables in doc.items():
            schema: dict[str, list[str]] = {}
            for table, spec in tables.items():
                rows = spec["rows"] if isinstance(spec, dict) else spec
                cols = spec.get("columns") if isinstance(spec, dict) else None
                width = len(rows[0]) if rows else len(cols or [])
                schema[table] = list(cols) if cols else [f"col{i}" for i in range(width)]
                changes.setdefault((policy, table), ([], []))[0].extend(
                    normalize_row(r) for r in rows
                )
            if policy not in defined:
                if rt.policy_exists(policy):
                    merged = dict(schema)
                    rt.set_schema(policy, merged)
                else:
                    rt.create_policy(policy, "datasource", schema=schema)
    rt.apply(changes)


def cmd_eval(args: argparse.Namespace) -> int:
    rt = _runtime()
    kinds = dict(k.split("=", 1) for k in args.kind)
    names = []
    for path in args.files:
        name = os.path.splitext(os.path.basename(path))[0]
        names.append(name)
        rt.create_policy(name, kinds.get(name, "nonrecursive"))
    _load_data(rt, args.data, set(names))
    for path, name in zip(args.files, names, strict=True):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            rt.insert(name, text)
        except PolicyError as e:
            for p in e.problems:
                print(
                    f"{path}:{p.line or 0}:{p.column or 0}: {p.code}: {p.message}", file=sys.stderr
                )
            return 1
    policy = args.policy or (names[0] if names else None)
    if policy is None:
        print("congress-policy: no policy to query (give a FILE or --policy)", file=sys.stderr)
        return 2
    answers = sorted(rt.select(policy, args.query), key=to_text)
    if args.explain:
        proofs = rt.explain(policy, args.query)
        if args.json:
            print(json.dumps([p.as_dict() for p in proofs], indent=1))
        else:
            for proof in proofs:
                print("\n".join(proof.lines()))
        return 0
    if args.json:
        print(json.dumps([to_text(a) for a in answers]))
    else:
        for a in answers:
            print(to_text(a))
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from congress.cmd import conformance

    failures = 0
    total = 0
    for case, error in conformance.run_paths(args.paths, _runtime):
        total += 1
        if error is not None:
            failures += 1
            print(f"FAIL {case}: {error}")
        elif args.verbose:
            print(f"ok   {case}")
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="congress-policy", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="evaluate policy files over JSON data and answer a query")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--data", action="append", default=[], metavar="JSON")
    ev.add_argument("--query", required=True, metavar="Q")
    ev.add_argument("--policy", metavar="P")
    ev.add_argument("--kind", action="append", default=[], metavar="P=KIND")
    ev.add_argument("--explain", action="store_true", help="print why each answer holds")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.set_defaults(func=cmd_eval)
    te = sub.add_parser("test", help="run YAML conformance cases against the engine")
    te.add_argument("paths", nargs="+", metavar="CASES")
    te.add_argument("-v", "--verbose", action="store_true")
    te.set_defaults(func=cmd_test)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except DatalogError as e:
        print(f"congress-policy: {e.code}: {e.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(f"congress-policy: {e}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
