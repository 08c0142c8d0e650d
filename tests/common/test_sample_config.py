"""``etc/congress.conf.sample`` is what the generator writes today (``tox -e genconfig``)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "etc" / "congress.conf.sample"
GENERATOR_CONF = ROOT / "etc" / "congress-config-generator.conf"


def generator() -> str:
    """``oslo-config-generator`` of the interpreter running the tests."""
    beside = pathlib.Path(sys.executable).parent / "oslo-config-generator"
    found = str(beside) if beside.exists() else shutil.which("oslo-config-generator")
    assert found, "oslo-config-generator is not installed"
    return found


def test_the_sample_is_current(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "congress.conf.sample"
    # Another home directory: the sample must not depend on it (nor on the host name).
    env = {**os.environ, "HOME": str(tmp_path)}
    args = [generator(), "--config-file", str(GENERATOR_CONF), "--output-file", str(out)]
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert out.read_text() == SAMPLE.read_text(), (
        "etc/congress.conf.sample is out of date: run `tox -e genconfig`"
    )


def test_the_sample_shows_no_machine_specific_default() -> None:
    lines = SAMPLE.read_text().splitlines()
    assert "#node_id = <hostname>" in lines
    assert "#state_path = ~/.local/state/congress" in lines
    assert "#connection = sqlite:///$state_path/congress.sqlite" in lines
