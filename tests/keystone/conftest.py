"""A real Keystone for ``auth_strategy = keystone``, and a Congress node behind it.

Keystone (the ``keystone`` package from PyPI) lives in its own virtualenv, ``.venv-keystone``,
made by ``scripts/keystone-venv`` (its pins are not ours). The session fixture gives it a
SQLite database and fernet keys in a temporary folder, runs ``keystone-manage db_sync`` and
``bootstrap``, serves its public WSGI application with waitress on 127.0.0.1 (a port the
system picks), and creates the users the tests need through its REST API. A Congress node
(``build_node``, every role, in this process) is served with waitress on another free port;
its ``[keystone_authtoken]`` validates every token against that Keystone over HTTP, and it is
registered in Keystone's catalog as the ``policy`` service so the official client finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from real_keystone import CongressNode, Keystone, User, http

from congress.cmd import server as congress_server
from congress.common import config

# the helpers of tests/ (browser.py) for the modules of this folder
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[2]
KEYSTONE_VENV = ROOT / ".venv-keystone"
KEYSTONE_PYTHON = KEYSTONE_VENV / "bin" / "python"
KEYSTONE_MANAGE = KEYSTONE_VENV / "bin" / "keystone-manage"
CLIENT_VENV = ROOT / ".venv-client"
OPENSTACK = CLIENT_VENV / "bin" / "openstack"

REGION = "RegionOne"
ADMIN_PASSWORD = "admin-secret"
SERVICE_PASSWORD = "congress-secret"

#: Serves Keystone's public application (what ``keystone-wsgi-public`` serves) with waitress
#: on a port the system picks, and writes that port to the file named by $KEYSTONE_PORT_FILE
#: (not an argument: Keystone parses the command line as its own).
KEYSTONE_LAUNCHER = """\
import os, waitress
from keystone.server import wsgi
app = wsgi.initialize_public_application()
server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8, ident="keystone")
port_file = os.environ["KEYSTONE_PORT_FILE"]
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.effective_port))
os.replace(port_file + ".tmp", port_file)
server.run()
"""


def _keystone_env(conf_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_KEYSTONE_CONFIG_FILES"] = str(conf_file)
    env["PYTHONWARNINGS"] = "ignore"  # eventlet's and oslo's deprecation chatter
    return env


def _run_all(steps: list[tuple[str, list[str]]], env: dict[str, str]) -> None:
    """Run independent commands side by side (each costs seconds of imports); fail on any error."""
    procs = [
        (what, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env))
        for what, argv in steps
    ]
    failures = []
    for what, proc in procs:
        try:
            out, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            text = out.decode("utf-8", "replace")[-3000:]
            failures.append(f"{what} failed (exit {proc.returncode}):\n{text}")
    if failures:
        pytest.fail("\n".join(failures))


def _build_venv(script: str, marker: Path) -> None:
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / script)],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"scripts/{script} could not run: {e}")
    if done.returncode != 0 or not marker.exists():
        pytest.fail(
            f"scripts/{script} failed (exit {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


@pytest.fixture(scope="session")
def keystone_venv() -> Path:
    """Make ``.venv-keystone`` (once; later runs find its stamp); fail if that is impossible."""
    _build_venv("keystone-venv", KEYSTONE_MANAGE)
    return KEYSTONE_VENV


@pytest.fixture(scope="session")
def client_venv() -> Path:
    """Make ``.venv-client`` (the official client), as tests/client does."""
    _build_venv("client-venv", OPENSTACK)
    return CLIENT_VENV


def _start_keystone(state: Path, conf_file: Path, env: dict[str, str]) -> Keystone:
    port_file = state / "port"
    log = state / "keystone-wsgi.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(KEYSTONE_PYTHON), "-c", KEYSTONE_LAUNCHER],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "KEYSTONE_PORT_FILE": str(port_file)},
        )
    deadline = time.monotonic() + 120
    url = ""
    while True:
        if proc.poll() is not None:
            pytest.fail(f"Keystone exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if not url and port_file.exists():
            url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        if url:
            try:
                if http("GET", url + "/v3", timeout=2)[0] == 200:
                    return Keystone(url, proc, log)
            except OSError:
                pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Keystone did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _admin_api(ks: Keystone) -> Callable[..., Any]:
    """``api(method, path, body)`` on Keystone with the admin's token; asserts success."""
    token = ks.token("admin")

    def api(method: str, path: str, body: Any = None) -> Any:
        status, _, answer = http(method, ks.v3 + path, body, {"X-Auth-Token": token})
        assert status < 300, f"Keystone {method} {path}: {status} {answer}"
        return answer

    return api


