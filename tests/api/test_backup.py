"""Backup and restore with the databases' own tools (docs/backup.md): a node's whole state in
PostgreSQL (``pg_dump``/``pg_restore``), MariaDB (``mariadb-dump``/``mariadb``) or SQLite (the
online backup API, what ``sqlite3 .backup`` uses), plus the encryption key file, restored into
a new database, serves everything it served before: policies and rules, the library,
datasources whose secrets still decrypt (a bearer token a JSON API checks), persisted push
data, the history of watched tables and the execution log.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_client import Client
from oslo_config import cfg
from sqlalchemy import create_engine, text

from congress.cmd.server import Node, build_node
from congress.common import config
from congress.db import migration

TOKEN = "s3cret-bearer"
BACKENDS = ("postgresql", "mariadb", "sqlite")
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306"


class Inventory(BaseHTTPRequestHandler):
    """A JSON API that answers its servers only to the right bearer token."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps([{"id": "vm1", "status": "ERROR"}, {"id": "vm2", "status": "OK"}])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def inventory() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Inventory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def node_on(state: Path, keys: Path, url: str) -> Node:
    conf = cfg.ConfigOpts()
    conf_file = state / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {state}\nauth_strategy = noauth\n"
        f"encryption_key_path = {keys}\n[database]\nconnection = {url}\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    return build_node(conf)


def fill(api: Client, inventory: str) -> None:
    tables = {"servers": {"path": "/servers", "columns": {"id": "id", "status": "status"}}}
    config_ = {
        "endpoint": inventory,
        "tables": json.dumps(tables),
        "auth": "bearer",
        "token": TOKEN,
        "poll_time": "1",
    }
    assert (
        api.post("/v1/data-sources", {"name": "inv", "driver": "json", "config": config_})[0] == 201
    )
    push = {"tables": json.dumps({"hosts": ["name", "zone"]}), "persist_data": "true"}
    assert api.post("/v1/data-sources", {"name": "dc", "driver": "push", "config": push})[0] == 201
    assert (
        api.put("/v1/data-sources/dc/tables/hosts/rows", [["h1", "az1"], ["h2", "az2"]])[0] == 200
    )
    rules = [
        {"rule": 'error(vm) :- inv:servers(id=vm, status="ERROR")', "name": "down"},
        {"rule": 'warning(h) :- dc:hosts(name=h, zone="az2")', "comment": "a zone to drain"},
    ]
    status, body = api.post("/v1/policies", {"name": "ops", "rules": rules})
    assert status == 201, body
    lib = {"name": "Mine", "description": "kept", "rules": [{"rule": "p(1)"}]}
    assert api.post("/v1/librarypolicies", lib)[0] == 201
    wait_for(
        lambda: (
            api.get("/v1/policies/ops/tables/error/rows")[1] == {"results": [{"data": ["vm1"]}]}
        ),
        "the JSON datasource polls with its token",
    )


def state_of(api: Client) -> dict[str, Any]:
    """What a user sees of the node (ids and times included: a restore keeps them)."""
    policies = api.get("/v1/policies")[1]["results"]
    return {
        "policies": policies,
        "rules": {p["name"]: api.get(f"/v1/policies/{p['name']}/rules")[1] for p in policies},
        "datasources": api.get("/v1/data-sources")[1],
        "hosts": api.get("/v1/data-sources/dc/tables/hosts/rows")[1],
        "library": api.get("/v1/librarypolicies")[1],
        "history": api.get("/v1/policies/ops/tables/error/history")[1],
        "warning": api.get("/v1/policies/ops/tables/warning/rows")[1],
    }


def run(argv: list[str], **kw: Any) -> None:
    kw.setdefault("stdout", subprocess.PIPE)
    done = subprocess.run(argv, stderr=subprocess.PIPE, text=True, timeout=120, check=False, **kw)
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr[-2000:]}"


