"""schemathesis against docs/openapi.yaml: every operation, on a whole single-process node (API,
policy engine and datasource host on SQLite) that already holds policies with rules,
datasources with rows and library policies. No answer is a 5xx (but the documented 502 of an
action that raised and 503 of a datasource that cannot run), and every answer's status, content
type and body are the documented ones (schemathesis's not_a_server_error,
status_code_conformance, content_type_conformance and response_schema_conformance).

Per operation, in this order: the known-good requests (``KNOWN``) on every known resource;
schemathesis's coverage phase (boundary values, missing and wrong-typed fields, other content
types; deterministic) on a generated and a known resource; then ``MAX_EXAMPLES`` derandomized
Hypothesis examples, half of them on known resources, positive and, where a request can be
invalid, negative. ``PUT`` of a policy is left out: it is documented as the
original's 501 "Method not supported" (``x-congress-unsupported``, checked by test_openapi), and
so are methods that the document does not list for a path (the original's 501 too).

The regression tests at the end pin what this found: form bodies that broke query parsing,
URLs that are not UTF-8, JSON that cannot be stored or answered, non-finite numbers answered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import schemathesis
import webob
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from oslo_config import cfg
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from congress.cmd.server import Node, build_node
from congress.common import config
from congress.datasources.execution import Action, ExecutionMixin
from congress.datasources.options import Option
from congress.datasources.push import PushDriver

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
# The documented 502 (an action raised) and 503 (a datasource cannot run) pass schemathesis's
# server error check; ``EXPECTED_5XX`` pins them to those causes. No probing of methods the
# document does not list: they are the original's 501 "Method not supported".
EXPECTED = ["2xx", "3xx", "4xx", "502", "503"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"not_a_server_error": {"expected-statuses": EXPECTED}},
        "phases": {"coverage": {"unexpected-methods": []}},
    }
)
SCHEMA = schemathesis.openapi.from_path(DOC_PATH, config=CONFIG)
OPERATIONS = {
    op.label: op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if not op.definition.raw.get("x-congress-unsupported")
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# examples per operation and mode; raise it locally for a deeper run
MAX_EXAMPLES = int(os.environ.get("CONGRESS_SCHEMATHESIS_EXAMPLES", "20"))
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=False,
)


# -- a node with resources to hit ------------------------------------------------------------
class ActionPushDriver(ExecutionMixin, PushDriver):
    """A push driver with a secret option, an action that works and one that raises."""

    DRIVER_NAME: ClassVar[str] = "stpush"
    CONFIG: ClassVar[Mapping[str, Option]] = {
        **PushDriver.CONFIG,
        "token": Option(secret=True, description="a secret"),
    }
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "ping": Action("does nothing", (("x", "anything"),), "ping"),
        "fail": Action("raises", (), "fail"),
    }

    def ping(self, x: Any = None) -> None:
        return None

    def fail(self) -> None:
        raise RuntimeError("boom")


class BrokenPushDriver(PushDriver):
    """A push driver that cannot start (restoring its persisted data fails)."""

    DRIVER_NAME: ClassVar[str] = "stbroken"

    def restore(self, tables: Any) -> None:
        raise RuntimeError("cannot restore")


EXPECTED_5XX = {502: "action_failed", 503: "datasource_not_running"}
SECRET = "st-s3cret"  # never in an answer (but to a request that has it)
TABLES = json.dumps({"servers": ["id", "status"], "links": ["src", "dst"]})
RULES = (
    ("up(x) :- down(x), r(x)", "r1"),
    ("down(1)", None),
    ("down(2)", None),
    ("r(1)", None),
    ('bad(x) :- inv:servers(x, "ERROR")', "bad"),
)
ALARM = {
    "notification": "vitrage.alarm.activate",
    "payload": {"vitrage_id": "a1", "name": "down", "resource": {"id": "h1"}},
}


def closing_input(app: Any) -> Any:
    """Close the request's input stream once answered: schemathesis does not close werkzeug's
    test response, which would close it (a temporary file for a big body, else a
    ResourceWarning)."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        environ["congress.async_streams"] = True  # a change feed answers its headers at once
        try:
            return list(app(environ, start_response))
        finally:
            environ["wsgi.input"].close()
            stream = environ.get("congress.stream")
            if stream is not None:
                stream.close()

    return wrapped


