"""``/dashboard``: the dashboard's files are served from the package, open, with their type, an
ETag and a strict Content-Security-Policy; nothing else is (docs/dashboard.md, ADR 0011)."""

from __future__ import annotations

import http.server
import json
import logging
import pathlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webob
from api_client import Client
from oslo_config import cfg

import congress
from congress.api import dashboard, pipeline
from congress.api.services import Services
from congress.common import config
from congress.services.policy_engine import PolicyEngineService

FILES = pathlib.Path(congress.__file__).resolve().parent / "dashboard"


def test_the_package_ships_the_dashboard_files() -> None:
    shipped = {p.name for p in FILES.iterdir() if p.is_file()}
    assert {"index.html", "app.js", "style.css"} <= shipped
    assert set(dashboard.assets()) == {
        n for n in shipped if n.rsplit(".", 1)[-1] in ("html", "js", "css", "svg", "png")
    }


def test_dashboard_redirects_to_its_folder(client: Client) -> None:
    status, _ = client.call("GET", "/dashboard")
    assert status == 301


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/dashboard/", "text/html; charset=utf-8", b'<script type="module" src="app.js">'),
        ("/dashboard/index.html", "text/html; charset=utf-8", b'<main id="main"'),
        ("/dashboard/app.js", "text/javascript; charset=utf-8", b"export async function api("),
        ("/dashboard/style.css", "text/css; charset=utf-8", b":root {"),
    ],
)
def test_each_file_has_its_type_and_the_security_headers(
    client: Client, path: str, content_type: str, marker: bytes
) -> None:
    resp = client.raw("GET", path)
    assert resp.status_int == 200
    assert resp.headers["Content-Type"] == content_type
    assert marker in resp.body
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-cache"


def test_an_unchanged_file_is_a_304(client: Client) -> None:
    first = client.raw("GET", "/dashboard/app.js")
    again = client.raw("GET", "/dashboard/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_int == 304 and again.body == b""
    other = client.raw("GET", "/dashboard/app.js", headers={"If-None-Match": '"stale"'})
    assert other.status_int == 200 and other.body == first.body


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/nothing.js",
        "/dashboard/../pyproject.toml",
        "/dashboard/%2e%2e/api/app.py",
        "/dashboard/sub/app.js",
        "/dashboard/__init__.py",
    ],
)
def test_nothing_but_the_shipped_files_is_served(client: Client, path: str) -> None:
    resp = client.raw("GET", path)
    assert resp.status_int in (300, 404)
    assert b"import" not in resp.body and b"[project]" not in resp.body


def test_only_reads_are_answered(client: Client) -> None:
    assert client.raw("POST", "/dashboard/app.js").status_int == 501
    head = client.raw("HEAD", "/dashboard/app.js")
    assert head.status_int == 200 and head.body == b""


# -- signing in (docs/security.md, Signing in to the dashboard) -------------------------------
SIGN_IN = {"username": "alice", "password": "alice-secret", "project": "demo"}


def test_in_noauth_mode_the_session_says_so(client: Client) -> None:
    assert client.get("/dashboard/session") == (200, {"auth_strategy": "noauth"})
    assert client.raw("GET", "/dashboard/session").headers["Cache-Control"] == "no-cache"


def test_in_noauth_mode_signing_in_is_refused(client: Client) -> None:
    status, body = client.post("/dashboard/token", SIGN_IN)
    assert status == 400, body
    assert body["error"]["message"] == (
        "This server runs with auth_strategy = noauth: the dashboard needs no sign-in"
    )
    assert body["error"]["error_data"] == {"code": "bad_request"}
    resp = sign_in(client, {})
    assert resp.status_int == 400 and resp.headers["Cache-Control"] == "no-store"


def test_the_sign_in_routes_answer_only_their_methods(client: Client) -> None:
    for method in ("GET", "PUT", "DELETE", "HEAD"):
        assert client.raw(method, "/dashboard/token").status_int == 501, method
    for method in ("POST", "PUT", "DELETE"):
        assert client.call(method, "/dashboard/session", {})[0] == 501, method
    head = client.raw("HEAD", "/dashboard/session")
    assert head.status_int == 200 and head.body == b""


def sign_in(api: Client, body: Any = SIGN_IN) -> webob.Response:
    """The whole answer (headers too) of ``POST /dashboard/token`` with ``body`` as JSON."""
    req = webob.Request.blank("/dashboard/token", method="POST")
    req.body, req.content_type = json.dumps(body).encode(), "application/json"
    return req.get_response(api.app)


def keystone_conf(tmp_path: Path, authtoken: str) -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    f = tmp_path / "k.conf"
    f.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
        f"[keystone_authtoken]\n{authtoken}"
    )
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    return c


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections: bound by this test, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def keystone_api(tmp_path: Path, engine_service: PolicyEngineService, authtoken: str) -> Client:
    return Client(pipeline.build(Services(engine_service), keystone_conf(tmp_path, authtoken)))


