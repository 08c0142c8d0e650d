#!/usr/bin/env python3
"""Benchmark adapter for the Congress engine (the contract of shared/bench/README.md).

usage: adapter.py CASE WORKLOAD_DIR        CASE: eval | point | incr

It uses only the engine's public API (``congress.datalog.runtime.Runtime``): one policy of the
workload's kind holds the rules, and the facts are inserted into it as one batch of data.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("CONGRESS_BENCH_DIR", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import wl  # noqa: E402

from congress.datalog.runtime import Runtime  # noqa: E402

POLICY = "bench"


def load(w: dict) -> tuple[Runtime, float, float]:
    rt = Runtime(clock=datetime.datetime.now, timer=time.monotonic)
    kind = w["meta"]["kind"]
    with wl.Timer() as t_load:
        rt.create_policy(POLICY, kind)
        rt.insert(POLICY, "\n".join(w["rules"]))
        changes = {(POLICY, table): (rows, []) for table, rows in wl.by_table(w["facts"]).items()}
    with wl.Timer() as t_eval:
        rt.apply(changes)
    return rt, t_load.s, t_eval.s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("wdir")
    a = ap.parse_args()
    w = wl.load(a.wdir)
    res: dict = {
        "engine": "congress",
        "case": a.case,
        "workload": os.path.basename(a.wdir.rstrip("/")),
    }
    table = w["meta"]["query_table"]
    with wl.Timer() as t_all:
        rt, load_s, eval_s = load(w)
        answers = rt.select_rows(POLICY, w["meta"]["query"])
    res.update(
        answers=len(answers),
        load_s=round(load_s, 4),
        eval_s=round(eval_s, 4),
        load_eval_s=round(t_all.s, 4),
    )
    if a.case == "point":
        lat, hits = [], 0
        for q in w["queries"]:
            with wl.Timer() as t:
                r = rt.select_rows(POLICY, q)
            lat.append(t.s)
            hits += bool(r)
        res["point"] = wl.lat_stats(lat)
        res["point_hits"] = hits
    elif a.case == "incr":
        lat_u, lat_q, lat_full = [], [], []
        for u in w["updates"]:
            row = tuple(u["row"])
            change = ([row], []) if u["op"] == "insert" else ([], [row])
            with wl.Timer() as tu:
                rt.apply({(POLICY, u["table"]): change})
            lat_u.append(tu.s)
            with wl.Timer() as tq:
                if u["probe"]:
                    rt.select_rows(POLICY, f'{table}("{u["probe"]}")')
                else:
                    rt.select_rows(POLICY, w["meta"]["query"])
            (lat_q if u["probe"] else lat_full).append(tq.s)
        res["incr_update"] = wl.lat_stats(lat_u)
        res["incr_probe_query"] = wl.lat_stats(lat_q)
        res["incr_full_reeval"] = wl.lat_stats(lat_full)
        res["answers_after"] = len(rt.select_rows(POLICY, w["meta"]["query"]))
    wl.emit(res)


if __name__ == "__main__":
    main()