def call(app: Any, method: str, path: str, body: Any = None) -> Any:
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = "application/json"
    resp = req.get_response(app)
    assert resp.status_int < 300, (method, path, resp.status_int, resp.body[:300])
    return json.loads(resp.body) if resp.body else None


def populate(app: Any) -> dict[str, list[dict[str, str]]]:
    """Make the resources; answer the known-good values of each path parameter combination."""
    p = call(app, "POST", "/v1/policies", {"name": "p", "description": "fuzzed"})
    rules = [call(app, "POST", "/v1/policies/p/rules", {"rule": r, "name": n}) for r, n in RULES]
    call(app, "POST", "/v1/policies", {"name": "acts", "kind": "action"})
    for rule in ('action("boot")', "up+(x) :- boot(x)"):
        call(app, "POST", "/v1/policies/acts/rules", {"rule": rule})
    reach = [{"rule": "e(1, 2)"}, {"rule": "e(2, 3)"}]
    reach += [{"rule": "t(x, y) :- e(x, y)"}, {"rule": "t(x, z) :- e(x, y), t(y, z)"}]
    call(app, "POST", "/v1/policies", {"name": "m", "kind": "materialized", "rules": reach})

    push = {"name": "inv", "driver": "push", "config": {"tables": TABLES}}
    inv = call(app, "POST", "/v1/data-sources", push)
    rows = [["vm1", "ERROR"], {"id": "vm2"}, ["vm3", "\u00e9t\u00e9"], [4, 2.5]]
    call(app, "PUT", "/v1/data-sources/inv/tables/servers/rows", rows)
    config = {"tables": TABLES, "token": SECRET}
    call(app, "POST", "/v1/data-sources", {"name": "ops", "driver": "stpush", "config": config})
    call(app, "POST", "/v1/data-sources", {"name": "vit", "driver": "vitrage", "config": {}})
    call(app, "POST", "/v1/data-sources/vit/webhook", ALARM)
    off = {"name": "off", "driver": "push", "config": {"tables": TABLES}, "enabled": False}
    call(app, "POST", "/v1/data-sources", off)
    persisted = {"tables": TABLES, "persist_data": "true"}
    broken = {"name": "broken", "driver": "stbroken", "config": persisted}
    call(app, "POST", "/v1/data-sources", broken)

    mine = {"name": "Mine", "description": "d", "rules": [{"rule": "q(x) :- s(x)"}]}
    lib = call(app, "POST", "/v1/librarypolicies", mine)
    shipped = call(app, "GET", "/v1/librarypolicies?include_rules=false")["results"][0]

    call(app, "PUT", "/v1/quotas/p1", {"policies": 5})
    hook = {"name": "hooks", "url": "http://127.0.0.1:9/hook", "secret": SECRET}
    sink = call(app, "POST", "/v1/notification-sinks", hook)

    policies = ["p", p["id"], "acts", "m", "classification", "action", "inv", "nosuch"]
    ds = ["inv", inv["id"], "ops", "vit", "off", "broken", "nosuch"]
    policy_tables = [("p", t) for t in ("up", "down", "r", "bad", "inv:servers", "nosuch")]
    policy_tables += [("m", "t"), ("m", "e"), ("inv", "servers"), ("p", "error")]
    ds_tables = [(d, t) for d in ds for t in ("servers", "links", "nosuch")]
    ds_tables += [("vit", "alarms")]
    return {
        "path": [{"path": x} for x in ("foo", "v2", "v1x", "a/b/c", "dashboard.css")],
        "policy": [{"policy": x} for x in policies],
        "policy,rule": [{"policy": "p", "rule": r["id"]} for r in rules]
        + [{"policy": "p", "rule": "r1"}, {"policy": "m", "rule": rules[0]["id"]}],
        "policy,table": [{"policy": x, "table": t} for x, t in policy_tables],
        "policy,version": [{"policy": x, "version": v} for x, v in VERSIONS]
        + [{"policy": p["id"], "version": "2"}],
        "ds": [{"ds": x} for x in ds],
        "ds,table": [{"ds": x, "table": t} for x, t in ds_tables],
        "driver": [{"driver": x} for x in ("push", "stpush", "vitrage", "doctor", "nova", "json")]
        + [{"driver": "kubernetes"}, {"driver": "nosuch"}],
        "lib": [{"lib": x} for x in (lib["id"], "Mine", shipped["id"], shipped["name"], "nosuch")],
        "sink": [{"sink": x} for x in (sink["id"], "hooks", "_config", "nosuch")],
        "project": [{"project": x} for x in ("0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a", "*", "p1")],
    }


