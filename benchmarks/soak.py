#!/usr/bin/env python3
"""Soak (issue 6): minutes of mixed traffic against a server, or the HA set-up through HAProxy.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--target single|ha] [--clients 4]

Each client thread loops over a mix of requests: 70% reads (rows of a policy table over a
datasource, the policy list, a datasource's status), 15% data pushes (a datasource table
replaced with a changed set of rows), 10% rule changes (a rule added, then deleted), 5%
simulate. Reported: requests per second, p50/p99 latency per kind, error count (any answer
other than the expected one; target 0), and the RSS of every Congress process sampled every 5 s,
with the slope of a least-squares line over the samples after the warm-up (the first fifth of
the run; target under 1 MB per minute).

``single`` starts one congress-server (SQLite); ``ha`` starts ``tests/ha/cluster.py``'s
deployment (ds, pe1, pe2 on RabbitMQ and PostgreSQL) behind HAProxy (``deploy/haproxy.cfg``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "ha"))

from api_bench import start_server  # noqa: E402

ROWS = 500  # rows in the soaked datasource table


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """The status and JSON body (an error's body too); the body gets the policy revision a
    write produced as ``_revision`` (from ``X-Congress-Revision``), for read-your-writes across
    nodes."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            answer = json.loads(raw) if raw else None
            revision = resp.headers.get("X-Congress-Revision")
            if isinstance(answer, dict) and revision:
                answer["_revision"] = revision
            return resp.status, answer
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, None


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, MB)."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def setup(base: str) -> None:
    tables = json.dumps({"servers": ["id", "status", "host"]})
    body = {"name": "inv", "driver": "push", "config": {"tables": tables}}
    assert request(base, "POST", "/v1/data-sources", body)[0] == 201
    time.sleep(1.0)  # announced to every engine
    assert request(base, "PUT", "/v1/data-sources/inv/tables/servers/rows", rows(0))[0] == 200
    rules = [
        {"rule": 'error(id) :- inv:servers(id, "ERROR", h)'},
        {"rule": "on_host(h, id) :- inv:servers(id, s, h)"},
    ]
    status, created = request(base, "POST", "/v1/policies", {"name": "soak", "rules": rules})
    assert status == 201
    # the clients read without X-Congress-Min-Revision: let every engine behind the load
    # balancer apply the new policy first (each read waits for it on the node it reaches)
    seen = {"X-Congress-Min-Revision": created.get("_revision", "0")}
    for _ in range(8):
        assert request(base, "GET", "/v1/policies/soak/tables/error/rows", headers=seen)[0] == 200


def rows(seed: int) -> list[list[Any]]:
    rnd = random.Random(seed)
    states = ["ACTIVE", "ACTIVE", "ACTIVE", "ERROR", "SHUTOFF"]
    return [[f"vm{i}", rnd.choice(states), f"host{i % 20}"] for i in range(ROWS)]