@pytest.fixture(scope="session")
def keystone(keystone_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    """A bootstrapped Keystone on 127.0.0.1 with these users (all in domain Default):

    ``admin`` (project ``admin``, role ``admin``, from ``keystone-manage bootstrap``),
    ``congress`` (project ``service``, role ``service``: the token middleware's own user),
    ``reader`` (project ``demo``, role ``reader``), ``member`` (project ``demo``, role
    ``member`` only), ``observer`` (project ``demo``, a custom role ``observer`` only);
    for multi-tenancy (tests/keystone/test_tenancy_keystone.py), ``alice`` (project
    ``alpha``, role ``member``) and ``bob`` (project ``beta``, role ``member``): project
    members, not operators (Keystone's implied roles give them ``reader`` too).
    """
    state = tmp_path_factory.mktemp("keystone")
    conf_file = state / "keystone.conf"
    conf_file.write_text(
        "[DEFAULT]\n"
        f"log_file = {state / 'keystone.log'}\n"
        "[database]\n"
        f"connection = sqlite:///{state / 'keystone.db'}\n"
        "[token]\nprovider = fernet\n"
        f"[fernet_tokens]\nkey_repository = {state / 'fernet-keys'}\n"
        f"[credential]\nkey_repository = {state / 'credential-keys'}\n"
        # the fewest bcrypt rounds: each password check would otherwise cost ~0.3 s
        "[identity]\npassword_hash_rounds = 4\n"
    )
    env = _keystone_env(conf_file)
    manage = [str(KEYSTONE_MANAGE), "--config-file", str(conf_file)]
    owner = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
    _run_all(
        [
            ("keystone-manage fernet_setup", [*manage, "fernet_setup", *owner]),
            ("keystone-manage credential_setup", [*manage, "credential_setup", *owner]),
            ("keystone-manage db_sync", [*manage, "db_sync"]),
        ],
        env,
    )
    ks = _start_keystone(state, conf_file, env)
    try:
        bootstrap = [
            *manage,
            "bootstrap",
            "--bootstrap-password",
            ADMIN_PASSWORD,
            "--bootstrap-region-id",
            REGION,
            "--bootstrap-admin-url",
            ks.v3,
            "--bootstrap-internal-url",
            ks.v3,
            "--bootstrap-public-url",
            ks.v3,
        ]
        _run_all([("keystone-manage bootstrap", bootstrap)], env)
        ks.users["admin"] = User("admin", ADMIN_PASSWORD, "admin")
        _populate(ks)
        yield ks
    finally:
        _stop(ks.proc)


def _populate(ks: Keystone) -> None:
    api = _admin_api(ks)
    projects = {
        name: api("POST", "/projects", {"project": {"name": name, "domain_id": "default"}})[
            "project"
        ]["id"]
        for name in ("service", "demo", "alpha", "beta")
    }
    api("POST", "/roles", {"role": {"name": "observer"}})
    roles = {r["name"]: r["id"] for r in api("GET", "/roles")["roles"]}
    for name, project, role in (
        ("congress", "service", "service"),
        ("reader", "demo", "reader"),
        ("member", "demo", "member"),
        ("observer", "demo", "observer"),
        ("alice", "alpha", "member"),
        ("bob", "beta", "member"),
    ):
        password = SERVICE_PASSWORD if name == "congress" else f"{name}-secret"
        user = api(
            "POST",
            "/users",
            {
                "user": {
                    "name": name,
                    "password": password,
                    "domain_id": "default",
                    "default_project_id": projects[project],
                }
            },
        )["user"]
        api("PUT", f"/projects/{projects[project]}/users/{user['id']}/roles/{roles[role]}")
        ks.users[name] = User(name, password, project, user["id"])


def congress_conf_text(state: Path, ks: Keystone) -> str:
    """The node's configuration: docs/security.md's ``[keystone_authtoken]`` (less memcached)."""
    return (
        f"[DEFAULT]\nstate_path = {state}\nauth_strategy = keystone\n"
        "[keystone_authtoken]\n"
        f"www_authenticate_uri = {ks.v3}\n"
        f"auth_url = {ks.v3}\n"
        "auth_type = password\n"
        "username = congress\n"
        f"password = {SERVICE_PASSWORD}\n"
        "project_name = service\n"
        "user_domain_name = Default\n"
        "project_domain_name = Default\n"
        f"region_name = {REGION}\n"
        "service_type = policy\n"
        # a browser's change feed that went away ends at the next keep-alive: soon, so that
        # the node stops promptly after the dashboard's tests
        "[watch]\nfeed_keepalive_seconds = 2\n"
    )


def _congress_conf(state: Path, ks: Keystone) -> cfg.ConfigOpts:
    conf_file = state / "congress.conf"
    conf_file.write_text(congress_conf_text(state, ks))
    c = cfg.ConfigOpts()
    config.init(["--config-file", str(conf_file)], conf=c, default_config_files=[])
    return c


@pytest.fixture(scope="module")
def congress(
    keystone: Keystone, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CongressNode]:
    """A Congress node (every role) in this process, served on 127.0.0.1 by waitress, behind
    keystonemiddleware pointed at the real Keystone, and in Keystone's catalog as ``policy``.

    Module-scoped, not session-scoped: the node's threads must be gone before the worker runs
    other folders' tests (tests/services checks that no ``congress-*`` thread is left over)."""
    import waitress  # type: ignore[import-untyped]

    state = tmp_path_factory.mktemp("congress")
    node = congress_server.build_node(_congress_conf(state, keystone))
    server = waitress.create_server(node.app, host="127.0.0.1", port=0, threads=4)
    url = f"http://127.0.0.1:{server.effective_port}"

    def serve() -> None:
        try:
            server.run()
        except OSError:
            pass  # closing the listener under select(): the normal way out

    thread = threading.Thread(target=serve, daemon=True, name="congress-api")
    thread.start()
    try:
        api = _admin_api(keystone)
        service = api("POST", "/services", {"service": {"type": "policy", "name": "congress"}})[
            "service"
        ]
        for interface in ("public", "internal", "admin"):
            api(
                "POST",
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": service["id"],
                        "interface": interface,
                        "url": url,
                        "region_id": REGION,
                    }
                },
            )
        yield CongressNode(url, node, (state / "congress.conf").read_text())
    finally:
        server.close()
        thread.join(timeout=10)
        node.stop()
        deadline = time.monotonic() + 10
        while _congress_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _congress_threads(), "the Congress node left threads running"


