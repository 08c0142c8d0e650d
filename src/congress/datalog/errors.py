"""Errors of the policy language and its engine, with stable string codes.

Imports: standard library only.

Hierarchy::

    DatalogError                    every error raised by congress.datalog
    ├── PolicyError                 bad policy text or a bad change: carries one or more Problems
    │     (codes: policy_parse_error, unsafe_rule, arity_mismatch, recursive_rules, ...)
    ├── PolicyNotFound              code policy_not_found (an unknown policy name)
    ├── PolicyExists                code policy_exists
    ├── KindNotSupported            code kind_not_supported (z3, unknown kinds)
    └── LimitExceeded               code limit_exceeded (an evaluation budget ran out)

A ``Problem`` names what is wrong (``code``, ``message``) and where (``line``, ``column``,
``policy``, ``rule``). The first problem of a ``PolicyError`` is the headline; all of them are
kept in ``problems``. Codes are listed in ``CODES`` and documented in docs/errors.md; they never
change once released.
"""

from __future__ import annotations

from dataclasses import dataclass

CODES: dict[str, str] = {
    "policy_parse_error": "the text does not follow the grammar (lexical or syntax error)",
    "unsafe_rule": "a variable is not bound by a positive literal (head, negation or builtin)",
    "arity_mismatch": "a table is used with a different number of columns than it has",
    "unknown_table": "a literal names a table the policy's complete schema does not have",
    "unknown_column": "a column reference names a column that does not exist",
    "column_reference_error": "column references that are malformed or not allowed there",
    "schema_unknown": "column references to a table whose schema is not known",
    "modal_error": "a modal (execute/insert/delete) used where it is not allowed",
    "builtin_conflict": "a rule head or fact uses the name of a builtin",
    "unknown_builtin": "builtin:name names no builtin",
    "fact_not_ground": "a fact contains a variable",
    "policy_prefix_error": "a head or fact references a policy where it may not",
    "non_formula": "a statement that is not a Datalog rule or fact (e.g. several heads)",
    "non_atomic_formula": "a database policy accepts ground atoms only",
    "rules_not_permitted": "datasource policies hold data only",
    "cross_project_reference": "a project's rule names what the project may not read "
    "(another project's policy, a global policy, a datasource not shared with it: 403)",
    "recursive_rules": "recursion in a policy kind that does not allow it",
    "unstratifiable": "recursion through negation or through an aggregate",
    "aggregate_error": (
        "an aggregate used where it is not allowed (head, fact, nested, action or database "
        "policy), whose term is not a variable of its body, or whose result occurs in its body"
    ),
    "policy_not_found": "no policy has that name",
    "policy_exists": "a policy with that name already exists",
    "invalid_policy_name": "a policy or datasource name that is not allowed",
    "kind_not_supported": "a policy kind that is unknown or not supported",
    "invalid_sequence": "a simulate sequence element that is neither an action nor an update",
    "invalid_query": "a query that is not exactly one literal or rule",
    "limit_exceeded": "an evaluation budget (rows or time) ran out",
}


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    line: int | None = None
    column: int | None = None
    policy: str | None = None
    rule: str | None = None

    def located(self) -> str:
        """``message`` prefixed with ``line:L,col:C`` when the location is known and the message
        does not already say it (parse errors do)."""
        if self.line is None or f"line {self.line}, column" in self.message:
            return self.message
        return f"line:{self.line},col:{self.column} {self.message}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        for key in ("line", "column", "policy", "rule"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class DatalogError(Exception):
    """Base class of every error raised by congress.datalog."""

    code = "datalog_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyError(DatalogError):
    """Bad policy text or an invalid change; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.problems = problems
        super().__init__("\n".join(p.located() for p in problems))
        self.code = problems[0].code

    @property
    def first(self) -> Problem:
        return self.problems[0]


def policy_error(
    code: str,
    message: str,
    *,
    line: int | None = None,
    column: int | None = None,
    policy: str | None = None,
    rule: str | None = None,
) -> PolicyError:
    """A ``PolicyError`` holding a single problem."""
    return PolicyError([Problem(code, message, line, column, policy, rule)])


class PolicyNotFound(DatalogError):
    code = "policy_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown policy {name}")  # the original's wording
        self.name = name


class PolicyExists(DatalogError):
    code = "policy_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"Policy with name {name} already exists")
        self.name = name


class KindNotSupported(DatalogError):
    code = "kind_not_supported"


class LimitExceeded(DatalogError):
    """An evaluation budget ran out; the request that ran over changed nothing."""

    code = "limit_exceeded"

    def __init__(self, limit: str, value: float, policy: str | None = None) -> None:
        where = f" in policy {policy}" if policy else ""
        super().__init__(f"Evaluation exceeded the limit {limit}={value}{where}")
        self.limit = limit
        self.value = value
        self.policy = policy
