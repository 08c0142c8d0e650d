"""Golden cases of the static checks: ``tests/datalog/golden/analysis/*.dl``.

Each file is policy text checked statement by statement, in order, as inserts into one policy.
Header comments:

- ``# policy: KIND`` (optional): the kind of the policy inserted into (default ``nonrecursive``);
  the policy is ``alice``, or ``nova`` for the kind ``datasource``.
- ``# expect: CODE:LINE:COL``: required in files named ``neg_*.dl``; the first problem of the
  first statement that fails. Every other file must pass entirely.

The schema knows the datasource ``nova`` (complete schema: ``servers`` and ``flavors``), the
datasource ``keystone`` (schema not yet known), the user policy ``alice`` and the action policy
``acts``. Arities of ``alice``'s tables are inferred from the statements accepted before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from congress.datalog.analysis import check_statement, is_builtin_literal, is_special_literal
from congress.datalog.ast import Rule
from congress.datalog.errors import CODES, PolicyError
from congress.datalog.parser import parse, parse_statement
from congress.datalog.printer import to_text

GOLDEN = Path(__file__).parent / "golden" / "analysis"
FILES = sorted(GOLDEN.glob("*.dl"))
EXPECT = re.compile(r"^# expect: (\w+):(\d+):(\d+)\s*$", re.MULTILINE)
POLICY = re.compile(r"^# policy: (\w+)\s*$", re.MULTILINE)

SERVERS = (
    "id",
    "name",
    "host_id",
    "status",
    "tenant_id",
    "user_id",
    "image_id",
    "flavor_id",
    "zone",
    "host_name",
    "created_at",
)


class LearningSchema:
    """A SchemaView whose user-policy arities come from the statements accepted so far."""

    def __init__(self, policy: str, kind: str) -> None:
        self.kinds = {
            "nova": "datasource",
            "keystone": "datasource",
            "alice": "nonrecursive",
            "acts": "action",
        }
        self.kinds[policy] = kind
        self.tables = {"nova": {"servers": SERVERS, "flavors": ("id", "name", "vcpus", "ram")}}
        self.arities: dict[tuple[str, str], int] = {}

    def policy_kind(self, policy: str) -> str | None:
        return self.kinds.get(policy)

    def complete_columns(self, policy: str, table: str) -> Sequence[str] | None:
        return self.tables[policy].get(table) if policy in self.tables else None

    def has_complete_schema(self, policy: str) -> bool:
        return policy in self.tables

    def known_arity(self, policy: str, table: str) -> int | None:
        return self.arities.get((policy, table))

    def learn(self, policy: str, rule: Rule) -> None:
        for lit in (*rule.head, *rule.body):
            if lit.modal or is_builtin_literal(lit) or is_special_literal(lit):
                continue
            target = lit.policy or policy
            if not self.has_complete_schema(target):
                self.arities.setdefault((target, lit.table), len(lit.args))


def run_file(path: Path) -> tuple[list[Rule], PolicyError | None]:
    """Check every statement of ``path``; the accepted rules and the first error, if any."""
    text = path.read_text()
    found = POLICY.search(text)
    kind = found.group(1) if found else "nonrecursive"
    policy = "nova" if kind == "datasource" else "alice"
    schema = LearningSchema(policy, kind)
    accepted: list[Rule] = []
    for stmt in parse(text):
        assert isinstance(stmt, Rule), f"{path.name}: only rules and facts are checked"
        try:
            rule = check_statement(stmt, policy=policy, kind=kind, schema=schema)
        except PolicyError as error:
            return accepted, error
        schema.learn(policy, rule)
        accepted.append(rule)
    return accepted, None


def test_enough_golden_cases() -> None:
    negative = [p for p in FILES if p.name.startswith("neg_")]
    assert len(negative) >= 20
    assert len(FILES) - len(negative) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden(path: Path) -> None:
    text = path.read_text()
    expect = EXPECT.search(text)
    accepted, error = run_file(path)
    if path.name.startswith("neg_"):
        assert expect is not None, f"{path.name} needs '# expect: CODE:LINE:COL'"
        assert error is not None, f"{path.name} was accepted"
        first = error.first
        assert first.code in CODES
        assert (first.code, first.line, first.column) == (
            expect.group(1),
            int(expect.group(2)),
            int(expect.group(3)),
        ), error.problems
        return
    assert expect is None, f"{path.name}: only neg_* files carry '# expect:'"
    assert error is None, f"{path.name}: {error}"
    assert accepted
    for rule in accepted:
        assert all(not lit.named for lit in (*rule.head, *rule.body))
        assert parse_statement(to_text(rule)) == rule
