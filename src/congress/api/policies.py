"""``/v1/policies``: policies, their rules, tables and rows, simulate and execute; the history
of watched tables (``rows?as_of=``, ``history``: docs/history.md).

May import WebOb, congress.api, congress.services and congress.datalog (syntax only).

Wire shapes are the original's (reference 3.2, 3.3; client-api.md): a policy is
``{id, name, owner_id, kind, description, abbreviation}``, a rule ``{id, name, comment, rule}``
(``rule`` as submitted; the create answer lays it out as ``head :-\\n  lit1,\\n  lit2``), rows
``{"results": [{"data": [...]}]}``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Any

import webob

from congress.api import errors as api_errors
from congress.api import policy_versions, tenancy, wire
from congress.api.errors import api_error
from congress.api.services import Services
from congress.datalog import names
from congress.datalog.errors import PolicyError
from congress.datalog.parser import parse
from congress.datalog.printer import to_text
from congress.datalog.query import parse_query_text
from congress.datalog.simulate import ImpactResult
from congress.services.errors import HistoryUnavailable, NotFound, TableNotWatched
from congress.services.policy_engine import PolicyView, RuleView, created_rule_text

KINDS = ("nonrecursive", "materialized", "action", "database", "z3", "delta", "datasource")


def policy_body(p: PolicyView) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "owner_id": p.owner_id,
        "kind": p.kind,
        "description": p.description,
        "abbreviation": p.abbreviation,
    }


def rule_body(r: RuleView) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "comment": r.comment, "rule": r.rule}


def list_policies(req: webob.Request, s: Services) -> dict[str, Any]:
    scope = tenancy.scope_of(req)
    return {"results": [policy_body(p) for p in s.engine.list_policies() if scope.owns(p.name)]}


def create_policy(req: webob.Request, s: Services) -> webob.Response:
    scope = tenancy.scope_of(req)
    library_policy = wire.query(req, "library_policy")
    if library_policy:
        if s.library is None:
            raise wire.BadRequest("The policy library is not available on this node")
        if scope.member:
            params = tenancy.map_parameters(scope, "GET", "", {"lib": library_policy}, s)
            lib = s.library.get(params["lib"], include_rules=False)
            policy, rules = s.library.activate(
                params["lib"],
                owner=scope.owner(),
                actor=policy_versions.actor(req),
                name=scope.internal(names.base_of(str(lib["name"]))),
            )
        else:
            policy, rules = s.library.activate(library_policy, actor=policy_versions.actor(req))
    else:
        body = wire.json_body(req)
        if body.get("id") is not None:
            raise api_error("policy_id_must_not_be_provided")
        name = wire.text_field(body, "name", limit=255)
        if not name:
            raise api_error("policy_name_must_be_provided")
        if scope.member and names.SEPARATOR in name:
            raise wire.BadRequest(
                f"Invalid policy name {name!r}: a name is an identifier ([a-zA-Z_.][a-zA-Z0-9_.]*)"
            )
        name = scope.internal(name)
        kind = wire.text_field(body, "kind")
        if kind is not None and kind not in KINDS:
            raise wire.BadRequest(f"Field 'kind' must be one of {', '.join(KINDS)}")
        rules_in = body.get("rules")
        if rules_in is not None and not (
            isinstance(rules_in, list)
            and all(isinstance(r, dict) and isinstance(r.get("rule"), str) for r in rules_in)
        ):
            raise wire.BadRequest("Field 'rules' must be a list of objects with a string 'rule'")
        abbreviation = wire.text_field(body, "abbreviation")
        if abbreviation is not None and not 1 <= len(abbreviation) <= 5:
            raise api_error("policy_abbreviation_error", abbreviation)
        policy, rules = s.engine.create_policy(
            name,
            kind=kind,
            abbreviation=abbreviation,
            description=wire.text_field(body, "description"),
            rules=rules_in or (),
            owner=scope.owner() if scope.member else names.owner_of(name),
            actor=policy_versions.actor(req),
        )
        if rules_in is None:
            return wire.created(req, policy.id, policy_body(policy))
    out = policy_body(policy)
    out["rules"] = [{"rule": r.rule, "name": r.name, "comment": r.comment} for r in rules]
    return wire.created(req, policy.id, out)


def settings_body(p: PolicyView) -> dict[str, Any]:
    """A policy with its enforcement settings (docs/enforcement.md): ``GET`` of one policy and
    the answer of ``PATCH``."""
    out = policy_body(p)
    out["dry_run"] = p.dry_run
    out["action_grace_seconds"] = p.action_grace_seconds
    return out


def show_policy(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    return settings_body(s.engine.get_policy(policy))


def delete_policy(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    return policy_body(s.engine.delete_policy(policy, actor=policy_versions.actor(req)))


def policy_status(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    p = s.engine.get_policy(policy)
    out: dict[str, Any] = {"name": p.name, "id": p.id}
    error = s.engine.policy_errors().get(p.name)
    if error:  # in an error state: a data change drove it over an evaluation limit
        out["error"] = error
    return out


def policy_action(req: webob.Request, s: Services, policy: str) -> Any:
    action = wire.query(req, "action")
    if action == "simulate":
        return _simulate(req, s, policy)
    if action == "explain":
        return _explain(req, s, policy)
    if action == "execute":
        return _execute(req, s, policy)
    if action == "rollback":
        return policy_versions.rollback(req, s, policy)
    raise wire.BadRequest(
        f"Unknown action {action!r} on a policy: simulate, explain, execute or rollback"
    )


def _action_policy(req: webob.Request, s: Services, name: str) -> str:
    """The action policy a simulation names: a member's own, or (for the default ``action``
    when the project has none) the operator's, which only describes actions."""
    scope = tenancy.scope_of(req)
    internal = scope.internal(name)
    if scope.member and name == "action":
        try:
            s.engine.get_policy(internal)
        except NotFound:
            return name
    return internal