@pytest.fixture(scope="module")
def out_of_the_catalog(congress: CongressNode, keystone: Keystone) -> Iterator[None]:
    """When the module is done, take its node's ``policy`` service out of Keystone's catalog:
    the next module's node registers one too, and the official client must find that one."""
    yield
    admin = {"X-Auth-Token": keystone.token("admin")}
    status, _, found = http("GET", keystone.v3 + "/endpoints", headers=admin)
    assert status == 200, found
    for service_id in {e["service_id"] for e in found["endpoints"] if e["url"] == congress.url}:
        assert http("DELETE", f"{keystone.v3}/services/{service_id}", headers=admin)[0] == 204


def _congress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("congress-")]


@pytest.fixture(scope="module")
def openstack(
    client_venv: Path, keystone: Keystone, congress: CongressNode
) -> Callable[..., tuple[int, str, str]]:
    """``openstack(user, *args) -> (rc, stdout, stderr)``: ``openstack ARGS`` with USER's
    password through Keystone (no endpoint given: the client finds Congress in the catalog)."""

    def run(user: str, *args: str) -> tuple[int, str, str]:
        argv = [
            str(OPENSTACK),
            *keystone.os_options(user),
            "--os-identity-api-version",
            "3",
            *args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PYTHONWARNINGS"] = "ignore"
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=env, check=False
        )
        return done.returncode, done.stdout, done.stderr

    return run