VERSIONS = [("p", "1"), ("p", "3"), ("p", "99"), ("p", "x"), ("classification", "1")]
VERSIONS += [("nosuch", "1")]

# known-good requests, by operation: (query, body) pairs, each sent on every known resource
SIMULATE = {"query": "up(x)", "sequence": "boot(2) r+(2) down+(2)", "action_policy": "acts"}
KNOWN: dict[str, list[tuple[dict[str, str] | None, Any]]] = {
    "POST /v1/policies": [
        (None, {"name": "new", "kind": "materialized", "rules": [{"rule": "a(1)"}]}),
        (None, {"name": "new2", "abbreviation": "n2", "rules": [{"rule": "a(x) :- b(x)"}]}),
        ({"library_policy": "Mine"}, {}),
    ],
    "POST /v1/policies/{policy}": [
        ({"action": "simulate", "delta": "true", "trace": "true"}, SIMULATE),
        ({"action": "simulate"}, {**SIMULATE, "query": "t(x, y)"}),
        ({"action": "execute"}, {"name": "ops:ping", "args": {"positional": [1], "named": {}}}),
        ({"action": "execute"}, {"name": "ops:fail"}),
        ({"action": "execute"}, {"name": "broken:ping"}),
    ],
    "PATCH /v1/policies/{policy}": [
        (None, {"dry_run": True, "action_grace_seconds": 30}),
        (None, {"dry_run": False, "action_grace_seconds": None}),
    ],
    "POST /v1/policies/{policy}/breaker": [({"action": "reset"}, None)],
    "POST /v1/policies/{policy}/rules": [
        (None, {"rule": "z(x) :- down(x), not r(x)", "name": "z", "comment": "c"}),
        (None, {"rule": "z(9)"}),
        (None, {"rule": "up(x) :- up(x)"}),
    ],
    "GET /v1/policies/{policy}/tables/{table}/rows": [(None, None), ({"trace": "True"}, None)],
    "POST /v1/data-sources": [
        (None, {"name": "new", "driver": "push", "config": {"tables": TABLES}}),
        (None, {"name": "new2", "driver": "stpush", "config": {"tables": TABLES, "token": "t"}}),
    ],
    "POST /v1/data-sources/{ds}": [
        ({"action": "request-refresh"}, {}),
        ({"action": "execute"}, {"name": "ping", "args": {"positional": ["v"]}}),
        ({"action": "execute"}, {"name": "ping", "args": {"named": {"x": 1}}}),
        ({"action": "execute"}, {"name": "fail"}),
    ],
    "PUT /v1/data-sources/{ds}/tables/{table}/rows": [
        (None, [["vm9", "ACTIVE"], {"status": "BUILD"}]),
        (None, [["a", "b", "c"]]),
        (None, []),
    ],
    "POST /v1/data-sources/{ds}/webhook": [(None, ALARM)],
    "PATCH /v1/data-sources/{ds}": [
        (None, {"shared_with": ["0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a", "p1"]}),
        (None, {"shared_with": ["*"], "project_columns": {"servers": "id"}}),
        (None, {"project_columns": {}}),
    ],
    "PUT /v1/quotas/{project}": [
        (None, {"policies": 10, "rules": 500, "evaluation_seconds": 2.5}),
        (None, {"rules": None}),
    ],
    "POST /v1/librarypolicies": [
        (None, {"name": "Lib2", "kind": "database", "rules": [{"rule": "f(1)", "name": "f"}]}),
    ],
    "PUT /v1/librarypolicies/{lib}": [
        (None, {"name": "Mine", "description": "new", "rules": [{"rule": "q(1)"}]}),
        (None, {"name": "Renamed", "abbreviation": "ren", "rules": []}),
    ],
    "GET /v1/librarypolicies": [(None, None), ({"include_rules": "false", "name": "Mine"}, None)],
    "GET /v1/librarypolicies/{lib}": [(None, None), ({"include_rules": "0"}, None)],
    "POST /v1/notification-sinks": [
        (None, {"name": "new", "url": "https://example.com/hook", "tables": ["p:*", "error"]}),
        (None, {"name": "new2", "url": "http://h:8080/", "secret": "k", "max_retries": 3}),
    ],
    "GET /v1/notification-sinks/{sink}/dead-letters": [(None, None), ({"limit": "5"}, None)],
}


