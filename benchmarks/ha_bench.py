"""The multi-process deployment's figures (issue 4), on this machine's RabbitMQ and database.

    .venv/bin/python benchmarks/ha_bench.py [--backend postgresql|mariadb] [--changes 1000]

1. Propagation: 1,000 pushes into a datasource (through pe1's API, to the datasources node), each
   followed by polling both engines' rows until both show it: p50/p99 from the push's start
   (API + RPC + bus + both engines) and from its answer (the datasources node has published).
   Target p99 <= 100 ms. In the same run, the plain-Python baseline's W3 (1,000 single-row
   updates at N=10k, ``../shared/bench/adapter_plainpy.py``) gives the per-change compute floor.
2. Failover: ``kill -9`` of the datasources node, the standby started at once (as Pacemaker
   would once it detects the failure; its detection delay is excluded), until the standby
   serves the datasource's persisted rows again and a new push reaches both engines.
   Target <= 10 s.
3. Read throughput through HAProxy (``deploy/haproxy.cfg``) with 1 and with 2 engine nodes:
   ``wrk -t2 -c16 -d20s`` on ``GET .../rows`` of a 100-row table (Debian's ``wrk``).

The deployment is ``tests/ha/cluster.py``'s (real processes, like the HA tests).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "ha"))
from cluster import Cluster, haproxy_config, http  # noqa: E402

from api_bench import run_wrk  # noqa: E402

BENCH = pathlib.Path(os.environ.get("CONGRESS_BENCH_DIR", ROOT.parent / "shared" / "bench"))


def stats(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[min(len(s) - 1, int(0.99 * len(s)))] * 1e3


def baseline_w3(out: pathlib.Path) -> dict[str, Any]:
    wl = out / "workloads"
    if not (wl / "w3_n10000").is_dir():
        subprocess.run(
            [sys.executable, str(BENCH / "gen_workloads.py"), str(wl), "--w3", "10000"],
            check=True,
            capture_output=True,
        )
    done = subprocess.run(
        [sys.executable, str(BENCH / "adapter_plainpy.py"), "incr", str(wl / "w3_n10000")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(ln for ln in done.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


def push(c: Cluster, ds: str, rows: list[list[Any]]) -> None:
    a = http("PUT", f"{c.nodes['pe1'].url}/v1/data-sources/{ds}/tables/data/rows", rows)
    if a.status != 200:
        raise SystemExit(f"push failed: {a.status} {a.body}")


def seen(c: Cluster, node: str, policy: str) -> set[Any]:
    a = http("GET", f"{c.nodes[node].url}/v1/policies/{policy}/tables/seen/rows")
    return {r["data"][0] for r in a.body["results"]} if a.status == 200 else set()


def propagation(c: Cluster, n: int) -> tuple[list[float], list[float]]:
    ds = "bench"
    config = {"tables": '{"data": ["id", "v"]}', "persist_data": "true"}
    body = {"name": ds, "driver": "push", "config": config}
    assert http("POST", f"{c.nodes['pe1'].url}/v1/data-sources", body).status == 201
    rules = [{"rule": "seen(x) :- bench:data(x, v)"}]
    assert (
        http("POST", f"{c.nodes['pe1'].url}/v1/policies", {"name": "b", "rules": rules}).status
        == 201
    )
    time.sleep(1.0)
    from_start: list[float] = []
    from_answer: list[float] = []
    for i in range(n):
        rows = [[i, "x"]]
        t0 = time.perf_counter()
        push(c, ds, rows)
        t1 = time.perf_counter()
        pending = {"pe1", "pe2"}
        while pending:
            pending = {node for node in pending if seen(c, node, "b") != {i}}
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"change {i} did not reach {pending}")
        t2 = time.perf_counter()
        from_start.append(t2 - t0)
        from_answer.append(t2 - t1)
    return from_start, from_answer


def failover(c: Cluster) -> tuple[float, float]:
    c.kill("ds")
    t0 = time.perf_counter()
    c.start("ds", "--datasources", wait=False)
    url = f"{c.nodes['pe1'].url}/v1/data-sources/bench/tables/data/rows"
    while http("GET", url).status != 200:
        time.sleep(0.05)
        if time.perf_counter() - t0 > 60:
            raise SystemExit("the standby did not come up")
    serving = time.perf_counter() - t0
    push(c, "bench", [[-1, "after"]])
    while seen(c, "pe1", "b") != {-1} or seen(c, "pe2", "b") != {-1}:
        time.sleep(0.01)
    return serving, time.perf_counter() - t0


def haproxy(c: Cluster, work: pathlib.Path, nodes: list[str]) -> str:
    """HAProxy with deploy/haproxy.cfg in front of ``nodes``; its URL."""
    config, port = haproxy_config(c, work, nodes)
    subprocess.run(["haproxy", "-D", "-f", str(config)], check=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while http("GET", base + "/healthcheck").status != 200:
        if time.monotonic() > deadline:
            raise SystemExit("haproxy did not come up")
        time.sleep(0.1)
    return base


def stop_haproxy(work: pathlib.Path) -> None:
    pid = (work / "haproxy.pid").read_text().split()[0]
    subprocess.run(["kill", pid], check=False)
    time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="postgresql", choices=["postgresql", "mariadb"])
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "bench-results"))
    a = ap.parse_args()
    for tool in ("haproxy", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install {tool}")
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    base = baseline_w3(out)
    work = pathlib.Path(tempfile.mkdtemp(prefix="congress-ha-bench-"))
    c = Cluster(a.backend, work)
    try:
        c.start("ds", "--datasources")
        c.start("pe1", "--api", "--policy-engine")
        c.start("pe2", "--api", "--policy-engine")
        from_start, from_answer = propagation(c, a.changes)
        serving, full = failover(c)
        # a 100-row table for the reads
        body = {"name": "small", "driver": "push", "config": {"tables": '{"t": ["a", "b"]}'}}
        assert http("POST", f"{c.nodes['pe1'].url}/v1/data-sources", body).status == 201
        time.sleep(0.5)
        rows = [[f"r{i}", i] for i in range(100)]
        assert (
            http("PUT", f"{c.nodes['pe1'].url}/v1/data-sources/small/tables/t/rows", rows).status
            == 200
        )
        policy = {"name": "p100", "rules": [{"rule": "t(a, b) :- small:t(a, b)"}]}
        assert http("POST", f"{c.nodes['pe1'].url}/v1/policies", policy).status == 201
        time.sleep(1.0)
        reads = {}
        for nodes in (["pe1"], ["pe1", "pe2"]):
            lb = haproxy(c, work, nodes)
            try:
                assert (
                    len(http("GET", lb + "/v1/policies/p100/tables/t/rows").body["results"]) == 100
                )
                reads[len(nodes)] = run_wrk(lb + "/v1/policies/p100/tables/t/rows", a.duration)
            finally:
                stop_haproxy(work)
    finally:
        c.close()
    p50s, p99s = stats(from_start)
    p50a, p99a = stats(from_answer)
    upd = base["incr_update"]
    print(f"## Multi-process figures ({a.backend}, RabbitMQ, 2 cores)\n")
    print("| figure | measured | target | met |")
    print("|---|---|---|---|")
    print(
        f"| datasource change -> both engines, from the push's start ({a.changes} changes) | "
        f"p50 {p50s:.1f} ms, p99 {p99s:.1f} ms | p99 <= 100 ms | {'yes' if p99s <= 100 else 'NO'} |"
    )
    print(
        f"| the same, from the push's answer (published by the datasources node) | "
        f"p50 {p50a:.1f} ms, p99 {p99a:.1f} ms | | |"
    )
    print(
        f"| plain-Python baseline, one W3 update (compute floor, same run) | "
        f"p50 {upd['median_ms']:.3f} ms, p99 {upd['p99_ms']:.3f} ms | | |"
    )
    print(
        f"| datasources node failover, kill -9 -> standby serves the rows | {serving:.2f} s | "
        f"<= 10 s | {'yes' if serving <= 10 else 'NO'} |"
    )
    print(f"| ... -> a new push reaches both engines | {full:.2f} s | | |")
    for n, (rps, p99) in sorted(reads.items()):
        print(
            f"| reads through HAProxy, {n} engine node{'s' if n > 1 else ''} "
            f"(wrk -t2 -c16, 100 rows) | {rps:.0f} req/s, p99 {p99:.1f} ms | | |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
