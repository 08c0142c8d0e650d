"""``congress-policy export DIR`` and ``congress-policy apply DIR``: policy as code.

Live policies go to and come from a folder of YAML files in the policy library's format
(``congress.services.library``), one policy a file, ``DIR/<name>.yaml``::

    name: ops
    description: Servers in error
    kind: nonrecursive
    abbreviation: ops
    rules:
    - rule: error(vm) :- inv:servers(id=vm, status="ERROR")
      name: server_error            # optional
      comment: a server in ERROR    # optional

``export`` writes every policy but the datasources' and the system policies (``classification``
and ``action``) that hold no rules; rules in a canonical order (facts first, then by their
normalised text), so that exporting an unchanged server writes the same bytes.

``apply`` makes the files the live state of their policies: it creates missing policies, adds
the rules missing from a policy and deletes those not in its file (a rule is its text normalised
by the parser, its name and its comment: a renamed rule is deleted and added again). The API
cannot change a policy's kind, description or abbreviation: a different kind needs
``--recreate`` (the policy is deleted and created again, its enforcement settings kept), a
different description or abbreviation is reported and changed only with ``--recreate``.
``--prune`` also deletes the live policies no file holds (never ``classification`` and
``action``). ``--dry-run`` changes nothing: it prints the differences and the ``error`` and
``warning`` rows that would appear and disappear (the API's simulate with ``add_rules`` and
``delete_rules``). Every file is checked locally (the parser, the engine's checks without the
datasources' schemas) and every changed existing policy by the server (simulate) before
anything is changed. Exit status: 0 done or nothing to do, 1 an error (``file:line:column`` for a
rule, or the API's message), 2 with ``--dry-run --exit-code`` when something would change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from congress.cmd import apiclient
from congress.cmd.apiclient import ApiError, Client
from congress.cmd.policytest import default_runtime
from congress.datalog.ast import Rule
from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse
from congress.datalog.printer import to_text

SYSTEM_POLICIES = ("classification", "action")
"""Created by the server and never deleted (``congress.services.policy_engine``)."""
KINDS = ("nonrecursive", "materialized", "action", "database")
DEFAULT_KIND = "nonrecursive"
SUFFIXES = (".yaml", ".yml")
IMPACT_TABLES = ("error", "warning")
_POLICY_KEYS = ("name", "description", "kind", "abbreviation", "rules", "depends-on")
_RULE_KEYS = ("rule", "name", "comment")


class SyncError(Exception):
    """An error that stops the command: exit status 1."""


# -- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """A place in a file, 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class FileRule:
    rule: str
    name: str | None
    comment: str
    key: str  # the text as the parser prints it
    where: Where
    node: yaml.ScalarNode | None = field(default=None, compare=False, repr=False)

    @property
    def identity(self) -> tuple[str, str | None, str]:
        return (self.key, self.name, self.comment)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.name is not None:
            out["name"] = self.name
        if self.comment:
            out["comment"] = self.comment
        return out


@dataclass
class PolicyFile:
    path: str
    name: str
    description: str | None  # None: not given (a policy created without one has "")
    kind: str
    abbreviation: str | None  # None: not given (the server makes one from the name)
    rules: list[FileRule]
    source: str = field(repr=False, default="")

    def locate(self, rule: FileRule, line: int | None, column: int | None) -> Where:
        """Where a position in ``rule``'s text (1-based, as the parser reports) is."""
        if line is None or rule.node is None:
            return rule.where
        return _map_position(self.source, self.path, rule.node, rule.rule, line, column or 1)


