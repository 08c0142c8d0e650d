"""A Congress deployment of several real processes, for the HA tests and by hand.

``Cluster`` makes a database (PostgreSQL or MariaDB) migrated to head, a configuration file per
node on one RabbitMQ ``bus_id`` of its own, and starts, kills (-9) and restarts
``congress-server`` processes: ``Cluster.start("pe1", "--api", "--policy-engine")``. Each
node's output goes to ``<dir>/<node>.log``. ``HAProxy`` fronts API nodes.

By hand: ``.venv/bin/python tests/ha/cluster.py postgresql`` starts ds, pe1 and pe2 and prints
their URLs.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

SERVERS = {
    "postgresql": os.environ.get(
        "CONGRESS_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432"
    ),
    "mariadb": os.environ.get("CONGRESS_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306"),
}
ADMIN_DATABASE = {"postgresql": "postgres", "mariadb": "mysql"}
RABBIT = os.environ.get("CONGRESS_TEST_RABBIT", "rabbit://guest:guest@127.0.0.1:5672/")
ROOT = pathlib.Path(__file__).resolve().parents[2]
UPGRADE = ("upgrade", "head")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any  # http.client.HTTPMessage: names in any case (HTTP's are case-insensitive)


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return Answer(resp.status, json.loads(raw) if raw else None, resp.headers)
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(err.code, parsed, err.headers)


def create_database(backend: str, name: str) -> str:
    admin = create_engine(
        f"{SERVERS[backend]}/{ADMIN_DATABASE[backend]}", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{SERVERS[backend]}/{name}"


def drop_database(backend: str, name: str) -> None:
    admin = create_engine(
        f"{SERVERS[backend]}/{ADMIN_DATABASE[backend]}", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        if backend == "postgresql":
            c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@dataclass
class Node:
    name: str
    args: tuple[str, ...]
    port: int | None
    log: pathlib.Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    backend: str
    directory: pathlib.Path
    bus_id: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}")
    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    database: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        self.database = f"congress_ha_{uuid.uuid4().hex[:10]}"
        self.url = create_database(self.backend, self.database)
        if self.backend == "postgresql":  # every statement into the server's log (LOCK check)
            admin = create_engine(f"{SERVERS['postgresql']}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"ALTER DATABASE {self.database} SET log_statement = 'all'"))
            admin.dispose()
        (self.directory / "keys").mkdir(parents=True, exist_ok=True)
        (self.directory / "library").mkdir(exist_ok=True)
        self.config = self.directory / "congress.conf"
        self._write_config()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "congress.cmd.db_manage",
                "--config-file",
                str(self.config),
                *UPGRADE,
            ],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )

    def _write_config(self) -> None:
        sections: dict[str, dict[str, str]] = {
            "DEFAULT": {
                "transport_url": RABBIT,
                "auth_strategy": "noauth",
                "bind_host": "127.0.0.1",
                "replicated_policy_engine": "true",
                "datasource_sync_period": "30",
                "state_path": str(self.directory),
                "encryption_key_path": str(self.directory / "keys"),
                "policy_library_path": str(self.directory / "library"),
                "custom_driver_endpoints": "recorder=recorder:RecorderDriver",
                "debug": "false",
            },
            "dse": {"bus_id": self.bus_id},
            "database": {"connection": self.url},
            "api": {"min_revision_wait": "2"},
        }
        for group, values in self.options.items():
            sections.setdefault(group, {}).update(values)
        lines = []
        for group, values in sections.items():
            lines.append(f"[{group}]")
            lines.extend(f"{k} = {v}" for k, v in values.items())
            lines.append("")
        self.config.write_text("\n".join(lines))

    def start(self, name: str, *roles: str, wait: bool = True) -> Node:
        """Start (or restart) node ``name`` with ``roles`` (flags such as ``--api``)."""
        node = self.nodes.get(name)
        if node is None:
            port = free_port() if "--api" in roles else None
            node = Node(name, tuple(roles), port, self.directory / f"{name}.log")
            self.nodes[name] = node
        if node.proc is not None and node.proc.poll() is None:
            raise RuntimeError(f"{name} is running")
        node.proc = self.spawn(name, *node.args, port=node.port)
        if wait:
            self.wait_ready(node)
        return node

    def spawn(self, name: str, *roles: str, port: int | None = None) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "congress.cmd.server", "--config-file", str(self.config)]
        if port is not None:  # bind_port per node: a second configuration file
            own = self.directory / f"{name}.conf"
            own.write_text(f"[DEFAULT]\nbind_port = {port}\n")
            args += ["--config-file", str(own)]
        args += [*roles, "--node-id", name]
        log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115 (the child owns it)
        try:
            env = dict(os.environ)  # the test drivers (tests/ha/recorder.py) load from here
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(ROOT / "tests" / "ha"), env.get("PYTHONPATH", "")) if p
            )
            return subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
                env=env,
            )
        finally:
            log.close()

    def wait_ready(self, node: Node, timeout: float = 60.0) -> None:
        """Until the node's API answers (or, without an API, its log says it runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert node.proc is not None
            if node.proc.poll() is not None:
                raise RuntimeError(f"{node.name} exited: {self.tail(node.name)}")
            if node.port is not None:
                try:
                    if http("GET", node.url + "/healthcheck", timeout=2).status == 200:
                        return
                except OSError:
                    pass
            elif f"node {node.name} runs" in node.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{node.name} did not start: {self.tail(node.name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[name]
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(sig)
            node.proc.wait(timeout=30)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.directory / f"{name}.log"
        text_ = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text_.splitlines()[-lines:])

    def close(self) -> None:
        for name in list(self.nodes):
            try:
                self.kill(name, signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.kill(name)
        drop_database(self.backend, self.database)


def haproxy_config(
    cluster: Cluster, work: pathlib.Path, nodes: list[str] | None = None
) -> tuple[pathlib.Path, int]:
    """``deploy/haproxy.cfg`` rewritten for this deployment (its API ``nodes``, default pe1 and
    pe2; files under ``work``; a free port): the file and the port HAProxy listens on."""
    port = free_port()
    text_ = (ROOT / "deploy" / "haproxy.cfg").read_text()
    text_ = text_.replace("pidfile /run/haproxy.pid", f"pidfile {work}/haproxy.pid")
    text_ = text_.replace("stats socket /run/haproxy/admin.sock", f"stats socket {work}/admin.sock")
    text_ = text_.replace("    log /dev/log local0\n", "").replace("    log global\n", "")
    text_ = text_.replace("bind *:1789", f"bind 127.0.0.1:{port}")
    lines = [ln for ln in text_.splitlines() if not ln.strip().startswith("server pe")]
    for name in nodes or ["pe1", "pe2"]:
        lines.append(f"    server {name} 127.0.0.1:{cluster.nodes[name].port} check cookie {name}")
    path = work / "haproxy.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path, port


@contextlib.contextmanager
def running_haproxy(cluster: Cluster, work: pathlib.Path) -> Iterator[str]:
    """HAProxy with ``deploy/haproxy.cfg`` rewritten for this deployment (``haproxy_config``),
    installed first if needed; its base URL, once a health check passes through it."""
    if not pathlib.Path("/usr/sbin/haproxy").exists():
        subprocess.run([str(ROOT / "scripts/services"), "haproxy"], check=True)
    config, port = haproxy_config(cluster, work)
    subprocess.run(["haproxy", "-D", "-f", str(config)], check=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", base + "/healthcheck").status == 200)
        yield base
    finally:
        pid = (work / "haproxy.pid").read_text().split()[0]
        subprocess.run(["kill", pid], check=False)


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s (last: {last!r})")


if __name__ == "__main__":
    import tempfile

    backend = sys.argv[1] if len(sys.argv) > 1 else "postgresql"
    cluster = Cluster(backend, pathlib.Path(tempfile.mkdtemp(prefix="congress-ha-")))
    cluster.start("ds", "--datasources")
    for pe in ("pe1", "pe2"):
        print(pe, cluster.start(pe, "--api", "--policy-engine").url, flush=True)
    print("logs in", cluster.directory, "; Ctrl-C stops", flush=True)
    try:
        signal.pause()
    finally:
        cluster.close()