class Client(threading.Thread):
    def __init__(self, base: str, n: int, until: float) -> None:
        super().__init__(daemon=True)
        self.base, self.n, self.until = base, n, until
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rnd = random.Random(n)

    def run(self) -> None:
        i = 0
        while time.monotonic() < self.until:
            i += 1
            r = self.rnd.random()
            if r < 0.70:
                kind = "read"
                path = self.rnd.choice(
                    [
                        "/v1/policies/soak/tables/error/rows",
                        "/v1/policies/soak/tables/on_host/rows",
                        "/v1/policies",
                        "/v1/data-sources/inv/status",
                    ]
                )
                calls = [("GET", path, None, 200)]
            elif r < 0.85:
                kind = "push"
                body = rows(self.n * 1_000_000 + i)
                calls = [("PUT", "/v1/data-sources/inv/tables/servers/rows", body, 200)]
            elif r < 0.95:
                kind = "rule"
                rule = {"rule": f'c{self.n}_{i}(id) :- inv:servers(id, s, "host{i % 20}")'}
                calls = [("POST", "/v1/policies/soak/rules", rule, 201)]
            else:
                kind = "simulate"
                body = {
                    "query": "error(x)",
                    "sequence": 'inv:servers+("vmX", "ERROR", "host1")',
                    "action_policy": "action",
                }
                calls = [("POST", "/v1/policies/soak?action=simulate", body, 200)]
            for method, path, body, expected in calls:
                start = time.perf_counter()
                try:
                    status, answer = request(self.base, method, path, body)
                except OSError as exc:
                    status, answer = -1, str(exc)
                self.latency[kind].append(time.perf_counter() - start)
                if status != expected:
                    self.errors.append(f"{method} {path}: {status}")
                    continue
                if kind == "rule":  # and take it away again (on whichever node: read your write)
                    start = time.perf_counter()
                    status, _ = request(
                        self.base,
                        "DELETE",
                        f"/v1/policies/soak/rules/{answer['id']}",
                        headers={"X-Congress-Min-Revision": answer.get("_revision", "0")},
                    )
                    self.latency["rule"].append(time.perf_counter() - start)
                    if status != 200:
                        self.errors.append(f"DELETE rule: {status}")


def soak(base: str, pids: dict[str, int], minutes: float, clients: int) -> None:
    setup(base)
    begin = time.monotonic()
    until = begin + minutes * 60
    workers = [Client(base, n, until) for n in range(clients)]
    for w in workers:
        w.start()
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    while time.monotonic() < until:
        t = (time.monotonic() - begin) / 60
        for name, pid in pids.items():
            samples[name].append((t, rss_mb(pid)))
        time.sleep(5)
    for w in workers:
        w.join()
    elapsed = time.monotonic() - begin
    latency: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    for w in workers:
        for kind, values in w.latency.items():
            latency[kind].extend(values)
        errors.extend(w.errors)
    total = sum(len(v) for v in latency.values())
    every = sorted(x for v in latency.values() for x in v)
    print(f"\n{minutes:g} minutes, {clients} clients: {total:,} requests, {total / elapsed:.0f}/s")
    print("| kind | requests | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for kind, values in sorted(latency.items()):
        s = sorted(values)
        p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
        print(f"| {kind} | {len(s):,} | {statistics.median(s) * 1e3:.1f} | {p99 * 1e3:.1f} |")
    p99_all = every[min(len(every) - 1, int(0.99 * len(every)))]
    print(f"| all | {total:,} | {statistics.median(every) * 1e3:.1f} | {p99_all * 1e3:.1f} |")
    print(f"errors: {len(errors)} (target 0) {errors[:5]}")
    warm = minutes / 5
    for name, points in samples.items():
        after = [p for p in points if p[0] >= warm]
        print(
            f"RSS {name}: {points[0][1]:.0f} MB at start, {points[-1][1]:.0f} MB at the end, "
            f"slope after warm-up {slope(after):+.2f} MB/min (target < 1)"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--target", choices=["single", "ha"], default="single")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument(
        "--config",
        default="",
        help="more configuration for the single server, e.g. '[watch]\\ntables ='",
    )
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="congress-soak-"))
    if a.target == "single":
        proc, base = start_server(str(work), a.config.replace("\\n", "\n"))
        try:
            soak(base, {"congress-server": proc.pid}, a.minutes, a.clients)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        return 0
    from cluster import Cluster  # the HA deployment of the tests

    from ha_bench import haproxy, stop_haproxy

    c = Cluster("postgresql", work)
    try:
        c.start("ds", "--datasources")
        c.start("pe1", "--api", "--policy-engine")
        c.start("pe2", "--api", "--policy-engine")
        lb = haproxy(c, work, ["pe1", "pe2"])
        try:
            pids = {name: node.proc.pid for name, node in c.nodes.items() if node.proc}
            soak(lb, pids, a.minutes, a.clients)
        finally:
            stop_haproxy(work)
    finally:
        c.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
