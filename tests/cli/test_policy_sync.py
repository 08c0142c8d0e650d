"""``congress-policy export`` and ``apply`` against a real congress-server (tests/test_server.py),
and the ``--os-*`` options as the ``openstack`` client takes them."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from congress.cmd import apiclient
from congress.cmd.policy import build_parser, main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_server import _call, _free_port, _start, _stop

OPS_YAML = """\
name: ops
description: Servers in trouble
kind: nonrecursive
abbreviation: ops
rules:
  - rule: ok("ACTIVE")
    comment: a good status
  - rule: |-
      error(vm) :-
        inv:servers(id=vm, status=s),
        not ok(s)
    name: bad_status
    comment: a server whose status is not good
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok(status: int, body: Any) -> Any:
    assert 200 <= status < 300, body
    return body


def live_state(base: str) -> dict[str, Any]:
    """Every policy with its rules (ids left out), as the API answers them."""
    out: dict[str, Any] = {}
    for p in ok(*_call(base, "GET", "/v1/policies"))["results"]:
        rules = ok(*_call(base, "GET", f"/v1/policies/{p['name']}/rules"))["results"]
        out[p["name"]] = {
            "kind": p["kind"],
            "description": p["description"],
            "rules": sorted((r["rule"], r["name"], r["comment"]) for r in rules),
        }
    return out


def rows(base: str, policy: str, table: str) -> list[list[Any]]:
    """The table's rows (none when no rule defines it)."""
    status, answer = _call(base, "GET", f"/v1/policies/{policy}/tables/{table}/rows")
    if status == 404:
        return []
    ok(status, answer)
    return sorted(r["data"] for r in answer["results"])


def files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("OS_URL", "OS_TOKEN", "OS_AUTH_URL", "OS_PASSWORD", "OS_USERNAME", "OS_CLOUD"):
        monkeypatch.delenv(var, raising=False)
    port = _free_port()
    state = tmp_path / "state"
    state.mkdir()
    proc = _start(state, port)
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("OS_ENDPOINT", base)
    try:
        yield base
    finally:
        _stop(proc)


