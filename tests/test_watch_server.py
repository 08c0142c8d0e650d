"""Change feeds served by a real congress-server (uvicorn): the SSE wire format, resuming,
keep-alives, many watchers without a thread each, and streams that end when the server stops."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from test_server import _call, _free_port, _start

WATCH = "/v1/policies/classification/tables/error/watch"


def start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    return _start(tmp_path, port, "[watch]\nfeed_keepalive_seconds = 1\n"), port


@dataclass
class Sse:
    """A minimal SSE client over http.client (what docs/watching.md's example does)."""

    port: int
    last_event_id: str | None = None
    conn: http.client.HTTPConnection = field(init=False)
    resp: http.client.HTTPResponse = field(init=False)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self.conn.request("GET", WATCH, headers=headers)
        self.resp = self.conn.getresponse()

    def lines(self) -> Iterator[str]:
        while True:
            line = self.resp.readline()
            if not line:
                return
            yield line.decode().rstrip("\n")

    def event(self) -> dict[str, Any]:
        """The next event: ``{"kind", "id", "rows", ...}``; comments are counted."""
        out: dict[str, Any] = {"comments": 0}
        for line in self.lines():
            if line.startswith(":"):
                out["comments"] += 1
            elif line.startswith("id: "):
                out["id"] = line[4:]
            elif line.startswith("event: "):
                out["kind"] = line[7:]
            elif line.startswith("data: "):
                out.update(json.loads(line[6:]))
            elif line.startswith("retry: "):
                out["retry"] = int(line[7:])
            elif line == "" and "kind" in out:
                return out
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start(tmp_path_factory.mktemp("watch"))
    base = f"http://127.0.0.1:{port}"
    status, body = _call(
        base,
        "POST",
        "/v1/data-sources",
        {"name": "inv", "driver": "push", "config": {"tables": {"servers": ["id", "status"]}}},
    )
    assert status == 201, body
    status, body = _call(
        base,
        "POST",
        "/v1/policies/classification/rules",
        {"rule": 'error(x) :- inv:servers(x, "ERROR")'},
    )
    assert status == 201, body
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def push(port: int, rows: list[list[str]]) -> None:
    status, body = _call(
        f"http://127.0.0.1:{port}", "PUT", "/v1/data-sources/inv/tables/servers/rows", rows
    )
    assert status == 200, body


def test_a_feed_sends_a_snapshot_then_inserts_and_deletes(server: int) -> None:
    push(server, [["a", "ERROR"], ["b", "OK"]])
    sse = Sse(server)
    assert sse.resp.status == 200
    assert sse.resp.getheader("Content-Type", "").startswith("text/event-stream")
    assert sse.resp.getheader("Cache-Control") == "no-cache"
    first = sse.event()
    assert first["kind"] == "snapshot" and first["rows"] == [["a"]] and first["retry"] == 2000
    push(server, [["b", "ERROR"]])
    gone, came = sse.event(), sse.event()
    assert (gone["kind"], gone["rows"]) == ("delete", [["a"]])
    assert (came["kind"], came["rows"]) == ("insert", [["b"]])
    assert isinstance(came["revision"], int) and came["time"].endswith("+00:00")
    assert int(came["id"].rsplit("-", 1)[1]) > int(gone["id"].rsplit("-", 1)[1])
    sse.close()


def test_resume_with_last_event_id_and_reset_for_a_foreign_id(server: int) -> None:
    push(server, [["a", "ERROR"]])
    sse = Sse(server)
    snap = sse.event()
    sse.close()
    push(server, [["a", "ERROR"], ["c", "ERROR"]])
    push(server, [["c", "ERROR"]])
    again = Sse(server, last_event_id=snap["id"])
    missed = [again.event(), again.event()]
    assert [(e["kind"], e["rows"]) for e in missed] == [("insert", [["c"]]), ("delete", [["a"]])]
    again.close()
    foreign = Sse(server, last_event_id="0123456789ab-7")
    reset, fresh = foreign.event(), foreign.event()
    assert reset["kind"] == "reset" and "id" not in reset
    assert (fresh["kind"], fresh["rows"]) == ("snapshot", [["c"]])
    foreign.close()


def test_an_idle_feed_gets_keepalive_comments(server: int) -> None:
    sse = Sse(server)
    sse.event()
    deadline = time.monotonic() + 5
    comments = 0
    for line in sse.lines():
        if line.startswith(":"):
            comments += 1
            break
        assert time.monotonic() < deadline
    assert comments == 1
    sse.close()


def test_an_unknown_table_is_a_404_not_a_stream(server: int) -> None:
    status, body = _call(
        f"http://127.0.0.1:{server}", "GET", "/v1/policies/classification/tables/nope/watch"
    )
    assert status == 404
    assert "nope" in body["error"]["message"]


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def test_150_watchers_are_served_without_a_thread_each(
    tmp_path: Path,
) -> None:
    proc, port = start(tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        _call(
            base,
            "POST",
            "/v1/data-sources",
            {"name": "inv", "driver": "push", "config": {"tables": {"servers": ["id", "status"]}}},
        )
        _call(
            base,
            "POST",
            "/v1/policies/classification/rules",
            {"rule": 'error(x) :- inv:servers(x, "ERROR")'},
        )
        push(port, [])
        before = threads_of(proc.pid)
        watchers = [Sse(port) for _ in range(150)]
        for w in watchers:
            assert w.event()["kind"] == "snapshot"
        during = threads_of(proc.pid)
        push(port, [["x", "ERROR"]])
        for w in watchers:
            e = w.event()
            assert (e["kind"], e["rows"]) == ("insert", [["x"]])
        assert during - before < 20, (before, during)
        # the server stops at once, streams open: they end, and it exits cleanly
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - t0 < 10
        for w in watchers:
            for line in w.lines():  # ends (no timeout): the server closed the stream
                assert line == "" or line.startswith(":"), line
            w.close()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_metrics_count_the_watchers_and_the_history(server: int) -> None:
    def figures() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{server}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("congress_watchers", "congress_history_recorded_total"))
        }

    before = figures()
    sse = Sse(server)
    sse.event()
    push(server, [])
    push(server, [["m1", "ERROR"], ["m2", "ERROR"]])
    while (event := sse.event())["kind"] != "insert":  # rows from the tests before go first
        assert event["kind"] == "delete"
    assert event["rows"] == [["m1"], ["m2"]]
    deadline = time.monotonic() + 10
    while True:  # the history's writer thread records the two rows
        now = figures()
        if now["congress_history_recorded_total"] >= before["congress_history_recorded_total"] + 2:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    assert now["congress_watchers"] == before["congress_watchers"] + 1
    sse.close()