IMPACT_FIELDS = ("add_rules", "delete_rules", "tables")
"""Simulate fields that ask for the impact of a policy change (docs/explanations.md)."""


def _simulate(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    body = wire.json_body(req)
    query = wire.text_field(body, "query")
    sequence = wire.text_field(body, "sequence")
    action_policy = wire.text_field(body, "action_policy")
    if action_policy is not None:
        action_policy = _action_policy(req, s, action_policy)
    change = any(body.get(f) is not None for f in IMPACT_FIELDS)
    if not change and (query is None or sequence is None or action_policy is None):
        raise api_error("incomplete_simulate_args")
    try:
        if query is not None:
            parse_query_text(query)
    except PolicyError as e:
        raise api_errors.from_datalog(e) from None
    try:
        if sequence is not None:
            parse(sequence)
    except PolicyError as e:
        raise api_error("sequence_syntax", e.message, api_errors.problem_data(e)) from None
    trace = wire.flag(req, "trace")
    if change:
        return _impact(req, s, policy, body, query, sequence, action_policy)
    assert query is not None and sequence is not None
    res = s.engine.simulate(
        policy, query, sequence, action_policy, delta=wire.flag(req, "delta"), trace=trace
    )
    out: dict[str, Any] = {"result": [to_text(a) for a in res.answers]}
    if trace:
        out["trace"] = res.trace or ""
    return out


def _impact(
    req: webob.Request,
    s: Services,
    policy: str,
    body: dict[str, Any],
    query: str | None,
    sequence: str | None,
    action_policy: str | None,
) -> dict[str, Any]:
    """Simulate with ``add_rules``/``delete_rules``/``tables``: the rows that would appear and
    disappear (then the query's answers, after the rule changes and the sequence)."""
    trace = wire.flag(req, "trace")
    res = s.engine.impact(
        policy,
        add_rules=string_list(body, "add_rules") or [],
        delete_rules=string_list(body, "delete_rules") or [],
        tables=string_list(body, "tables"),
        query=query,
        sequence=sequence,
        action_policy=action_policy or _action_policy(req, s, "action"),
        delta=wire.flag(req, "delta"),
        trace=trace,
    )
    out: dict[str, Any] = {"result": impact_body(res)}
    if query is not None:
        out["answers"] = [to_text(a) for a in res.answers or []]
    if trace:
        out["trace"] = res.trace or ""
    return out


def impact_body(res: ImpactResult) -> dict[str, Any]:
    """``{table: {"added": [row...], "removed": [row...]}}``."""
    return {
        table: {"added": [list(r) for r in added], "removed": [list(r) for r in removed]}
        for table, (added, removed) in res.changes.items()
    }


def string_list(body: dict[str, Any], name: str) -> list[str] | None:
    """A field that is a list of strings (JSON null counts as absent)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wire.BadRequest(f"Field '{name}' must be a list of strings")
    return value


def _explain(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    """``{"table": t, "row": [...]}``: why the row holds, or why it does not."""
    body = wire.json_body(req)
    table = wire.text_field(body, "table", required=True) or ""
    row = body.get("row")
    if not isinstance(row, list) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in row
    ):
        raise wire.BadRequest("Field 'row' must be a list of strings and numbers")
    return s.engine.explain(policy, table, row)


def _execute(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    body = wire.json_body(req)
    name = wire.text_field(body, "name", required=True) or ""
    service, sep, action = name.partition(":")
    if not sep or not service or not action:
        raise api_error("service_action_syntax", name)
    positional, named = action_args(body.get("args"))
    if s.datasources is None:
        raise wire.BadRequest("No datasource host on this node")
    s.engine.get_policy(policy)
    s.datasources.execute(service, action, positional, named)
    return {}


def action_args(args: Any) -> tuple[list[Any], dict[str, Any]]:
    if args is None:
        return [], {}
    if not isinstance(args, dict) or set(args) - {"positional", "named"}:
        raise api_error("execute_action_args_syntax", repr(args))
    positional = args.get("positional") or []
    named = args.get("named") or {}
    if not isinstance(positional, list) or not isinstance(named, dict):
        raise api_error("execute_action_args_syntax", repr(args))
    return positional, named


def list_rules(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    return {"results": [rule_body(r) for r in s.engine.list_rules(policy)]}


def create_rule(req: webob.Request, s: Services, policy: str) -> webob.Response:
    body = wire.json_body(req)
    if body.get("id") is not None:
        raise api_error("add_item_id")
    text = wire.text_field(body, "rule", required=True) or ""
    if wire.flag(req, "dry_run"):  # a read: what create would answer, and its impact
        view, res = s.engine.preview_rule(
            policy,
            text,
            name=wire.text_field(body, "name", limit=255),
            comment=wire.text_field(body, "comment", limit=255),
        )
        preview = rule_body(view)
        preview["id"] = None
        preview["rule"] = created_rule_text(view)
        preview["impact"] = impact_body(res)
        return wire.answer(preview, 200)
    view = s.engine.create_rule(
        policy,
        text,
        name=wire.text_field(body, "name", limit=255),
        comment=wire.text_field(body, "comment", limit=255),
        actor=policy_versions.actor(req),
    )
    out = rule_body(view)
    out["rule"] = created_rule_text(view)
    return wire.created(req, view.id, out)


def show_rule(req: webob.Request, s: Services, policy: str, rule: str) -> dict[str, Any]:
    return rule_body(s.engine.get_rule(policy, rule))


def delete_rule(req: webob.Request, s: Services, policy: str, rule: str) -> dict[str, Any]:
    return rule_body(s.engine.delete_rule(policy, rule, actor=policy_versions.actor(req)))


def rule_status(req: webob.Request, s: Services, policy: str, rule: str) -> dict[str, Any]:
    r = s.engine.get_rule(policy, rule)
    return {"name": r.name, "id": r.id, "comment": r.comment, "original_str": r.rule}


def list_tables(req: webob.Request, s: Services, policy: str) -> dict[str, Any]:
    return {"results": [{"id": t} for t in s.engine.tables(policy)]}


def show_table(req: webob.Request, s: Services, policy: str, table: str) -> dict[str, Any]:
    if table not in s.engine.tables(policy):
        raise NotFound(f"Table {table} does not exist in policy {policy}")
    return {"id": table}


def list_rows(req: webob.Request, s: Services, policy: str, table: str) -> Any:
    as_of = time_parameter(req, "as_of")
    if as_of is not None:
        return _rows_as_of(req, s, policy, table, as_of)
    if any(wire.query(req, name) is not None for name in PAGING):
        return _rows_page(req, s, policy, table)
    explain = wire.flag(req, "explain")
    if wire.flag(req, "trace") or explain:
        out: dict[str, Any] = {
            "results": s.engine.explain_table(policy, table)
            if explain
            else [{"data": list(r)} for r in s.engine.rows(policy, table)]
        }
        if wire.flag(req, "trace"):
            out["trace"] = s.engine.explain_rows(policy, table)
        return out
    # the encoded answer is kept until the engine changes anything (monitoring polls this)
    generation = s.engine.generation
    if generation is None:  # a policy engine on another node: no cache
        rows = s.engine.rows(policy, table)
        return {"results": [{"data": list(r)} for r in rows]}
    hit = s.rows_cache.get((policy, table))
    if hit is None or hit[0] != generation:
        rows = s.engine.rows(policy, table)
        body = wire.encode({"results": [{"data": list(r)} for r in rows]})
        if len(s.rows_cache) > 1024:
            s.rows_cache.clear()
        hit = s.rows_cache[(policy, table)] = (generation, body)
    return wire.raw_json(hit[1])


PAGING = ("limit", "offset", "filter")
PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 10000
MAX_OFFSET = 10**9


def _rows_page(req: webob.Request, s: Services, policy: str, table: str) -> dict[str, Any]:
    """``GET .../rows?limit=&offset=&filter=``: one page of the rows in the engine's order
    (by their printed form; the list is kept until the engine changes), those with a value
    containing ``filter`` (any case) only, and ``total``, how many match."""
    for name in ("trace", "explain"):
        if wire.flag(req, name):
            raise wire.BadRequest(f"Parameter '{name}' cannot be combined with paging")
    generation = s.engine.generation
    hit = s.pages_cache.get((policy, table)) if generation is not None else None
    if hit is None or hit[0] != generation:
        rows = s.engine.rows(policy, table)  # in order already
        if generation is not None:
            if len(s.pages_cache) > 256:
                s.pages_cache.clear()
            s.pages_cache[(policy, table)] = (generation, rows)
    else:
        rows = hit[1]
    return page_of(req, rows)


def page_of(req: webob.Request, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The page ``?limit=&offset=&filter=`` asks for of ``rows`` (in order already): those
    with a value containing ``filter`` (any case) only, with ``total``, how many match."""
    limit = wire.count_query(req, "limit", PAGE_LIMIT, MAX_PAGE_LIMIT)
    offset = wire.count_query(req, "offset", 0, MAX_OFFSET, minimum=0)
    needle = (wire.query(req, "filter") or "").casefold()
    if needle:
        rows = [r for r in rows if any(needle in str(v).casefold() for v in r)]
    page = rows[offset : offset + limit]
    return {
        "results": [{"data": list(r)} for r in page],
        "total": len(rows),
        "offset": offset,
        "limit": limit,
    }


# -- the history of watched tables -------------------------------------------------------------
HISTORY_LIMIT = 1000
MAX_HISTORY_LIMIT = 10000


def time_parameter(req: webob.Request, name: str) -> datetime.datetime | None:
    """A query-string time in ISO 8601, as aware UTC (one without an offset is UTC)."""
    text = wire.query(req, name)
    if text is None:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.strip())
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        raise wire.BadRequest(
            f"Parameter '{name}' must be a time in ISO 8601, such as 2026-11-25T12:00:00Z, "
            f"not {text[:64]!r}"
        ) from None