def _mark(path: str, node: yaml.Node) -> Where:
    return Where(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _map_position(
    source: str, path: str, node: yaml.ScalarNode, value: str, line: int, column: int
) -> Where:
    """The file position of (line, column) of a scalar's value: the scalar's characters other
    than white space appear in the file in the same order (plain, quoted, literal and folded
    scalars alike), so count them."""
    lines = value.split("\n")
    line = max(1, min(line, len(lines)))
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + max(column - 1, 0)
    offset = min(offset, len(value))
    wanted = sum(1 for ch in value[:offset] if not ch.isspace())
    i, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        newline = source.find("\n", i, end)
        i = end if newline < 0 else newline + 1
    elif node.style in ('"', "'"):
        i += 1
    if node.style in ('"', "'"):
        end -= 1  # the closing quote
    seen, after = 0, i  # after: just past the last character counted
    while i < end:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if seen == wanted:
            break
        escaped = (node.style == '"' and ch == "\\") or (
            node.style == "'" and source.startswith("''", i)
        )
        seen += 1
        i += 2 if escaped else 1
        after = i
    else:
        i = after  # past the end of the text (e.g. "found end of input")
    i = min(i, len(source))
    file_line = source.count("\n", 0, i) + 1
    file_column = i - (source.rfind("\n", 0, i) + 1) + 1
    return Where(path, file_line, file_column)


def _unplaced(message: str) -> str:
    """A parser message without its position in the rule's text (the file's is given)."""
    return re.sub(r" at line \d+, column \d+", "", message)


def _scalar(node: yaml.Node, path: str, what: str, *, optional: bool = True) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        if optional:
            return None
        raise SyncError(f"{_mark(path, node)}: {what} is required")
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
    ):
        raise SyncError(f"{_mark(path, node)}: {what} must be a string")
    return str(node.value)


def _fields(node: yaml.Node, path: str, allowed: Sequence[str], what: str) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise SyncError(f"{_mark(path, node)}: {what} must be a mapping")
    out: dict[str, Any] = {}
    for k, v in node.value:
        key = str(k.value) if isinstance(k, yaml.ScalarNode) else ""
        if key not in allowed:
            raise SyncError(
                f"{_mark(path, k)}: unknown field {key!r} in {what} (expected {', '.join(allowed)})"
            )
        if key in out:
            raise SyncError(f"{_mark(path, k)}: field {key!r} given twice")
        out[key] = v
    return out


def _parse_rule(text: str, node: yaml.ScalarNode, path: str, source: str) -> str:
    """The rule's normalised text; ``SyncError`` at the file's line and column."""
    try:
        statements = parse(text)
    except PolicyError as e:
        p = e.problems[0]
        where = _map_position(source, path, node, text, p.line or 1, p.column or 1)
        raise SyncError(f"{where}: {p.code}: {_unplaced(p.message)}") from None
    if len(statements) != 1:
        raise SyncError(
            f"{_mark(path, node)}: a rule must hold exactly one rule or fact, not {len(statements)}"
        )
    return to_text(statements[0])


