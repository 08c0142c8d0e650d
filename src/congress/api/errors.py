"""The API's error body and codes (reference 3.4), and how service and engine errors map to them.

May import congress.datalog.errors.

Every error answer is ``{"error": {"message", "error_code", "error_data"}}`` with the original's
integer codes. For language errors ``error_data`` carries the stable string ``code``, ``line``
and ``column`` of the first problem (and ``policy``/``rule`` where known) and ``errors``, the
list of every problem (spec README, Errors and Several errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from congress.datalog import errors as dl


@dataclass(frozen=True, slots=True)
class ErrorCode:
    number: int
    status: int
    description: str


# name -> (number, HTTP status, description), as the original's api/error_codes.py
CODES: dict[str, ErrorCode] = {
    "unknown": ErrorCode(1000, 400, "Unknown error"),
    "add_item_id": ErrorCode(1001, 400, "Add item does not support user-chosen ID"),
    "rule_syntax": ErrorCode(1002, 400, "Syntax error for rule"),
    "multiple_rules": ErrorCode(1003, 400, "Received string representing more than 1 rule"),
    "incomplete_simulate_args": ErrorCode(
        1004, 400, "Simulate requires parameters: query, sequence, action_policy"
    ),
    "simulate_without_policy": ErrorCode(1005, 400, "Simulate must be told which policy to use"),
    "sequence_syntax": ErrorCode(1006, 400, "Syntax error in sequence"),
    "simulate_error": ErrorCode(1007, 500, "Error in simulate procedure"),
    "rule_already_exists": ErrorCode(1008, 409, "Rule already exists"),
    "schema_get_item_id": ErrorCode(
        1009, 400, "Get item for schema does not support user-chosen ID"
    ),
    "policy_name_must_be_provided": ErrorCode(
        1010, 400, "A name must be provided when creating a policy"
    ),
    "no_policy_update_owner": ErrorCode(1012, 400, "The policy owner_id cannot be updated"),
    "no_policy_update_kind": ErrorCode(1013, 400, "The policy kind cannot be updated"),
    "failed_to_create_policy": ErrorCode(1014, 500, "A new policy could not be created"),
    "policy_id_must_not_be_provided": ErrorCode(
        1015, 400, "An ID may not be provided when creating a policy"
    ),
    "execute_error": ErrorCode(1016, 500, "Error in execution procedure"),
    "service_action_syntax": ErrorCode(
        1017, 400, "Incorrect action syntax. Requires: <service>:<action>"
    ),
    "execute_action_args_syntax": ErrorCode(
        1018,
        400,
        "Incorrect argument syntax. Requires: {'positional': [<args>], 'named': {<arg>:<arg>,}}",
    ),
    "rule_not_permitted": ErrorCode(1019, 400, "Rules not permitted on non persisted policies."),
    "policy_not_exist": ErrorCode(1020, 404, "The specified policy does not exist."),
    "policy_rule_insertion_failure": ErrorCode(1021, 400, "The policy rule could not be inserted."),
    "policy_abbreviation_error": ErrorCode(
        1022,
        400,
        "The policy abbreviation must be a string and the length of the string must be equal "
        "to or less than 5 characters.",
    ),
}


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    """An error answer: HTTP status and the body's three fields."""

    status: int
    message: str
    error_code: int
    error_data: Any = None

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "error_code": self.error_code,
                "error_data": self.error_data,
            }
        }


def api_error(name: str, detail: str | None = None, data: Any = None) -> ApiError:
    """The error ``name`` of ``CODES``; the message is ``description::detail`` as the original."""
    code = CODES[name]
    message = code.description if detail is None else f"{code.description}::{detail}"
    return ApiError(code.status, message, code.number, data)


def problem_data(err: dl.PolicyError) -> dict[str, Any]:
    """``error_data`` for a language error: the first problem's fields and every problem."""
    data: dict[str, Any] = dict(err.first.as_dict())
    data["errors"] = [p.as_dict() for p in err.problems]
    return data


LIMIT_OPTIONS = {
    "max_rows": ("max_derived_rows", 1),
    "max_seconds": ("max_evaluation_seconds", 1),
    "max_memory": ("max_memory_mb", 1 << 20),
}
"""The engine's budgets by the ``[limits]`` option that sets each, and the unit of that option."""

QUOTA_LIMITS = {
    "rows_per_table": "a table of policy {policy} may hold at most {value} rows",
    "evaluation_seconds": "one change may evaluate policy {policy} for at most {value} seconds",
}
"""The project quotas the engine enforces as a policy's own limits (``PolicyLimits``, labelled
by the quota's name: ``congress.services.quotas.policy_limits``). The original had no quotas:
the answer is ``error_code`` 1000 with ``error_data.code`` ``quota_exceeded``, as the service's
``QuotaExceeded`` for the policies and rules quotas."""


def quota_error(err: dl.LimitExceeded) -> ApiError:
    """400 ``quota_exceeded`` for a request over a project's rows_per_table or
    evaluation_seconds."""
    shown = int(err.value) if err.value == int(err.value) else err.value
    what = QUOTA_LIMITS[err.limit].format(policy=err.policy, value=shown)
    data = {"code": "quota_exceeded", "quota": err.limit, "limit": shown}
    message = f"Quota exceeded: {what} ({err.limit})"
    return ApiError(400, message, CODES["unknown"].number, data)


def from_datalog(err: dl.DatalogError, *, on_rule: bool = True) -> ApiError:
    """Map an engine error to the API error the original answered with."""
    if isinstance(err, dl.PolicyNotFound):
        return api_error("policy_not_exist", err.message, {"code": err.code})
    if isinstance(err, dl.PolicyExists):
        return ApiError(409, err.message, CODES["unknown"].number, {"code": err.code})
    if isinstance(err, dl.LimitExceeded) and err.limit in QUOTA_LIMITS:
        return quota_error(err)
    if isinstance(err, dl.LimitExceeded):
        option, scale = LIMIT_OPTIONS.get(err.limit, (err.limit, 1))
        value = err.value / scale
        shown = int(value) if value == int(value) else value
        data = {"code": err.code, "limit": option, "value": shown}
        message = f"{err.message} ([limits] {option} = {shown})"
        return ApiError(400, message, CODES["unknown"].number, data)
    if isinstance(err, dl.KindNotSupported):
        return ApiError(400, err.message, CODES["unknown"].number, {"code": err.code})
    if isinstance(err, dl.PolicyError):
        if err.code == "cross_project_reference":  # docs/tenancy.md
            return ApiError(403, err.message, CODES["unknown"].number, problem_data(err))
        if err.code == "rules_not_permitted":
            return api_error("rule_not_permitted", err.message, problem_data(err))
        if err.code == "invalid_policy_name":
            return api_error("unknown", err.message, problem_data(err))
        if err.code == "invalid_sequence":
            return api_error("sequence_syntax", err.message, problem_data(err))
        name = "rule_syntax" if on_rule else "unknown"
        return api_error(name, err.message, problem_data(err))
    return ApiError(400, err.message, CODES["unknown"].number, {"code": err.code})
