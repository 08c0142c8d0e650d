#!/usr/bin/env python3
"""What multi-tenancy costs (issue 11): projects' views of a shared datasource, on W1.

    .venv/bin/python benchmarks/tenancy_bench.py [--n 100000] [--projects 10] [--runs 1]

An in-process ``PolicyEngineService`` (SQLite in a temp dir) holds a datasource ``nova`` with
W1's base tables, shared with every project (``["*"]``) with the project columns
``servers: tenant`` and ``networks: net_tenant`` (docs/tenancy.md).

1. Load + evaluate: (a) the W1 rules in one global policy reading ``nova:``; (b) then P project
   policies ``w1@t<k>`` (P of W1's tenants) with the same rules, each reading its view
   ``nova@t<k>`` (made and filled when its rules come): total and per project. Each project's
   ``error`` is checked against a plain-Python W1 over the global data restricted to that
   tenant's servers and networks (the tables without a project column are seen whole).
2. Incremental: 1000 single-row changes to ``servers`` (insert, then delete, a server of a
   random tenant: half of P's tenants, half others; half on a host in deep maintenance), the
   latency of ``engine.receive`` without project policies and with the P policies.
3. The API edge: ``GET /v1/policies/<p>/tables/error/rows`` of a 10k-row table, a member's
   (its project's suffix stripped from the answer) vs the operator's, median of 50 calls.
4. Baseline in the same run: shared/bench's adapter_plainpy.py ``eval`` on the same W1
   directory, and plain Python filtering the N servers (and the networks) by tenant for P
   tenants.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("CONGRESS_BENCH_DIR", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import adapter_plainpy  # noqa: E402
import gen_workloads  # noqa: E402
import wl  # noqa: E402

from congress.db import api as db  # noqa: E402
from congress.db import migration  # noqa: E402
from congress.db.engine import make_engine  # noqa: E402
from congress.services.policy_engine import PolicyEngineService  # noqa: E402

SCHEMA = {
    "servers": ["vm", "name", "host", "tenant", "status"],
    "ports": ["port", "vm", "net"],
    "networks": ["net", "net_tenant", "shared"],
    "tenant_group": ["tenant", "group"],
    "host_maint": ["host", "level"],
}
PROJECT_COLUMNS = {"servers": "tenant", "networks": "net_tenant"}
BASE = re.compile(r"\b(" + "|".join(SCHEMA) + r")\(")
CLOCK = datetime.datetime(2026, 11, 26, 12, 0, 0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def nova_rules(rules: list[str]) -> list[str]:
    """W1's rules reading the datasource: ``servers(...)`` -> ``nova:servers(...)``."""
    return [BASE.sub(r"nova:\1(", r) for r in rules]


def workload(n: int, root: str) -> str:
    wdir = os.path.join(root, f"w1_n{n}")
    if not os.path.isdir(wdir):
        gen_workloads.gen_w1(root, n)
    return wdir


def plainpy_eval(wdir: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, os.path.join(BENCH, "adapter_plainpy.py"), "eval", wdir],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1]
    return dict(json.loads(line[len("RESULT ") :]))


def project_facts(facts: list[tuple[str, tuple[Any, ...]]], tenant: str) -> list[Any]:
    """What project ``tenant`` sees of the global data: its servers and networks, the rest whole."""
    out = []
    for table, row in facts:
        column = PROJECT_COLUMNS.get(table)
        if column is None or row[SCHEMA[table].index(column)] == tenant:
            out.append((table, row))
    return out


def make_engine_service(state: str) -> PolicyEngineService:
    url = f"sqlite:///{os.path.join(state, 'congress.sqlite')}"
    migration.upgrade(url)
    database = make_engine(url)
    svc = PolicyEngineService(database, clock=lambda: CLOCK, node_id="bench")
    svc.start()
    db.create_datasource(database, "nova", "push", config={})
    svc.ensure_datasource("nova", SCHEMA)
    svc.update_datasource_sharing(
        "nova", {"shared_with": ["*"], "project_columns": PROJECT_COLUMNS}
    )
    return svc