def load_file(path: str) -> PolicyFile:
    """One policy file; ``SyncError`` naming ``file:line:column`` when it is not usable."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise SyncError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise SyncError(f"{where}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise SyncError(f"{path}: {e}") from None
    if root is None:
        raise SyncError(f"{path}: empty file: expected a policy (name, kind, rules, ...)")
    top = _fields(root, path, _POLICY_KEYS, "a policy")
    stem = os.path.splitext(os.path.basename(path))[0]
    name = _scalar(top["name"], path, "name") if "name" in top else None
    name = name if name is not None else stem
    if not name or "/" in name or name.startswith("."):
        raise SyncError(f"{_mark(path, top.get('name', root))}: bad policy name {name!r}")
    description = _scalar(top["description"], path, "description") if "description" in top else None
    kind = (_scalar(top["kind"], path, "kind") if "kind" in top else None) or DEFAULT_KIND
    if kind not in KINDS:
        raise SyncError(
            f"{_mark(path, top['kind'])}: kind must be one of {', '.join(KINDS)}, not {kind!r}"
        )
    abbreviation = (
        _scalar(top["abbreviation"], path, "abbreviation") if "abbreviation" in top else None
    )
    if abbreviation is not None and not 1 <= len(abbreviation) <= 5:
        raise SyncError(
            f"{_mark(path, top['abbreviation'])}: abbreviation must be 1 to 5 characters"
        )
    rules_node = top.get("rules")
    if rules_node is None or (
        isinstance(rules_node, yaml.ScalarNode) and rules_node.tag.endswith(":null")
    ):
        items: list[yaml.Node] = []
    elif isinstance(rules_node, yaml.SequenceNode):
        items = list(rules_node.value)
    else:
        raise SyncError(
            f"{_mark(path, rules_node)}: rules must be a list of {{rule, name, comment}}"
        )
    rules: list[FileRule] = []
    seen: dict[str, FileRule] = {}
    for i, item in enumerate(items):
        what = f"rules[{i}]"
        if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str":
            fields: dict[str, Any] = {"rule": item}  # a bare string: the rule alone
        else:
            fields = _fields(item, path, _RULE_KEYS, what)
        if "rule" not in fields:
            raise SyncError(f"{_mark(path, item)}: {what}.rule is required")
        node = fields["rule"]
        text = _scalar(node, path, f"{what}.rule", optional=False)
        assert text is not None and isinstance(node, yaml.ScalarNode)
        rule_name = _scalar(fields["name"], path, f"{what}.name") if "name" in fields else None
        comment = (
            _scalar(fields["comment"], path, f"{what}.comment") if "comment" in fields else None
        )
        key = _parse_rule(text, node, path, source)
        rule = FileRule(text, rule_name, comment or "", key, _mark(path, node), node)
        if key in seen:
            raise SyncError(
                f"{rule.where}: the same rule as at line {seen[key].where.line} (a policy holds "
                "a rule once)"
            )
        seen[key] = rule
        rules.append(rule)
    return PolicyFile(path, name, description, kind, abbreviation, rules, source)


def policy_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise SyncError(f"{folder}: not a folder")
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.endswith(SUFFIXES) and not f.startswith(".")
    )


def load_folder(folder: str) -> tuple[list[PolicyFile], list[str]]:
    """Every policy file of ``folder``, and the problems of those that are not usable."""
    files: list[PolicyFile] = []
    problems: list[str] = []
    for path in policy_files(folder):
        try:
            files.append(load_file(path))
        except SyncError as e:
            problems.append(str(e))
    by_name: dict[str, PolicyFile] = {}
    for pf in files:
        if pf.name in by_name:
            problems.append(f"{pf.path}: policy {pf.name} is also in {by_name[pf.name].path}")
        by_name.setdefault(pf.name, pf)
    if not problems:
        problems.extend(check_locally(files))
    return files, problems


def check_locally(files: Sequence[PolicyFile]) -> list[str]:
    """What the engine refuses in the files' rules (safety, recursion, kinds, arity), without
    the datasources' schemas: a rule whose only problem is an unknown schema is left to the
    server."""
    rt = default_runtime()
    problems: list[str] = []
    for pf in files:
        rt.create_policy(pf.name, pf.kind, abbreviation=pf.abbreviation)
    for pf in files:
        for rule in pf.rules:
            try:
                rt.insert(pf.name, rule.rule)
            except PolicyError as e:
                real = [p for p in e.problems if p.code != "schema_unknown"]
                for p in real[:1]:
                    where = pf.locate(rule, p.line, p.column)
                    problems.append(f"{where}: {p.code}: {_unplaced(p.message)}")
    return problems


# -- writing files -------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # "  - rule: ..." under "rules:"


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value.rstrip("\n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def rule_order(rule: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """Facts first, then by the normalised text (then name, comment): a stable order."""
    text = str(rule.get("rule") or "")
    key, fact = normalise(text)
    return (0 if fact else 1, key, rule.get("name") or "", rule.get("comment") or "")


def normalise(text: str) -> tuple[str, bool]:
    """A rule's text as the parser prints it, and whether it is a fact (the text as is when it
    does not parse)."""
    try:
        statements = parse(text)
    except PolicyError:
        return text.strip(), False
    if len(statements) != 1:
        return text.strip(), False
    stmt = statements[0]
    return to_text(stmt), isinstance(stmt, Rule) and stmt.is_fact


def policy_document(policy: Mapping[str, Any], rules: Iterable[Mapping[str, Any]]) -> str:
    """The YAML text of a live policy and its rules."""
    items: list[dict[str, Any]] = []
    for r in sorted(rules, key=rule_order):
        item: dict[str, Any] = {"rule": r["rule"]}
        if r.get("name") is not None:
            item["name"] = r["name"]
        if r.get("comment"):
            item["comment"] = r["comment"]
        items.append(item)
    doc = {
        "name": policy["name"],
        "description": policy.get("description") or "",
        "kind": policy.get("kind") or DEFAULT_KIND,
        "abbreviation": policy.get("abbreviation"),
        "rules": items,
    }
    return yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )


def cmd_export(args: argparse.Namespace) -> int:
    try:
        client = apiclient.connect(apiclient.settings(args))
        live = {p["name"]: p for p in client.policies()}
        wanted = list(dict.fromkeys(args.policy or []))
        missing = [n for n in wanted if n not in live]
        if missing:
            raise SyncError(f"no policy {', '.join(missing)} on the server")
        os.makedirs(args.dir, exist_ok=True)
        written = 0
        names = wanted or sorted(live)
        exported: set[str] = set()
        for name in names:
            if live[name].get("kind") == "datasource":
                continue
            rules = client.rules(name)
            if not wanted and name in SYSTEM_POLICIES and not rules:
                continue
            text = policy_document(live[name], rules)
            path = os.path.join(args.dir, f"{name}.yaml")
            exported.add(name)
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except OSError:
                same = False
            if same:
                print(f"unchanged {path}")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            written += 1
            print(f"wrote {path} ({_count(len(rules), 'rule')})")
        if not wanted:
            for path in policy_files(args.dir):
                stem = os.path.splitext(os.path.basename(path))[0]
                if stem not in exported:
                    print(f"{path}: no policy {stem} on the server (file left in place)")
        print(f"exported {_count(len(exported), 'policy', 'policies')} ({written} written)")
    except (SyncError, apiclient.ConfigError) as e:
        print(f"congress-policy export: {e}", file=sys.stderr)
        return 1
    except ApiError as e:
        print(f"congress-policy export: {e.message}", file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"congress-policy export: {e.filename or args.dir}: {e.strerror or e}", file=sys.stderr
        )
        return 1
    return 0


# -- apply ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What apply does to one policy."""

    name: str
    action: str  # create, change, recreate, delete, same
    file: PolicyFile | None = None
    add: list[FileRule] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    live: dict[str, Any] | None = None
    live_rules: list[dict[str, Any]] = field(default_factory=list)
    impact: dict[str, dict[str, list[list[Any]]]] | None = None
    impact_note: str = ""

    @property
    def changes(self) -> bool:
        return self.action != "same"


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _rule_line(sign: str, key: str, name: str | None, comment: str) -> str:
    extra = []
    if name is not None:
        extra.append(f"name {json.dumps(name)}")
    if comment:
        extra.append(f"comment {json.dumps(comment)}")
    return f"  {sign} {key}" + (f"   # {', '.join(extra)}" if extra else "")


