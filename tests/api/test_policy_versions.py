"""Policy lifecycle over the API (docs/policy-lifecycle.md): every change of a policy is a
version with who, when, what and through which node; ``GET .../versions``; rollback."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Client
from oslo_config import cfg

from congress.api import pipeline
from congress.api.app import CongressApp
from congress.api.services import Services
from congress.common import config
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.library import LibraryService
from congress.services.policy_engine import PolicyEngineService

V = "/v1/policies/{}/versions"
LIB = {"name": "Lib", "description": "from the library", "rules": [{"rule": "lib(1)"}]}


@pytest.fixture
def engine(conf: cfg.ConfigOpts) -> PolicyEngineService:
    url = config.database_url(conf)
    migration.upgrade(url)
    svc = PolicyEngineService(
        make_engine(url),
        clock=lambda: datetime.datetime(2026, 11, 25, 12, 0, 0),
        node_id="pe-7",
    )
    svc.start()
    return svc


@pytest.fixture
def services(engine: PolicyEngineService) -> Services:
    return Services(engine, library=LibraryService(engine._db, engine))


@pytest.fixture
def api(conf: cfg.ConfigOpts, services: Services) -> Iterator[Client]:
    yield Client(pipeline.build(services, conf))


def ok(answer: tuple[int, Any], status: int = 200) -> Any:
    got, body = answer
    assert got == status, body
    return body


def versions(api: Client, policy: str, **kw: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = ok(api.get(V.format(policy), **kw))["results"]
    return results


def version(api: Client, policy: str, n: int | str) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(V.format(policy) + f"/{n}"))
    return found


def rollback(api: Client, policy: str, body: Any, **kw: Any) -> tuple[int, Any]:
    return api.post(f"/v1/policies/{policy}?action=rollback", body, **kw)


def rule_texts(api: Client, policy: str) -> list[str]:
    return sorted(r["rule"] for r in ok(api.get(f"/v1/policies/{policy}/rules"))["results"])


def test_every_change_is_a_version_with_who_when_what_and_where(api: Client) -> None:
    started = datetime.datetime.now(datetime.UTC)
    made = ok(api.post("/v1/policies", {"name": "p", "description": "d"}), 201)
    rule = ok(api.post("/v1/policies/p/rules", {"rule": "q(1)", "name": "one"}), 201)
    ok(api.call("PATCH", "/v1/policies/p", {"dry_run": True}))
    ok(api.delete(f"/v1/policies/p/rules/{rule['id']}"))
    listed = versions(api, "p")
    assert [(v["version"], v["action"]) for v in listed] == [
        (4, "rule_deleted"),
        (3, "settings_changed"),
        (2, "rule_added"),
        (1, "policy_created"),
    ]
    for v in listed:  # noauth: nobody in particular
        assert (v["user_id"], v["project_id"], v["node"]) == (None, None, "pe-7")
        assert (v["policy_id"], v["policy_name"]) == (made["id"], "p")
        assert datetime.datetime.fromisoformat(v["time"]) >= started
        assert "before" not in v and "after" not in v
    assert [v["revision"] for v in listed] == sorted((v["revision"] for v in listed), reverse=True)
    assert versions(api, made["id"]) == listed  # by id too
    assert versions(api, "p", headers={}) == listed
    assert ok(api.get(V.format("p") + "?limit=1"))["results"] == listed[:1]

    first = version(api, "p", 1)
    assert first["before"] is None
    assert first["after"] == {
        "id": made["id"],
        "name": "p",
        "kind": "nonrecursive",
        "description": "d",
        "abbreviation": "p",
        "owner_id": "user",
        "rules": [],
        "settings": {"dry_run": False, "action_grace_seconds": None},
    }
    added = version(api, "p", 2)
    assert added["before"] == first["after"]
    assert added["after"]["rules"] == [
        {"id": rule["id"], "name": "one", "comment": "", "rule": "q(1)"}
    ]
    assert version(api, "p", 3)["after"]["settings"]["dry_run"] is True
    assert version(api, "p", 4)["after"]["rules"] == []


def test_a_write_answers_the_revision_its_version_records(api: Client) -> None:
    resp = api.app(_request("POST", "/v1/policies", {"name": "p"}))
    revision = int(resp.headers["X-Congress-Revision"])
    assert versions(api, "p")[0]["revision"] == revision


def _request(method: str, path: str, body: Any) -> Any:
    import json

    import webob

    req = webob.Request.blank(path, method=method)
    req.body = json.dumps(body).encode()
    req.content_type = "application/json"
    return req


def test_rollback_restores_rules_and_settings_as_a_new_version(
    api: Client, engine: PolicyEngineService
) -> None:
    ok(api.post("/v1/policies", {"name": "p", "rules": [{"rule": "q(1)"}, {"rule": "q(2)"}]}), 201)
    ok(api.post("/v1/policies/p/rules", {"rule": "error(x) :- q(x), not ok(x)"}), 201)
    ok(api.post("/v1/policies/p/rules", {"rule": "ok(1)"}), 201)
    assert engine.rows("p", "error") == [(2,)]
    ok(api.call("PATCH", "/v1/policies/p", {"dry_run": True, "action_grace_seconds": 30}))
    two = next(r for r in ok(api.get("/v1/policies/p/rules"))["results"] if r["rule"] == "q(2)")
    ok(api.delete(f"/v1/policies/p/rules/{two['id']}"))
    ok(api.post("/v1/policies/p/rules", {"rule": "q(3)"}), 201)
    assert engine.rows("p", "error") == [(3,)]

    revision = engine.revision
    req = _request("POST", "/v1/policies/p?action=rollback", {"version": 2})  # before ok(1)
    resp = api.app(req)
    assert resp.status_int == 200, resp.body
    done = resp.json
    assert int(resp.headers["X-Congress-Revision"]) == done["revision"] == revision + 1
    assert (done["version"], done["action"], done["detail"]) == (7, "rollback", {"version": 2})
    assert (done["user_id"], done["node"]) == (None, "pe-7")
    assert rule_texts(api, "p") == ["error(x) :- q(x), not ok(x)", "q(1)", "q(2)"]
    assert engine.rows("p", "error") == [(1,), (2,)]  # the engine applied it
    shown = ok(api.get("/v1/policies/p"))
    assert (shown["dry_run"], shown["action_grace_seconds"]) == (False, None)
    restored = version(api, "p", 7)
    listed = ok(api.get("/v1/policies/p/rules"))["results"]
    assert sorted(restored["after"]["rules"], key=lambda r: r["id"]) == sorted(
        ({k: r[k] for k in ("id", "name", "comment", "rule")} for r in listed),
        key=lambda r: r["id"],
    )
    assert restored["before"] == version(api, "p", 6)["after"]
    assert sorted(r["rule"] for r in restored["after"]["rules"]) == sorted(
        r["rule"] for r in version(api, "p", 2)["after"]["rules"]
    )

    # and forward again, to the version with the settings changed
    ok(rollback(api, "p", {"version": 4}))
    shown = ok(api.get("/v1/policies/p"))
    assert (shown["dry_run"], shown["action_grace_seconds"]) == (True, 30)
    assert "ok(1)" in rule_texts(api, "p") and engine.rows("p", "error") == [(2,)]
    assert versions(api, "p")[0]["version"] == 8


def test_rollback_to_the_current_state_is_still_a_version(api: Client) -> None:
    ok(api.post("/v1/policies", {"name": "p", "rules": [{"rule": "q(1)"}]}), 201)
    ids = [r["id"] for r in ok(api.get("/v1/policies/p/rules"))["results"]]
    done = ok(rollback(api, "p", {"version": 1}))
    assert done["version"] == 2
    assert [r["id"] for r in ok(api.get("/v1/policies/p/rules"))["results"]] == ids  # untouched


def test_unknown_versions_are_404(api: Client) -> None:
    ok(api.post("/v1/policies", {"name": "p"}), 201)
    for n in ("9", "0", "-1", "x", "1.0"):
        status, body = api.get(V.format("p") + f"/{n}")
        assert status == 404, (n, body)
        assert body["error"]["error_data"]["code"] == "version_not_found"
    status, body = api.get(V.format("p") + "/9")
    assert body["error"]["message"] == "Policy p has no version 9"
    status, body = rollback(api, "p", {"version": 9})
    assert status == 404 and body["error"]["error_data"]["code"] == "version_not_found"
    status, body = api.get(V.format("nosuch"))
    assert status == 404 and body["error"]["error_code"] == 1020
    assert api.get(V.format("nosuch") + "/1")[0] == 404
    assert rollback(api, "nosuch", {"version": 1})[0] == 404
    assert len(versions(api, "p")) == 1  # nothing was written


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "'version' is required"),
        ({"version": "2"}, "'version' must be an integer"),
        ({"version": 1.5}, "'version' must be an integer"),
        ({"version": True}, "'version' must be an integer"),
        ({"version": None}, "'version' must be an integer"),
        ({"version": 1, "rules": []}, "Only 'version'"),
        ([1], "JSON object"),
    ],
)
def test_a_bad_rollback_body_is_a_400_naming_it(api: Client, body: Any, words: str) -> None:
    ok(api.post("/v1/policies", {"name": "p"}), 201)
    status, answer = rollback(api, "p", body)
    assert status == 400 and words in answer["error"]["message"], answer
    assert len(versions(api, "p")) == 1


def test_system_policies_cannot_be_rolled_back(api: Client) -> None:
    for name in ("classification", "action"):
        status, body = rollback(api, name, {"version": 1})
        assert status == 400 and body["error"]["error_data"]["code"] == "system_policy"
        assert "system-maintained" in body["error"]["message"]
    assert versions(api, "classification")[-1]["action"] == "policy_created"


def test_a_deleted_policy_keeps_its_versions_under_its_id(api: Client) -> None:
    made = ok(api.post("/v1/policies", {"name": "p", "rules": [{"rule": "q(1)"}]}), 201)
    ok(api.delete("/v1/policies/p"))
    listed = versions(api, made["id"])
    assert [v["action"] for v in listed] == ["policy_deleted", "policy_created"]
    gone = version(api, made["id"], 2)
    assert gone["after"] is None and gone["before"]["rules"][0]["rule"] == "q(1)"
    assert api.get(V.format("p"))[0] == 404  # a name is for live policies (it may be reused)
    again = ok(api.post("/v1/policies", {"name": "p"}), 201)
    assert [v["version"] for v in versions(api, "p")] == [1]
    assert versions(api, "p")[0]["policy_id"] == again["id"]
    assert rollback(api, made["id"], {"version": 1})[0] == 404  # no undelete


def test_a_library_activation_is_a_version(api: Client) -> None:
    lib = ok(api.post("/v1/librarypolicies", LIB), 201)
    ok(api.post(f"/v1/policies?library_policy={lib['id']}"), 201)
    (first,) = versions(api, "Lib")
    assert (first["action"], first["detail"]) == ("library_activated", {"library_policy": "Lib"})
    assert [r["rule"] for r in version(api, "Lib", 1)["after"]["rules"]] == ["lib(1)"]


def keystone_conf(tmp_path: Path) -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    f = tmp_path / "k.conf"
    f.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n"
    )
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    return c


def test_with_keystone_the_user_and_project_come_from_the_token(
    tmp_path: Path, services: Services
) -> None:
    # the identity headers as keystonemiddleware sets them from a validated token
    api = Client(CongressApp(services, keystone_conf(tmp_path)))
    alice = {"X-User-Id": "alice", "X-Project-Id": "blue", "X-Roles": "admin"}
    bob = {"X-User-Id": "bob", "X-Tenant-Id": "green", "X-Roles": "admin"}
    reader = {"X-User-Id": "rita", "X-Project-Id": "blue", "X-Roles": "reader"}
    ok(api.post("/v1/policies", {"name": "p"}, headers=alice), 201)
    ok(api.post("/v1/policies/p/rules", {"rule": "q(1)"}, headers=bob), 201)
    assert rollback(api, "p", {"version": 1}, headers=reader)[0] == 403  # a write
    ok(rollback(api, "p", {"version": 1}, headers=alice))
    assert api.get(V.format("p"), headers=reader)[0] == 404  # the operator's: not blue's
    listed = versions(api, "p", headers=alice)
    assert [(v["action"], v["user_id"], v["project_id"]) for v in listed] == [
        ("rollback", "alice", "blue"),
        ("rule_added", "bob", "green"),
        ("policy_created", "alice", "blue"),
    ]
    assert api.get(V.format("p"))[0] == 401