def changes(tables: dict[str, list[Any]], tenants: list[str], count: int) -> list[Any]:
    """``count`` single-row changes of ``servers``: a new server inserted, then deleted."""
    rnd = random.Random(5)
    all_tenants = sorted({r[0] for r in tables["tenant_group"]})
    others = sorted(set(all_tenants) - set(tenants))
    deep = sorted(h for h, lvl in tables["host_maint"] if lvl > 3)
    hosts = sorted({r[2] for r in tables["servers"]})
    out: list[Any] = []
    for i in range(count // 2):
        tenant = rnd.choice(tenants if i % 2 == 0 else others)
        host = rnd.choice(deep if i % 4 < 2 else hosts)
        row = (f"vmx{i}", f"server-x{i}", host, tenant, "ACTIVE")
        out.append(([row], []))
        out.append(([], [row]))
    return out


def incremental(svc: PolicyEngineService, stream: list[Any]) -> list[float]:
    lat = []
    for inserts, deletes in stream:
        t0 = time.perf_counter()
        svc.receive("nova", "servers", inserts, deletes)
        lat.append(time.perf_counter() - t0)
    return lat


def engine_run(
    facts: list[Any], rules: list[str], tenants: list[str], count: int
) -> dict[str, Any]:
    tables = wl.by_table(facts)
    state = tempfile.mkdtemp(prefix="congress-tenancy-bench-")
    try:
        svc = make_engine_service(state)
        load_s = 0.0
        for table, rows in tables.items():
            t0 = time.perf_counter()
            svc.replace("nova", table, rows, activation=None)
            load_s += time.perf_counter() - t0
        body = [{"rule": r} for r in nova_rules(rules)]
        global_s, _ = timed(lambda: svc.create_policy("w1", rules=body))
        answers = len(svc.rows("w1", "error"))
        rss_global = peak_rss_mb()
        stream = changes(tables, tenants, count)
        lat_global = incremental(svc, stream)
        per_project: list[float] = []
        for tenant in tenants:
            t0 = time.perf_counter()
            svc.create_policy(f"w1@{tenant}", owner=tenant, rules=body)
            per_project.append(time.perf_counter() - t0)
        rss_projects = peak_rss_mb()
        status = {t: svc.policy_errors().get(f"w1@{t}") for t in tenants}
        checks = {}
        for tenant in tenants:
            got = {r[0] for r in svc.rows(f"w1@{tenant}", "error")}
            want = adapter_plainpy.W1(project_facts(facts, tenant)).error_all()
            checks[tenant] = (len(got), got == want)
        lat_projects = incremental(svc, stream)
        view_rows = {t: len(svc.runtime.rows(f"nova@{tenants[0]}", t)) for t in SCHEMA}
        return {
            "load_s": load_s,
            "global_s": global_s,
            "answers": answers,
            "project_s": per_project,
            "checks": checks,
            "status": status,
            "lat_global": lat_global,
            "lat_projects": lat_projects,
            "views": svc.views(),
            "view_rows": view_rows,
            "rss_global": rss_global,
            "rss_projects": rss_projects,
        }
    finally:
        shutil.rmtree(state, ignore_errors=True)


def filter_baseline(facts: list[Any], tenants: list[str]) -> float:
    """Plain Python: each tenant's servers and networks out of the global tables."""
    tables = wl.by_table(facts)
    t0 = time.perf_counter()
    for tenant in tenants:
        _ = [r for r in tables["servers"] if r[3] == tenant]
        _ = [r for r in tables["networks"] if r[1] == tenant]
    return time.perf_counter() - t0


def api_edge(rows: int, calls: int) -> dict[str, float]:
    """A member's GET of a 10k-row table vs the operator's GET of the same table."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
    from api_client import Client
    from oslo_config import cfg

    from congress.api.app import CongressApp
    from congress.cmd.server import build_node
    from congress.common import config

    project = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a"
    admin = {"X-User-Id": "op", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
    member = {"X-User-Id": "alice", "X-Project-Id": project, "X-Roles": "member,reader"}
    logging.disable(logging.INFO)  # the node's start-up log lines
    state = tempfile.mkdtemp(prefix="congress-tenancy-api-")
    conf = cfg.ConfigOpts()
    path = os.path.join(state, "keystone.conf")
    with open(path, "w") as f:
        f.write(
            f"[DEFAULT]\nstate_path = {state}\nauth_strategy = keystone\n"
            "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n"
        )
    config.init(["--config-file", path], conf=conf, default_config_files=[])
    node = build_node(conf)
    services = node.services
    assert services is not None  # the node runs the API
    try:
        api = Client(CongressApp(services, conf))

        def ok(answer: tuple[int, Any]) -> Any:
            if answer[0] not in (200, 201):
                raise SystemExit(f"API edge: {answer}")
            return answer[1]

        tables = json.dumps({"vms": ["id", "project"]})
        push = {"name": "fleet", "driver": "push", "config": {"tables": tables}}
        ok(api.post("/v1/data-sources", push, headers=admin))
        data = [[f"vm{i}", project] for i in range(rows)]
        ok(api.put("/v1/data-sources/fleet/tables/vms/rows", data, headers=admin))
        patch = {"shared_with": ["*"], "project_columns": {"vms": "project"}}
        ok(api.call("PATCH", "/v1/data-sources/fleet", patch, headers=admin))
        ok(api.post("/v1/policies", {"name": "mon"}, headers=member))
        rule = {"rule": "error(x) :- fleet:vms(x, p)"}
        ok(api.post("/v1/policies/mon/rules", rule, headers=member))

        def median_of(path: str, headers: dict[str, str], cold: bool) -> tuple[float, bytes]:
            """``cold``: the encoded-answer cache (api.policies.list_rows) emptied first."""
            lat, body = [], b""
            for _ in range(calls):
                if cold:
                    services.rows_cache.clear()
                t0 = time.perf_counter()
                resp = api.raw("GET", path, headers=headers)
                lat.append(time.perf_counter() - t0)
                assert resp.status_int == 200, resp.body[:200]
                body = resp.body
            return statistics.median(lat), body

        mine = "/v1/policies/mon/tables/error/rows"
        theirs = f"/v1/policies/mon@{project}/tables/error/rows"
        out: dict[str, Any] = {}
        for cold in (False, True):
            key = "cold" if cold else "cached"
            out[f"member_{key}_s"], member_body = median_of(mine, member, cold)
            out[f"operator_{key}_s"], operator_body = median_of(theirs, admin, cold)
        if member_body != operator_body:
            raise SystemExit("API edge: the member's and the operator's answers differ")
        out["rows"] = len(json.loads(member_body)["results"])
        out["bytes"] = len(member_body)
        # the strip alone: on this answer (it names no policy: a scan), and on an answer of
        # the same rows that names the project's policy in each row (a replace)
        suffix = f"@{project}".encode()
        named = json.dumps(
            {"results": [{"data": [f"vm{i}", f"mon@{project}"]} for i in range(rows)]}
        ).encode()
        out["scan_s"] = statistics.median(
            timed(lambda: suffix in member_body)[0] for _ in range(calls)
        )
        out["replace_s"] = statistics.median(
            timed(lambda: named.replace(suffix, b""))[0] for _ in range(calls)
        )
        out["replace_bytes"] = len(named)
        return out
    finally:
        node.stop()
        shutil.rmtree(state, ignore_errors=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--projects", type=int, default=10)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--api-rows", type=int, default=10000)
    ap.add_argument("--api-calls", type=int, default=50)
    ap.add_argument("--workloads", default=None, help="where W1 is written (a temp dir)")
    a = ap.parse_args()
    root = a.workloads or tempfile.mkdtemp(prefix="congress-tenancy-wl-")
    wdir = workload(a.n, root)
    w = wl.load(wdir)
    facts = w["facts"]
    all_tenants = sorted({r[0] for t, r in facts if t == "tenant_group"})
    tenants = sorted(random.Random(3).sample(all_tenants, min(a.projects, len(all_tenants))))
    expected = len(adapter_plainpy.W1(facts).error_all())

    runs: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    filters: list[float] = []
    for i in range(a.runs):
        plain.append(plainpy_eval(wdir))
        filters.append(filter_baseline(facts, tenants))
        r = engine_run(facts, w["rules"], tenants, a.changes)
        runs.append(r)
        print(
            f"run {i + 1}: load {r['load_s']:.2f} s, global policy {r['global_s']:.2f} s, "
            f"{a.projects} project policies {sum(r['project_s']):.2f} s",
            flush=True,
        )
        if r["answers"] != expected:
            print(f"global error: {r['answers']} rows, plain Python {expected}")
            return 1
    edge = api_edge(a.api_rows, a.api_calls)

    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)

    last = runs[-1]
    projects_total = statistics.median(sum(r["project_s"]) for r in runs)
    per_project = [s for r in runs for s in r["project_s"]]
    lat_g = [x for r in runs for x in r["lat_global"]]
    lat_p = [x for r in runs for x in r["lat_projects"]]
    eval_s = statistics.median(float(p["eval_s"]) for p in plain)
    load_eval_s = statistics.median(float(p["load_eval_s"]) for p in plain)
    print()
    print("correctness: each project's error vs plain Python over its part of the data")
    for tenant, (count, same) in last["checks"].items():
        err = last["status"][tenant]
        print(f"  w1@{tenant}: {count} rows, {'equal' if same else 'DIFFERENT'}, error={err!r}")
    print(f"  global w1: {last['answers']} rows (plain Python {expected})")
    print(f"  views: {', '.join(last['views'])}")
    print(f"  rows of the view nova@{tenants[0]}: {last['view_rows']}")
    print()
    print(f"| figure (W1 N={a.n}, P={a.projects}, runs={a.runs}) | congress | plain Python |")
    print("|---|---|---|")
    print(f"| load W1's base tables into `nova` (replace) | {med('load_s'):.3f} s | |")
    print(
        f"| (a) global policy `w1` over `nova:` (create + evaluate) | {med('global_s'):.3f} s "
        f"| eval {eval_s:.3f} s (load + eval {load_eval_s:.3f} s) |"
    )
    print(
        f"| (b) {a.projects} project policies `w1@t<k>` (views + evaluate), total "
        f"| {projects_total:.3f} s | filter {statistics.median(filters) * 1e3:.1f} ms |"
    )
    print(
        f"| (b) per project: median / max | {statistics.median(per_project):.3f} s / "
        f"{max(per_project):.3f} s | |"
    )
    print(
        f"| {a.changes} changes to servers, no project policies: p50 / p99 "
        f"| {ms(statistics.median(lat_g))} / {ms(pct(lat_g, 0.99))} | |"
    )
    print(
        f"| same, with {a.projects} project policies on views: p50 / p99 "
        f"| {ms(statistics.median(lat_p))} / {ms(pct(lat_p, 0.99))} | |"
    )
    print(
        f"| peak RSS after (a) / after (b) (one process, first run) "
        f"| {runs[0]['rss_global']:.0f} MB / {runs[0]['rss_projects']:.0f} MB | |"
    )
    for key, what in (("cached", "answer cached"), ("cold", "cache emptied before each call")):
        print(
            f"| GET error rows ({edge['rows']} rows, {edge['bytes']} B), {what}, "
            f"median of {a.api_calls}: operator / member "
            f"| {ms(edge[f'operator_{key}_s'])} / {ms(edge[f'member_{key}_s'])} | |"
        )
    print(
        f"| the strip alone: scan of that answer (no suffix in it) / bytes.replace on "
        f"{edge['replace_bytes']} B naming the project in every row "
        f"| {ms(edge['scan_s'])} / {ms(edge['replace_s'])} | |"
    )
    print()
    print("command: " + " ".join([os.path.relpath(sys.executable), *sys.argv]))
    bad = [t for t, (_, same) in last["checks"].items() if not same]
    if bad:
        print(f"projects whose error differs from plain Python: {bad}")
        return 1
    if not a.workloads:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