@pytest.mark.parametrize("suffix", ["/v3", "/v3/", "", "/"])
def test_keystone_not_reachable_is_a_503_naming_it(
    tmp_path: Path, engine_service: PolicyEngineService, closed_port: int, suffix: str
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    api = keystone_api(tmp_path, engine_service, f"www_authenticate_uri = {url}{suffix}\n")
    assert api.get("/dashboard/session") == (200, {"auth_strategy": "keystone"})
    resp = sign_in(api)
    assert resp.status_int == 503, resp.text
    assert resp.headers["Retry-After"] == "5"
    assert resp.headers["Cache-Control"] == "no-store"
    error = resp.json["error"]
    assert error["message"] == (
        f"Signing in is unavailable: Keystone at {url}/v3 cannot be reached; try again later"
    )
    assert error["error_data"] == {"code": "unavailable"}


def test_without_www_authenticate_uri_the_service_users_auth_url_is_used(
    tmp_path: Path, engine_service: PolicyEngineService, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/v3"
    api = keystone_api(tmp_path, engine_service, f"auth_type = password\nauth_url = {url}\n")
    status, body = api.post("/dashboard/token", SIGN_IN)
    assert status == 503 and f"Keystone at {url} cannot" in body["error"]["message"], body


def test_without_a_keystone_url_signing_in_is_a_503(
    tmp_path: Path, engine_service: PolicyEngineService
) -> None:
    status, body = keystone_api(tmp_path, engine_service, "").post("/dashboard/token", SIGN_IN)
    assert status == 503, body
    assert "www_authenticate_uri" in body["error"]["message"]


class FakeKeystone:
    """Answers every ``POST`` with ``status`` and a JSON error body, and records the bodies."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[Any] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                raw = json.dumps({"error": {"code": owner.status, "message": "no"}}).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-keystone")

    def __enter__(self) -> FakeKeystone:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(params=[401, 404, 500, 503])
def fake_keystone(request: pytest.FixtureRequest) -> Iterator[FakeKeystone]:
    with FakeKeystone(request.param) as ks:
        yield ks


@pytest.fixture
def fake_keystone_api(
    tmp_path: Path, engine_service: PolicyEngineService, fake_keystone: FakeKeystone
) -> Client:
    """In a fixture: the configuration sets up logging, which would drop caplog's handler."""
    return keystone_api(tmp_path, engine_service, f"www_authenticate_uri = {fake_keystone.url}\n")


def test_what_keystone_answers_decides(
    fake_keystone: FakeKeystone, fake_keystone_api: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A refusal is a 401 that never says what was wrong; Keystone failing is a 503."""
    ks = fake_keystone
    status = 401 if ks.status < 500 else 503
    with caplog.at_level(logging.DEBUG):
        resp = sign_in(fake_keystone_api)
    assert resp.status_int == status, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    (sent,) = ks.bodies  # what Congress forwarded: a password sign-in scoped to the project
    assert sent["auth"]["identity"]["password"]["user"] == {
        "name": "alice",
        "password": "alice-secret",
        "domain": {"name": "Default"},
    }
    assert sent["auth"]["scope"] == {"project": {"name": "demo", "domain": {"name": "Default"}}}
    if status == 401:
        assert resp.json["error"]["message"] == dashboard.REFUSED
        assert resp.json["error"]["error_data"] == {"code": "unauthorized"}
        assert "Retry-After" not in resp.headers
    else:
        assert resp.headers["Retry-After"] == "5"
        assert resp.json["error"]["message"] == (
            f"Signing in is unavailable: Keystone at {ks.url} answered {ks.status}; try again later"
        )
    warnings = [r for r in caplog.records if r.name == dashboard.__name__]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "alice" in warnings[0].getMessage() and "demo" in warnings[0].getMessage()
    assert "alice-secret" not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (SIGN_IN, "text/plain", "Content-Type: application/json (not text/plain)"),
        (SIGN_IN, "application/x-www-form-urlencoded", "Content-Type: application/json"),
        (SIGN_IN, "", "Content-Type: application/json (not none)"),
        ([1], "application/json", "The body must be a JSON object"),
        ({**SIGN_IN, "username": None}, "application/json", "Field 'username' is required"),
        ({**SIGN_IN, "password": ""}, "application/json", "Field 'password' must not be empty"),
        ({"username": "a", "password": "b"}, "application/json", "Field 'project' is required"),
        ({**SIGN_IN, "user_domain": 3}, "application/json", "Field 'user_domain' must be a string"),
    ],
)
def test_a_malformed_sign_in_is_a_400_naming_the_problem(
    tmp_path: Path,
    engine_service: PolicyEngineService,
    closed_port: int,
    body: Any,
    content_type: str,
    message: str,
) -> None:
    """Checked before Keystone is asked (here it could not answer: that would be a 503)."""
    url = f"http://127.0.0.1:{closed_port}/v3"
    api = keystone_api(tmp_path, engine_service, f"www_authenticate_uri = {url}\n")
    req = webob.Request.blank("/dashboard/token", method="POST", body=json.dumps(body).encode())
    if content_type:
        req.content_type = content_type
    else:
        req.environ.pop("CONTENT_TYPE", None)
    resp = req.get_response(api.app)
    assert resp.status_int == 400, resp.text
    assert message in resp.json["error"]["message"]
    assert resp.json["error"]["error_data"] == {"code": "bad_request"}


def test_names_sent_by_a_client_cannot_start_a_log_line() -> None:
    """The warning of a refused sign-in names what the client sent, control characters escaped."""
    assert dashboard._printable("eve\nINFO forged\r\x1b") == "eve\\nINFO forged\\r\\x1b"
    assert dashboard._printable("Zoë") == "Zoë"
