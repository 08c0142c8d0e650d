#!/usr/bin/env python3
"""API benchmark (issue 3): a real congress-server on 127.0.0.1.

1. W1 at N=100k end to end: create a `push` datasource for W1's base tables, PUT every table's
   rows, create a policy with W1's rules reading them, read every `error` row. Reports seconds
   (target <= 5 s) and checks the answer count against the plain-Python baseline's.
2. `wrk -t2 -c16 -d20s` on `GET .../rows` of a 100-row table: requests/s (target >= 1,500)
   and p99 latency (target <= 20 ms), once the server has settled after the load (the history
   of the load's `error` rows written). Needs Debian's `wrk`.

usage: .venv/bin/python benchmarks/api_bench.py [--n 100000] [--duration 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("CONGRESS_BENCH_DIR", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)

import gen_workloads  # noqa: E402
import wl  # noqa: E402

BASE_TABLES = {
    "servers": ["id", "name", "host", "tenant", "status"],
    "ports": ["id", "device", "network"],
    "networks": ["id", "tenant", "shared"],
    "tenant_group": ["tenant", "group"],
    "host_maint": ["host", "level"],
}


def call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=600) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def start_server(state: str, extra: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """Start congress-server on a free port with ``state`` as its state_path (``extra``:
    more configuration, appended to the file)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = os.path.join(state, "congress.conf")
    with open(conf, "w") as f:
        f.write(
            f"[DEFAULT]\nstate_path = {state}\nauth_strategy = noauth\n"
            f"bind_host = 127.0.0.1\nbind_port = {port}\n{extra}"
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "congress.cmd.server", "--config-file", conf],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            call(base, "GET", "/")
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("congress-server did not start")


def w1_end_to_end(base: str, n: int) -> tuple[float, int]:
    facts, _ = gen_workloads.w1_facts(n)
    tables = wl.by_table(facts)
    rules = [
        re.sub(r"\b(servers|ports|networks|tenant_group|host_maint)\(", r"ds:\1(", r)
        for r in gen_workloads.W1_RULES
    ]
    t0 = time.perf_counter()
    call(
        base,
        "POST",
        "/v1/data-sources",
        {"name": "ds", "driver": "push", "config": {"tables": json.dumps(BASE_TABLES)}},
    )
    for table, rows in tables.items():
        call(base, "PUT", f"/v1/data-sources/ds/tables/{table}/rows", [list(r) for r in rows])
    call(base, "POST", "/v1/policies", {"name": "w1", "rules": [{"rule": r} for r in rules]})
    rows = call(base, "GET", "/v1/policies/w1/tables/error/rows")["results"]
    return time.perf_counter() - t0, len(rows)


def settle(base: str, timeout: float = 120.0) -> float:
    """Wait until the server has written the history of what the load changed (its
    ``congress_history_recorded_total`` stays the same for a second); the seconds waited."""
    t0 = time.perf_counter()
    last = None
    while time.perf_counter() - t0 < timeout:
        with urllib.request.urlopen(base + "/metrics", timeout=30) as resp:
            text = resp.read().decode()
        now = [ln for ln in text.splitlines() if ln.startswith("congress_history_recorded")]
        if now == last:
            break
        last = now
        time.sleep(1.0)
    return time.perf_counter() - t0


def wrk(base: str, duration: int) -> tuple[float, float]:
    call(
        base,
        "POST",
        "/v1/data-sources",
        {"name": "small", "driver": "push", "config": {"tables": json.dumps({"t": ["a", "b"]})}},
    )
    call(base, "PUT", "/v1/data-sources/small/tables/t/rows", [[f"r{i}", i] for i in range(100)])
    call(
        base,
        "POST",
        "/v1/policies",
        {"name": "p100", "rules": [{"rule": "t(a, b) :- small:t(a, b)"}]},
    )
    url = base + "/v1/policies/p100/tables/t/rows"
    assert len(call(base, "GET", "/v1/policies/p100/tables/t/rows")["results"]) == 100
    return run_wrk(url, duration)


def run_wrk(url: str, duration: int) -> tuple[float, float]:
    """``wrk -t2 -c16 -d<duration>s`` on ``url``: requests/s and the p99 latency in ms."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m is not None
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error answers")
    return rps, p99


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=20)
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    state = tempfile.mkdtemp(prefix="congress-bench-")
    proc, base = start_server(state)
    try:
        seconds, answers = w1_end_to_end(base, a.n)
        settled = settle(base)  # the history of the 22,813 error rows is written meanwhile
        rps, p99 = wrk(base, a.duration)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)
    facts, _ = gen_workloads.w1_facts(a.n)
    sys.path.insert(0, BENCH)
    import adapter_plainpy

    expected = len(adapter_plainpy.W1(facts).error_all())
    print("| figure | measured | target | met |")
    print("|---|---|---|---|")
    print(
        f"| W1 N={a.n} end to end (push, policy, read `error`) | {seconds:.2f} s "
        f"({answers} rows, baseline {expected}) | <= 5 s | {'yes' if seconds <= 5 else 'NO'} |"
    )
    print(
        f"| GET rows of a 100-row table, wrk -t2 -c16 -d{a.duration}s | {rps:.0f} req/s | "
        f">= 1,500 | {'yes' if rps >= 1500 else 'NO'} |"
    )
    print(f"| same, p99 latency | {p99:.1f} ms | <= 20 ms | {'yes' if p99 <= 20 else 'NO'} |")
    print(f"\n(wrk started {settled:.1f} s after the load, once the history was written)")
    return 0 if answers == expected else 1


if __name__ == "__main__":
    sys.exit(main())