def _live_key(rule: Mapping[str, Any]) -> tuple[str, str | None, str]:
    key, _ = normalise(str(rule.get("rule") or ""))
    return (key, rule.get("name"), rule.get("comment") or "")


def make_plans(
    client: Client, files: Sequence[PolicyFile], args: argparse.Namespace
) -> tuple[list[Plan], list[str]]:
    """A plan per policy, and the problems that stop apply before it changes anything."""
    live = {p["name"]: p for p in client.policies() if p.get("kind") != "datasource"}
    problems: list[str] = []
    plans: list[Plan] = []
    for pf in files:
        current = live.get(pf.name)
        if current is None:
            plans.append(Plan(pf.name, "create", pf, add=list(pf.rules)))
            continue
        live_rules = client.rules(pf.name)
        plan = Plan(pf.name, "same", pf, live=current, live_rules=live_rules)
        differs: list[str] = []
        kind_differs = current.get("kind") != pf.kind
        if kind_differs:
            differs.append(f"kind {current.get('kind')} -> {pf.kind}")
        if pf.description is not None and (current.get("description") or "") != pf.description:
            differs.append("description")
        if pf.abbreviation is not None and current.get("abbreviation") != pf.abbreviation:
            differs.append(f"abbreviation {current.get('abbreviation')} -> {pf.abbreviation}")
        what = f"{', '.join(differs)} {'differs' if len(differs) == 1 else 'differ'}"
        if differs and pf.name in SYSTEM_POLICIES:
            if kind_differs:
                problems.append(
                    f"{pf.path}: {pf.name} is a system policy, {current.get('kind')}: it cannot "
                    "be recreated to change its kind"
                )
                continue
            plan.notes.append(
                f"warning: its {what} from the file; a system policy cannot "
                "be recreated to change them"
            )
        elif differs and args.recreate:
            plan.action = "recreate"
            plan.notes.append(
                f"its {what}: deleted and created again with {_count(len(pf.rules), 'rule')}"
            )
        elif kind_differs:
            problems.append(
                f"{pf.path}: policy {pf.name} is {current.get('kind')} on the server, "
                f"{pf.kind} in the file: the API cannot change a policy's kind; apply with "
                "--recreate to delete and create it again"
            )
            continue
        elif differs:
            plan.notes.append(
                f"warning: its {what} from the file; the API cannot change "
                "them (apply with --recreate to delete and create the policy again)"
            )
        wanted = {r.identity for r in pf.rules}
        have = {_live_key(r) for r in live_rules}
        plan.delete = [r for r in live_rules if _live_key(r) not in wanted]
        plan.add = [r for r in pf.rules if r.identity not in have]
        if plan.action == "same" and (plan.add or plan.delete):
            plan.action = "change"
        plans.append(plan)
    if args.prune:
        named = set(args.policy or [])
        in_files = {pf.name for pf in files}
        for name in sorted(live):
            if name in in_files or name in SYSTEM_POLICIES or (named and name not in named):
                continue
            plans.append(Plan(name, "delete", live=live[name], delete=client.rules(name)))
    return plans, problems


