"""The engine imports nothing but the standard library (DESIGN.md, layers)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import sys
before = set(sys.modules)  # what the interpreter's site hooks loaded before us
import json, pkgutil, importlib
import congress.datalog as pkg
for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_engine_loads_only_the_standard_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    stdlib = set(sys.stdlib_module_names)
    foreign = [
        m
        for m in loaded
        if m.split(".")[0] not in stdlib
        and not m.startswith("congress.datalog")
        and m not in ("congress", "__main__")
    ]
    assert foreign == []
    assert "congress.datalog.runtime" in loaded


def test_probe_would_notice_a_foreign_module() -> None:
    """The check above can fail: a third-party import shows up in the probe's list."""
    out = subprocess.run(
        [sys.executable, "-c", "import json, sys, yaml; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "yaml" in json.loads(out)
    assert "yaml" not in sys.stdlib_module_names
