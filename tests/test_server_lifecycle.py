"""congress-server as an operator runs it: SIGTERM under load drains and loses nothing
acknowledged, SIGHUP reloads the mutable options and the log level, the readiness check.

Each test runs a real ``congress-server`` process (every role, SQLite) and talks HTTP to it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    conf = tmp_path / "congress.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        f"bind_host = 127.0.0.1\nbind_port = {port}\n{extra}"
    )
    return conf


def start(
    conf: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """congress-server with ``conf``, its output in ``log``, once it answers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "congress.cmd.server", "--config-file", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
            cwd=ROOT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"congress-server exited: {log.read_text()[-3000:]}")
        try:
            if call(port, "GET", "/healthcheck").status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("congress-server did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return Answer(
            resp.status,
            json.loads(raw) if raw else None,
            {k.lower(): v for k, v in resp.getheaders()},
        )
    finally:
        conn.close()


# -- SIGTERM under load ------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # answer, refused (no connection), cut (connection closed before any answer), broken
    started: float
    ended: float
    status: int | None = None
    body: Any = None
    what: str = ""


def attempt(port: int, method: str, path: str, body: Any = None) -> Outcome:
    """One request on a new connection, and how it ended."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        try:
            conn.connect()
        except ConnectionRefusedError:
            return Outcome("refused", started, time.monotonic())
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
            # the listener closed with this connection still in its backlog: never accepted,
            # so never read (the same as a refused connection for the client)
            return Outcome("cut", started, time.monotonic(), what=repr(exc))
        try:
            raw = resp.read()
            parsed = json.loads(raw) if raw else None
        except Exception as exc:  # an answer cut in the middle
            return Outcome("broken", started, time.monotonic(), resp.status, what=repr(exc))
        return Outcome("answer", started, time.monotonic(), resp.status, parsed)
    except Exception as exc:
        return Outcome("broken", started, time.monotonic(), what=repr(exc))
    finally:
        conn.close()


class FeedReader(threading.Thread):
    """A change-feed client: reads the stream until it ends; ``clean`` when the server ended
    it with a complete chunked answer."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.data = b""
        self.clean = False
        self.error = ""
        self.connected = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", self.path)
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            self.connected.set()
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                self.data += chunk
            self.clean = True
        except Exception as exc:
            self.error = repr(exc)
        finally:
            self.connected.set()
            conn.close()