def _api_problem(e: ApiError, pf: PolicyFile | None, rules: Sequence[FileRule]) -> str:
    """The API's error, at the file position of the rule it names when it can be found."""
    data = e.data
    message = str(data.get("message") or e.message) if data.get("line") is not None else e.message
    if pf is None:
        return message
    rule: FileRule | None = None
    if data.get("rule"):
        key, _ = normalise(str(data["rule"]))
        rule = next((r for r in rules if r.key == key), None)
    if rule is None and len(rules) == 1:
        rule = rules[0]
    if rule is not None:
        line = data.get("line")
        where = pf.locate(rule, line if isinstance(line, int) else None, data.get("column"))
        code = f"{data['code']}: " if data.get("code") else ""
        return f"{where}: policy {pf.name}: {code}{_unplaced(message)}"
    return f"{pf.path}: policy {pf.name}: {e.message}"


def preflight(client: Client, plans: Sequence[Plan]) -> list[str]:
    """Ask the server what each change to an existing policy would do (and whether it takes
    the rules): the impact on ``error`` and ``warning``. Changes nothing."""
    problems: list[str] = []
    for plan in plans:
        if plan.action == "change":
            body = {
                "add_rules": [r.rule for r in plan.add],
                "delete_rules": [str(r["id"]) for r in plan.delete],
            }
            try:
                answer = client.request(
                    "POST", f"policies/{plan.name}", body, query={"action": "simulate"}
                )
            except ApiError as e:
                problems.append(_api_problem(e, plan.file, plan.add))
                continue
            plan.impact = answer.get("result") or {}
        elif plan.action == "create":
            plan.impact_note = "its error and warning rows cannot be simulated before it exists"
        elif plan.action == "recreate":
            plan.impact_note = "the rows of a recreated policy cannot be simulated"
        elif plan.action == "delete":
            try:
                tables = set(client.tables(plan.name))
                plan.impact = {
                    t: {"added": [], "removed": client.rows(plan.name, t)}
                    for t in IMPACT_TABLES
                    if t in tables
                }
            except ApiError as e:
                plan.impact_note = f"its rows could not be read: {e.message}"
    return problems


def _row_text(table: str, row: Sequence[Any]) -> str:
    return f"{table}({', '.join(json.dumps(v) for v in row)})"


def describe(plan: Plan, dry_run: bool) -> list[str]:
    where = f" ({plan.file.path})" if plan.file else ""
    n_add, n_del = len(plan.add), len(plan.delete)
    if plan.action == "same":
        return [f"= policy {plan.name}{where}"] + [f"  {note}" for note in plan.notes]
    if plan.action == "create":
        assert plan.file is not None
        verb = "to create" if dry_run else "created"
        head = f"+ policy {plan.name}{where}: {verb} ({plan.file.kind}, {_count(n_add, 'rule')})"
    elif plan.action == "recreate":
        verb = "to recreate" if dry_run else "recreated"
        head = f"~ policy {plan.name}{where}: {verb} ({_count(n_add, 'rule')})"
    elif plan.action == "delete":
        verb = "to delete" if dry_run else "deleted"
        head = f"- policy {plan.name}: {verb} (not in the folder; {_count(n_del, 'rule')})"
    else:
        if dry_run:
            head = f"~ policy {plan.name}{where}: {n_add} to add, {n_del} to delete"
        else:
            head = f"~ policy {plan.name}{where}: {n_add} added, {n_del} deleted"
    lines = [head] + [f"  {note}" for note in plan.notes]
    if plan.action in ("change", "recreate"):
        for r in sorted(plan.delete, key=rule_order):
            key, name, comment = _live_key(r)
            lines.append(_rule_line("-", key, name, comment))
    if plan.action != "delete":
        for fr in sorted(plan.add, key=lambda r: rule_order(r.body())):
            lines.append(_rule_line("+", fr.key, fr.name, fr.comment))
    if dry_run:
        lines.extend(_impact_lines(plan))
    return lines


