"""The dashboard's sign-in against a real Keystone (docs/security.md, Signing in to the
dashboard): ``POST /dashboard/token`` forwards a user name, password and project to Keystone and
answers the token it issued, which then works on ``/v1`` like any other; Keystone's refusals
are one 401 that never says what was wrong; the sign-in routes and the dashboard's files need
no token.
"""

from __future__ import annotations

import datetime
import json
import logging
import socket
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import webob
from oslo_config import cfg
from real_keystone import CongressNode, Keystone, http

from congress.api import dashboard, pipeline
from congress.common import config

pytestmark = [pytest.mark.xdist_group("keystone"), pytest.mark.usefixtures("out_of_the_catalog")]

REFUSED = "The user name, password or project is not right"


def sign_in(url: str, user: str, password: str, project: str, **more: str) -> tuple[int, Any]:
    body = {"username": user, "password": password, "project": project, **more}
    status, headers, answer = http("POST", url + "/dashboard/token", body)
    assert headers["cache-control"] == "no-store"
    return status, answer


def post(url: str, data: bytes, content_type: str | None) -> tuple[int, Any]:
    """``POST`` raw bytes with that Content-Type (none: no such header at all)."""
    parts = urllib.parse.urlsplit(url)
    conn = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request("POST", parts.path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def refused(status: int, body: Any) -> None:
    assert status == 401, body
    assert body["error"]["message"] == REFUSED
    assert body["error"]["error_data"] == {"code": "unauthorized"}
    assert set(body) == {"error"}  # no token


@pytest.mark.parametrize(
    ("user", "roles"),
    [
        ("admin", {"admin", "member", "reader"}),  # and any other role admin implies
        ("reader", {"reader"}),
        ("member", {"member", "reader"}),  # bootstrap's member implies reader
    ],
)
def test_a_good_sign_in_answers_a_token_that_works(
    congress: CongressNode,
    keystone: Keystone,
    caplog: pytest.LogCaptureFixture,
    user: str,
    roles: set[str],
) -> None:
    u = keystone.users[user]
    with caplog.at_level(logging.INFO):
        status, body = sign_in(congress.url, u.name, u.password, u.project)
    assert status == 200, body
    assert set(body) == {"token", "expires_at", "user", "project", "roles"}
    assert body["user"]["name"] == user and body["user"]["id"]
    if u.id:
        assert body["user"]["id"] == u.id
    assert body["project"]["name"] == u.project and body["project"]["id"]
    assert body["roles"] == sorted(body["roles"]) and roles <= set(body["roles"])
    if user != "admin":
        assert set(body["roles"]) == roles
    expires = datetime.datetime.fromisoformat(body["expires_at"])
    assert expires > datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=30)
    # the token is Keystone's own: Congress's token middleware accepts it on /v1
    token = body["token"]
    status, _, policies = http("GET", congress.url + "/v1/policies", None, {"X-Auth-Token": token})
    assert status == 200, policies
    listed = {p["name"] for p in policies["results"]}
    # the operator sees its own policies; a project's member its project's (docs/tenancy.md)
    assert ("classification" in listed) == (user == "admin")
    lines = [r for r in caplog.records if r.name == dashboard.__name__]
    assert [r.levelno for r in lines] == [logging.INFO]
    assert f"user {user} " in lines[0].getMessage()
    assert f"project {u.project} " in lines[0].getMessage()
    assert u.password not in caplog.text and token not in caplog.text


def test_the_domains_can_be_named(congress: CongressNode, keystone: Keystone) -> None:
    u = keystone.users["reader"]
    status, body = sign_in(
        congress.url,
        u.name,
        u.password,
        u.project,
        user_domain="Default",
        project_domain="Default",
    )
    assert status == 200 and body["project"]["name"] == "demo", body
    refused(*sign_in(congress.url, u.name, u.password, u.project, user_domain="Nowhere"))