def test_sigterm_under_load_answers_every_request_and_keeps_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    port = free_port()
    conf = write_config(tmp_path, port, "graceful_shutdown_timeout = 20\n")
    log = tmp_path / "server.log"
    proc = start(conf, port, log)
    try:
        assert call(port, "POST", "/v1/policies", {"name": "load"}).status == 201
        assert call(port, "POST", "/v1/policies/load/rules", {"rule": 'p("seed")'}).status == 201
        feed = FeedReader(port, "/v1/policies/load/tables/p/watch")
        feed.start()
        assert feed.connected.wait(10) and not feed.error

        outcomes: list[tuple[str, Outcome]] = []
        lock = threading.Lock()
        stop_load = threading.Event()

        def load(kind: str, n: int) -> None:
            i = 0
            while not stop_load.is_set():
                i += 1
                if kind == "write":
                    rule = {"rule": f'p("w{n}-{i}")'}
                    out = attempt(port, "POST", "/v1/policies/load/rules", rule)
                else:
                    out = attempt(port, "GET", "/v1/policies/load/tables/p/rows")
                with lock:
                    outcomes.append((kind, out))
                if out.kind in ("refused", "cut"):
                    time.sleep(0.05)  # the node is going: keep knocking a little
                    if out.kind == "refused" and proc.poll() is not None:
                        return

        threads = [
            threading.Thread(target=load, args=(kind, n), daemon=True)
            for n, kind in enumerate(["write", "write", "write", "read", "read"])
        ]
        for t in threads:
            t.start()
        time.sleep(2.0)
        sigterm_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)  # well within graceful_shutdown_timeout + the services
        exited_at = time.monotonic()
        stop_load.set()
        for t in threads:
            t.join(30)
        feed.join(10)
    finally:
        stop(proc)
    server_log = log.read_text()
    assert rc == 0, server_log[-3000:]
    assert exited_at - sigterm_at < 25

    answered = [o for _, o in outcomes if o.kind == "answer"]
    assert len(answered) > 20, "the load did not run"
    bad = [o for _, o in outcomes if o.kind == "broken"]
    assert not bad, bad[:5]
    not_2xx = [o for o in answered if not 200 <= (o.status or 0) < 300]
    assert not not_2xx, not_2xx[:5]
    # no connection was refused or cut before the node was told to stop
    early = [o for _, o in outcomes if o.kind in ("refused", "cut") and o.ended < sigterm_at]
    assert not early, early[:5]
    # once stopping, new connections are refused
    assert any(o.kind == "refused" for _, o in outcomes)
    # the change feed ended with a complete answer, after its first events
    assert feed.clean, feed.error
    assert b"retry:" in feed.data and b"seed" in feed.data
    assert "stopping on signal 15" in server_log

    acknowledged = {
        o.body["id"]: o.body["rule"]
        for kind, o in outcomes
        if kind == "write" and o.kind == "answer" and o.status == 201
    }
    assert acknowledged
    proc = start(conf, port, log)  # every acknowledged write is in the database
    try:
        rules = call(port, "GET", "/v1/policies/load/rules").body["results"]
        stored = {r["id"]: r["rule"] for r in rules}
        missing = {k: v for k, v in acknowledged.items() if stored.get(k) != v}
        assert not missing, missing
        rows = call(port, "GET", "/v1/policies/load/tables/p/rows").body["results"]
        assert len(rows) == len(stored)  # each stored rule whole: one fact, one row
    finally:
        stop(proc)
    assert proc.returncode == 0


# -- SIGHUP ------------------------------------------------------------------------------------
def test_sighup_reloads_the_log_level_and_the_mutable_options(tmp_path: Path) -> None:
    port = free_port()
    extra = "debug = false\n[api]\nmin_revision_wait = 3\n"
    conf = write_config(tmp_path, port, extra)
    log = tmp_path / "server.log"
    proc = start(conf, port, log)
    try:
        wait_for = {"X-Congress-Min-Revision": "1000000"}
        started = time.monotonic()
        assert call(port, "GET", "/v1/policies", headers=wait_for).status == 503
        assert time.monotonic() - started >= 2.9  # min_revision_wait = 3
        assert " DEBUG " not in log.read_text()

        conf.write_text(
            conf.read_text()
            .replace("debug = false", "debug = true")
            .replace("min_revision_wait = 3", "min_revision_wait = 0.2")
            # not mutable: kept until a restart, with a warning
            .replace(f"bind_port = {port}", f"bind_port = {port}\nmax_simultaneous_requests = 7")
        )
        reloads = log.read_text().count("configuration reloaded")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while log.read_text().count("configuration reloaded") == reloads:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        text = log.read_text()
        assert "Option DEFAULT.debug changed from [false] to [true]" in text
        assert "Option api.min_revision_wait changed from [3] to [0.2]" in text
        assert "configuration reloaded: DEFAULT.debug, api.min_revision_wait changed" in text
        assert "Ignoring change to immutable option DEFAULT.max_simultaneous_requests" in text
        after = text[text.rindex("configuration reloaded") :]

        started = time.monotonic()
        assert call(port, "GET", "/v1/policies", headers=wait_for).status == 503
        assert time.monotonic() - started < 2.0  # the new min_revision_wait
        assert call(port, "GET", "/v1/policies").status == 200  # it keeps serving
        deadline = time.monotonic() + 10
        while " DEBUG " not in after:  # the new log level
            assert time.monotonic() < deadline, after[-2000:]
            call(port, "GET", "/v1/policies")
            time.sleep(0.2)
            text = log.read_text()
            after = text[text.rindex("configuration reloaded") :]
        assert proc.poll() is None
    finally:
        stop(proc)
    assert proc.returncode == 0


