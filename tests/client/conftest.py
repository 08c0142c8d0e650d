"""Fixtures to drive a real congress-server with the official client (``openstack congress``).

The client (python-openstackclient + python-congressclient 2.0.1) lives in its own virtualenv,
``.venv-client``, made by ``scripts/client-venv``; each pytest session (each xdist worker) starts
one ``congress-server`` on a free port with a fresh state folder and talks to it with
``--os-auth-type none --os-endpoint``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_VENV = ROOT / ".venv-client"
OPENSTACK = CLIENT_VENV / "bin" / "openstack"
CLIENT_PYTHON = CLIENT_VENV / "bin" / "python"

#: ``congress`` commands that are cliff Listers or ShowOnes, so accept ``-f json``.
FORMATTED = {
    ("version", "list"),
    ("policy", "create"),
    ("policy", "create-from-file"),
    ("policy", "list"),
    ("policy", "show"),
    ("policy", "rule", "create"),
    ("policy", "rule", "show"),
    ("policy", "table", "list"),
    ("policy", "table", "show"),
    ("policy", "row", "list"),
    ("datasource", "create"),
    ("datasource", "list"),
    ("datasource", "table", "list"),
    ("datasource", "table", "show"),
    ("datasource", "table", "schema", "show"),
    ("datasource", "row", "list"),
    ("datasource", "status", "show"),
    ("datasource", "schema", "show"),
    ("datasource", "actions", "show"),
    ("driver", "list"),
    ("driver", "config", "show"),
    ("driver", "schema", "show"),
}

Result = tuple[int, str, str]


def _client_env() -> dict[str, str]:
    """The environment without ``OS_*`` settings that would send the client elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def client_venv() -> Path:
    """Make ``.venv-client`` (once; later runs find its stamp); fail if that is impossible."""
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "client-venv")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"scripts/client-venv could not run: {e}")
    if done.returncode != 0 or not OPENSTACK.exists():
        pytest.fail(
            f"scripts/client-venv failed (exit {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return CLIENT_VENV


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="session")
def congress_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One congress-server for the session (each xdist worker has its own)."""
    state = tmp_path_factory.mktemp("congress-state")
    port = _free_port()
    conf = state / "congress.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {state}\nauth_strategy = noauth\n"
        f"bind_host = 127.0.0.1\nbind_port = {port}\n"
    )
    log = state / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "congress.cmd.server", "--config-file", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    server = Server(url, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"congress-server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"congress-server did not answer:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def endpoint(client_venv: Path, congress_server: Server) -> str:
    return congress_server.url


@pytest.fixture(scope="session")
def openstack(endpoint: str) -> Callable[..., Result]:
    """``openstack(*args) -> (rc, stdout, stderr)`` for ``openstack congress ARGS``.

    ``-f json`` is added for the commands that accept it (see ``FORMATTED``).
    """

    def run(*args: str) -> Result:
        argv = [
            str(OPENSTACK),
            "--os-auth-type",
            "none",
            "--os-endpoint",
            endpoint,
            "congress",
            *args,
        ]
        if any(tuple(args[: len(cmd)]) == cmd for cmd in FORMATTED):
            argv += ["-f", "json"]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=_client_env(), check=False
        )
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture(scope="session")
def ok(openstack: Callable[..., Result]) -> Callable[..., Any]:
    """``ok(*args)``: run ``openstack congress ARGS``, assert exit 0, return parsed JSON or text."""

    def run(*args: str) -> Any:
        rc, out, err = openstack(*args)
        assert rc == 0, f"openstack congress {' '.join(args)} exited {rc}:\n{out}\n{err}"
        if any(tuple(args[: len(cmd)]) == cmd for cmd in FORMATTED):
            return json.loads(out)
        return out

    return run


@pytest.fixture(scope="session")
def client_library(endpoint: str) -> Callable[[str], Any]:
    """``client_library(code)``: run CODE with ``.venv-client/bin/python``; return its JSON.

    CODE sees ``client``, a ``congressclient.v1.client.Client`` on the server (a keystoneauth
    session with the ``noauth`` plugin and the endpoint, as ``--os-auth-type none`` builds),
    and ``emit(value)``, which hands VALUE back as JSON.
    """
    prelude = (
        "import json, sys\n"
        "from keystoneauth1 import noauth, session\n"
        "from congressclient.v1 import client as _v1\n"
        "client = _v1.Client(\n"
        "    session=session.Session(auth=noauth.NoAuth(endpoint=sys.argv[1])),\n"
        "    service_type='policy', interface='publicURL')\n"
        "def emit(value):\n"
        "    print(json.dumps(value))\n"
    )

    def run(code: str) -> Any:
        done = subprocess.run(
            [str(CLIENT_PYTHON), "-c", prelude + code, endpoint],
            capture_output=True,
            text=True,
            timeout=120,
            env=_client_env(),
            check=False,
        )
        assert done.returncode == 0, f"client library script failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def name() -> Callable[[str], str]:
    """``name(prefix)``: a name no other test of the session uses (the server is shared)."""

    def make(prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex[:8]}"

    return make