def _impact_lines(plan: Plan) -> list[str]:
    if plan.impact_note:
        return [f"  ({plan.impact_note})"]
    if plan.impact is None:
        return []
    rows: list[str] = []
    for table in sorted(plan.impact):
        change = plan.impact[table]
        rows.extend(f"    + {_row_text(table, r)}" for r in change.get("added", []))
        rows.extend(f"    - {_row_text(table, r)}" for r in change.get("removed", []))
    if not rows:
        return ["  violations: no error or warning row would appear or disappear"]
    return ["  violations that would appear (+) and disappear (-):", *rows]


def cmd_apply(args: argparse.Namespace) -> int:
    if args.exit_code and not args.dry_run:
        print("congress-policy apply: --exit-code goes with --dry-run", file=sys.stderr)
        return 1
    try:
        files, problems = load_folder(args.dir)
        if args.policy:
            named = set(args.policy)
            files = [pf for pf in files if pf.name in named]
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(
                f"congress-policy apply: {_count(len(problems), 'problem')} in {args.dir}; "
                "nothing changed",
                file=sys.stderr,
            )
            return 1
        client = apiclient.connect(apiclient.settings(args))
        plans, problems = make_plans(client, files, args)
        problems += preflight(client, plans)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print("congress-policy apply: nothing changed", file=sys.stderr)
            return 1
    except (SyncError, apiclient.ConfigError) as e:
        print(f"congress-policy apply: {e}", file=sys.stderr)
        return 1
    except ApiError as e:
        print(f"congress-policy apply: {e.message}", file=sys.stderr)
        return 1
    order = {"create": 0, "recreate": 1, "change": 2, "delete": 3}
    changing = sorted((p for p in plans if p.changes), key=lambda p: order[p.action])
    for p in plans:
        if not p.changes and p.notes:
            print("\n".join(describe(p, True)))
    if not changing:
        print(f"nothing to do: {_count(len(plans), 'policy', 'policies')} as in {args.dir}")
        return 0
    if args.dry_run:
        for p in changing:
            print("\n".join(describe(p, True)))
        print(_summary(changing, True) + " (dry run: nothing changed)")
        return 2 if args.exit_code else 0
    done: list[Plan] = []
    for p in changing:  # new policies first (others may read them), deletions last
        try:
            execute(client, p)
        except ApiError as e:
            rules = p.file.rules if p.file and p.action in ("create", "recreate") else p.add
            print(f"congress-policy apply: {_api_problem(e, p.file, rules)}", file=sys.stderr)
            print(
                f"congress-policy apply: stopped at policy {p.name}"
                + (f" after {_summary(done, False)}" if done else "; nothing changed"),
                file=sys.stderr,
            )
            return 1
        done.append(p)
        print("\n".join(describe(p, False)), flush=True)
    print(_summary(done, False))
    return 0


def _summary(plans: Sequence[Plan], dry_run: bool) -> str:
    counts: dict[str, int] = {}
    for p in plans:
        counts[p.action] = counts.get(p.action, 0) + 1
    words = {
        "create": ("to create", "created"),
        "recreate": ("to recreate", "recreated"),
        "change": ("to change", "changed"),
        "delete": ("to delete", "deleted"),
    }
    parts = [
        f"{counts[a]} {words[a][0 if dry_run else 1]}"
        for a in ("create", "recreate", "change", "delete")
        if a in counts
    ]
    return f"{_count(len(plans), 'policy', 'policies')}: {', '.join(parts)}"


def _create_body(pf: PolicyFile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": pf.name,
        "description": pf.description or "",
        "kind": pf.kind,
        "rules": [r.body() for r in pf.rules],
    }
    if pf.abbreviation is not None:
        body["abbreviation"] = pf.abbreviation
    return body