def path_key(label: str) -> str:
    names = [part[1:-1] for part in label.split()[1].split("/") if part.startswith("{")]
    return ",".join(names)


def can_be_invalid(label: str) -> bool:
    """Whether schemathesis can make an invalid request for the operation: a body or a
    constrained query parameter (any string is a valid path parameter)."""
    op = OPERATIONS[label].definition.raw
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    constrained = [p for p in op.get("parameters", []) if p.get("$ref", "").endswith("Action")]
    return set(body.get("schema", {})) - {"description"} != set() or constrained != []


def strategy(label: str, mode: GenerationMode, known: dict[str, list[dict[str, str]]]) -> Any:
    """Requests schemathesis makes up, half of them on resources that exist."""
    op = OPERATIONS[label]
    key = path_key(label)
    if not key:
        return op.as_strategy(mode)
    on_known = st.sampled_from(known[key]).flatmap(
        lambda pp: op.as_strategy(mode, path_parameters=pp)
    )
    return st.one_of(op.as_strategy(mode), on_known)


def explicit_cases(label: str, known: dict[str, list[dict[str, str]]]) -> Iterator[Any]:
    """Every known resource of the operation, with each known-good query and body."""
    op = OPERATIONS[label]
    for pp in known.get(path_key(label), [{}]):
        for query, body in KNOWN.get(label, [(None, None)]):
            extra = {} if body is None else {"body": body}
            yield op.Case(path_parameters=pp, query=query, **extra)


def coverage_cases(label: str, known: dict[str, list[dict[str, str]]]) -> Iterator[Any]:
    """schemathesis's coverage phase, on generated path parameters and on a known resource."""
    op = OPERATIONS[label]
    generation = SCHEMA.config.generation_for(operation=op, phase="coverage")
    key = path_key(label)
    for pp in [{}, known[key][0]] if key else [{}]:
        yield from CoverageGenerator(
            operation=op,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=generation,
            auth_storage=None,
            override=Override(path_parameters=pp),
            feedback=NO_FEEDBACK,
        )


def check(case: Any) -> int:
    """Send ``case`` to the bound app and run the checks; the status."""
    response = case.call()
    sent = case.as_curl_command()  # schemathesis also draws strings from this module's constants
    assert SECRET.encode() not in response.content or SECRET in sent, sent
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 500:
        code = response.json()["error"]["error_data"]["code"]
        assert code == EXPECTED_5XX[response.status_code], (case.as_curl_command(), code)
    return int(response.status_code)


def bind(app: Any) -> None:
    """Send every case (and schemathesis's own control requests) to ``app``."""
    SCHEMA.app = app
    for op in OPERATIONS.values():
        op.app = app


CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS]
CASES += [(label, GenerationMode.NEGATIVE) for label in OPERATIONS if can_be_invalid(label)]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n")
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    drivers = (ActionPushDriver, BrokenPushDriver)
    endpoints = [f"{d.DRIVER_NAME}={__name__}:{d.__name__}" for d in drivers]
    conf.set_override("custom_driver_endpoints", endpoints)
    n = build_node(conf)
    assert n.services is not None
    yield n
    n.stop()


@pytest.fixture
def app(node: Node) -> Iterator[Any]:
    """The node's app, bound for schemathesis, with the resources made."""
    wrapped = closing_input(node.app)
    bind(wrapped)
    yield wrapped
    bind(None)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{m.value}:{lb}" for lb, m in CASES])
def test_operation_conforms(app: Any, label: str, mode: GenerationMode) -> None:
    """No request gets a 5xx (but a documented 502/503 of an action that raised or a datasource
    that cannot run), and every answer is documented: status, content type and body."""
    known = populate(app)
    if mode is GenerationMode.POSITIVE:
        statuses = [check(case) for case in explicit_cases(label, known)]
        assert any(s < 400 for s in statuses), (label, statuses)  # the known ones succeed
        assert [check(case) for case in coverage_cases(label, known)]

    fuzzed: list[int] = []

    @SETTINGS
    @given(case=strategy(label, mode, known))
    def fuzz(case: Any) -> None:
        fuzzed.append(check(case))

    fuzz()
    assert fuzzed


def test_every_operation_but_the_unsupported_ones_is_fuzzed() -> None:
    documented = {r.ok().label for r in SCHEMA.get_all_operations()}
    unsupported = {"PUT /v1/policies/{policy}"}
    assert set(OPERATIONS) == documented - unsupported
    assert {label for label, _ in CASES} == set(OPERATIONS)
    assert set(KNOWN) <= set(OPERATIONS)


