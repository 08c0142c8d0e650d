"""``kill -9`` during a stream of writes, then a restart: every acknowledged write is there and
nothing is half-written (a policy created with its rules has all of them or does not exist).

A real congress-server process on SQLite (the embedded default), PostgreSQL and MariaDB; two
client threads create policies with two rules each and add single rules to them; the server is
killed with SIGKILL while they write, restarted on the same state, and read back.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from cluster import ADMIN_DATABASE, SERVERS, create_database, drop_database
from sqlalchemy import create_engine, text

from congress.db import migration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, None


def database(backend: str) -> str:
    """A fresh, migrated database of ``backend`` ("" for SQLite: the embedded default)."""
    if backend == "sqlite":
        return ""
    url = create_database(backend, f"crash_{uuid.uuid4().hex[:10]}")
    migration.upgrade(url)
    return url


def drop(backend: str, url: str) -> None:
    if backend != "sqlite":
        drop_database(backend, url.rsplit("/", 1)[1])


def start(tmp_path: Path, port: int, url: str) -> subprocess.Popen[bytes]:
    conf = tmp_path / "congress.conf"
    db = f"[database]\nconnection = {url}\n" if url else ""
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        f"bind_host = 127.0.0.1\nbind_port = {port}\n{db}"
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
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("congress-server did not answer within 30 s")


class Writer(threading.Thread):
    """Creates policies with two rules and adds a third rule to each; records what the
    server acknowledged."""

    def __init__(self, base: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.tag = tag
        self.created: dict[str, set[str]] = {}  # acknowledged policy -> acknowledged rules
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            name = f"p_{self.tag}_{i}"
            rules = [f"a{i}(x) :- b{i}(x)", f"c{i}(x) :- a{i}(x)"]
            try:
                status, _ = call(
                    self.base,
                    "POST",
                    "/v1/policies",
                    {"name": name, "rules": [{"rule": r} for r in rules]},
                )
                if status != 201:
                    return
                self.created[name] = set(rules)
                extra = f"d{i}(x) :- c{i}(x)"
                status, _ = call(self.base, "POST", f"/v1/policies/{name}/rules", {"rule": extra})
                if status != 201:
                    return
                self.created[name].add(extra)
            except (OSError, http.client.HTTPException):  # the server is gone
                return
            i += 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_kill_9_during_writes_loses_no_acknowledged_write(tmp_path: Path, backend: str) -> None:
    url = database(backend)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port, url)
    try:
        writers = [Writer(base, "a"), Writer(base, "b")]
        for w in writers:
            w.start()
        time.sleep(1.5)
        proc.send_signal(signal.SIGKILL)  # while both write
        proc.wait(timeout=10)
        for w in writers:
            w.stop.set()
            w.join(timeout=15)
        acknowledged = {p: r for w in writers for p, r in w.created.items()}
        assert len(acknowledged) >= 4, "the writers did not get going before the kill"

        proc = start(tmp_path, port, url)
        status, body = call(base, "GET", "/v1/policies")
        assert status == 200
        present = {p["name"] for p in body["results"]} - {"classification", "action"}
        assert set(acknowledged) <= present
        for name in present:
            status, rules = call(base, "GET", f"/v1/policies/{name}/rules")
            assert status == 200
            texts = {r["rule"] for r in rules["results"]}
            i = name.rsplit("_", 1)[1]
            created_with = {f"a{i}(x) :- b{i}(x)", f"c{i}(x) :- a{i}(x)"}
            assert created_with <= texts, f"{name} is half-written: {texts}"
            assert acknowledged.get(name, set()) <= texts, f"{name} lost a rule"
            status, _rows = call(base, "GET", f"/v1/policies/{name}/tables/a{i}/rows")
            assert status == 200  # the engine loaded it and evaluates it
    finally:
        proc.kill()
        proc.wait(timeout=10)
        drop(backend, url)


class Outage:
    """Takes a test database away from the server and gives it back, without touching the
    shared database server: PostgreSQL refuses connections to that database; MariaDB locks
    the account the server uses. Either way the open connections are killed."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.name = url.rsplit("/", 1)[1]
        self.admin = create_engine(
            f"{SERVERS[backend]}/{ADMIN_DATABASE[backend]}", isolation_level="AUTOCOMMIT"
        )
        self.url = url
        if backend == "mariadb":  # the server connects as its own account
            with self.admin.connect() as c:
                c.execute(text(f"CREATE USER '{self.name}'@'%' IDENTIFIED BY 'pw'"))
                c.execute(text(f"GRANT ALL ON {self.name}.* TO '{self.name}'@'%'"))
            host = SERVERS[backend].split("@", 1)[1]
            self.url = f"mysql+pymysql://{self.name}:pw@{host}/{self.name}"

    def begin(self) -> None:
        with self.admin.connect() as c:
            if self.backend == "postgresql":
                c.execute(text(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false"))
                c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": self.name},
                )
            else:
                c.execute(text(f"ALTER USER '{self.name}'@'%' ACCOUNT LOCK"))
                ids = c.execute(
                    text("SELECT id FROM information_schema.processlist WHERE user = :u"),
                    {"u": self.name},
                ).scalars()
                for pid in list(ids):
                    c.execute(text(f"KILL {int(pid)}"))

    def end(self) -> None:
        with self.admin.connect() as c:
            if self.backend == "postgresql":
                c.execute(text(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true"))
            else:
                c.execute(text(f"ALTER USER '{self.name}'@'%' ACCOUNT UNLOCK"))

    def close(self) -> None:
        if self.backend == "mariadb":
            with self.admin.connect() as c:
                c.execute(text(f"DROP USER IF EXISTS '{self.name}'@'%'"))
        self.admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_while_the_database_is_away_writes_are_503_and_reads_go_on(
    tmp_path: Path, backend: str
) -> None:
    url = database(backend)
    outage = Outage(backend, url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port, outage.url)
    try:
        assert call(base, "POST", "/v1/policies", {"name": "p1"})[0] == 201
        assert call(base, "POST", "/v1/policies/p1/rules", {"rule": "q(1)"})[0] == 201
        outage.begin()
        assert call(base, "POST", "/v1/policies", {"name": "p2"})[0] == 503
        assert call(base, "POST", "/v1/policies/p1/rules", {"rule": "q(2)"})[0] == 503
        assert call(base, "GET", "/v1/policies/p1/tables/q/rows") == (
            200,
            {"results": [{"data": [1]}]},
        )
        status, body = call(base, "GET", "/v1/policies")
        assert status == 200 and "p1" in {p["name"] for p in body["results"]}
        outage.end()
        deadline = time.monotonic() + 15
        while call(base, "POST", "/v1/policies", {"name": "p3"})[0] != 201:
            assert time.monotonic() < deadline, "writes did not come back with the database"
            time.sleep(0.2)
        status, body = call(base, "GET", "/v1/policies")
        assert {p["name"] for p in body["results"]} >= {"p1", "p3"}
        assert "p2" not in {p["name"] for p in body["results"]}
        assert call(base, "GET", "/v1/policies/p1/rules")[1]["results"][0]["rule"] == "q(1)"
        assert len(call(base, "GET", "/v1/policies/p1/rules")[1]["results"]) == 1
    finally:
        proc.kill()
        proc.wait(timeout=10)
        outage.end()
        outage.close()
        drop(backend, url)