def _watched(s: Services, policy: str, table: str) -> tuple[Any, str]:
    """The history service and the policy's name, once the table is known to be watched."""
    name = s.engine.get_policy(policy).name
    if s.history is None:
        raise HistoryUnavailable(
            "The history of watched tables is not available on this node: ask a node that "
            "runs a policy engine"
        )
    if not s.history.watched(name, table):
        raise TableNotWatched(
            f"Table {table} of policy {name} is not watched, so it has no history "
            "(the watched tables: [watch] tables)"
        )
    return s.history, name


def _rows_as_of(
    req: webob.Request, s: Services, policy: str, table: str, when: datetime.datetime
) -> dict[str, Any]:
    """``GET .../rows?as_of=T``: the rows the table had at T, from its history."""
    for name in ("trace", "explain"):
        if wire.flag(req, name):
            raise wire.BadRequest(f"Parameter '{name}' cannot be combined with 'as_of'")
    history, name = _watched(s, policy, table)
    return {"results": [{"data": row} for row in history.rows_as_of(name, table, when)]}


def table_history(req: webob.Request, s: Services, policy: str, table: str) -> dict[str, Any]:
    """``GET .../history?since=T&until=T&limit=N``: the changes of a watched table."""
    since = time_parameter(req, "since")
    until = time_parameter(req, "until")
    limit = wire.count_query(req, "limit", HISTORY_LIMIT, MAX_HISTORY_LIMIT)
    history, name = _watched(s, policy, table)
    return {"results": history.changes(name, table, since, until, limit)}


def table_counts(req: webob.Request, s: Services, policy: str, table: str) -> dict[str, Any]:
    """``GET .../history/counts?since=T&until=T&step=S``: how many rows a watched table had
    over time (the dashboard's chart)."""
    since = time_parameter(req, "since")
    until = time_parameter(req, "until")
    step = seconds_parameter(req, "step")
    history, name = _watched(s, policy, table)
    points, seconds = history.counts(name, table, since, until, step)
    return {
        "results": [{"time": when.isoformat(), "count": n} for when, n in points],
        "step": seconds,
    }


def seconds_parameter(req: webob.Request, name: str) -> float | None:
    """A query-string number of seconds, above 0."""
    text = wire.query(req, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise wire.BadRequest(
            f"Parameter '{name}' must be a number of seconds above 0, not {text[:64]!r}"
        )
    return value
