"""A short, bounded run of the atheris harness (``atheris_parser.py``) finds no crash.

The harness runs in a subprocess (libFuzzer owns the process) for a fixed number of inputs,
starting from a seed corpus of valid and broken programs; a broken contract or an unexpected
exception makes it exit non-zero and write the input under ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).with_name("atheris_parser.py")
EXAMPLES = Path(__file__).parents[2] / "examples"
RUNS = int(os.environ.get("ATHERIS_RUNS", "4000"))

SEEDS = (
    b'\x02p(x) :- q(x, 1), not r(x, "a"); s(1.5)',
    b"\x02insert[p(x) :- q(x); 'alice']\nexecute[nova:servers.pause(x)] :- error(x)",
    b'\x02error(vm) :- nova:servers(id=vm, status="ERROR"), builtin:lt(1, 0x1F)',
    b'\x02p("""a\nb""", r\'c\', -.5e3) // comment\n/* block */ q(0b101).',
    b"\x01" + bytes(range(0, 120, 3)),
    b"\x00" + "p(\u2003x) :- q(\ud800)".encode("utf-16-le", "surrogatepass"),
)


def test_atheris_finds_no_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(SEEDS):
        (corpus / f"seed{index}").write_bytes(seed)
    for example in EXAMPLES.glob("*.dl"):
        (corpus / example.name).write_bytes(b"\x02" + example.read_bytes())
    path = [str(HARNESS.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        sys.executable,
        str(HARNESS),
        f"-runs={RUNS}",
        "-max_total_time=20",
        "-timeout=10",
        "-seed=1",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
    ]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    report = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    assert "Done" in run.stderr, report
    assert not list(tmp_path.glob("crash-*")), report