def test_export_apply_round_trip(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = server
    tables = json.dumps({"servers": ["id", "status"]})
    ok(
        *_call(
            base,
            "POST",
            "/v1/data-sources",
            {"name": "inv", "driver": "push", "config": {"tables": tables}},
        )
    )
    ok(
        *_call(
            base,
            "PUT",
            "/v1/data-sources/inv/tables/servers/rows",
            [["vm1", "ACTIVE"], ["vm2", "ERROR"]],
        )
    )
    ok(
        *_call(
            base,
            "POST",
            "/v1/policies",
            {
                "name": "ops",
                "description": "Servers in trouble",
                "rules": [
                    {
                        "rule": "error(vm) :-\n  inv:servers(id=vm, status=s),\n  not ok(s)",
                        "name": "bad_status",
                        "comment": "a server whose status is not good",
                    },
                    {"rule": 'ok("ACTIVE")', "comment": "a good status"},
                ],
            },
        )
    )
    ok(*_call(base, "POST", "/v1/policies", {"name": "extra", "kind": "materialized"}))
    ok(*_call(base, "POST", "/v1/policies/extra/rules", {"rule": "p(1)"}))
    ok(
        *_call(
            base,
            "POST",
            "/v1/policies/classification/rules",
            {"rule": 'warning(vm) :- inv:servers(id=vm, status="ERROR")'},
        )
    )
    assert rows(base, "ops", "error") == [["vm2"]]

    # export: one file a policy, the system policy "action" (no rules) left out
    folder = tmp_path / "policies"
    code, out, err = run(capsys, "export", str(folder))
    assert code == 0, err
    assert sorted(files(folder)) == ["classification.yaml", "extra.yaml", "ops.yaml"]
    assert (folder / "ops.yaml").read_text() == OPS_YAML
    assert (folder / "extra.yaml").read_text() == (
        "name: extra\ndescription: ''\nkind: materialized\nabbreviation: extra\n"
        "rules:\n  - rule: p(1)\n"
    )
    assert "exported 3 policies (3 written)" in out
    exported = files(folder)

    # an unchanged server exports the same bytes; --policy exports only that one
    code, out, _ = run(capsys, "export", str(folder))
    assert code == 0 and files(folder) == exported
    assert "unchanged" in out and "(0 written)" in out
    only = tmp_path / "only"
    assert run(capsys, "export", str(only), "--policy", "ops")[0] == 0
    assert files(only) == {"ops.yaml": OPS_YAML}

    # applying what was exported changes nothing
    code, out, _ = run(capsys, "apply", str(folder))
    assert code == 0
    assert "nothing to do: 3 policies as in" in out
    assert run(capsys, "apply", str(folder), "--dry-run", "--exit-code")[0] == 0

    # edit: vm2's error goes, a warning for every server not ACTIVE comes
    before = live_state(base)
    edited = OPS_YAML.replace(
        "    name: bad_status\n    comment: a server whose status is not good\n", ""
    ).replace("  - rule: |-\n      error(vm)", "  - rule: |-\n      warning(vm)")
    (folder / "ops.yaml").write_text(edited)
    code, out, err = run(capsys, "apply", str(folder), "--dry-run", "--exit-code")
    assert code == 2, err
    assert out.splitlines() == [
        "~ policy ops (" + str(folder / "ops.yaml") + "): 1 to add, 1 to delete",
        '  - error(vm) :- inv:servers(id=vm, status=s), not ok(s)   # name "bad_status", '
        'comment "a server whose status is not good"',
        "  + warning(vm) :- inv:servers(id=vm, status=s), not ok(s)",
        "  violations that would appear (+) and disappear (-):",
        '    - error("vm2")',
        '    + warning("vm2")',
        "1 policy: 1 to change (dry run: nothing changed)",
    ]
    assert live_state(base) == before
    code, out, _ = run(capsys, "apply", str(folder), "--dry-run")
    assert code == 0 and "1 to change" in out

    # a file that does not parse: file, line and column; nothing changes
    (folder / "broken.yaml").write_text(
        "name: broken\nrules:\n  - rule: p(x) :- q(x)\n  - rule: >\n      r(x) :-\n        q(x),,\n"
    )
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1
    assert f"{folder / 'broken.yaml'}:6:14: policy_parse_error: Parse failure: " in err
    assert "nothing changed" in err
    assert live_state(base) == before
    (folder / "broken.yaml").write_text("name: broken\nrules: [p(x) :- q(y)]\n")
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1
    assert f"{folder / 'broken.yaml'}:2:11: unsafe_rule: " in err
    (folder / "broken.yaml").write_text("name: broken\nrules:\n- rule: p(x) :-\n")
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1 and f"{folder / 'broken.yaml'}:3:" in err
    (folder / "broken.yaml").write_text("name: [broken\n")
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1 and f"{folder / 'broken.yaml'}:2:1: " in err
    (folder / "broken.yaml").unlink()
    # the server's own checks (a datasource column), before anything changes
    (folder / "ops.yaml").write_text(edited.replace("status=s),", "state=s),"))
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1
    assert f"{folder / 'ops.yaml'}:10:34: policy ops: unknown_column: " in err, err
    assert live_state(base) == before
    (folder / "ops.yaml").write_text(edited)

    # apply: the server matches the files
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 0, err
    assert "1 policy: 1 changed" in out
    assert rows(base, "ops", "error") == []
    assert rows(base, "ops", "warning") == [["vm2"]]
    assert live_state(base)["ops"]["rules"] == [
        ('ok("ACTIVE")', None, "a good status"),
        ("warning(vm) :-\n  inv:servers(id=vm, status=s),\n  not ok(s)", None, ""),
    ]
    assert run(capsys, "apply", str(folder), "--dry-run", "--exit-code")[0] == 0

    # a new file: created (its rows cannot be simulated before it exists)
    (folder / "fresh.yaml").write_text(
        "name: fresh\ndescription: new\nrules:\n  - rule: error(x) :- inv:servers(id=x)\n"
    )
    code, out, _ = run(capsys, "apply", str(folder), "--dry-run")
    assert "+ policy fresh" in out and "cannot be simulated before it exists" in out
    assert "fresh" not in live_state(base)
    code, out, _ = run(capsys, "apply", str(folder))
    assert code == 0 and "1 created" in out
    assert rows(base, "fresh", "error") == [["vm1"], ["vm2"]]

    # --prune deletes the policies no file holds, never the system ones
    shutil.move(folder / "extra.yaml", tmp_path / "extra.yaml")
    shutil.move(folder / "classification.yaml", tmp_path / "classification.yaml")
    code, out, _ = run(capsys, "apply", str(folder), "--dry-run", "--exit-code")
    assert code == 0  # without --prune, a missing file is no change
    code, out, _ = run(capsys, "apply", str(folder), "--prune", "--dry-run", "--exit-code")
    assert code == 2
    assert "- policy extra: to delete" in out and "classification" not in out
    code, out, _ = run(capsys, "apply", str(folder), "--prune")
    assert code == 0 and "- policy extra: deleted" in out
    state = live_state(base)
    assert "extra" not in state
    assert {"classification", "action"} <= set(state)
    assert state["classification"]["rules"]
    shutil.move(tmp_path / "classification.yaml", folder / "classification.yaml")

    # a kind cannot change in place: --recreate deletes and creates the policy again
    (folder / "fresh.yaml").write_text(
        "name: fresh\ndescription: new\nkind: materialized\nabbreviation: fresh\n"
        "rules:\n  - rule: error(x) :- inv:servers(id=x)\n"
    )
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1 and "--recreate" in err
    assert live_state(base)["fresh"]["kind"] == "nonrecursive"
    code, out, err = run(capsys, "apply", str(folder), "--recreate")
    assert code == 0, err
    assert "~ policy fresh" in out and "recreated" in out
    assert live_state(base)["fresh"]["kind"] == "materialized"
    assert rows(base, "fresh", "error") == [["vm1"], ["vm2"]]

    # a description differs: a warning, changed only with --recreate; a renamed rule changes
    (folder / "fresh.yaml").write_text(
        "name: fresh\ndescription: newer\nkind: materialized\nabbreviation: fresh\n"
        "rules:\n  - rule: error(x) :- inv:servers(id=x)\n    name: every\n"
    )
    code, out, err = run(capsys, "apply", str(folder), "--dry-run")
    assert code == 0, err
    assert "warning: its description differs from the file" in out
    assert "  - error(x) :- inv:servers(id=x)\n  + error(x) :- inv:servers(id=x)   # name" in out
    assert run(capsys, "apply", str(folder))[0] == 0
    assert live_state(base)["fresh"]["description"] == "new"
    assert live_state(base)["fresh"]["rules"] == [("error(x) :- inv:servers(id=x)", "every", "")]
    code, out, err = run(capsys, "apply", str(folder), "--recreate")
    assert code == 0, err
    assert live_state(base)["fresh"]["description"] == "newer"

    # exporting again gives the folder back, byte for byte
    again = tmp_path / "again"
    assert run(capsys, "export", str(again))[0] == 0
    assert files(again) == files(folder)
    # a file of a policy the server does not have is reported, not deleted
    (again / "gone.yaml").write_text("name: gone\nrules: []\n")
    code, out, _ = run(capsys, "export", str(again))
    assert code == 0 and "gone.yaml: no policy gone on the server (file left in place)" in out
    assert (again / "gone.yaml").exists()
    assert run(capsys, "apply", str(folder), "--prune", "--dry-run", "--exit-code")[0] == 0


def test_api_errors_and_missing_folder(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", str(tmp_path / "x"), "--policy", "nope")
    assert code == 1 and "no policy nope on the server" in err
    code, _, err = run(capsys, "apply", str(tmp_path / "missing"))
    assert code == 1 and "not a folder" in err
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.yaml").write_text("name: a\nrules: [p(1), q(x) :- p(x)]\n")
    (folder / "b.yaml").write_text("name: a\nrules: []\n")
    code, _, err = run(capsys, "apply", str(folder))
    assert code == 1 and "policy a is also in" in err
    (folder / "b.yaml").write_text("name: b\nkind: nonrecursive\nrules: [p(1), p(1)]\n")
    code, _, err = run(capsys, "apply", str(folder))
    assert code == 1 and f"{folder / 'b.yaml'}:3:15: the same rule as at line 3" in err
    (folder / "b.yaml").write_text("name: b\nrules: [p(1)]\n")
    code, out, err = run(capsys, "apply", str(folder), "--exit-code")
    assert code == 1 and "--exit-code goes with --dry-run" in err
    # --policy: only that one
    code, out, err = run(capsys, "apply", str(folder), "--policy", "a")
    assert code == 0 and "+ policy a" in out and "policy b" not in out
    # the server refuses the rules of a new policy: the API's message, at the rule
    tables = json.dumps({"servers": ["id", "status"]})
    config = {"tables": tables}
    ok(
        *_call(
            server, "POST", "/v1/data-sources", {"name": "inv", "driver": "push", "config": config}
        )
    )
    (folder / "b.yaml").write_text("name: b\nrules:\n  - error(x) :- inv:servers(id=x, st=1)\n")
    code, out, err = run(capsys, "apply", str(folder))
    assert code == 1
    assert f"{folder / 'b.yaml'}:3:38: policy b: unknown_column: In literal" in err
    assert "stopped at policy b; nothing changed" in err
    assert "b" not in live_state(server)
    # the endpoint is wrong: the error, no traceback
    code, _, err = run(capsys, "apply", str(folder), "--os-endpoint", "http://127.0.0.1:1")
    assert code == 1 and "cannot reach http://127.0.0.1:1" in err


# -- options -------------------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["export", "d", *argv])


def test_options_take_flags_then_the_environment() -> None:
    env = {"OS_ENDPOINT": "http://env:1789", "OS_TOKEN": "envtoken", "OS_REGION_NAME": "r1"}
    s = apiclient.settings(_args("--os-token", "flagtoken"), env)
    assert s.get("os_endpoint") == "http://env:1789"
    assert s.get("os_token") == "flagtoken"
    assert s.get("os_region_name") == "r1"
    client = apiclient.connect(s)  # a token and an endpoint: no Keystone
    assert (client.endpoint, client.token) == ("http://env:1789", "flagtoken")
    # OS_URL, the older name; a catalog URL ending in /v1 is the same endpoint
    client = apiclient.connect(apiclient.settings(_args(), {"OS_URL": "http://old:1789/v1/"}))
    assert (client.endpoint, client.token) == ("http://old:1789", None)
    assert client.url("policies/a b/rules") == "http://old:1789/v1/policies/a%20b/rules"
    # --os-auth-type none: the endpoint alone, a token ignored
    none = apiclient.settings(
        _args("--os-auth-type", "none", "--os-endpoint", "http://h:1"), {"OS_TOKEN": "t"}
    )
    assert apiclient.connect(none).token is None
    assert apiclient.settings(_args(), {"OS_INSECURE": "true"}).insecure


def test_no_endpoint_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OS_ENDPOINT", "OS_URL", "OS_TOKEN", "OS_AUTH_URL", "OS_USERNAME", "OS_AUTH_TYPE"):
        monkeypatch.delenv(var, raising=False)
    code, out, err = run(capsys, "export", str(tmp_path / "out"))
    assert code == 1 and out == ""
    assert err.startswith("congress-policy export: where is the Congress API? Give --os-endpoint")
    (tmp_path / "p").mkdir()
    code, _, err = run(capsys, "apply", str(tmp_path / "p"))
    assert code == 1 and "where is the Congress API?" in err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "where is the Congress API?"),
        (["--os-auth-type", "none"], {}, "needs --os-endpoint"),
        (["--os-auth-type", "token"], {"OS_ENDPOINT": "http://h:1"}, "needs --os-token"),
        (["--os-auth-type", "kerberos"], {}, "expected one of"),
        (["--os-username", "u", "--os-password", "p"], {}, "needs --os-auth-url"),
        (["--os-auth-url", "http://k/v3", "--os-username", "u"], {}, "needs --os-password"),
        (["--os-token", "t"], {}, "needs --os-auth-url"),
    ],
)
def test_options_that_say_too_little(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(apiclient.ConfigError, match=message.replace("?", r"\?")):
        apiclient.connect(apiclient.settings(_args(*argv), env))


class _Fake(BaseHTTPRequestHandler):
    """A Congress API with no policy, and a Keystone whose catalog points at it."""

    seen: list[tuple[str, str, dict[str, str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, dict(self.headers)))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"  # type: ignore[index]
        if self.path.rstrip("/") == "/identity/v3":
            self._answer(
                200,
                {
                    "version": {
                        "id": "v3.14",
                        "status": "stable",
                        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
                        "media-types": [],
                    }
                },
            )
        elif self.path.endswith("/v1/policies"):
            self._answer(200, {"results": []}, {apiclient.REVISION_HEADER: "7"})
        else:
            self._answer(404, {"error": {"message": f"no {self.path}", "error_code": 1000}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.seen.append(("POST", self.path, dict(self.headers)))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"  # type: ignore[index]
        assert body["auth"]["identity"]["password"]["user"]["password"] == "secret"
        catalog = [
            {
                "type": "policy",
                "name": "congress",
                "id": "c1",
                "endpoints": [
                    {
                        "id": "e1",
                        "interface": "internal",
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": f"{base}/internal",
                    },
                    {
                        "id": "e2",
                        "interface": "public",
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": f"{base}/congress",
                    },
                ],
            }
        ]
        token = {
            "token": {
                "methods": ["password"],
                "expires_at": "2999-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "D"}},
                "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "D"}},
                "catalog": catalog,
                "roles": [{"id": "r1", "name": "admin"}],
            }
        }
        self._answer(201, token, {"X-Subject-Token": "kstoken"})


@pytest.fixture
def fake() -> Iterator[str]:
    _Fake.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_token_and_an_endpoint_from_the_environment(
    fake: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OS_ENDPOINT", fake)
    monkeypatch.setenv("OS_TOKEN", "tok123")
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:1/never-asked")
    code, out, err = run(capsys, "export", str(tmp_path / "out"))
    assert code == 0, err
    assert "exported 0 policies" in out
    assert [(m, p) for m, p, _ in _Fake.seen] == [("GET", "/v1/policies")]
    assert _Fake.seen[0][2]["X-Auth-Token"] == "tok123"
    # a flag wins over its environment variable
    code, _, err = run(capsys, "export", str(tmp_path / "out"), "--os-token", "flag")
    assert code == 0, err
    assert _Fake.seen[-1][2]["X-Auth-Token"] == "flag"


def test_a_password_finds_the_endpoint_in_the_catalog(
    fake: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("OS_ENDPOINT", "OS_URL", "OS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OS_PASSWORD", "secret")
    code, _, err = run(
        capsys,
        "export",
        str(tmp_path / "out"),
        "--os-auth-url",
        f"{fake}/identity/v3",
        "--os-username",
        "alice",
        "--os-project-name",
        "demo",
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
        "--os-region-name",
        "RegionOne",
    )
    assert code == 0, err
    calls = [(m, p) for m, p, _ in _Fake.seen]
    assert ("POST", "/identity/v3/auth/tokens") in calls
    assert calls[-1] == ("GET", "/congress/v1/policies")  # the public endpoint
    assert _Fake.seen[-1][2]["X-Auth-Token"] == "kstoken"
    # --os-interface internal picks the other endpoint
    code, _, err = run(
        capsys,
        "export",
        str(tmp_path / "out"),
        "--os-auth-url",
        f"{fake}/identity/v3",
        "--os-username",
        "alice",
        "--os-project-name",
        "demo",
        "--os-interface",
        "internal",
    )
    assert code == 0, err
    assert _Fake.seen[-1][1] == "/internal/v1/policies"
