#!/usr/bin/env python3
"""Issue 6: while one policy evaluates something huge, the server keeps answering.

    .venv/bin/python benchmarks/huge_eval.py [--tables 5] [--rows 60] [--clients 4]
        [--max-memory-mb 4096] [--max-derived-rows 10000000]

One server (SQLite, the configuration's limits as given). A rule joins ``--tables`` datasource
tables of ``--rows`` rows each with no shared variable (a cross product: 60^5 = 777,600,000
rows). While it evaluates, ``--clients`` threads read (the policy list, a policy's rules and
rows, a datasource's status and rows) and one thread pushes data to another datasource.
Reported: how the huge request ended and after how long; the reads and pushes answered meanwhile
with their p50/p99/max latency (target: reads' p99 under 500 ms); the server's peak RSS against
the ceiling; and that the server still answers afterwards.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from api_bench import start_server  # noqa: E402
from soak import request, rss_mb  # noqa: E402


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3 if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tables", type=int, default=5)
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-memory-mb", type=int, default=None)
    ap.add_argument("--max-derived-rows", type=int, default=None)
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="congress-huge-"))
    extra = ["[limits]"]
    if a.max_memory_mb is not None:
        extra.append(f"max_memory_mb = {a.max_memory_mb}")
    if a.max_derived_rows is not None:
        extra.append(f"max_derived_rows = {a.max_derived_rows}")
    proc, base = start_server(str(work), "\n".join(extra) + "\n")
    try:
        run(base, proc.pid, a)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


def run(base: str, pid: int, a: argparse.Namespace) -> None:
    names = [f"t{i}" for i in range(a.tables)]
    tables = json.dumps({t: ["v"] for t in names})
    for ds, spec in (("big", tables), ("inv", json.dumps({"servers": ["id", "status"]}))):
        body = {"name": ds, "driver": "push", "config": {"tables": spec}}
        assert request(base, "POST", "/v1/data-sources", body)[0] == 201
    for t in names:
        rows = [[f"{t}-{i}"] for i in range(a.rows)]
        assert request(base, "PUT", f"/v1/data-sources/big/tables/{t}/rows", rows)[0] == 200
    servers = [[f"vm{i}", "ERROR" if i % 7 == 0 else "ACTIVE"] for i in range(500)]
    assert request(base, "PUT", "/v1/data-sources/inv/tables/servers/rows", servers)[0] == 200
    rule = 'error(id) :- inv:servers(id, "ERROR")'
    assert (
        request(base, "POST", "/v1/policies", {"name": "ops", "rules": [{"rule": rule}]})[0] == 201
    )
    assert request(base, "POST", "/v1/policies", {"name": "huge"})[0] == 201
    idle = rss_mb(pid)

    done = threading.Event()
    outcome: dict[str, Any] = {}

    def huge() -> None:
        vars_ = [f"x{i}" for i in range(a.tables)]
        body = ", ".join(f"big:{t}({v})" for t, v in zip(names, vars_, strict=True))
        text = f"cross({', '.join(vars_)}) :- {body}"
        start = time.perf_counter()
        status, answer = request(
            base, "POST", "/v1/policies/huge/rules", {"rule": text}, timeout=600
        )
        outcome.update(status=status, answer=answer, seconds=time.perf_counter() - start)
        done.set()

    reads: list[float] = []
    pushes: list[float] = []
    failures: list[str] = []
    paths = [
        "/v1/policies",
        "/v1/policies/ops/rules",
        "/v1/policies/ops/tables/error/rows",
        "/v1/data-sources/inv/status",
        "/v1/data-sources/big/tables/t0/rows",
    ]

    def reader(n: int) -> None:
        i = n
        while not done.is_set():
            path = paths[i % len(paths)]
            i += 1
            start = time.perf_counter()
            status, _ = request(base, "GET", path)
            if not done.is_set():
                reads.append(time.perf_counter() - start)
            if status != 200:
                failures.append(f"GET {path}: {status}")

    def pusher() -> None:
        i = 0
        while not done.is_set():
            i += 1
            rows = [[f"vm{j}", "ERROR" if (j + i) % 7 == 0 else "ACTIVE"] for j in range(500)]
            start = time.perf_counter()
            status, _ = request(base, "PUT", "/v1/data-sources/inv/tables/servers/rows", rows)
            pushes.append(time.perf_counter() - start)
            if status != 200:
                failures.append(f"PUT rows: {status}")

    peak = [idle]

    def sampler() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.1)

    threads = [threading.Thread(target=huge), threading.Thread(target=sampler)]
    threads += [threading.Thread(target=reader, args=(n,)) for n in range(a.clients)]
    threads.append(threading.Thread(target=pusher))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = request(base, "GET", "/v1/policies/ops/tables/error/rows")
    answer = outcome["answer"] or {}
    print(f"cross product of {a.tables} tables x {a.rows} rows = {a.rows**a.tables:,} rows")
    print(
        f"huge rule: HTTP {outcome['status']} after {outcome['seconds']:.1f} s: "
        f"{str(answer.get('error', {}).get('message', answer))[:160]}"
    )
    print(
        f"reads meanwhile: {len(reads):,}, p50 {pct(reads, 0.5):.1f} ms, "
        f"p99 {pct(reads, 0.99):.1f} ms, max {pct(reads, 1.0):.1f} ms (target p99 < 500 ms)"
    )
    if pushes:
        print(
            f"pushes meanwhile: {len(pushes):,}, p50 {pct(pushes, 0.5):.1f} ms, "
            f"p99 {pct(pushes, 0.99):.1f} ms, max {pct(pushes, 1.0):.1f} ms"
        )
    print(f"RSS: {idle:.0f} MB before, peak {peak[0]:.0f} MB, {rss_mb(pid):.0f} MB after")
    print(f"failures: {len(failures)} {failures[:3]}; server answers afterwards: {after[0] == 200}")
    if reads:
        print(f"(median read {statistics.median(reads) * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
