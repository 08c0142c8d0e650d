"""Fixtures of the deployment tests: the tools they run, installed by ``scripts/services``.

A missing tool is installed once (``scripts/services haproxy`` or ``scripts/services ocf``,
which need root and apt-get); if it is still missing the tests FAIL, they are never skipped.
Installations are serialised with a lock file so that pytest-xdist workers do not run apt-get
at the same time.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OCF_TESTER = Path("/usr/sbin/ocf-tester")
OCF_ROOT = Path("/usr/lib/ocf")
_INSTALL_LOCK = Path("/tmp/congress-tests-services.lock")


def _ensure(service: str, present: Callable[[], bool], what: str) -> None:
    if present():
        return
    with _INSTALL_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not present():
            done = subprocess.run(
                [str(ROOT / "scripts" / "services"), service],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert present(), (
                f"{what} is missing and `scripts/services {service}` did not install it "
                f"(exit {done.returncode}): {done.stderr.strip()}"
            )


def _haproxy_path() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )


@pytest.fixture(scope="session")
def haproxy() -> str:
    """The haproxy program, installed when missing."""
    _ensure("haproxy", lambda: _haproxy_path() is not None, "haproxy")
    path = _haproxy_path()
    assert path is not None
    return path


@pytest.fixture(scope="session")
def ocf_tester() -> Path:
    """Pacemaker's ocf-tester (with the OCF shell functions), installed when missing."""

    def present() -> bool:
        return OCF_TESTER.exists() and (OCF_ROOT / "lib" / "heartbeat" / "ocf-shellfuncs").exists()

    _ensure("ocf", present, "ocf-tester (Debian packages pacemaker, resource-agents)")
    return OCF_TESTER