def test_a_wrong_password_is_a_401_that_says_no_more(
    congress: CongressNode, keystone: Keystone, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        refused(*sign_in(congress.url, "admin", "not-the-password", "admin"))
    lines = [r for r in caplog.records if r.name == dashboard.__name__]
    assert [r.levelno for r in lines] == [logging.WARNING]
    assert "user admin " in lines[0].getMessage() and "refused" in lines[0].getMessage()
    assert "not-the-password" not in caplog.text


@pytest.mark.parametrize(
    ("user", "project"),
    [
        ("reader", "nosuchproject"),  # an unknown project
        ("reader", "admin"),  # a project the user has no role in
        ("nosuchuser", "demo"),  # an unknown user
    ],
)
def test_an_unknown_user_or_project_is_the_same_401(
    congress: CongressNode, keystone: Keystone, user: str, project: str
) -> None:
    password = keystone.users[user].password if user in keystone.users else "whatever"
    refused(*sign_in(congress.url, user, password, project))


@pytest.mark.parametrize("field", ["username", "password", "project"])
def test_a_missing_field_is_a_400_naming_it(congress: CongressNode, field: str) -> None:
    body = {"username": "reader", "password": "reader-secret", "project": "demo"}
    del body[field]
    status, _, answer = http("POST", congress.url + "/dashboard/token", body)
    assert status == 400, answer
    assert answer["error"]["message"] == f"Field '{field}' is required"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_only_json_is_taken(congress: CongressNode, content_type: str | None) -> None:
    """What a cross-site form can send is refused before Keystone is asked."""
    data = json.dumps({"username": "admin", "password": "admin-secret", "project": "admin"})
    status, body = post(congress.url + "/dashboard/token", data.encode(), content_type)
    assert status == 400, body
    assert "Content-Type: application/json" in body["error"]["message"]
    assert "token" not in body
    status, body = post(congress.url + "/dashboard/token", b"[]", "application/json")
    assert status == 400 and body["error"]["message"] == "The body must be a JSON object"


def test_the_session_says_keystone(congress: CongressNode) -> None:
    status, _, body = http("GET", congress.url + "/dashboard/session")
    assert (status, body) == (200, {"auth_strategy": "keystone"})


def test_the_sign_in_and_the_files_need_no_token_but_v1_does(congress: CongressNode) -> None:
    for path in ("/dashboard/", "/dashboard/app.js", "/dashboard/session"):
        assert http("GET", congress.url + path)[0] == 200, path
    assert http("GET", congress.url + "/v1/policies")[0] == 401
    assert http("GET", congress.url + "/dashboard/token")[0] == 501  # POST only


# -- where the server finds Keystone -----------------------------------------------------------
def node_conf(congress: CongressNode, tmp_path: Path, authtoken: dict[str, str | None]) -> Any:
    """The node's configuration with some ``[keystone_authtoken]`` options changed (None:
    removed), as a configuration object."""
    lines = []
    for line in congress.conf_text.splitlines():
        name = line.split("=", 1)[0].strip()
        if name == "state_path":
            line = f"state_path = {tmp_path}"
        elif name in authtoken:
            value = authtoken[name]
            if value is None:
                continue
            line = f"{name} = {value}"
        lines.append(line)
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text("\n".join(lines) + "\n")
    c = cfg.ConfigOpts()
    config.init(["--config-file", str(conf_file)], conf=c, default_config_files=[])
    return c


def sign_in_to(congress: CongressNode, conf: Any, user: str, password: str) -> webob.Response:
    """``POST /dashboard/token`` to the node's services behind a pipeline built from ``conf``."""
    app = pipeline.build(congress.node.services, conf)
    req = webob.Request.blank("/dashboard/token", method="POST")
    req.content_type = "application/json"
    req.body = json.dumps({"username": user, "password": password, "project": "demo"}).encode()
    return req.get_response(app)


@pytest.mark.parametrize(
    "authtoken",
    [
        {"www_authenticate_uri": "{url}"},  # without /v3
        {"www_authenticate_uri": "{url}/v3/"},
        {"www_authenticate_uri": None, "auth_url": "{url}/v3"},  # the service user's URL
    ],
    ids=["no-v3", "slash", "auth_url"],
)
def test_keystones_url_may_be_given_several_ways(
    congress: CongressNode, keystone: Keystone, tmp_path: Path, authtoken: dict[str, str | None]
) -> None:
    options = {k: v if v is None else v.format(url=keystone.url) for k, v in authtoken.items()}
    resp = sign_in_to(congress, node_conf(congress, tmp_path, options), "reader", "reader-secret")
    assert resp.status_int == 200, resp.text
    assert resp.json["user"]["name"] == "reader"
    resp = sign_in_to(congress, node_conf(congress, tmp_path, options), "reader", "wrong")
    assert resp.status_int == 401 and resp.json["error"]["message"] == REFUSED


def test_keystone_not_reachable_is_a_503_with_retry_after(
    congress: CongressNode, tmp_path: Path
) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v3"
        conf = node_conf(congress, tmp_path, {"www_authenticate_uri": url})
        resp = sign_in_to(congress, conf, "reader", "reader-secret")
    assert resp.status_int == 503, resp.text
    assert resp.headers["Retry-After"] == "5"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.json["error"]["message"] == (
        f"Signing in is unavailable: Keystone at {url} cannot be reached; try again later"
    )
    assert resp.json["error"]["error_data"] == {"code": "unavailable"}