def _on_server(backend: str, *statements: str) -> str:
    """Run ``statements`` on the server of ``backend`` (autocommit); answer its URL."""
    server = PG if backend == "postgresql" else MARIADB
    admin = create_engine(
        f"{server}/{'postgres' if backend == 'postgresql' else 'mysql'}",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    admin.dispose()
    return server


def _drop(backend: str, name: str) -> str:
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    return f"DROP DATABASE IF EXISTS {name}{force}"


def create_database(backend: str, name: str) -> str:
    suffix = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if backend == "mariadb" else ""
    server = _on_server(backend, _drop(backend, name), f"CREATE DATABASE {name}{suffix}")
    return f"{server}/{name}"


def drop_database(backend: str, name: str) -> None:
    _on_server(backend, _drop(backend, name))


def backup_and_restore(backend: str, tmp: Path, source: str, target: str) -> None:
    """The commands of docs/backup.md, for ``backend``."""
    dump = tmp / "congress.dump"
    if backend == "postgresql":
        run(["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(dump), source])
        run(["pg_restore", "-h", "127.0.0.1", "-U", "postgres", "-d", target, str(dump)])
    elif backend == "mariadb":
        tool = shutil.which("mariadb-dump") or "mysqldump"
        with dump.open("w") as out:
            run(
                [tool, "-h", "127.0.0.1", "-u", "root", "--single-transaction", "--routines",
                 source],
                stdout=out,
            )  # fmt: skip
        client = shutil.which("mariadb") or "mysql"
        with dump.open() as into:
            run([client, "-h", "127.0.0.1", "-u", "root", target], stdin=into)
    else:
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restored_backup_serves_everything(backend: str, tmp_path: Path, inventory: str) -> None:
    names = (f"congress_test_backupsrc_{os.getpid()}", f"congress_test_backupdst_{os.getpid()}")
    keys = tmp_path / "keys"
    if backend == "sqlite":
        source = str(tmp_path / "congress.sqlite")
        target = str(tmp_path / "restored.sqlite")
        source_url, target_url = f"sqlite:///{source}", f"sqlite:///{target}"
    else:
        source_url = create_database(backend, names[0])
        target_url = create_database(backend, names[1])
        source, target = names
        migration.upgrade(source_url)  # what congress-db-manage upgrade head does
    try:
        state = tmp_path / "node1"
        state.mkdir()
        node = node_on(state, keys, source_url)
        try:
            api = Client(node.app)
            fill(api, inventory)
            history = node.services.history if node.services else None
            assert history is not None
            # the first poll's rows are recorded by the reconciliation a few seconds after it
            wait_for(
                lambda: (
                    history.flush()
                    and bool(api.get("/v1/policies/ops/tables/error/history")[1]["results"])
                ),
                "the history records the error",
            )
            before = state_of(api)
        finally:
            node.stop()
        # the backup: the database and the key file (kept apart from the database's backups)
        backup_and_restore(backend, tmp_path, source, target)
        restored_keys = tmp_path / "restored-keys"
        shutil.copytree(keys, restored_keys)

        state2 = tmp_path / "node2"
        state2.mkdir()
        node = node_on(state2, restored_keys, target_url)
        try:
            api = Client(node.app)
            # the JSON datasource polls again: its token decrypted with the restored key
            wait_for(
                lambda: (
                    api.get("/v1/policies/ops/tables/error/rows")[1]
                    == {"results": [{"data": ["vm1"]}]}
                ),
                "the restored JSON datasource polls with its token",
            )
            status = api.get("/v1/data-sources/inv/status")[1]
            assert status["last_error"] == "None", status
            wait_for(
                lambda: api.get("/v1/policies/ops/tables/warning/rows")[1]["results"] != [],
                "the persisted push data is back",
            )
            after = state_of(api)
            assert after == before
            secrets = api.get("/v1/data-sources/inv")[1]["config"]
            assert secrets["token"] == "<hidden>"
        finally:
            node.stop()
    finally:
        if backend != "sqlite":
            for name in names:
                drop_database(backend, name)
