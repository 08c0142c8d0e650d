#!/usr/bin/env python3
"""Run the engine benchmarks beside the plain-Python baseline, in the same run, and print the
ratios against the targets of the engine issue.

usage: benchmarks/run.py [--out DIR] [--repeat 3] [--quick]

Workloads come from shared/bench/gen_workloads.py (deterministic). Each case runs in a fresh
process (shared/bench/run_bench.py measures wall time and peak RSS), alternating engine and
baseline so that both see the same machine load. Figures are medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("CONGRESS_BENCH_DIR", os.path.join(HERE, "..", "..", "shared", "bench"))
PY = sys.executable

# (label, case, workload dir, figure, target ratio)
FIGURES = [
    ("W1 N=100k, load + evaluate `error`", "eval", "w1_n100000", "load_eval_s", 1.5),
    ("W2 cyclic graph, 5k edges, transitive closure", "eval", "w2_e5000", "load_eval_s", 2.0),
    ('W4 point query `error("vmX")`, median', "point", "w4_n10000", "point_median", 5.0),
    ("W3 1,000 single-row updates, total", "incr", "w3_n10000", "incr_total", 0.1),
    ("peak RSS, W1 N=100k", "eval", "w1_n100000", "maxrss_mb", 1.5),
]


def figure(rec: dict, name: str) -> float:
    r = rec["result"]
    if name == "maxrss_mb":
        return float(rec["maxrss_mb"])
    if name == "point_median":
        return float(r["point"]["median_ms"])
    if name == "incr_total":
        return sum(
            float(r[k]["total_s"])
            for k in ("incr_update", "incr_probe_query", "incr_full_reeval")
            if r.get(k)
        )
    return float(r[name])


def run_case(cmd: str, label: str, case: str, wdir: str, out: str) -> dict:
    subprocess.run(
        [
            PY,
            os.path.join(BENCH, "run_bench.py"),
            "--cmd",
            cmd,
            "--label",
            label,
            "--repeat",
            "1",
            "--out",
            out,
            f"{case}:{wdir}",
        ],
        check=True,
    )
    with open(out) as f:
        return json.loads(f.read().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "bench-results"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    wl_dir = os.path.join(a.out, "workloads")
    if not os.path.isdir(os.path.join(wl_dir, "w1_n100000")):
        subprocess.run(
            [
                PY,
                os.path.join(BENCH, "gen_workloads.py"),
                wl_dir,
                "--w1",
                "100000",
                "--w2",
                "5000",
                "--w2dag",
                "--w3",
                "10000",
                "--w4",
                "10000",
            ],
            check=True,
        )
    engine = f"{PY} {os.path.join(HERE, 'adapter.py')}"
    base = f"{PY} {os.path.join(BENCH, 'adapter_plainpy.py')}"
    raw = os.path.join(a.out, "results.jsonl")
    runs: dict[tuple[str, str, str], list[dict]] = {}
    cases = sorted({(case, w) for _, case, w, _, _ in FIGURES})
    for _ in range(a.repeat):
        for case, w in cases:
            wdir = os.path.join(wl_dir, w)
            for label, cmd in (("congress", engine), ("plain-python", base)):
                rec = run_case(cmd, label, case, wdir, raw)
                if "result" not in rec:
                    print(f"{label} {case} {w} failed: {rec.get('stderr_tail', '')}")
                    return 1
                runs.setdefault((label, case, w), []).append(rec)
    for case, w in cases:
        a1 = {r["result"].get("answers") for r in runs[("congress", case, w)]}
        a2 = {r["result"].get("answers") for r in runs[("plain-python", case, w)]}
        if a1 != a2:
            print(f"answers differ on {case} {w}: congress {a1} baseline {a2}")
            return 1
    print()
    print("| workload | congress | plain Python | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    ok = True
    for title, case, w, name, target in FIGURES:
        ours = statistics.median(figure(r, name) for r in runs[("congress", case, w)])
        theirs = statistics.median(figure(r, name) for r in runs[("plain-python", case, w)])
        ratio = ours / theirs
        unit = {"maxrss_mb": " MB", "point_median": " ms"}.get(name, " s")
        met = ratio <= target
        ok &= met
        print(
            f"| {title} | {ours:.4g}{unit} | {theirs:.4g}{unit} | {ratio:.3f} | <= {target} "
            f"| {'yes' if met else 'NO'} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
