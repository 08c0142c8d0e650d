"""deploy/haproxy.cfg: HAProxy in front of the Congress API nodes.

The file must pass ``haproxy -c``; then a copy, moved to free ports, runs in front of two tiny
HTTP servers standing in for the API nodes pe1 and pe2, to check what the file promises:
round robin, stickiness by the SERVERID cookie, health checks on the readiness check
(GET /healthcheck?details=true), and no failed request when a node dies, except a
non-idempotent one that had reached it.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "deploy" / "haproxy.cfg"
READINESS = "/healthcheck?details=true"
"""The health check's path: Congress's deep readiness check (503 when the node cannot serve)."""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a connection cut by Node.stop


class Node:
    """An API node: answers its name with 200, and GET /healthcheck?details=true (only that
    path) with 200 while healthy, 503 while unhealthy; any other path counts as a request
    (so a check on a wrong path would not notice an unhealthy node). A broken node
    reads each other request and closes the connection without an answer, as a node killed
    (kill -9) in the middle of the request would."""

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.healthy = True
        self.broken = False
        self.requests: list[tuple[str, str | None]] = []  # (method, Cookie header)
        self.connections: set[socket.socket] = set()
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                node.connections.add(self.connection)

            def finish(self) -> None:
                node.connections.discard(self.connection)
                super().finish()

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path == READINESS:
                    status = 200 if node.healthy else 503
                else:
                    node.requests.append((self.command, self.headers.get("Cookie")))
                    if node.broken:
                        self.close_connection = True
                        return
                    status = 200
                # the whole answer in one write: a node cut off later has answered, one cut
                # off before has not (headers then body would leave a window where HAProxy
                # has started an answer it can no longer send elsewhere)
                body = node.name.encode()
                head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                head += f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
                self.wfile.write(head.encode() + body)

            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """The node's process is gone, as after kill -9: its open connections are cut and new
        ones are refused."""
        self.server.shutdown()
        self.server.server_close()
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join()

    def served(self, method: str) -> int:
        return sum(1 for m, _ in self.requests if m == method)


@dataclass
class Balancer:
    port: int
    stats_socket: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def request(
        self, method: str = "GET", cookie: str | None = None
    ) -> tuple[int, str, str | None]:
        """(status, body, Set-Cookie) of one request to /v1/policies through HAProxy."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/policies",
            method=method,
            data=b"{}" if method in ("POST", "PUT") else None,
        )
        if cookie is not None:
            req.add_header("Cookie", cookie)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode(), resp.headers.get("Set-Cookie")
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read().decode(), None

    def server_status(self) -> dict[str, str]:
        """pe1 and pe2's check status from the runtime API (UP, DOWN, or going DOWN/UP)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "congress_api" and row["svname"] in ("pe1", "pe2")
        }

    def wait_status(self, name: str, status: str, seconds: float = 4) -> None:
        """Wait for a check status. Checks every second, down after 2 failures and up after 2
        successes take about 2 s; HAProxy's defaults (every 2 s, 3 and 2) would not fit."""
        deadline = time.monotonic() + seconds
        while (seen := self.server_status().get(name)) != status:
            assert time.monotonic() < deadline, f"{name} is {seen}, not {status}"
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/haproxy.cfg should contain {old!r} once"
    return text.replace(old, new)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (which PID 1 may take a while to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _stop_daemon(pidfile: Path) -> None:
    if not pidfile.exists():
        return
    for pid in map(int, pidfile.read_text().split()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def balancer(haproxy: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Balancer]:
    """deploy/haproxy.cfg on free ports, with its pid file and runtime API socket in tmp_path,
    in front of pe1 and pe2, both up."""
    nodes = {name: Node(name) for name in ("pe1", "pe2")}
    front = _free_port()
    pidfile = tmp_path / "haproxy.pid"
    stats = tmp_path / "admin.sock"
    text = CFG.read_text()
    text = _replace_once(text, "bind *:1789", f"bind 127.0.0.1:{front}")
    text = _replace_once(text, "pe1 127.0.0.1:1790", f"pe1 127.0.0.1:{nodes['pe1'].port}")
    text = _replace_once(text, "pe2 127.0.0.1:1791", f"pe2 127.0.0.1:{nodes['pe2'].port}")
    text = _replace_once(text, "pidfile /run/haproxy.pid", f"pidfile {pidfile}")
    text = _replace_once(text, "stats socket /run/haproxy/admin.sock", f"stats socket {stats}")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)

    def stop_all() -> None:
        _stop_daemon(pidfile)
        for node in nodes.values():
            if node.thread.is_alive():
                node.stop()

    request.addfinalizer(stop_all)
    with (tmp_path / "haproxy.log").open("w") as log:
        started = subprocess.run(
            [haproxy, "-D", "-f", str(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            timeout=30,
        )
    assert started.returncode == 0, (tmp_path / "haproxy.log").read_text()
    lb = Balancer(front, stats, nodes)
    lb.wait_status("pe1", "UP")
    lb.wait_status("pe2", "UP")
    yield lb


def test_config_is_valid(haproxy: str, tmp_path: Path) -> None:
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(CFG)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout + checked.stderr
    # and the check does reject a broken file
    broken = tmp_path / "broken.cfg"
    broken.write_text(CFG.read_text().replace("balance roundrobin", "balance sometimes"))
    rejected = subprocess.run(
        [haproxy, "-c", "-f", str(broken)], capture_output=True, text=True, timeout=30
    )
    assert rejected.returncode != 0


def test_round_robin_without_cookie(balancer: Balancer) -> None:
    answers = [balancer.request() for _ in range(6)]
    assert [body for _, body, _ in answers] in (["pe1", "pe2"] * 3, ["pe2", "pe1"] * 3)
    for status, body, set_cookie in answers:
        assert status == 200
        # the answer pins the client to the node that gave it
        assert set_cookie is not None and set_cookie.startswith(f"SERVERID={body}")


def test_cookie_pins_the_client_to_its_node(balancer: Balancer) -> None:
    for name in ("pe2", "pe1"):
        for _ in range(4):
            status, body, _ = balancer.request(cookie=f"SERVERID={name}")
            assert (status, body) == (200, name)
    # the node does not see HAProxy's cookie (indirect), and keeps the client's own
    status, body, _ = balancer.request(cookie="SERVERID=pe1; lang=en")
    assert (status, body) == (200, "pe1")
    assert balancer.nodes["pe1"].requests[-1] == ("GET", "lang=en")
    assert all(c is None for _, c in balancer.nodes["pe1"].requests[:-1])


def _all_answered_by(
    balancer: Balancer, name: str, methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE")
) -> Callable[[str | None], None]:
    def check(cookie: str | None) -> None:
        for method in methods:
            status, body, _ = balancer.request(method, cookie)
            assert (method, status, body) == (method, 200, name)

    return check


def test_a_stopped_node_fails_no_request(balancer: Balancer) -> None:
    pe1 = balancer.nodes["pe1"]
    # two clients keep reading, one of them pinned to pe1, while pe1 dies
    answers: list[tuple[int, str] | Exception] = []
    reading = threading.Event()
    reading.set()

    def client(cookie: str | None) -> None:
        while reading.is_set():
            try:
                answers.append(balancer.request("GET", cookie)[:2])
            except (OSError, HTTPException) as e:
                answers.append(e)

    clients = [threading.Thread(target=client, args=(c,)) for c in (None, "SERVERID=pe1")]
    for t in clients:
        t.start()
    try:
        time.sleep(0.3)
        pe1.stop()
        # at once, before the health checks notice: refused connections are sent to pe2,
        # whatever the method, even for clients pinned to pe1
        check = _all_answered_by(balancer, "pe2")
        for _ in range(3):
            check(None)
            check("SERVERID=pe1")
        assert balancer.server_status()["pe1"] != "DOWN", "too slow: the checks noticed first"
        # the health checks take pe1 out; requests still succeed
        balancer.wait_status("pe1", "DOWN")
        check(None)
        check("SERVERID=pe1")
    finally:
        reading.clear()
        for t in clients:
            t.join()
    failed = [a for a in answers if isinstance(a, Exception) or a[0] != 200]
    assert failed == [] and len(answers) > 20, (failed, len(answers))
    assert {a[1] for a in answers if not isinstance(a, Exception)} == {"pe1", "pe2"}
    # and put it back once it answers again
    balancer.nodes["pe1"] = Node("pe1", pe1.port)
    balancer.wait_status("pe1", "UP")
    assert {balancer.request()[1] for _ in range(4)} == {"pe1", "pe2"}


def test_a_node_dying_under_a_request(balancer: Balancer) -> None:
    pe1, pe2 = balancer.nodes["pe1"], balancer.nodes["pe2"]
    pe1.broken = True
    # a GET that reached pe1 and got no answer is sent again to pe2
    for _ in range(3):
        status, body, _ = balancer.request("GET", "SERVERID=pe1")
        assert (status, body) == (200, "pe2")
    assert pe1.served("GET") == 3
    # a POST may have been applied by pe1: it is not sent again, the client gets an error
    status, _, _ = balancer.request("POST", "SERVERID=pe1")
    assert status == 502
    assert (pe1.served("POST"), pe2.served("POST")) == (1, 0)


def test_health_check_takes_an_unhealthy_node_out(balancer: Balancer) -> None:
    balancer.nodes["pe1"].healthy = False
    balancer.wait_status("pe1", "DOWN")
    before = len(balancer.nodes["pe1"].requests)
    _all_answered_by(balancer, "pe2", ("GET", "POST"))(None)
    _all_answered_by(balancer, "pe2", ("GET", "POST"))("SERVERID=pe1")
    assert len(balancer.nodes["pe1"].requests) == before
    balancer.nodes["pe1"].healthy = True
    balancer.wait_status("pe1", "UP")
