#!/usr/bin/env python3
"""Dashboard benchmark (issue 9): how long each page takes to show with 100k-row tables.

    .venv/bin/python benchmarks/dashboard_bench.py [--n 100000] [--runs 5]

A real ``congress-server`` (SQLite, noauth) gets the W1 servers of ../shared/bench
(``gen_workloads.w1_facts``: N servers, 5% in ERROR) in a push datasource ``nova``, and a
policy ``ops`` with an ``error`` table of N rows (one per server: the worst case of the
overview, whose history then holds N inserts) and a ``warning`` table of the ERROR servers.
Debian's headless chromium (Playwright, as the end-to-end tests drive it) then opens each page
``--runs`` times, from a blank page, and the time from navigation to the page's content being
visible is taken (median and worst).

Beside each page, in the same run: the time of the API calls it makes, through plain HTTP
(what the browser waits for), and the plain-Python baseline of what any server-side paging
must do at least (sort the N rows by their printed form, slice a page, encode it as JSON) and
of what a page without server-side paging would have to fetch (the whole table encoded as
JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
import gen_workloads  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from browser import launched  # noqa: E402
from test_server import _call, _free_port, _start, _stop  # noqa: E402


def fetch_seconds(base: str, path: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=120) as resp:
        resp.read()
    return time.perf_counter() - started


def setup(base: str, n: int) -> list[tuple[object, ...]]:
    facts, _ = gen_workloads.w1_facts(n)
    servers = [list(row) for table, row in facts if table == "servers"]
    tables = json.dumps({"servers": ["id", "name", "host", "tenant", "status"]})
    body = {"name": "nova", "driver": "push", "config": {"tables": tables}}
    assert _call(base, "POST", "/v1/data-sources", body)[0] == 201
    req = urllib.request.Request(
        base + "/v1/data-sources/nova/tables/servers/rows",
        data=json.dumps(servers).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        assert resp.status == 200
    rules = [
        {"rule": "error(vm, h) :- nova:servers(id=vm, host=h)"},
        {"rule": 'warning(vm) :- nova:servers(id=vm, status="ERROR")'},
    ]
    status, answer = _call(base, "POST", "/v1/policies", {"name": "ops", "rules": rules})
    assert status == 201, answer
    return [tuple(r) for r in servers]


# page, its address, what shows when it is ready, the API calls it makes
PAGES: list[tuple[str, str, str, list[str]]] = [
    (
        "overview",
        "#/",
        'tr[data-policy="ops"] td[data-table="error"]',
        [
            "/v1/policies",
            "/v1/policies/ops/tables",
            "/v1/policies/ops/tables/error/rows?limit=1",
        ],
    ),
    (
        "overview, charts drawn",
        "#/",
        'tr[data-policy="ops"] td[data-chart="error"] svg',
        [
            "/v1/policies",
            "/v1/policies/ops/tables",
            "/v1/policies/ops/tables/error/rows?limit=1",
            "/v1/policies/ops/tables/error/history/counts?step=3600",
        ],
    ),
    ("policies", "#/policies", 'tr[data-policy="ops"]', ["/v1/policies"]),
    (
        "policy",
        "#/policies/ops",
        "ul.tables li",
        ["/v1/policies/ops/tables", "/v1/policies/ops/rules"],
    ),
    (
        "policy table (first page)",
        "#/policies/ops/tables/error",
        'table[aria-label="Rows of error"] tr',
        ["/v1/policies/ops/tables/error/rows?limit=100&offset=0&filter="],
    ),
    (
        "datasources",
        "#/datasources",
        'tr[data-datasource="nova"]',
        ["/v1/data-sources", "/v1/data-sources/nova/status"],
    ),
    (
        "datasource",
        "#/datasources/nova",
        'tr[data-table="servers"]',
        ["/v1/data-sources/nova", "/v1/data-sources/nova/schema"],
    ),
    (
        "datasource table (first page)",
        "#/datasources/nova/tables/servers",
        'table[aria-label="Rows of servers"] tbody tr',
        ["/v1/data-sources/nova/tables/servers/rows?limit=100&offset=0&filter="],
    ),
    ("actions", "#/actions", 'table[aria-label="Executions"]', ["/v1/executions?limit=100"]),
    ("library", "#/library", 'tr[data-library="BadFlavors"]', ["/v1/librarypolicies"]),
]


def time_page(page: Page, base: str, address: str, ready: str) -> float:
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(f"{base}/dashboard/{address}")
    expect(page.locator(ready).first).to_be_visible(timeout=60_000)
    return time.perf_counter() - started


def time_filter(page: Page, base: str) -> float:
    """Typing a filter into the 100k-row table until the filtered page shows."""
    page.goto("about:blank")
    page.goto(f"{base}/dashboard/#/policies/ops/tables/error")
    expect(page.get_by_role("status")).to_contain_text("of ")
    started = time.perf_counter()
    page.get_by_label("Filter rows").fill("vm4242")
    expect(page.get_by_role("status")).to_have_text("Rows 1-11 of 11", timeout=60_000)
    return time.perf_counter() - started - 0.25  # less the typing pause the page waits


def baseline(rows: list[tuple[object, ...]]) -> tuple[float, float]:
    """Plain Python: (sort by printed form + slice + encode a page, encode every row)."""
    started = time.perf_counter()
    ordered = sorted(rows, key=repr)
    json.dumps({"results": [{"data": list(r)} for r in ordered[:100]], "total": len(rows)})
    paged = time.perf_counter() - started
    started = time.perf_counter()
    json.dumps({"results": [{"data": list(r)} for r in rows]})
    return paged, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    port = _free_port()
    proc = _start(tmp, port)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        rows = setup(base, args.n)
        took = time.perf_counter() - started
        print(f"setup: {args.n} servers pushed, policy ops made in {took:.1f} s")
        status, page = _call(base, "GET", "/v1/policies/ops/tables/error/rows?limit=1")
        assert status == 200 and page["total"] == args.n, page
        time.sleep(6)  # the history's recorder writes the N inserts (and reconciles)
        counts = _call(base, "GET", "/v1/policies/ops/tables/error/history/counts")[1]
        print(f"history: error has {counts['results'][-1]['count']} rows now")
        paged, whole = baseline(rows)
        print(
            f"baseline (plain Python, {args.n} rows): sort+slice+encode one page "
            f"{paged * 1000:.0f} ms; encode every row {whole * 1000:.0f} ms"
        )
        with launched() as browser:
            page_ = browser.new_page(viewport={"width": 1366, "height": 768})
            print(f"{'page':32} {'median':>8} {'worst':>8}   API calls (median of {args.runs})")
            for name, address, ready, calls in PAGES:
                times = [time_page(page_, base, address, ready) for _ in range(args.runs)]
                api = [
                    statistics.median(fetch_seconds(base, c) for _ in range(args.runs))
                    for c in calls
                ]
                print(
                    f"{name:32} {statistics.median(times) * 1000:6.0f} ms "
                    f"{max(times) * 1000:6.0f} ms   "
                    + ", ".join(
                        f"{c.split('?')[0].rsplit('/', 1)[-1]} {a * 1000:.0f} ms"
                        for c, a in zip(calls, api, strict=True)
                    )
                )
            filters = [time_filter(page_, base) for _ in range(args.runs)]
            print(
                f"{'filter the 100k-row table':32} {statistics.median(filters) * 1000:6.0f} ms "
                f"{max(filters) * 1000:6.0f} ms"
            )
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
