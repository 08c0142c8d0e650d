#!/usr/bin/env python3
"""Aggregates benchmark (issue 8): incremental count/sum/max per host on W1 data.

    .venv/bin/python benchmarks/aggregate_bench.py [--n 100000] [--changes 1000]

The W1 facts of ../shared/bench (N servers on N/20 hosts, ``gen_workloads.w1_facts``) are
loaded into the engine (``Runtime``, no server) with three aggregate rules per host:

    load(h, n)  :- hosts(h), n = count{vm | servers(vm, name, h, t, s)}
    per_tenant(h, t, n) :- n = count{vm | servers(vm, name, h, t, s)}
    busiest(m)  :- m = max{n | load(h, n)}

and an ordinary rule reading them (``crowded(h) :- load(h, n), gt(n, 25)``). Then ``--changes``
single-row changes (a server moves to another host: one delete and one insert) are applied one
at a time and timed (p50, p99), with the figures for the initial evaluation.

Baseline, in the same run: the plain-Python hand-written way to keep the same answers, (a)
incrementally (a dict of counters per host and per host/tenant, a max recomputed when needed),
(b) recomputing the group-by in full after each change (what an engine without incremental
aggregates pays). Both baselines' final answers must equal the engine's.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)
import gen_workloads  # noqa: E402

from congress.datalog.runtime import Runtime  # noqa: E402

RULES = """
load(h, n) :- hosts(h, z, m), n = count{vm | servers(vm, name, h, t, s)}
per_tenant(h, t, n) :- n = count{vm | servers(vm, name, h, t, s)}
busiest(m) :- m = max{n | load(h, n)}
crowded(h) :- load(h, n), gt(n, 25)
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.3f} ms, p99 {pct(values, 0.99) * 1000:.3f} ms, "
        f"total {sum(values):.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--changes", type=int, default=1000)
    args = ap.parse_args()
    facts, ctx = gen_workloads.w1_facts(args.n)
    servers = [row for table, row in facts if table == "servers"]
    hosts = sorted({row[2] for row in servers} | {f"host{h}" for h in range(ctx["n_hosts"])})
    host_rows = [(h, "zone", 0) for h in hosts]
    print(f"W1 N={args.n}: {len(servers)} servers on {len(hosts)} hosts")

    rt = Runtime()
    schema = {
        "servers": ["id", "name", "host", "tenant", "status"],
        "hosts": ["name", "zone", "maint"],
    }
    rt.create_policy("d", "datasource", schema=schema)
    rt.create_policy("w", "nonrecursive")
    rules = RULES.replace("servers(", "d:servers(").replace("hosts(", "d:hosts(")
    t0 = time.perf_counter()
    rt.apply({("d", "servers"): (servers, []), ("d", "hosts"): (host_rows, [])})
    t1 = time.perf_counter()
    rt.insert("w", rules)
    t2 = time.perf_counter()
    print(f"engine: data load {t1 - t0:.2f} s, aggregate rules evaluated in {t2 - t1:.2f} s")

    rnd = random.Random(7)
    current = {row[0]: row for row in servers}
    ids = sorted(current)
    moves = []
    for _ in range(args.changes):
        vm = rnd.choice(ids)
        old = current[vm]
        new = (old[0], old[1], rnd.choice(hosts), old[3], old[4])
        current[vm] = new
        moves.append((old, new))

    engine_times = []
    for old, new in moves:
        s = time.perf_counter()
        rt.apply({("d", "servers"): ([new], [old])})
        engine_times.append(time.perf_counter() - s)

    # plain Python, incremental: counters
    s0 = time.perf_counter()
    load = collections.Counter(dict.fromkeys(hosts, 0))
    tenant = collections.Counter()
    for row in servers:
        load[row[2]] += 1
        tenant[(row[2], row[3])] += 1
    base_load_s = time.perf_counter() - s0
    inc_times = []
    busiest = max(load.values())
    for old, new in moves:
        s = time.perf_counter()
        load[old[2]] -= 1
        load[new[2]] += 1
        tenant[(old[2], old[3])] -= 1
        if not tenant[(old[2], old[3])]:
            del tenant[(old[2], old[3])]
        tenant[(new[2], new[3])] += 1
        if load[new[2]] > busiest:
            busiest = load[new[2]]
        elif load[old[2]] + 1 == busiest:
            busiest = max(load.values())
        inc_times.append(time.perf_counter() - s)

    # plain Python, full recomputation after each change (on a sample: it is slow)
    state = {row[0]: row for row in servers}
    full_times = []
    for _old, new in moves[: min(50, len(moves))]:
        s = time.perf_counter()
        state[new[0]] = new
        counts = collections.Counter(dict.fromkeys(hosts, 0))
        per = collections.Counter()
        for row in state.values():
            counts[row[2]] += 1
            per[(row[2], row[3])] += 1
        max(counts.values())
        full_times.append(time.perf_counter() - s)

    got_load = dict(rt.rows("w", "load"))
    assert got_load == dict(load), "engine and baseline disagree on load"
    got_tenant = {(h, t): n for h, t, n in rt.rows("w", "per_tenant")}
    assert got_tenant == dict(tenant), "engine and baseline disagree on per_tenant"
    assert rt.rows("w", "busiest") == {(busiest,)}, "engine and baseline disagree on busiest"
    print(
        f"answers agree: {len(got_load)} hosts, {len(got_tenant)} host/tenant groups, max {busiest}"
    )
    print(f"engine, one server moved per change ({args.changes}): {ms(engine_times)}")
    print(f"plain Python incremental counters (initial count {base_load_s:.3f} s): {ms(inc_times)}")
    print(f"plain Python full group-by after each change (50 sampled): {ms(full_times)}")


if __name__ == "__main__":
    main()