# -- readiness ---------------------------------------------------------------------------------
def test_readiness_details_of_a_serving_node(tmp_path: Path) -> None:
    port = free_port()
    proc = start(write_config(tmp_path, port), port, tmp_path / "server.log")
    try:
        tables = json.dumps({"servers": ["id", "status"]})
        body = {"name": "inv", "driver": "push", "config": {"tables": tables}}
        assert call(port, "POST", "/v1/data-sources", body).status == 201
        rows = [["vm1", "ACTIVE"]]
        assert call(port, "PUT", "/v1/data-sources/inv/tables/servers/rows", rows).status == 200
        a = call(port, "GET", "/healthcheck?details=true")
        assert a.status == 200, a.body
        assert a.body["status"] == "OK" and a.headers["cache-control"] == "no-store"
        assert {r["class"]: r["reason"] for r in a.body["reasons"]} == {
            "database": "OK",
            "bus": "OK",
            "policy_engine": "OK",
        }
        (inv,) = a.body["datasources"]
        assert inv["name"] == "inv" and inv["driver"] == "push" and inv["last_error"] is None
        assert 0 <= inv["last_updated_age"] < 60
        assert call(port, "GET", "/healthcheck").body == {"status": "OK", "policy_errors": {}}
    finally:
        stop(proc)


# -- systemd -----------------------------------------------------------------------------------
def test_systemd_notifications(tmp_path: Path) -> None:
    """Under ``Type=notify``: READY=1 once it serves, RELOADING=1 then READY=1 around a
    SIGHUP, STOPPING=1 on SIGTERM (deploy/systemd/)."""
    port = free_port()
    conf = write_config(tmp_path, port)
    with (
        tempfile.TemporaryDirectory(prefix="sd") as folder,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        path = str(Path(folder) / "notify")
        sock.bind(path)
        sock.settimeout(30)
        proc = start(conf, port, tmp_path / "server.log", env={"NOTIFY_SOCKET": path})
        try:
            assert sock.recv(4096).decode().split("\n")[0] == "READY=1"
            proc.send_signal(signal.SIGHUP)
            reloading = sock.recv(4096).decode().split("\n")
            assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
            assert sock.recv(4096).decode().split("\n")[0] == "READY=1"
            proc.send_signal(signal.SIGTERM)
            assert sock.recv(4096).decode().split("\n")[0] == "STOPPING=1"
            assert proc.wait(timeout=30) == 0
        finally:
            stop(proc)


def test_reload_puts_every_mutable_option_where_the_node_reads_it(tmp_path: Path) -> None:
    """``reload_config`` in process: each mutable option of Congress reaches the running
    node; an immutable one keeps its value."""
    from oslo_config import cfg

    from congress.cmd import server
    from congress.common import config

    conf_file = write_config(tmp_path, free_port(), "[enforcement]\nbreaker_max_actions = 100\n")
    conf = cfg.ConfigOpts()
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    node = server.build_node(conf)
    try:
        assert node.engine is not None and node.services is not None
        assert node.readiness is not None
        conf_file.write_text(
            conf_file.read_text().replace("breaker_max_actions = 100", "breaker_max_actions = 5")
            + "check_interval = 0.5\n[api]\nmin_revision_wait = 1.5\n"
            "healthcheck_revision_grace = 7\n[watch]\nfeed_keepalive_seconds = 4\n"
            "feed_buffer_events = 20\n"
        )
        changed = server.reload_config(conf, node, None)
        assert changed == [
            "api.healthcheck_revision_grace",
            "api.min_revision_wait",
            "enforcement.breaker_max_actions",
            "enforcement.check_interval",
            "watch.feed_keepalive_seconds",
        ]
        assert node.engine.enforcement.options.breaker_max_actions == 5
        assert node.engine.enforcement.options.check_interval == 0.5
        assert node.services.min_revision_wait == 1.5
        assert node.services.feed_keepalive == 4.0
        assert node.readiness.revision_grace == 7.0
        assert conf.watch.feed_buffer_events == 10000  # not mutable: until a restart
    finally:
        node.stop()
