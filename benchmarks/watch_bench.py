#!/usr/bin/env python3
"""Change-feed benchmark (issue 7): push -> event latency with 100 watchers on W1 at N=100k.

    .venv/bin/python benchmarks/watch_bench.py [--n 100000] [--watchers 100] [--changes 1000]

A real congress-server (SQLite, the embedded defaults) holds W1 at N (a `push` datasource with
its base tables, a policy `w1` with its rules) and `--watchers` clients follow `w1:error`
(`GET .../watch`). Each change puts one more host in deep maintenance (PUT of `host_maint`,
about 500 rows), or takes it out again: the active servers on it enter or leave `error`. For
each change the time from sending the PUT to each watcher receiving the event is measured
(p50, p99, max; target p99 <= 50 ms on one node). The watchers are read by one thread with
``selectors`` so that the client adds little to what it measures.

The cost of the history: the same run is made with `error` recorded in the history (the default
`[watch] tables`) and with no table watched (`[watch] tables =` empty); the PUT's answer time
and the push -> event latency are compared, and the history's own writes are read from
`/metrics` (`congress_history_*`, when the server exports them).

Baseline, in the same run (../shared/bench's plain-Python W1): for the same changes, the time a
hand-written evaluator needs to find which `error` rows changed, (a) re-checking the servers of
the changed host, (b) re-evaluating `error` in full and comparing (what polling costs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import shutil
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from api_bench import BENCH, start_server, w1_end_to_end  # noqa: E402

sys.path.insert(0, BENCH)
import adapter_plainpy  # noqa: E402
import gen_workloads  # noqa: E402
import wl  # noqa: E402

WATCH = "/v1/policies/w1/tables/error/watch"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def open_watchers(port: int, count: int) -> tuple[selectors.DefaultSelector, list[socket.socket]]:
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(
            f"GET {WATCH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
    return sel, socks


tails: dict[int, bytes] = {}


def changes_in(data: bytes) -> int:
    return data.count(b"event: insert") + data.count(b"event: delete")


def read_events(
    sel: selectors.DefaultSelector, wanted: int, counts: dict[int, int], timeout: float
) -> dict[int, float]:
    """Read until every socket has seen ``wanted`` change events (insert/delete) in all: the
    arrival time of the ``wanted``-th per socket."""
    arrived: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(arrived) < len(counts):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(arrived)} of {len(counts)} watchers got change {wanted}")
        for key, _ in sel.select(timeout=1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(1 << 16)
            now = time.perf_counter()
            if not data:
                raise SystemExit("a watcher's stream ended")
            fd = sock.fileno()
            tail = tails.get(fd, b"")  # an event's name may straddle two reads
            counts[fd] += changes_in(tail + data) - changes_in(tail)
            tails[fd] = (tail + data)[-16:]
            if counts[fd] >= wanted and fd not in arrived:
                arrived[fd] = now
    return arrived


def put(base: str, path: str, body: Any) -> float:
    data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="PUT")
    req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
    return time.perf_counter() - t0


def maintenance_changes(n: int, count: int) -> tuple[list[list[Any]], list[str]]:
    """The base host_maint rows and ``count`` hosts (each with an active server not in error)
    to put in deep maintenance and take out again."""
    facts, _ = gen_workloads.w1_facts(n)
    tables = wl.by_table(facts)
    base = [list(r) for r in tables["host_maint"]]
    in_maint = {r[0] for r in base}
    w1 = adapter_plainpy.W1(facts)
    errors = w1.error_all()
    hosts = sorted(
        {
            s[2]
            for s in tables["servers"]
            if s[4] == "ACTIVE" and s[0] not in errors and s[2] not in in_maint
        }
    )
    rnd = random.Random(7)
    return base, rnd.sample(hosts, min(count, len(hosts)))


def baseline(n: int, hosts: list[str], changes: int) -> tuple[list[float], list[float]]:
    """Per change: (a) re-check the servers on the changed host; (b) re-evaluate and diff."""
    facts, _ = gen_workloads.w1_facts(n)
    w1 = adapter_plainpy.W1(facts)
    on_host: dict[str, list[str]] = {}
    for vm, s in w1.servers.items():
        on_host.setdefault(s[2], []).append(vm)
    targeted, full = [], []
    current = w1.error_all()
    for i in range(changes):
        host = hosts[(i // 2) % len(hosts)]
        op = "insert" if i % 2 == 0 else "delete"
        t0 = time.perf_counter()
        w1.apply({"op": op, "table": "host_maint", "row": [host, 5]})
        changed = {vm for vm in on_host.get(host, ()) if w1.error_vm(vm) != (vm in current)}
        targeted.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        now = w1.error_all()
        _ = (now - current, current - now)
        full.append(time.perf_counter() - t0)
        if changed != now ^ current:
            raise SystemExit(f"baseline: re-checking {host}'s servers missed a change")
        current = now
    return targeted, full


def run(n: int, watchers: int, changes: int, history: bool) -> dict[str, Any]:
    state = tempfile.mkdtemp(prefix="congress-watch-bench-")
    extra = "" if history else "[watch]\ntables =\n"
    proc, base = start_server(state, extra)
    try:
        seconds, answers = w1_end_to_end(base, n)
        port = int(base.rsplit(":", 1)[1])
        base_rows, hosts = maintenance_changes(n, changes)
        sel, socks = open_watchers(port, watchers)
        counts = {s.fileno(): 0 for s in socks}
        # the snapshot (and the response headers) first
        snap: dict[int, bytearray] = {s.fileno(): bytearray() for s in socks}
        deadline = time.monotonic() + 120
        while any(b"event: snapshot" not in b for b in snap.values()):
            if time.monotonic() > deadline:
                raise SystemExit("the watchers did not all get their snapshot")
            for key, _ in sel.select(timeout=1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                snap[sock.fileno()] += sock.recv(1 << 20)
        before = history_figures(base)
        latencies: list[float] = []
        puts: list[float] = []
        for i in range(changes):
            host = hosts[(i // 2) % len(hosts)]
            rows = [*base_rows, [host, 5]] if i % 2 == 0 else base_rows
            t0 = time.perf_counter()
            puts.append(put(base, "/v1/data-sources/ds/tables/host_maint/rows", rows))
            arrived = read_events(sel, i + 1, counts, 30)
            latencies.extend(t - t0 for t in arrived.values())
        after = history_figures(base)
        for s in socks:
            s.close()
        history_lines = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
        return {
            "load_s": seconds,
            "errors": answers,
            "lat": latencies,
            "put": puts,
            "history": history_lines,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


def history_figures(base: str) -> dict[str, float]:
    """The history's counters in /metrics (``congress_history_*``)."""
    text = urllib.request.urlopen(base + "/metrics", timeout=30).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("congress_history") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--changes", type=int, default=1000)
    a = ap.parse_args()
    with_history = run(a.n, a.watchers, a.changes, history=True)
    without = run(a.n, a.watchers, a.changes, history=False)
    _, hosts = maintenance_changes(a.n, a.changes)
    targeted, full = baseline(a.n, hosts, a.changes)
    lat = with_history["lat"]
    p99 = pct(lat, 0.99)
    print(f"W1 N={a.n}: {with_history['errors']} error rows; {a.watchers} watchers; ")
    print(f"{a.changes} changes (a host in or out of deep maintenance)\n")
    print("| figure | p50 | p99 | max | target |")
    print("|---|---|---|---|---|")
    print(
        f"| push -> event at each watcher ({len(lat)} events) | {ms(pct(lat, 0.5))} | "
        f"{ms(p99)} | {ms(max(lat))} | p99 <= 50 ms: {'met' if p99 <= 0.05 else 'NOT met'} |"
    )
    lat0 = without["lat"]
    print(
        f"| the same, no table watched (no history) | {ms(pct(lat0, 0.5))} | "
        f"{ms(pct(lat0, 0.99))} | {ms(max(lat0))} | |"
    )
    print(
        f"| PUT answered, history of `error` recorded | {ms(pct(with_history['put'], 0.5))} | "
        f"{ms(pct(with_history['put'], 0.99))} | {ms(max(with_history['put']))} | |"
    )
    print(
        f"| PUT answered, no history | {ms(pct(without['put'], 0.5))} | "
        f"{ms(pct(without['put'], 0.99))} | {ms(max(without['put']))} | |"
    )
    print(
        f"| baseline: re-check the host's servers | {ms(statistics.median(targeted))} | "
        f"{ms(pct(targeted, 0.99))} | {ms(max(targeted))} | |"
    )
    print(
        f"| baseline: re-evaluate `error` and diff (polling) | {ms(statistics.median(full))} | "
        f"{ms(pct(full, 0.99))} | {ms(max(full))} | |"
    )
    mean_with = statistics.mean(with_history["put"])
    mean_without = statistics.mean(without["put"])
    print(
        f"\nhistory cost per change (mean PUT answer, with - without): "
        f"{(mean_with - mean_without) * 1000:+.2f} ms"
    )
    recorded = with_history["history"].get("congress_history_recorded_total", 0.0)
    seconds = with_history["history"].get("congress_history_write_seconds_total", 0.0)
    if recorded:
        print(
            f"history writes during the changes: {recorded:.0f} rows recorded in {seconds:.3f} s "
            f"of the writer thread ({seconds / a.changes * 1000:.2f} ms per change, "
            f"{seconds / recorded * 1000:.3f} ms per row; off the engine thread)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
