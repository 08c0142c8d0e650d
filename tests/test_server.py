"""congress-server runs every role in one process with no options but a state folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _start(tmp_path: Path, port: int, extra: str = "") -> subprocess.Popen[bytes]:
    """congress-server on ``port`` with ``tmp_path`` as its state (``extra``: more
    configuration, appended to the file), once it answers."""
    conf = tmp_path / "congress.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        f"bind_host = 127.0.0.1\nbind_port = {port}\n{extra}"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "congress.cmd.server", "--config-file", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("congress-server did not answer within 30 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_push_datasource_policy_and_restart(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        tables = json.dumps({"servers": ["id", "status"]})
        status, ds = _call(
            base,
            "POST",
            "/v1/data-sources",
            {"name": "inv", "driver": "push", "config": {"tables": tables, "persist_data": "true"}},
        )
        assert status == 201 and ds["name"] == "inv"
        assert (
            _call(
                base,
                "PUT",
                "/v1/data-sources/inv/tables/servers/rows",
                [["vm1", "ERROR"], ["vm2", "ACTIVE"]],
            )[0]
            == 200
        )
        rule = 'error(vm) :- inv:servers(id=vm, status="ERROR")'
        assert _call(base, "POST", "/v1/policies/classification/rules", {"rule": rule})[0] == 201
        rows = _call(base, "GET", "/v1/policies/classification/tables/error/rows")[1]
        assert rows == {"results": [{"data": ["vm1"]}]}
        status, body = _call(base, "POST", "/v1/policies/classification/rules", {"rule": "p(x"})
        assert status == 400 and body["error"]["error_data"]["line"] == 1
        assert len(_call(base, "GET", "/v1/librarypolicies")[1]["results"]) == 17
    finally:
        _stop(proc)
    proc = _start(tmp_path, port)  # everything comes back from the database
    try:
        rows = _call(base, "GET", "/v1/policies/classification/tables/error/rows")[1]
        assert rows == {"results": [{"data": ["vm1"]}]}
        assert len(_call(base, "GET", "/v1/librarypolicies")[1]["results"]) == 17
        names = {p["name"] for p in _call(base, "GET", "/v1/policies")[1]["results"]}
        assert names == {"classification", "action"}
    finally:
        _stop(proc)