def execute(client: Client, plan: Plan) -> None:
    """Carry out one policy's plan; a failure part way is undone as far as the API allows."""
    if plan.action == "create":
        assert plan.file is not None
        client.request("POST", "policies", _create_body(plan.file))
    elif plan.action == "delete":
        client.request("DELETE", f"policies/{plan.name}")
    elif plan.action == "recreate":
        _recreate(client, plan)
    elif plan.action == "change":
        _change(client, plan)


def _recreate(client: Client, plan: Plan) -> None:
    assert plan.file is not None and plan.live is not None
    settings = client.policy(plan.name)
    client.request("DELETE", f"policies/{plan.name}")
    try:
        client.request("POST", "policies", _create_body(plan.file))
    except ApiError:
        old = {
            "name": plan.name,
            "description": plan.live.get("description") or "",
            "kind": plan.live.get("kind"),
            "abbreviation": plan.live.get("abbreviation"),
            "rules": [
                {"rule": r["rule"], "name": r.get("name"), "comment": r.get("comment") or ""}
                for r in plan.live_rules
            ],
        }
        try:
            client.request("POST", "policies", old)
            _restore_settings(client, plan.name, settings)
        except ApiError as again:
            print(
                f"congress-policy apply: could not restore policy {plan.name} as it was: "
                f"{again.message}",
                file=sys.stderr,
            )
        raise
    _restore_settings(client, plan.name, settings)


def _restore_settings(client: Client, name: str, settings: Mapping[str, Any]) -> None:
    """Enforcement settings (docs/enforcement.md) survive a recreation."""
    patch: dict[str, Any] = {}
    if settings.get("dry_run"):
        patch["dry_run"] = True
    if settings.get("action_grace_seconds") is not None:
        patch["action_grace_seconds"] = settings["action_grace_seconds"]
    if patch:
        client.request("PATCH", f"policies/{name}", patch)


def _change(client: Client, plan: Plan) -> None:
    """Delete first (a renamed rule has the same text, which a policy holds once), then add;
    on a failure, the rules added are deleted and those deleted added again."""
    deleted: list[dict[str, Any]] = []
    added: list[str] = []
    try:
        for r in plan.delete:
            client.request("DELETE", f"policies/{plan.name}/rules/{r['id']}")
            deleted.append(r)
        for fr in plan.add:
            answer = client.request("POST", f"policies/{plan.name}/rules", fr.body())
            added.append(str(answer["id"]))
    except ApiError:
        try:
            for rid in reversed(added):
                client.request("DELETE", f"policies/{plan.name}/rules/{rid}")
            for r in deleted:
                body = {"rule": r["rule"], "comment": r.get("comment") or ""}
                if r.get("name") is not None:
                    body["name"] = r["name"]
                client.request("POST", f"policies/{plan.name}/rules", body)
        except ApiError as again:
            print(
                f"congress-policy apply: could not undo the changes to policy {plan.name}: "
                f"{again.message}",
                file=sys.stderr,
            )
        raise


# -- the command line ----------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """``export`` and ``apply`` under ``congress-policy``'s subcommands."""
    ex = sub.add_parser(
        "export", help="write the server's policies to DIR/<name>.yaml (docs/policy-as-code.md)"
    )
    ex.add_argument("dir", metavar="DIR")
    ex.add_argument(
        "--policy", action="append", metavar="NAME", help="only this policy (repeatable)"
    )
    apiclient.add_options(ex)
    ex.set_defaults(func=cmd_export)
    ap = sub.add_parser(
        "apply", help="make the server's policies those of DIR (docs/policy-as-code.md)"
    )
    ap.add_argument("dir", metavar="DIR")
    ap.add_argument(
        "--policy", action="append", metavar="NAME", help="only this policy (repeatable)"
    )
    ap.add_argument(
        "--prune", action="store_true", help="delete live policies no file holds (not system ones)"
    )
    ap.add_argument(
        "--recreate",
        action="store_true",
        help="delete and create again a policy whose kind, description or abbreviation differ",
    )
    ap.add_argument(
        "--dry-run", action="store_true", help="change nothing: print the differences and impact"
    )
    ap.add_argument(
        "--exit-code", action="store_true", help="with --dry-run: exit 2 when something differs"
    )
    apiclient.add_options(ap)
    ap.set_defaults(func=cmd_apply)
