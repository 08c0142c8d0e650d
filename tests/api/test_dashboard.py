"""``/dashboard``: the dashboard's files are served from the package, open, with their type, an
ETag and a strict Content-Security-Policy; nothing else is (docs/dashboard.md, ADR 0011)."""

from __future__ import annotations

import pathlib

import pytest
from api_client import Client

import congress
from congress.api import dashboard

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
