"""The deep readiness check (``GET /healthcheck?details=true``) of real multi-process nodes:
503 while the node's database is gone or while its broker is out of reach, 200 again once the
broker is back; the plain ``/healthcheck`` answers 200 throughout (the process lives).

Nothing global is stopped: the database is one made for the test and dropped under the node;
the node reaches RabbitMQ through a TCP relay of the test, which is cut and restored.
"""

from __future__ import annotations

import pathlib
import signal
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import RABBIT, Cluster, drop_database, free_port, http, wait_until

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.slow]

READY = "/healthcheck?details=true"


class Relay:
    """A TCP relay from 127.0.0.1:``port`` to ``target``: ``cut`` closes its port and every
    connection through it (the broker seems gone), ``resume`` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._open = threading.Event()

    def resume(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
        listener.settimeout(0.2)
        self._listener = listener
        self._open.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        try:
            while self._open.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                client.settimeout(None)
                with self._lock:
                    self._sockets |= {client, upstream}
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        finally:
            listener.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _ready(node_url: str) -> tuple[int, Any]:
    a = http("GET", node_url + READY, timeout=15)
    return a.status, a.body


def _check(body: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = body["checks"][name]
    return found


@pytest.fixture
def relay() -> Iterator[Relay]:
    parsed = urllib.parse.urlsplit(RABBIT.split(",")[0])
    r = Relay((parsed.hostname or "127.0.0.1", parsed.port or 5672))
    r.resume()
    try:
        yield r
    finally:
        r.cut()


def test_a_node_whose_database_is_dropped_is_not_ready(tmp_path: pathlib.Path) -> None:
    c = Cluster("postgresql", tmp_path)
    try:
        node = c.start("pe1", "--api", "--policy-engine", "--datasources")
        _, body = wait_until(lambda: (s := _ready(node.url))[0] == 200 and s)
        assert body["status"] == "OK", body
        assert _check(body, "bus")["ok"] and _check(body, "database")["ok"]

        drop_database("postgresql", c.database)
        _, body = wait_until(lambda: (s := _ready(node.url))[0] == 503 and s)
        assert body["status"] == "UNAVAILABLE"
        assert not _check(body, "database")["ok"]
        assert _check(body, "database")["details"].startswith("unreachable")
        assert _check(body, "bus")["ok"]
        assert http("GET", node.url + "/healthcheck").status == 200  # it lives
        assert http("HEAD", node.url + READY).status == 503

        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)  # it still stops cleanly
        assert node.proc.wait(timeout=60) == 0, c.tail("pe1")
    finally:
        c.close()


def test_a_node_that_lost_its_broker_is_not_ready_until_it_is_back(
    tmp_path: pathlib.Path, relay: Relay
) -> None:
    url = urllib.parse.urlsplit(RABBIT.split(",")[0])
    through = f"{url.scheme}://{url.username}:{url.password}@127.0.0.1:{relay.port}{url.path}"
    c = Cluster("postgresql", tmp_path, options={"DEFAULT": {"transport_url": through}})
    try:
        node = c.start("pe1", "--api", "--policy-engine")
        _, body = wait_until(lambda: (s := _ready(node.url))[0] == 200 and s, timeout=30)
        assert _check(body, "bus")["ok"], body
        # no datasources node runs: named, but the node is ready
        assert not _check(body, "datasources")["ok"]

        relay.cut()
        _, body = wait_until(lambda: (s := _ready(node.url))[0] == 503 and s, timeout=30)
        assert body["status"] == "UNAVAILABLE"
        assert not _check(body, "bus")["ok"], body
        assert _check(body, "database")["ok"]
        assert http("GET", node.url + "/healthcheck").status == 200

        relay.resume()
        _, body = wait_until(lambda: (s := _ready(node.url))[0] == 200 and s, timeout=60)
        assert _check(body, "bus")["ok"]

        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)
        assert node.proc.wait(timeout=60) == 0, c.tail("pe1")
    finally:
        c.close()