# -- regression tests: what schemathesis (and probing around it) found --------------------------
def strict_json(raw: bytes) -> Any:
    """``raw`` as JSON as the RFC has it (no NaN or Infinity)."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in an answer")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def send(
    app: Any, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"
) -> tuple[int, Any]:
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = body
        req.headers["Content-Type"] = ctype
    resp = req.get_response(app)
    return resp.status_int, strict_json(resp.body) if resp.body else None


def assert_bad_request(answer: tuple[int, Any], words: str) -> None:
    status, body = answer
    assert status == 400, answer
    assert body["error"]["error_code"] == 1000, body
    assert body["error"]["error_data"] == {"code": "bad_request"}, body
    assert words in body["error"]["message"], body


def test_a_form_body_neither_breaks_nor_feeds_the_query(app: Any) -> None:
    """The query string was read with ``req.params``, which parses a form body too: a
    ``multipart/form-data`` body without a boundary was a 500 on every route with a query
    parameter, and a form field could stand in for one."""
    populate(app)
    form = b'{"query": "up(x)"}'
    multipart = "multipart/form-data"
    assert_bad_request(
        send(app, "POST", "/v1/policies/p?action=simulate", form, multipart),
        "Unsupported content type multipart/form-data",
    )
    assert send(app, "POST", "/v1/data-sources/inv?action=request-refresh", form, multipart) == (
        200,
        {},
    )
    status, made = send(app, "POST", "/v1/policies?library_policy=Mine", form, multipart)
    assert status == 201 and made["name"] == "Mine"  # the body is ignored, not parsed
    status, _ = send(app, "GET", "/v1/librarypolicies?include_rules=false", form, multipart)
    assert status == 200
    urlencoded = "application/x-www-form-urlencoded"
    answer = send(app, "POST", "/v1/policies/p", b"action=simulate", urlencoded)
    assert_bad_request(answer, "Unknown action None")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/policies/%ff",
        "/v1/policies/p/tables/up/rows?trace=%ff",
        "/v1/librarypolicies?name=%ff%fe",
        "/%ff",
        "/v1/policies/p%00",
        "/v1/data-sources/inv%00/tables",
        "/v1/librarypolicies?name=a%00",
    ],
)
def test_a_url_not_utf8_or_with_a_nul_is_a_400(app: Any, path: str) -> None:
    """Such a URL was a 500 (UnicodeDecodeError); a NUL reached PostgreSQL, which refuses it."""
    assert_bad_request(send(app, "GET", path), "The URL")


UNSTORABLE = {
    "NaN": "NaN is not JSON",
    "-Infinity": "-Infinity is not JSON",
    "1e400": "the number 1e400 is out of range",
    '"\\ud800"': "lone surrogate",
    '"a\\udfffb"': "lone surrogate",
    '"a\\u0000"': "NUL character",
    "[" * 100_000 + "]" * 100_000: "nested too deeply",
}


@pytest.mark.parametrize("value", list(UNSTORABLE), ids=lambda v: v[:12])
def test_json_that_cannot_be_stored_or_answered_is_a_400(app: Any, value: str) -> None:
    """NaN and overflowing numbers were stored and answered as ``NaN``/``Infinity`` (not
    JSON); a lone surrogate was a 500 (no UTF-8 for it); a NUL was a 503 "database unavailable"
    on PostgreSQL; deep nesting was a 500 (RecursionError)."""
    populate(app)
    bodies = {
        ("PUT", "/v1/data-sources/inv/tables/servers/rows"): f"[[{value}, 1]]",
        ("POST", "/v1/policies"): f'{{"name": "x", "description": {value}}}',
        ("POST", "/v1/policies/p/rules"): f'{{"rule": "q(1)", "comment": {value}}}',
        ("POST", "/v1/librarypolicies"): f'{{"name": {value}, "rules": []}}',
        ("POST", "/v1/data-sources/vit/webhook"): f'{{"payload": {value}}}',
    }
    for (method, path), body in bodies.items():
        assert_bad_request(send(app, method, path, body.encode()), UNSTORABLE[value])
    rows = send(app, "GET", "/v1/data-sources/inv/tables/servers/rows")[1]["results"]
    assert [r["data"][0] for r in rows] == [4, "vm1", "vm2", "vm3"]  # unchanged


def test_escapes_that_are_fine_still_pass(app: Any) -> None:
    """A surrogate pair is one character; an escaped backslash before ``u`` is no escape."""
    populate(app)
    rows = b'[["\\ud83d\\ude00", "\\\\ud800"], ["\\u00e9", "\\\\u0000"]]'  # a pair; backslashes
    assert send(app, "PUT", "/v1/data-sources/inv/tables/servers/rows", rows) == (200, None)
    answer = send(app, "GET", "/v1/data-sources/inv/tables/servers/rows")
    assert answer == (
        200,
        {"results": [{"data": ["\u00e9", "\\u0000"]}, {"data": ["\U0001f600", "\\ud800"]}]},
    )


def test_non_finite_numbers_are_answered_as_strings(app: Any) -> None:
    """A policy can compute infinities and NaN: its rows were answered as ``Infinity``/``NaN``,
    which is not JSON; now as the strings the document's ``Value`` allows."""
    populate(app)
    send(app, "POST", "/v1/policies", b'{"name": "f"}')
    for rule in (
        "big(x) :- builtin:mul(1e300, 1e300, x)",
        "odd(x) :- big(y), builtin:minus(y, y, x)",
    ):
        body = json.dumps({"rule": rule}).encode()
        assert send(app, "POST", "/v1/policies/f/rules", body)[0] == 201
    rows = OPERATIONS["GET /v1/policies/{policy}/tables/{table}/rows"]
    for table, value in (("big", "inf"), ("odd", "nan")):
        for query in (None, {"trace": "true"}):  # the cached answer and the traced one
            case = rows.Case(path_parameters={"policy": "f", "table": table}, query=query)
            assert check(case) == 200
            body = strict_json(case.call().content)
            assert body["results"] == [{"data": [value]}]
