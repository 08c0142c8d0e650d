"""script/ocf/congress-datasource: the Pacemaker agent of the datasource-drivers node.

Pacemaker's own checker, ``ocf-tester``, runs the agent through its whole life cycle; the
other tests run actions by hand and check what ocf-tester does not: the server's command line,
the exact return codes, the pid file, the escalation to SIGKILL and the switch of user. The
server is a fake: a shell script that records its arguments and sleeps, so these tests do not
depend on Congress's server.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "script" / "ocf" / "congress-datasource"
OCF_ROOT = Path("/usr/lib/ocf")

# OCF return codes
SUCCESS = 0
ERR_GENERIC = 1
ERR_UNIMPLEMENTED = 3
ERR_INSTALLED = 5
ERR_CONFIGURED = 6
NOT_RUNNING = 7

# Stands in for congress-server: records its arguments in argv.<pid>, then runs until killed.
FAKE_SERVER = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/argv.$$"
exec sleep 1000000
"""
# The same, but deaf to SIGTERM (the disposition survives exec).
DEAF_SERVER = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/argv.$$"
trap '' TERM
exec sleep 1000000
"""
# A server that cannot start.
DYING_SERVER = """#!/bin/sh
exit 3
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def work(ocf_tester: Path) -> Iterator[Path]:
    """A directory every user can use (ocf-tester runs meta-data as nobody, and one test runs
    the server as nobody) with a copy of the agent, a config file and the fake servers. Any
    fake server still running at the end is killed."""
    work = Path(tempfile.mkdtemp(prefix="congress-ocf-", dir="/tmp"))
    work.chmod(0o777)
    shutil.copy2(AGENT, work / "congress-datasource")
    (work / "congress.conf").write_text("[DEFAULT]\n")
    _script(work / "fake-server", FAKE_SERVER)
    _script(work / "deaf-server", DEAF_SERVER)
    _script(work / "dying-server", DYING_SERVER)
    yield work
    for argv in work.glob("argv.*"):
        pid = int(argv.suffix[1:])
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(work)


