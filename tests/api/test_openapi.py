"""docs/openapi.yaml describes the API: every route of ``ROUTES`` and nothing else, and every
body a real node answers validates against the document's schema for its status code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import pytest
import webob
import yaml
from oslo_config import cfg

from congress.api.app import ROUTES, CongressApp
from congress.api.services import Services
from congress.cmd.server import Node, build_node
from congress.datasources.execution import Action, ExecutionMixin
from congress.datasources.options import Option
from congress.datasources.push import PushDriver

DOC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text()
)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# outside ROUTES
EXTRA = {("GET", "/"), ("GET", "/healthcheck"), ("GET", "/metrics"), ("GET", "/{path}")}
UNSUPPORTED = "x-congress-unsupported"  # documents a 501 of a path, claims no route


# -- a validator for the subset of JSON Schema the document uses --------------------------------
KEYWORDS = {"$ref", "anyOf", "type", "enum", "properties", "required", "additionalProperties"}
KEYWORDS |= {"items", "minLength", "maxLength"}
ANNOTATIONS = {"description", "examples"}
TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "null": type(None)}


def resolve(ref: str) -> Any:
    """The node a local ``$ref`` (``#/components/...``) points to."""
    assert ref.startswith("#/"), ref
    node: Any = DOC
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def deref(node: Mapping[str, Any]) -> Mapping[str, Any]:
    return deref(resolve(node["$ref"])) if "$ref" in node else node


def is_type(name: str, value: Any) -> bool:
    if name in ("integer", "number", "boolean"):
        if isinstance(value, bool):
            return name == "boolean"
        return isinstance(value, int) or (name == "number" and isinstance(value, float))
    return isinstance(value, TYPES[name])


def problems(schema: Mapping[str, Any], value: Any, where: str = "$") -> list[str]:
    """Why ``value`` does not validate against ``schema`` (empty: it does)."""
    if "$ref" in schema:
        return problems(resolve(schema["$ref"]), value, where)
    if "anyOf" in schema:
        found = [problems(s, value, where) for s in schema["anyOf"]]
        return [] if not all(found) else [f"{where}: matches no anyOf: {found}"]
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(is_type(t, value) for t in types):
            return [f"{where}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    out = []
    low, high = schema.get("minLength", 0), schema.get("maxLength", float("inf"))
    if isinstance(value, str) and not low <= len(value) <= high:
        out.append(f"{where}: length {len(value)} out of bounds")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{where}: {k!r} is required" for k in schema.get("required", ()) if k not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                out += problems(props[key], item, f"{where}.{key}")
            elif extra is False:
                out.append(f"{where}: property {key!r} is not allowed")
            elif isinstance(extra, dict):
                out += problems(extra, item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(schema["items"], item, f"{where}[{i}]")
    return out


# -- the document ------------------------------------------------------------------------------
def route_template(pattern: str) -> str:
    path = pattern.removeprefix("^").removesuffix("/?$")
    return re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", path)


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in DOC["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def parameters(method: str, path: str) -> list[Mapping[str, Any]]:
    item = DOC["paths"][path]
    return [
        deref(p) for p in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    ]


def all_schemas() -> Iterator[tuple[str, Any]]:
    """Every schema of the document: components and those inline in operations."""
    yield from ((f"components/{n}", s) for n, s in DOC["components"]["schemas"].items())
    for param in DOC["components"]["parameters"].values():
        yield param["name"], param["schema"]
    for (method, path), op in operations().items():
        for param in op.get("parameters", []) + DOC["paths"][path].get("parameters", []):
            yield f"{method} {path} {param}", deref(param).get("schema", {})
        bodies = [op.get("requestBody", {})] + [deref(r) for r in op["responses"].values()]
        for body in bodies:
            for media in body.get("content", {}).values():
                yield f"{method} {path}", media["schema"]


def sub_schemas(schema: Any) -> Iterator[Any]:
    yield schema
    for sub in [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]:
        yield from sub_schemas(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from sub_schemas(schema[key])


def test_every_route_is_documented_and_nothing_else() -> None:
    routes = {(r.method, route_template(r.pattern.pattern)) for r in ROUTES}
    ops = operations()
    claimed = {key for key, op in ops.items() if not op.get(UNSUPPORTED)}
    assert claimed - routes - EXTRA == set(), "documented but not served"
    assert (routes | EXTRA) - claimed == set(), "served but not documented"
    for (method, path), op in ops.items():
        if op.get(UNSUPPORTED):  # a path that exists, with a method it does not have
            assert (method, path) not in routes and any(p == path for _, p in routes)
            assert set(op["responses"]) == {"501"}


def test_the_document_is_sound() -> None:
    assert DOC["openapi"].startswith("3.1.")
    for item in DOC["paths"].values():
        assert set(item) <= {*METHODS, "parameters", "summary", "description"}
    ops = operations()
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids))
    for (method, path), op in ops.items():
        declared = {p["name"] for p in parameters(method, path) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
        assert op["responses"], (method, path)
        for status, response in op["responses"].items():
            media = deref(response).get("content", {})
            text = {"text/plain"} if path == "/metrics" else set()  # the Prometheus format
            if path.endswith("/watch") and status == "200":
                text = {"text/event-stream"}  # a change feed (Server-Sent Events)
            assert set(media) <= {"application/json"} | text, (method, path, status)
            if path == "/healthcheck":  # 503: the readiness check's own body, as its 200's
                continue
            if int(status) >= 400:
                assert media["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    refs = re.findall(r"'\$ref': '([^']+)'", repr(DOC))
    assert refs and all(resolve(ref) is not None for ref in refs)
    for where, schema in all_schemas():
        for sub in sub_schemas(schema):
            assert set(sub) <= KEYWORDS | ANNOTATIONS, (where, set(sub) - KEYWORDS - ANNOTATIONS)


def test_the_validator_rejects_wrong_bodies() -> None:
    error = {"$ref": "#/components/schemas/Error"}
    good = {"error": {"message": "m", "error_code": 1000, "error_data": None}}
    assert problems(error, good) == []
    language = {"code": "policy_parse_error", "message": "m", "line": 1, "column": 2, "errors": []}
    assert problems(error, {"error": {**good["error"], "error_data": language}}) == []
    assert problems(error, {"error": {**good["error"], "error_code": "1000"}})
    assert problems(error, {"error": {**good["error"], "error_code": True}})
    assert problems(error, {"error": {**good["error"], "error_data": {"line": 1}}})
    assert problems(error, {"error": {"message": "m", "error_code": 1000}})
    assert problems(error, {**good, "extra": 1})
    policy = {"$ref": "#/components/schemas/PolicyList"}
    item = {"id": "i", "name": "n", "owner_id": "user", "kind": "nonrecursive"}
    item |= {"description": "", "abbreviation": "n"}
    assert problems(policy, {"results": [item]}) == []
    assert problems(policy, {"results": [{**item, "kind": "weird"}]})
    assert problems(policy, {"results": [{**item, "description": None}]})
    assert problems(policy, {"results": item})
    assert problems({"$ref": "#/components/schemas/PolicyCreate"}, {"name": ""})
    health = {"$ref": "#/components/schemas/Health"}
    assert problems(health, {"status": "OK", "policy_errors": {"p": "why"}}) == []
    assert problems(health, {"status": "OK", "policy_errors": {"p": 1}})
    assert problems(health, {"status": "BAD", "policy_errors": {}})
    anyof = {"anyOf": [{"type": "null"}, {"type": "integer"}]}
    assert problems(anyof, 1) == [] and problems(anyof, None) == [] and problems(anyof, 1.5)


# -- a real node, with two drivers of the test's own ---------------------------------------------
class SecretPushDriver(ExecutionMixin, PushDriver):
    """A push driver with a secret option and two actions."""

    DRIVER_NAME: ClassVar[str] = "secretpush"
    CONFIG: ClassVar[Mapping[str, Option]] = {
        **PushDriver.CONFIG,
        "token": Option(secret=True, description="a secret"),
    }
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "ping": Action("does nothing", (("x", "anything"),), "ping"),
        "fail": Action("raises", (), "fail"),
    }

    def ping(self, *args: Any, **kwargs: Any) -> None:
        return None

    def fail(self) -> None:
        raise RuntimeError("boom")


class BrokenPushDriver(PushDriver):
    """A push driver that cannot start (restoring its persisted data fails)."""

    DRIVER_NAME: ClassVar[str] = "brokenpush"

    def restore(self, tables: Any) -> None:
        raise RuntimeError("cannot restore")


@pytest.fixture
def node(conf: cfg.ConfigOpts) -> Iterator[Node]:
    drivers = (SecretPushDriver, BrokenPushDriver)
    endpoints = [f"{d.DRIVER_NAME}={__name__}:{d.__name__}" for d in drivers]
    conf.set_override("custom_driver_endpoints", endpoints)
    n = build_node(conf)
    yield n
    n.stop()


class Api:
    """Calls an app and checks each answer against the document."""

    def __init__(self, app: Any, seen: set[tuple[str, str, str]], services: Any = None) -> None:
        self.app = app
        self.seen = seen
        self.app_services = services

    def __call__(
        self,
        method: str,
        template: str,
        status: int,
        body: Any = None,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        **params: str,
    ) -> Any:
        path = template.format(**params) + (f"?{query}" if query else "")
        req = webob.Request.blank(path, method=method, headers=headers or {})
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        req.environ["congress.async_streams"] = True  # a change feed answers at once
        resp = req.get_response(self.app)
        where = f"{method} {path}"
        stream = req.environ.get("congress.stream")
        if stream is not None:  # a change feed: the events it starts with
            stream.close()
            assert resp.status_int == status == 200, where
            assert resp.content_type == "text/event-stream", where
            self.seen.add((method, template, str(status)))
            return str(stream.pending.decode())
        assert resp.status_int == status, (where, resp.status_int, resp.body[:300])
        assert SECRET.encode() not in resp.body, where
        op = DOC["paths"][template][method.lower()]
        documented = {p["name"] for p in parameters(method, template) if p["in"] == "query"}
        assert {k for k, _ in parse_qsl(query)} <= documented, where
        if body is not None and status < 300 and "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert problems(schema, body) == [], where
        assert str(status) in op["responses"], f"{where}: {status} is not documented"
        self.seen.add((method, template, str(status)))
        content = deref(op["responses"][str(status)]).get("content")
        if content is None:
            assert resp.body == b"", where
            return None
        if "text/plain" in content:  # /metrics
            assert resp.content_type == "text/plain", where
            return resp.text
        assert resp.content_type == "application/json", where
        data = json.loads(resp.body)
        assert problems(content["application/json"]["schema"], data) == [], (where, data)
        return data


P, D, L = "/v1/policies/{policy}", "/v1/data-sources/{ds}", "/v1/librarypolicies/{lib}"
SECRET = "s3cret-t0ken"  # never in an answer
HOSTED = ("/v1/data-sources", "/v1/system", "/v1/librarypolicies")  # need a host or library


def exercise_versions_and_policies(api: Api) -> None:
    assert api("GET", "/", 200)["versions"][0]["id"] == "v1"
    assert "choices" in api("GET", "/{path}", 300, path="foo/bar")
    api("GET", "/healthcheck", 200)
    assert api("GET", "/healthcheck", 200, query="details=true")["status"] == "OK"
    api.app_services.readiness.stopping = True  # as after SIGTERM
    assert api("GET", "/healthcheck", 503, query="details=true")["status"] == "UNAVAILABLE"
    api.app_services.readiness.stopping = False
    assert "congress_api_request_seconds" in api("GET", "/metrics", 200)
    api("GET", "/v1", 200)
    api("GET", "/v1/policies", 200)
    api("POST", "/v1/policies", 201, {"name": "p", "kind": None, "description": None})
    made = api("POST", "/v1/policies", 201, {"name": "q", "rules": [{"rule": "r(1)", "name": "f"}]})
    assert made["rules"] == [{"rule": "r(1)", "name": "f", "comment": ""}]
    api("POST", "/v1/policies", 201, {"name": "acts", "kind": "action"})
    for rule in ('action("boot")', "up+(x) :- boot(x)"):
        api("POST", P + "/rules", 201, {"rule": rule}, policy="acts")
    api("POST", "/v1/policies", 400, {"name": "x", "abbreviation": "toolong"})
    api("POST", "/v1/policies", 400, {"name": "x", "id": "chosen"})
    err = api("POST", "/v1/policies", 400, {"name": "x", "rules": [{"rule": "p(x) :- "}]})
    data = err["error"]["error_data"]
    assert err["error"]["error_code"] == 1002 and {"code", "line", "column", "errors"} <= set(data)
    api("POST", "/v1/policies", 409, {"name": "p"})
    api("POST", "/v1/policies", 404, query="library_policy=nosuch")
    api("GET", P, 200, policy="p")
    api("GET", P, 404, policy="nosuch")
    api("PUT", P, 501, {}, policy="p")
    shown = api("PATCH", P, 200, {"dry_run": True, "action_grace_seconds": None}, policy="p")
    assert shown["dry_run"] is True and api("GET", P, 200, policy="p")["dry_run"] is True
    api("PATCH", P, 400, {"kind": "database"}, policy="p")
    api("PATCH", P, 404, {"dry_run": True}, policy="nosuch")
    assert api("GET", P + "/breaker", 200, policy="p")["state"] == "closed"
    api("GET", P + "/breaker", 404, policy="nosuch")
    api("POST", P + "/breaker", 200, query="action=reset", policy="p")
    api("POST", P + "/breaker", 400, query="action=bogus", policy="p")
    api("POST", P + "/breaker", 404, query="action=reset", policy="nosuch")
    api("GET", "/v1/executions", 200, query="policy=p&limit=5&since=2026-01-01T00:00:00Z")
    api("GET", "/v1/executions", 400, query="limit=0")
    api("GET", P + "/status", 200, policy="p")
    api("GET", P + "/status", 404, policy="nosuch")

    rule = api(
        "POST", P + "/rules", 201, {"rule": "up(x) :- down(x), r(x)", "comment": "c"}, policy="p"
    )
    assert rule["rule"] == "up(x) :-\n  down(x),\n  r(x)"
    api("POST", P + "/rules", 201, {"rule": "down(1)", "name": "d"}, policy="p")
    api("POST", P + "/rules", 409, {"rule": "down(1)"}, policy="p")
    api("POST", P + "/rules", 400, {"rule": "a(1) b(2)"}, policy="p")
    api("POST", P + "/rules", 404, {"rule": "a(1)"}, policy="nosuch")
    api("GET", P + "/rules", 200, policy="p")
    api("GET", P + "/rules", 404, policy="nosuch")
    api("GET", P + "/rules/{rule}", 200, policy="p", rule=rule["id"])
    api("GET", P + "/rules/{rule}", 404, policy="p", rule="nosuch")
    status = api("GET", P + "/rules/{rule}/status", 200, policy="p", rule=rule["id"])
    assert status["original_str"] == "up(x) :- down(x), r(x)"
    api("GET", P + "/rules/{rule}/status", 404, policy="p", rule="nosuch")
    api("GET", P + "/tables", 200, policy="p")
    api("GET", P + "/tables", 404, policy="nosuch")
    api("GET", P + "/tables/{table}", 200, policy="p", table="down")
    api("GET", P + "/tables/{table}", 404, policy="p", table="nosuch")
    rows = api("GET", P + "/tables/{table}/rows", 200, query="trace=True", policy="q", table="r")
    assert rows["results"] == [{"data": [1]}] and rows["trace"]
    api("GET", P + "/tables/{table}/rows", 404, policy="p", table="nosuch")
    feed = api("GET", P + "/tables/{table}/watch", 200, policy="q", table="r")
    assert feed.startswith("retry: ") and "event: snapshot" in feed
    api("GET", P + "/tables/{table}/watch", 404, policy="q", table="nosuch")
    watchers = api.app_services.feed.max_watchers
    api.app_services.feed.max_watchers = 0  # a node serving all the streams it may
    try:
        api("GET", P + "/tables/{table}/watch", 503, policy="q", table="r")
    finally:
        api.app_services.feed.max_watchers = watchers

    sim = {"query": "up(x)", "sequence": "boot(2) r+(2) down+(2)", "action_policy": "acts"}
    got = api("POST", P, 200, sim, query="action=simulate&delta=True&trace=True", policy="p")
    assert got["result"] == ["up+(2)"] and "trace" in got
    api("POST", P, 400, {"query": "up(x)"}, query="action=simulate", policy="p")
    api("POST", P, 400, {**sim, "sequence": "zz(1)"}, query="action=simulate", policy="p")
    api("POST", P, 404, sim, query="action=simulate", policy="nosuch")
    api("POST", P, 400, {}, query="action=bogus", policy="p")
    api("POST", P, 400, {"name": "nocolon"}, query="action=execute", policy="p")

    api("DELETE", P + "/rules/{rule}", 200, policy="p", rule=rule["id"])
    api("DELETE", P + "/rules/{rule}", 404, policy="p", rule=rule["id"])
    api("DELETE", P, 200, policy="q")
    api("DELETE", P, 404, policy="q")
    api("DELETE", P, 400, policy="classification")


def exercise_policy_versions(api: Api) -> None:
    """Every change of a policy is a version; rollback (docs/policy-lifecycle.md)."""
    versions, one = P + "/versions", P + "/versions/{version}"
    api("POST", "/v1/policies", 201, {"name": "lc", "rules": [{"rule": "a(1)"}]})
    api("POST", P + "/rules", 201, {"rule": "a(2)"}, policy="lc")
    listed = api("GET", versions, 200, query="limit=10", policy="lc")["results"]
    assert [(v["version"], v["action"]) for v in listed] == [
        (2, "rule_added"),
        (1, "policy_created"),
    ]
    api("GET", versions, 400, query="limit=0", policy="lc")
    api("GET", versions, 404, policy="nosuch")
    first = api("GET", one, 200, policy="lc", version="1")
    assert first["before"] is None and [r["rule"] for r in first["after"]["rules"]] == ["a(1)"]
    api("GET", one, 404, policy="lc", version="9")
    done = api("POST", P, 200, {"version": 1}, query="action=rollback", policy="lc")
    assert (done["version"], done["action"], done["detail"]) == (3, "rollback", {"version": 1})
    api("POST", P, 400, {}, query="action=rollback", policy="lc")
    api("POST", P, 400, {"version": 1}, query="action=rollback", policy="classification")
    api("POST", P, 404, {"version": 9}, query="action=rollback", policy="lc")


def exercise_explanations(api: Api) -> None:
    """Why a row holds or not, the impact of a change, and a rule create's dry run
    (docs/explanations.md)."""
    api("POST", "/v1/policies", 201, {"name": "why"})
    for rule in ("p(1)", "p(2)", "r(2)", "q(x) :- p(x), not r(x)", "error(x) :- q(x)"):
        api("POST", P + "/rules", 201, {"rule": rule}, policy="why")
    explain = {"table": "q", "row": [1]}
    held = api("POST", P, 200, explain, query="action=explain", policy="why")
    assert held["holds"] is True and held["explanation"]["rule_id"]
    absent = api("POST", P, 200, {**explain, "row": [2]}, query="action=explain", policy="why")
    assert absent["why_not"]["rules"][0]["failed"]["reason"] == "present"
    api("POST", P, 400, {**explain, "row": [1, 2]}, query="action=explain", policy="why")
    api("POST", P, 404, {**explain, "table": "nosuch"}, query="action=explain", policy="why")
    rows = api(
        "GET", P + "/tables/{table}/rows", 200, query="explain=true", policy="why", table="q"
    )
    assert rows["results"][0]["explanation"]["literal"] == "q(1)"
    page = api(
        "GET",
        P + "/tables/{table}/rows",
        200,
        query="limit=1&offset=0&filter=1",
        policy="why",
        table="q",
    )
    assert page["total"] == 1 and page["results"] == [{"data": [1]}]
    api("POST", P + "/rules", 201, {"rule": "total(n) :- n = count{x | p(x)}"}, policy="why")
    agg = api("POST", P, 200, {"table": "total", "row": [2]}, query="action=explain", policy="why")
    assert agg["explanation"]["children"][0]["kind"] == "aggregate"
    assert agg["explanation"]["children"][0]["children"][0]["kind"] == "member"
    wrong = api(
        "POST", P, 200, {"table": "total", "row": [5]}, query="action=explain", policy="why"
    )
    failed = wrong["why_not"]["rules"][0]["failed"]
    assert (failed["reason"], failed["value"]) == ("aggregate_differs", 2)
    change = {"add_rules": ["r(1)"], "query": "q(x)"}
    got = api("POST", P, 200, change, query="action=simulate&trace=true", policy="why")
    assert got["result"] == {"error": {"added": [], "removed": [[1]]}} and got["answers"] == []
    api("POST", P, 400, {"add_rules": ["r(x) :- "]}, query="action=simulate", policy="why")
    api("POST", P, 404, {"delete_rules": ["nosuch"]}, query="action=simulate", policy="why")
    dry = api("POST", P + "/rules", 200, {"rule": "r(1)"}, query="dry_run=true", policy="why")
    assert dry["id"] is None and dry["impact"] == {"error": {"added": [], "removed": [[1]]}}
    api("DELETE", P, 200, policy="why")


def exercise_datasources(api: Api) -> None:
    api("GET", "/v1/system/drivers", 200)
    info = api("GET", "/v1/system/drivers/{driver}", 200, driver="secretpush")
    assert info["secret"] == ["token"] and info["config"]["tables"] == "required"
    api("GET", "/v1/system/drivers/{driver}", 200, driver="doctor")
    api("GET", "/v1/system/drivers/{driver}", 404, driver="nosuch")

    tables = json.dumps({"servers": ["id", "status"]})
    body = {"name": "sec", "driver": "secretpush", "config": {"tables": tables, "token": SECRET}}
    made = api("POST", "/v1/data-sources", 201, body)
    assert made["config"] == {"tables": tables, "token": "<hidden>"}
    api("POST", "/v1/data-sources", 409, body)
    api("POST", "/v1/data-sources", 400, {"name": "x", "driver": "nosuch"})
    api("POST", "/v1/data-sources", 400, {"name": "x", "driver": "push", "config": {}})
    off = {"name": "off", "driver": "push", "config": {"tables": tables}, "enabled": False}
    api("POST", "/v1/data-sources", 201, off)
    config = {"tables": tables, "persist_data": "true"}
    api(
        "POST",
        "/v1/data-sources",
        201,
        {"name": "broken", "driver": "brokenpush", "config": config},
    )
    api("POST", "/v1/data-sources", 201, {"name": "vit", "driver": "vitrage", "config": {}})
    listed = api("GET", "/v1/data-sources", 200)["results"]
    assert [d["config"].get("token") for d in listed if d["name"] == "sec"] == ["<hidden>"]
    assert api("GET", D, 200, ds=made["id"])["config"]["token"] == "<hidden>"
    api("GET", D, 404, ds="nosuch")
    sharing = {"shared_with": ["p1"], "project_columns": {"servers": "status"}}
    shared = api("PATCH", D, 200, sharing, ds="sec")
    assert (shared["shared_with"], shared["project_columns"]) == (["p1"], {"servers": "status"})
    api("PATCH", D, 400, {"project_columns": {"servers": "nosuch"}}, ds="sec")
    api("PATCH", D, 404, {"shared_with": []}, ds="nosuch")

    for route in ("/schema", "/status", "/actions", "/tables"):
        api("GET", D + route, 200, ds="sec")
        api("GET", D + route, 404, ds="off")
        api("GET", D + route, 503, ds="broken")
    assert api("GET", D + "/actions", 200, ds="sec")["results"][1]["args"] == [
        {"name": "x", "description": "anything"}
    ]
    for route, missing in (("", "nosuch"), ("/spec", "nosuch"), ("/rows", "nosuch")):
        api("GET", D + "/tables/{table}" + route, 200, ds="sec", table="servers")
        api("GET", D + "/tables/{table}" + route, 404, ds="sec", table=missing)
        api("GET", D + "/tables/{table}" + route, 503, ds="broken", table="servers")
    rows = D + "/tables/{table}/rows"
    assert (
        api("PUT", rows, 200, [["vm1", "ERROR"], {"id": "vm2"}], ds="sec", table="servers") is None
    )
    assert api("GET", rows, 200, ds="sec", table="servers")["results"] == [
        {"data": ["vm1", "ERROR"]},
        {"data": ["vm2", "None"]},
    ]
    api("PUT", rows, 400, [["too", "many", "values"]], ds="sec", table="servers")
    api("PUT", rows, 404, [], ds="sec", table="nosuch")
    api("PUT", rows, 503, [], ds="broken", table="servers")

    alarm = {"payload": {"vitrage_id": "a1", "name": "down", "resource": {"id": "h1"}}}
    api("POST", D + "/webhook", 200, alarm, ds="vit")
    api("POST", D + "/webhook", 400, {"x": 1}, ds="sec")
    api("POST", D + "/webhook", 404, {}, ds="nosuch")
    api("POST", D + "/webhook", 503, {}, ds="broken")

    ping = {"name": "ping", "args": {"positional": [1], "named": {}}}
    api("POST", D, 200, {}, query="action=request-refresh", ds="sec")
    api("POST", D, 200, ping, query="action=execute", ds="sec")
    api("POST", D, 400, {"name": "nosuch"}, query="action=execute", ds="sec")
    api("POST", D, 400, {}, query="action=bogus", ds="sec")
    api("POST", D, 404, ping, query="action=execute", ds="nosuch")
    api("POST", D, 502, {"name": "fail"}, query="action=execute", ds="sec")
    api("POST", D, 503, ping, query="action=execute", ds="broken")
    for ds, status in (("sec", 200), ("nosuch", 404), ("broken", 503)):
        api(
            "POST",
            P,
            status,
            {**ping, "name": f"{ds}:ping"},
            query="action=execute",
            policy="classification",
        )
    api("POST", P, 502, {"name": "sec:fail"}, query="action=execute", policy="classification")
    api("DELETE", D, 200, ds="sec")
    api("DELETE", D, 404, ds="sec")


def exercise_library(api: Api) -> None:
    listed = api("GET", "/v1/librarypolicies", 200, query="include_rules=False")["results"]
    assert listed and all("rules" not in p for p in listed)
    named = api("GET", "/v1/librarypolicies", 200, query=f"name={listed[0]['name']}")
    assert [p["id"] for p in named["results"]] == [listed[0]["id"]]
    new = {
        "name": "Mine",
        "description": None,
        "rules": [{"rule": "p(1)"}, {"rule": "q(x) :- p(x)"}],
    }
    lib = api("POST", "/v1/librarypolicies", 201, new)
    api("POST", "/v1/librarypolicies", 409, new)
    api("POST", "/v1/librarypolicies", 400, {"name": "Bad", "rules": [{"rule": "p(1"}]})
    api("GET", L, 200, lib=lib["id"], query="include_rules=true")
    api("GET", L, 404, lib="nosuch")
    replaced = api("PUT", L, 200, {**lib, "description": "d"}, lib=lib["id"])
    assert replaced["description"] == "d"
    api("PUT", L, 400, {**lib, "id": "other"}, lib=lib["id"])
    api("PUT", L, 404, new, lib="nosuch")
    api("PUT", L, 409, {**new, "name": listed[0]["name"]}, lib=lib["id"])
    made = api("POST", "/v1/policies", 201, query=f"library_policy={lib['id']}")
    assert made["name"] == "Mine" and len(made["rules"]) == 2
    api("POST", "/v1/policies", 409, query=f"library_policy={lib['id']}")
    api("DELETE", L, 200, lib=lib["id"])
    api("DELETE", L, 404, lib=lib["id"])


def exercise_refusals(node: Node, conf: cfg.ConfigOpts, seen: set[tuple[str, str, str]]) -> None:
    """400 from a node without datasource host and library; 401 and 403 with keystone."""
    bare = Api(CongressApp(Services(node.services.engine), conf), seen)
    conf.set_override("auth_strategy", "keystone")
    keystone = Api(CongressApp(node.services, conf), seen)
    no_user = {"X-Roles": "admin"}
    member = {"X-User-Id": "u", "X-Project-Id": "p", "X-Roles": "observer"}  # no rule admits
    for (method, path), op in operations().items():
        params: dict[str, Any] = dict.fromkeys(re.findall(r"{(\w+)}", path), "x")
        body: Any = {} if method in ("POST", "PUT") else None
        if "401" in op["responses"]:
            keystone(method, path, 401, body, headers=no_user, **params)
        if "403" in op["responses"]:
            keystone(method, path, 403, body, headers=member, **params)
        if "400" in op["responses"] and path.startswith(HOSTED):
            bare(method, path, 400, body, **params)


def exercise_history(api: Api, conf: cfg.ConfigOpts) -> None:
    """The history of watched tables (docs/history.md); a node without one answers 503."""
    api("POST", P + "/rules", 201, {"rule": "error(x) :- down(x)"}, policy="p")
    assert api.app_services.history.flush()
    rows, history = P + "/tables/{table}/rows", P + "/tables/{table}/history"
    now = "2100-01-01T00:00:00Z"
    assert api("GET", rows, 200, query=f"as_of={now}", policy="p", table="error") == {
        "results": [{"data": [1]}]
    }
    api("GET", rows, 400, query="as_of=never", policy="p", table="error")
    api("GET", rows, 404, query=f"as_of={now}", policy="p", table="down")
    changes = api("GET", history, 200, query="limit=10", policy="p", table="error")["results"]
    assert [(c["op"], c["row"]) for c in changes] == [("insert", [1])]
    api("GET", history, 400, query="since=never", policy="p", table="error")
    api("GET", history, 404, policy="p", table="down")
    bare = Api(CongressApp(Services(api.app_services.engine), conf), api.seen)
    bare("GET", rows, 503, query=f"as_of={now}", policy="p", table="error")
    bare("GET", history, 503, policy="p", table="error")
    counts = P + "/tables/{table}/history/counts"
    query = "since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&step=3155760000"
    points = api("GET", counts, 200, query=query, policy="p", table="error")["results"]
    assert [p["count"] for p in points] == [0, 1]
    api("GET", counts, 400, query="step=0", policy="p", table="error")
    api("GET", counts, 404, policy="p", table="down")
    bare("GET", counts, 503, policy="p", table="error")


def exercise_sinks(api: Api, node: Node, conf: cfg.ConfigOpts) -> None:
    """Notification sinks (docs/notifications.md); a node without them answers 503."""
    assert node.services is not None
    sinks, one = "/v1/notification-sinks", "/v1/notification-sinks/{sink}"
    body = {"name": "hooks", "url": "http://127.0.0.1:9/hook", "secret": SECRET}
    made = api("POST", sinks, 201, body)
    assert made["secret"] == "<hidden>" and made["tables"] == ["*:error", "*:warning"]
    api("POST", sinks, 201, {"name": "plain", "url": "https://h/", "tables": ["p:*"]})
    api("POST", sinks, 409, body)
    api("POST", sinks, 400, {"name": "x", "url": "ftp://h/"})
    api("POST", sinks, 400, {"name": "x", "type": "messaging", "topic": "t"})
    listed = api("GET", sinks, 200)["results"]
    assert [s["name"] for s in listed] == ["hooks", "plain"]
    assert api("GET", one, 200, sink=made["id"]) == made
    assert api("GET", one, 200, sink="hooks") == made
    api("GET", one, 404, sink="nosuch")
    assert api("GET", one + "/dead-letters", 200, sink="hooks", query="limit=5") == {"results": []}
    api("GET", one + "/dead-letters", 400, sink="hooks", query="limit=0")
    api("GET", one + "/dead-letters", 404, sink="nosuch")
    api("DELETE", one, 200, sink="plain")
    api("DELETE", one, 404, sink="plain")
    bare = Api(CongressApp(Services(node.services.engine), conf), api.seen)
    bare("GET", sinks, 503)
    bare("POST", sinks, 503, body)
    for method in ("GET", "DELETE"):
        bare(method, one, 503, sink="hooks")
    bare("GET", one + "/dead-letters", 503, sink="hooks")


def exercise_quotas(api: Api) -> None:
    """The projects' quotas (docs/tenancy.md)."""
    one = "/v1/quotas/{project}"
    api("PUT", one, 200, {"rules": 50, "evaluation_seconds": 2.5}, project="p1")
    api("PUT", one, 200, {"policies": 3}, project="*")
    api("PUT", one, 400, {"widgets": 1}, project="p1")
    assert [q["project_id"] for q in api("GET", "/v1/quotas", 200)["results"]] == ["*", "p1"]
    shown = api("GET", one, 200, project="p1")
    assert shown["own"] == ["evaluation_seconds", "rules"] and shown["quotas"]["policies"] == 3
    api("GET", one, 200, project="*")
    api("GET", one, 400, project="a b")
    api("DELETE", one, 200, project="p1")
    api("DELETE", one, 404, project="p1")
    api("DELETE", one, 400, project="a b")


def test_every_documented_answer(node: Node, conf: cfg.ConfigOpts) -> None:
    seen: set[tuple[str, str, str]] = set()
    api = Api(node.app, seen, node.services)
    exercise_versions_and_policies(api)
    exercise_explanations(api)
    exercise_policy_versions(api)
    exercise_datasources(api)
    exercise_library(api)
    exercise_history(api, conf)
    exercise_sinks(api, node, conf)
    exercise_quotas(api)
    exercise_refusals(node, conf, seen)
    documented = {
        (method, path, status)
        for (method, path), op in operations().items()
        for status in op["responses"]
    }
    assert documented - seen == set(), "documented answers never exercised"
