"""deploy/systemd/: the unit files of the three ways to run congress-server.

``systemd-analyze verify`` checks them as systemd would load them (with the ExecStart program
moved to this checkout's congress-server, which must exist); then the keys that the graceful
stop, the reload and the hardening rely on are checked one by one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from congress.cmd.server import STOP_ALLOWANCE
from congress.common import opts

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ROLES = {
    "congress-api.service": ["--api", "--policy-engine", "--node-id", "%H"],
    "congress-datasources.service": ["--datasources", "--node-id", "datasource-node"],
    "congress-server.service": [],
}


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values in order]}}`` (a key may be given several times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, (section, key, values)
    return values[0]


def test_the_three_units_are_there() -> None:
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(ROLES)


@pytest.mark.parametrize("name", sorted(ROLES))
def test_keys(name: str) -> None:
    unit = parse(UNITS / name)
    service = unit["Service"]
    assert one(unit, "Service", "Type") == "notify"  # congress-server sends READY=1
    assert one(unit, "Service", "NotifyAccess") == "main"
    command = one(unit, "Service", "ExecStart").split()
    assert command[:3] == [
        "/usr/local/bin/congress-server",
        "--config-file",
        "/etc/congress/congress.conf",
    ]
    assert command[3:] == ROLES[name]
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    # systemd must not kill a node that is still within its own stop bounds
    graceful = next(o for o in opts.core_opts if o.dest == "graceful_shutdown_timeout").default
    assert int(one(unit, "Service", "TimeoutStopSec")) > graceful + STOP_ALLOWANCE
    assert one(unit, "Service", "User") == "congress"
    assert one(unit, "Service", "Group") == "congress"
    assert one(unit, "Service", "Restart") == "on-failure"
    # hardening
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "StateDirectory": "congress",
        "CapabilityBoundingSet": "",
    }.items():
        assert one(unit, "Service", key) == value, key
    writable = one(unit, "Service", "ReadWritePaths").split()
    assert "/var/lib/congress" in writable  # state_path
    assert "HOME=/var/lib/congress" in service["Environment"]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in one(unit, "Unit", "After").split()


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    program = Path(sys.executable).parent / "congress-server"
    assert program.exists(), program
    copies = []
    for name in sorted(ROLES):
        text = (UNITS / name).read_text()
        copy = tmp_path / name
        copy.write_text(text.replace("/usr/local/bin/congress-server", str(program)))
        copies.append(str(copy))
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