def _env(work: Path, **params: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCF_", "HA_", "__OCF"))}
    env |= {"OCF_ROOT": str(OCF_ROOT), "OCF_RESOURCE_INSTANCE": "congress_ds"}
    defaults = {
        "binary": str(work / "fake-server"),
        "config": str(work / "congress.conf"),
        "pid": str(work / "run" / "congress_ds.pid"),
    }
    for name, value in (defaults | params).items():
        env[f"OCF_RESKEY_{name}"] = value
    return env


def _run(
    work: Path, action: str, *, extra: dict[str, str] | None = None, **params: str
) -> subprocess.CompletedProcess[str]:
    return _run_env(work, action, _env(work, **params) | (extra or {}))


def _run_env(work: Path, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(work / "congress-datasource"), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rc(work: Path, action: str, *, extra: dict[str, str] | None = None, **params: str) -> int:
    return _run(work, action, extra=extra, **params).returncode


def _pid(work: Path) -> int:
    return int((work / "run" / "congress_ds.pid").read_text())


def _ocf_tester(ocf_tester: Path, work: Path, agent: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(ocf_tester),
            "-v",
            "-n",
            "congress_ds",
            "-o",
            f"binary={work / 'fake-server'}",
            "-o",
            f"config={work / 'congress.conf'}",
            "-o",
            f"pid={work / 'run' / 'congress_ds.pid'}",
            str(agent),
        ],
        env={**os.environ, "OCF_ROOT": str(OCF_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_agent_is_an_executable_posix_shell_script() -> None:
    assert AGENT.stat().st_mode & 0o777 == 0o755
    assert AGENT.read_text().startswith("#!/bin/sh\n")
    syntax = subprocess.run(["sh", "-n", str(AGENT)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_ocf_tester_passes(ocf_tester: Path, work: Path) -> None:
    done = _ocf_tester(ocf_tester, work, work / "congress-datasource")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "passed all tests" in output, output
    assert not (work / "run" / "congress_ds.pid").exists()
    assert not any(_alive(int(p.suffix[1:])) for p in work.glob("argv.*"))


def test_ocf_tester_catches_a_broken_monitor(ocf_tester: Path, work: Path) -> None:
    # negative control: an agent whose monitor says "running" even when stopped must fail
    agent = work / "congress-datasource"
    text = agent.read_text()
    assert text.count("monitor) congress_ds_monitor ;;") == 1
    agent.write_text(text.replace("monitor) congress_ds_monitor ;;", "monitor) true ;;"))
    done = _ocf_tester(ocf_tester, work, agent)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "passed all tests" not in output
    assert "Monitoring a stopped resource should return 7" in output


def test_meta_data_declares_parameters_and_actions(work: Path) -> None:
    done = _run(work, "meta-data")
    assert done.returncode == SUCCESS, done.stderr
    root = ET.fromstring(done.stdout)
    assert root.tag == "resource-agent"
    assert root.get("name") == "congress-datasource"
    params = {p.get("name"): p.find("content") for p in root.iterfind("parameters/parameter")}
    assert set(params) == {"binary", "config", "node_id", "pid", "additional_parameters", "user"}
    defaults = {name: c.get("default") for name, c in params.items() if c is not None}
    assert defaults == {
        "binary": "/usr/local/bin/congress-server",
        "config": "/etc/congress/congress.conf",
        "node_id": "datasource-node",
        "pid": "/run/resource-agents/congress_ds.pid",  # $HA_RSCTMP/$OCF_RESOURCE_INSTANCE.pid
        "user": "root",
        "additional_parameters": None,
    }
    actions = {
        a.get("name"): (a.get("timeout"), a.get("interval"))
        for a in root.iterfind("actions/action")
    }
    assert actions == {
        "start": ("10s", None),
        "stop": ("10s", None),
        "status": ("10s", None),
        "monitor": ("5s", "10s"),
        "validate-all": ("5s", None),
        "meta-data": ("5s", None),
    }
    # every parameter the agent reads is declared
    used = {
        name.removesuffix("_default")
        for name in re.findall(r"OCF_RESKEY_(\w+)", AGENT.read_text())
        if not name.startswith("CRM_meta_")
    }
    assert used == set(params)


def test_start_monitor_stop(work: Path) -> None:
    assert _rc(work, "monitor") == NOT_RUNNING
    assert _rc(work, "status") == NOT_RUNNING

    done = _run(work, "start", node_id="ds-7", additional_parameters="--debug --x 'a b'")
    assert done.returncode == SUCCESS, done.stderr
    pid = _pid(work)
    assert _alive(pid)
    assert (work / f"argv.{pid}").read_text().splitlines() == [
        f"--config-file={work / 'congress.conf'}",
        "--datasources",
        "--node-id=ds-7",
        "--debug",
        "--x",
        "a b",
    ]
    assert _rc(work, "monitor") == SUCCESS
    assert _rc(work, "status") == SUCCESS
    assert _rc(work, "start") == SUCCESS  # starting a started resource
    assert _pid(work) == pid

    assert _rc(work, "stop") == SUCCESS
    assert not _alive(pid)
    assert not (work / "run" / "congress_ds.pid").exists()
    assert _rc(work, "monitor") == NOT_RUNNING
    assert _rc(work, "stop") == SUCCESS  # stopping a stopped resource


def test_defaults_node_id(work: Path) -> None:
    assert _rc(work, "start") == SUCCESS
    pid = _pid(work)
    assert "--node-id=datasource-node" in (work / f"argv.{pid}").read_text().splitlines()
    assert _rc(work, "stop") == SUCCESS


def test_stale_or_garbage_pid_file_means_not_running(work: Path) -> None:
    (work / "run").mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = work / "run" / "congress_ds.pid"
    for content in (f"{dead.pid}\n", "not a pid\n", ""):
        pidfile.write_text(content)
        assert _rc(work, "monitor") == NOT_RUNNING
        assert not pidfile.exists()


def test_start_fails_when_the_server_exits(work: Path) -> None:
    done = _run(work, "start", binary=str(work / "dying-server"))
    assert done.returncode == ERR_GENERIC
    assert "exited while starting" in done.stderr
    assert not (work / "run" / "congress_ds.pid").exists()


def test_stop_escalates_to_sigkill_after_the_timeout(work: Path) -> None:
    deaf = str(work / "deaf-server")
    assert _rc(work, "start", binary=deaf) == SUCCESS
    pid = _pid(work)
    began = time.monotonic()
    # a 7 s operation timeout leaves 2 s for SIGTERM
    timeout = {"OCF_RESKEY_CRM_meta_timeout": "7000"}
    assert _rc(work, "stop", binary=deaf, extra=timeout) == SUCCESS
    took = time.monotonic() - began
    assert not _alive(pid)
    assert 2 <= took < 6, took


def test_stop_without_a_timeout_gives_sigterm_15_s(work: Path) -> None:
    deaf = str(work / "deaf-server")
    assert _rc(work, "start", binary=deaf) == SUCCESS
    pid = _pid(work)
    stop = subprocess.Popen(
        [str(work / "congress-datasource"), "stop"],
        env=_env(work, binary=deaf),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(4)
        assert stop.poll() is None and _alive(pid), "killed before 15 s"
        os.kill(pid, signal.SIGKILL)  # as if it had obeyed SIGTERM
        assert stop.wait(timeout=5) == SUCCESS
    finally:
        if stop.poll() is None:
            stop.kill()
            stop.wait()
    assert not (work / "run" / "congress_ds.pid").exists()


def test_stop_waits_for_sigterm(work: Path) -> None:
    assert _rc(work, "start") == SUCCESS
    pid = _pid(work)
    began = time.monotonic()
    assert _rc(work, "stop", extra={"OCF_RESKEY_CRM_meta_timeout": "20000"}) == SUCCESS
    assert time.monotonic() - began < 3  # sleep dies at once on SIGTERM: no 15 s wait
    assert not _alive(pid)


def test_runs_the_server_as_the_user(work: Path) -> None:
    assert os.geteuid() == 0, "switching user needs root (the deployment tests run as root)"
    nobody = pwd.getpwnam("nobody").pw_uid
    assert _rc(work, "start", user="nobody") == SUCCESS
    pid = _pid(work)
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(nobody)] * 4
    assert _rc(work, "monitor", user="nobody") == SUCCESS
    assert _rc(work, "stop", user="nobody") == SUCCESS
    assert not _alive(pid)


def test_validate_all_return_codes(work: Path) -> None:
    probe = {"OCF_RESKEY_CRM_meta_interval": "0"}
    recurring = {"OCF_RESKEY_CRM_meta_interval": "10000"}
    missing = str(work / "missing")
    assert _rc(work, "validate-all") == SUCCESS
    # missing on this node: not installed here, but a probe only reports not running
    assert _rc(work, "validate-all", config=missing) == ERR_INSTALLED
    assert _rc(work, "validate-all", binary=missing) == ERR_INSTALLED
    assert _rc(work, "validate-all", binary=str(work / "congress.conf")) == ERR_INSTALLED
    assert _rc(work, "validate-all", user="no-such-user") == ERR_INSTALLED
    assert _rc(work, "start", config=missing) == ERR_INSTALLED
    assert _rc(work, "monitor", config=missing, extra=recurring) == ERR_INSTALLED
    probed = _run(work, "monitor", config=missing, extra=probe)
    assert probed.returncode == NOT_RUNNING
    assert "WARNING" in probed.stderr and missing in probed.stderr
    assert _rc(work, "monitor", binary=missing, extra=probe) == NOT_RUNNING
    # wrong everywhere: the configuration itself
    for name in ("binary", "config", "node_id", "pid", "user"):
        empty = _run_env(work, "validate-all", _env(work, **{name: ""}))
        assert empty.returncode == ERR_CONFIGURED, name
    # the actions the agent knows
    assert _rc(work, "usage") == SUCCESS
    assert _rc(work, "help") == SUCCESS
    assert _rc(work, "promote") == ERR_UNIMPLEMENTED
